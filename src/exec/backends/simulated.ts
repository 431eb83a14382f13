/**
 * The simulated backend: a deterministic, seeded token generator with configurable speed and
 * time to first token. It runs no model; its ModelInfo says so. Used by the simulator and the
 * protocol tests.
 */
import { createHash } from 'node:crypto'
import type { Backend, BackendEvent, ChatMessage, ChatRequest, FinishReason, ModelInfo } from '../backend.js'

/** output tokens when the request sets no max_tokens */
export const DEFAULT_SIMULATED_MAX_TOKENS = 256
/** with unlimited speed, yield to the event loop this often so one stream cannot starve a node */
const YIELD_EVERY_TOKENS = 64

const VOCABULARY = [' the', ' market', ' token', ' compute', ' price', ' seller', ' buyer', ' credit', ' model', ' ledger',
  ' of', ' and', ' a', ' to', ' is', ' in', ' for', ' on', ' with', ' pays', ' runs', ' signs', ' streams', ' settles',
  ' fast', ' cheap', ' fair', ' exact', '.', ',', ' GPU', ' node', ' peer', ' bid', ' offer', ' voucher']

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>

export interface SimulatedBackendInit {
  /** market model id; default "simulated-1b" */
  modelId?: string
  /** parameter count reported for Bpt; default 1e9 */
  params?: number
  /** tokens per second after the first token; Infinity (default) = as fast as the loop allows */
  tokensPerSec?: number
  /** delay before the first token; default 0 */
  ttftMs?: number
  /** output tokens per emitted chunk; default 1 */
  tokensPerChunk?: number
  maxConcurrency?: number
  contextLength?: number
  /** natural length of a completion (before max_tokens); default derived from the seed and prompt, 16..255 */
  naturalTokens?: number
  /** fault injection for simulations: throw after this many output tokens */
  failAfterTokens?: number
  /** injected timer (the simulator scales time); default setTimeout */
  sleep?: Sleep
}

const realSleep: Sleep = async (ms, signal) => {
  if (ms <= 0) return
  await new Promise<void>((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return }
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** xorshift-style 32-bit generator seeded from a hash: same seed and prompt, same tokens */
function prng (seed: Uint8Array): () => number {
  const s = (seed[0] | (seed[1] << 8) | (seed[2] << 16) | (seed[3] << 24)) >>> 0
  let a = s === 0 ? 0x9e3779b9 : s
  return () => {
    a ^= a << 13; a >>>= 0
    a ^= a >>> 17
    a ^= a << 5; a >>>= 0
    return a
  }
}

/** input tokens the simulated tokenizer counts: ceil(bytes / 4) per message plus 4 template tokens */
export function simulatedInputTokens (messages: ChatMessage[]): number {
  return messages.reduce((n, m) => n + Math.ceil(Buffer.byteLength(m.content, 'utf8') / 4) + 4, 0)
}

export class SimulatedBackend implements Backend {
  readonly kind = 'simulated' as const
  readonly model: ModelInfo
  readonly maxConcurrency: number
  private readonly tokensPerSec: number
  private readonly ttftMs: number
  private readonly tokensPerChunk: number
  private readonly sleep: Sleep
  private readonly init: SimulatedBackendInit
  private closed = false

  constructor (init: SimulatedBackendInit = {}) {
    const id = init.modelId ?? 'simulated-1b'
    this.init = init
    this.model = {
      id,
      fingerprint: `simulated:${id}`,
      fingerprintVerified: false,
      params: init.params ?? 1_000_000_000,
      quantization: 'simulated',
      contextLength: init.contextLength ?? 4096
    }
    this.maxConcurrency = init.maxConcurrency ?? 4
    this.tokensPerSec = init.tokensPerSec ?? Infinity
    this.ttftMs = init.ttftMs ?? 0
    this.tokensPerChunk = Math.max(1, Math.floor(init.tokensPerChunk ?? 1))
    this.sleep = init.sleep ?? realSleep
  }

  /** the exact text the generator produces for a request (what a direct call streams) */
  async * stream (request: ChatRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    if (this.closed) throw new Error('simulated backend is closed')
    // a text completion's prompt counts as one user message (infer.md § Text completion)
    const messages: ChatMessage[] = request.prompt != null ? [{ role: 'user', content: request.prompt }] : request.messages
    const inputTokens = simulatedInputTokens(messages)
    const digest = createHash('sha256').update(JSON.stringify([request.seed ?? 0, messages])).digest()
    const next = prng(digest)
    const natural = this.init.naturalTokens ?? 16 + (digest[4] % 240)
    const maxTokens = request.maxTokens ?? DEFAULT_SIMULATED_MAX_TOKENS
    const limit = Math.min(natural, maxTokens)
    const gapMs = Number.isFinite(this.tokensPerSec) && this.tokensPerSec > 0 ? 1000 / this.tokensPerSec : 0
    const startedAt = performance.now()
    let out = 0
    let text = ''
    let finishReason: FinishReason = natural <= maxTokens ? 'stop' : 'length'
    try {
      await this.sleep(this.ttftMs, signal)
      while (out < limit) {
        if (signal.aborted) { finishReason = 'cancelled'; break }
        const n = Math.min(this.tokensPerChunk, limit - out)
        let piece = ''
        for (let i = 0; i < n; i++) piece += VOCABULARY[next() % VOCABULARY.length]
        if (this.init.failAfterTokens != null && out + n > this.init.failAfterTokens) throw new Error(`simulated failure after ${out} tokens`)
        const stop = request.stop?.find(s => s.length > 0 && (text + piece).includes(s))
        if (stop != null) {
          const cut = (text + piece).indexOf(stop)
          const keep = (text + piece).slice(text.length, cut)
          if (keep.length > 0) { out += n; yield { type: 'chunk', text: keep, outputTokens: n } }
          finishReason = 'stop'
          break
        }
        out += n
        text += piece
        yield { type: 'chunk', text: piece, outputTokens: n }
        if (gapMs > 0) {
          const due = startedAt + this.ttftMs + out * gapMs - performance.now()
          if (due > 0) await this.sleep(due, signal)
        } else if (out % YIELD_EVERY_TOKENS === 0) {
          await new Promise(resolve => setImmediate(resolve))
        }
      }
    } catch (err) {
      if (!signal.aborted) throw err
      finishReason = 'cancelled'
    }
    if (signal.aborted) finishReason = 'cancelled'
    yield { type: 'done', usage: { inputTokens, outputTokens: out, source: 'reported' }, finishReason }
  }

  async close (): Promise<void> {
    this.closed = true
  }
}

export function simulatedBackend (init: SimulatedBackendInit = {}): SimulatedBackend {
  return new SimulatedBackend(init)
}

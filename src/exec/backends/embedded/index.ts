/**
 * The embedded backend: a GGUF model run by node-llama-cpp in a child process, so that a
 * llama.cpp abort (GGML_ASSERT, std::terminate) kills only the child. The parent validates the
 * file's header before the child ever loads it, fails in-flight requests with EngineCrashedError
 * when the child dies, and starts a fresh child for the next request.
 *
 * Concurrency: at most `maxConcurrency` requests run at once (one context sequence each); a
 * request beyond that is rejected at once with BackendBusyError rather than queued, because the
 * offer's capacity is what negotiation reserves: a busy seller should be skipped, not waited on.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { basename, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BackendBusyError, type Backend, type BackendEvent, type ChatRequest, type EmbedRequest, type EmbedResult, type ModelInfo } from '../../backend.js'
import { modelFingerprint } from '../../fingerprint.js'
import { validateGguf } from '../../model/gguf.js'
import { DEFAULT_ENGINE_CONTEXT_SIZE, DEFAULT_ENGINE_THREADS, EngineRequestError, type DirectRun, type EngineEmbedResult, type EngineInit } from './engine.js'
import type { FromChild, ToChild } from './ipc.js'
import { CodedError, ErrorCode, TallyError, isErrorCode } from '../../../errors/index.js'

export { EngineRequestError, runEngineDirect, type DirectRun, type EngineInit } from './engine.js'

export const DEFAULT_MAX_CONCURRENCY = 1
export const DEFAULT_START_TIMEOUT_MS = 60_000
export const DEFAULT_MAX_FAILED_STARTS = 3
const STDERR_TAIL_BYTES = 4096

/** The engine process died (abort, signal, out of memory) while this request ran. */
export class EngineCrashedError extends TallyError {
  override name = 'EngineCrashedError'
  override readonly code: ErrorCode = ErrorCode.engineCrashed
  constructor (message: string, readonly exitCode: number | null, readonly signal: NodeJS.Signals | null, readonly log: string) {
    super(message)
  }
}

/** The engine process could not load the model. */
export class EngineStartError extends TallyError {
  override name = 'EngineStartError'
  override readonly code: ErrorCode = ErrorCode.engineStartFailed
}

/**
 * A request's error rebuilt on this side of the process boundary from its code: busy and
 * request errors keep their classes; anything else the engine threw (a llama.cpp failure, a
 * bug) is a backend error, its class name kept in the message.
 */
export function errorFromChild (msg: { name: string, code: string, message: string }): TallyError {
  if (msg.code === ErrorCode.backendBusy) return new BackendBusyError(msg.message)
  if (msg.code === ErrorCode.backendError && msg.name === 'EngineRequestError') return new EngineRequestError(msg.message)
  const code = isErrorCode(msg.code) && msg.code !== ErrorCode.internal ? msg.code : ErrorCode.backendError
  return new CodedError(code, `${msg.name}: ${msg.message}`)
}

export interface EmbeddedBackendInit {
  /** path of a GGUF file */
  modelPath: string
  /** market model id (default: the file's general.name, else its base name without .gguf) */
  modelId?: string
  /** CPU threads for the engine (default 1) */
  threads?: number
  /** false = CPU only (default), 'auto' = GPU when present */
  gpu?: false | 'auto'
  /** concurrent requests (default 1) */
  maxConcurrency?: number
  /** tokens per request context (default 2048, capped at the model's context length) */
  contextSize?: number
  /** ms to wait for the child to load the model (default 60 s) */
  startTimeoutMs?: number
  /** consecutive failed starts before the backend gives up (default 3) */
  maxFailedStarts?: number
  /** lets `crashEngineForTest()` abort the child; off by default */
  allowTestHooks?: boolean
}

export interface EmbeddedBackend extends Backend {
  readonly kind: 'embedded'
  /** how many times the child was restarted after dying */
  readonly restarts: number
  /** pid of the current child, if one runs */
  readonly pid: number | undefined
  /** test hook (needs allowTestHooks): make the child call process.abort() */
  crashEngineForTest(): void
  /**
   * For benchmarks and tests only: run `request` entirely inside the engine child (no per-chunk
   * IPC) and get the whole result with the child's own timings. Takes a concurrency slot.
   */
  runDirect(request: ChatRequest): Promise<DirectRun>
  /** the prompt tokens of `request` exactly as the engine counts them when it generates */
  countInputTokens(request: ChatRequest): Promise<number>
}

/** A model's tokenizer in a child process (vocabulary only): a buyer's exact input-token count. */
export interface EmbeddedTokenizer {
  /** hex SHA-256 of the GGUF, to match against an offer's verified fingerprint */
  readonly fingerprint: string
  countInputTokens(request: ChatRequest): Promise<number>
  /** an embeddings request's input tokens, exactly as the seller's engine counts them */
  countEmbedTokens(inputs: string[]): Promise<number>
  close(): Promise<void>
}

interface CountResult { inputTokens: number }
interface EmbedAnswer { embedded: EngineEmbedResult }

interface Pending {
  push: (ev: BackendEvent | DirectRun | CountResult | EmbedAnswer | Error) => void
  /** frees the concurrency slot; called once the child has finished the request */
  release: () => void
}

class EventQueue<T> {
  private readonly items: Array<T | Error> = []
  private wake: (() => void) | undefined
  private ended = false
  push (item: T | Error): void {
    this.items.push(item)
    this.wake?.()
  }

  end (): void { this.ended = true; this.wake?.() }
  async next (): Promise<T | Error | undefined> {
    while (this.items.length === 0) {
      if (this.ended) return undefined
      await new Promise<void>(resolve => { this.wake = resolve })
      this.wake = undefined
    }
    return this.items.shift()
  }
}

class EmbeddedBackendImpl implements EmbeddedBackend {
  readonly kind = 'embedded' as const
  /** what its offers list (market.md § Capabilities): the engine runs raw prompts too (LlamaCompletion) */
  readonly capabilities: string[] = ['chat', 'tools', 'json_schema', 'completions', 'embeddings']
  restarts = 0
  private child: ChildProcess | undefined
  private ready: Promise<void> | undefined
  private failedStarts = 0
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private active = 0
  private closed = false
  private stderrTail = ''

  constructor (
    readonly model: ModelInfo,
    readonly maxConcurrency: number,
    private readonly engineInit: EngineInit,
    private readonly startTimeoutMs: number,
    private readonly maxFailedStarts: number,
    private readonly allowTestHooks: boolean
  ) {}

  get pid (): number | undefined { return this.child?.pid }

  /** start a child if none runs; resolves when it has loaded the model */
  start (): Promise<void> {
    if (this.ready != null) return this.ready
    const here = fileURLToPath(import.meta.url)
    const isTs = here.endsWith('.ts')
    const entry = `${dirname(here)}/child.${isTs ? 'ts' : 'js'}`
    const child = fork(entry, [], {
      cwd: dirname(here),
      execArgv: isTs ? ['--import', 'tsx'] : [],
      serialization: 'json',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc']
    })
    this.child = child
    this.stderrTail = ''
    const keep = (b: Buffer): void => { this.stderrTail = (this.stderrTail + b.toString('utf8')).slice(-STDERR_TAIL_BYTES) }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    const ready = new Promise<void>((resolve, _reject) => {
      let settled = false
      const reject = (err: Error): void => {
        if (settled) return
        settled = true
        this.failedStarts++
        _reject(err)
      }
      const timer = setTimeout(() => {
        reject(new EngineStartError(`engine did not load ${this.engineInit.modelPath} within ${this.startTimeoutMs} ms`))
        child.kill('SIGKILL')
      }, this.startTimeoutMs)
      child.on('message', (msg: FromChild) => {
        if (msg.t === 'ready') { clearTimeout(timer); settled = true; this.failedStarts = 0; resolve(); return }
        if (msg.t === 'init-error') { clearTimeout(timer); reject(new EngineStartError(`engine failed to load the model: ${msg.message}`)); child.kill('SIGKILL'); return }
        this.onMessage(msg)
      })
      child.on('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new EngineStartError(`engine exited while loading (code ${code}, signal ${signal}): ${this.stderrTail.slice(-500)}`))
        this.onExit(child, code, signal)
      })
    })
    ready.catch(() => {})
    this.ready = ready
    const msg: ToChild = { t: 'init', init: this.engineInit, allowTestHooks: this.allowTestHooks }
    child.send(msg)
    return ready
  }

  private onMessage (msg: FromChild): void {
    if (msg.t === 'ready' || msg.t === 'init-error') return
    const p = this.pending.get(msg.id)
    if (p == null) return
    if (msg.t === 'chunks') {
      for (const [text, outputTokens, toolCalls] of msg.items) p.push(toolCalls != null ? { type: 'chunk', text, outputTokens, toolCalls } : { type: 'chunk', text, outputTokens })
      return
    }
    this.pending.delete(msg.id)
    if (msg.t === 'direct-result') p.push(msg.run)
    else if (msg.t === 'count-result') p.push({ inputTokens: msg.inputTokens })
    else if (msg.t === 'embed-result') p.push({ embedded: msg.result })
    else if (msg.t === 'done') p.push({ type: 'done', usage: msg.usage, finishReason: msg.finishReason })
    else p.push(errorFromChild(msg))
    p.release()
  }

  private onExit (child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return
    this.child = undefined
    this.ready = undefined
    const log = this.stderrTail
    for (const [id, p] of this.pending) {
      p.push(new EngineCrashedError(`engine process died (code ${code}, signal ${signal}) while running request ${id}`, code, signal, log))
      p.release()
    }
    this.pending.clear()
    if (this.closed) return
    this.restarts++
    if (this.failedStarts < this.maxFailedStarts) this.start().catch(() => {})
  }

  crashEngineForTest (): void {
    const msg: ToChild = { t: 'abort' }
    this.child?.send(msg)
  }

  async * stream (request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent> {
    if (this.closed) throw new EngineStartError('backend is closed')
    if (this.active >= this.maxConcurrency) throw new BackendBusyError(`backend runs ${this.active} of ${this.maxConcurrency} requests`)
    this.active++
    let released = false
    const release = (): void => { if (!released) { released = true; this.active-- } }
    let handedToChild = false
    try {
      if (signal.aborted) {
        yield { type: 'done', usage: { inputTokens: 0, outputTokens: 0, source: 'reported' }, finishReason: 'cancelled' }
        return
      }
      if (this.ready == null && this.failedStarts >= this.maxFailedStarts) {
        throw new EngineStartError(`engine failed to start ${this.failedStarts} times in a row`)
      }
      await this.start()
      const child = this.child
      if (child == null) throw new EngineCrashedError('engine process is not running', null, null, this.stderrTail)
      const id = this.nextId++
      const queue = new EventQueue<BackendEvent | DirectRun | CountResult | EmbedAnswer>()
      this.pending.set(id, { push: ev => queue.push(ev), release })
      handedToChild = true
      const onAbort = (): void => { const m: ToChild = { t: 'cancel', id }; if (child.connected) child.send(m) }
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        const m: ToChild = { t: 'gen', id, request }
        child.send(m)
        for (;;) {
          const ev = await queue.next()
          if (ev == null) return
          if (ev instanceof Error) throw ev
          if (!('type' in ev)) throw new EngineRequestError('engine answered a stream request with another kind of result')
          yield ev
          if (ev.type === 'done') return
        }
      } finally {
        signal.removeEventListener('abort', onAbort)
        if (this.pending.has(id)) {
          // the consumer stopped iterating early: stop the generation in the child; the slot
          // stays taken until the child reports the request finished
          this.pending.set(id, { push: () => {}, release })
          const m: ToChild = { t: 'cancel', id }
          if (child.connected) child.send(m)
        }
      }
    } finally {
      if (!handedToChild) release()
    }
  }

  async runDirect (request: ChatRequest): Promise<DirectRun> {
    return await this.askOnce(id => ({ t: 'direct', id, request }), ev => ev as DirectRun)
  }

  /** embeddings in the engine child (its embedding context), within the backend's concurrency */
  async embed (request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult> {
    if (this.closed) throw new EngineStartError('backend is closed')
    const r = await this.askOnce<EngineEmbedResult>(id => ({ t: 'embed', id, request }), ev => {
      if ('embedded' in ev) return ev.embedded
      throw new EngineRequestError('engine answered an embeddings request with another kind of result')
    }, signal)
    return { vectors: r.vectors.map(v => Float32Array.from(v)), usage: { inputTokens: r.inputTokens, source: 'reported' } }
  }

  /**
   * One request answered by one message of the child, within a concurrency slot (released when
   * the child answers or fails); an abort of `signal` asks the child to cancel it.
   */
  private async askOnce<T> (message: (id: number) => ToChild, accept: (ev: BackendEvent | DirectRun | CountResult | EmbedAnswer) => T, signal?: AbortSignal): Promise<T> {
    if (this.active >= this.maxConcurrency) throw new BackendBusyError(`backend runs ${this.active} of ${this.maxConcurrency} requests`)
    this.active++
    let released = false
    const release = (): void => { if (!released) { released = true; this.active-- } }
    let handed = false
    try {
      await this.start()
      const child = this.child
      if (child == null) throw new EngineCrashedError('engine process is not running', null, null, this.stderrTail)
      const id = this.nextId++
      const result = new Promise<T>((resolve, reject) => {
        this.pending.set(id, {
          push: ev => {
            if (ev instanceof Error) { reject(ev); return }
            try { resolve(accept(ev)) } catch (err) { reject(err) }
          },
          release
        })
      })
      handed = true
      const onAbort = (): void => { const m: ToChild = { t: 'cancel', id }; if (child.connected) child.send(m) }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        child.send(message(id))
        return await result
      } finally {
        signal?.removeEventListener('abort', onAbort)
      }
    } finally {
      if (!handed) release()
    }
  }

  async countInputTokens (request: ChatRequest): Promise<number> {
    return await this.count({ t: 'count', id: 0, request })
  }

  /** the input tokens of an embeddings request exactly as embed() counts them */
  async countEmbedTokens (inputs: string[]): Promise<number> {
    return await this.count({ t: 'count-embed', id: 0, inputs })
  }

  private async count (msg: Extract<ToChild, { t: 'count' | 'count-embed' }>): Promise<number> {
    if (this.closed) throw new EngineStartError('backend is closed')
    await this.start()
    const child = this.child
    if (child == null) throw new EngineCrashedError('engine process is not running', null, null, this.stderrTail)
    const id = this.nextId++
    const result = new Promise<number>((resolve, reject) => {
      this.pending.set(id, {
        push: ev => {
          if (ev instanceof Error) reject(ev)
          else if ('inputTokens' in ev) resolve(ev.inputTokens)
          else reject(new EngineRequestError('engine answered a count with another kind of result'))
        },
        release: () => {}
      })
    })
    const m: ToChild = { ...msg, id }
    child.send(m)
    return await result
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const child = this.child
    if (child == null) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
      child.once('exit', () => { clearTimeout(timer); resolve() })
      if (child.connected) { const m: ToChild = { t: 'shutdown' }; child.send(m) } else child.kill('SIGKILL')
    })
  }
}

/**
 * Validate the GGUF, fingerprint it, start the engine child and wait until it has loaded the
 * model. Throws InvalidModelError for a file llama.cpp must not see, EngineStartError when the
 * engine cannot load it.
 */
/**
 * Load only the vocabulary of a GGUF in an engine child (validated first, like a backend's), so a
 * buyer can count a prompt's tokens exactly for a model it holds the file of.
 */
export async function createEmbeddedTokenizer (modelPath: string, init: { startTimeoutMs?: number } = {}): Promise<EmbeddedTokenizer> {
  const summary = await validateGguf(modelPath)
  const fingerprint = await modelFingerprint(modelPath)
  const model: ModelInfo = { id: summary.name ?? basename(modelPath).replace(/\.gguf$/i, ''), fingerprint, fingerprintVerified: true, params: summary.params, quantization: summary.quantization, contextLength: summary.contextLength }
  const backend = new EmbeddedBackendImpl(model, 1, { modelPath, vocabOnly: true }, init.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, DEFAULT_MAX_FAILED_STARTS, false)
  try {
    await backend.start()
  } catch (err) {
    await backend.close()
    throw err
  }
  return { fingerprint, countInputTokens: async (request) => await backend.countInputTokens(request), countEmbedTokens: async (inputs) => await backend.countEmbedTokens(inputs), close: async () => { await backend.close() } }
}

export async function createEmbeddedBackend (init: EmbeddedBackendInit): Promise<EmbeddedBackend> {
  const summary = await validateGguf(init.modelPath)
  const fingerprint = await modelFingerprint(init.modelPath)
  const maxConcurrency = init.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) throw new RangeError(`maxConcurrency must be a positive integer, got ${maxConcurrency}`)
  const contextSize = Math.min(init.contextSize ?? DEFAULT_ENGINE_CONTEXT_SIZE, summary.contextLength)
  const model: ModelInfo = {
    id: init.modelId ?? summary.name ?? basename(init.modelPath).replace(/\.gguf$/i, ''),
    fingerprint,
    fingerprintVerified: true,
    params: summary.params,
    quantization: summary.quantization,
    contextLength: contextSize
  }
  const backend = new EmbeddedBackendImpl(model, maxConcurrency, {
    modelPath: init.modelPath,
    threads: init.threads ?? DEFAULT_ENGINE_THREADS,
    gpu: init.gpu ?? false,
    contextSize,
    sequences: maxConcurrency
  }, init.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, init.maxFailedStarts ?? DEFAULT_MAX_FAILED_STARTS, init.allowTestHooks ?? false)
  try {
    await backend.start()
  } catch (err) {
    await backend.close()
    throw err
  }
  return backend
}

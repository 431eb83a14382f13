/**
 * A buyer that holds the model's GGUF counts the prompt's input tokens itself (vocabulary only, in
 * an engine child) and signs nothing above that count: the count equals what the seller's engine
 * reports, a seller that claims one token more is refused, and a node without the file keeps the
 * UTF-8 bytes bound and says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedBackend, createEmbeddedTokenizer, type EmbeddedBackend, type EmbeddedTokenizer } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'
import { exactInputCounter, utf8BoundCounter } from '../../src/exec/infer/token-counter.js'
import type { Backend, BackendEvent, ChatRequest } from '../../src/exec/backend.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

const PROMPTS: ChatRequest[] = [
  { messages: [{ role: 'user', content: 'Who is Alice?' }], maxTokens: 4, seed: 1 },
  { messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Where did the rabbit go?' }, { role: 'assistant', content: 'Down the hole.' }, { role: 'user', content: 'And then — what?' }], maxTokens: 4, seed: 2 },
  { messages: [{ role: 'user', content: 'é ü 漢字 🐇 and plain words' }], maxTokens: 4, seed: 3 }
]

let modelPath: string
let engine: EmbeddedBackend
let tokenizer: EmbeddedTokenizer

beforeAll(async () => {
  modelPath = ensureTinyModel()
  engine = await createEmbeddedBackend({ modelPath })
  tokenizer = await createEmbeddedTokenizer(modelPath)
}, 120_000)

afterAll(async () => {
  await tokenizer?.close()
  await engine?.close()
})

async function engineInputTokens (backend: Backend, request: ChatRequest): Promise<number> {
  for await (const ev of backend.stream(request, new AbortController().signal)) {
    if (ev.type === 'done') return ev.usage.inputTokens
  }
  throw new Error('no done event')
}

/** the shared engine as a seller's backend that bills `extra` more input tokens than it ran (the node's stop does not close the engine) */
function overclaiming (inner: Backend, extra: number): Backend {
  return {
    ...inner,
    model: inner.model,
    async * stream (request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent> {
      for await (const ev of inner.stream(request, signal)) {
        yield ev.type === 'done' ? { ...ev, usage: { ...ev.usage, inputTokens: ev.usage.inputTokens + extra } } : ev
      }
    },
    close: async () => {}
  }
}

describe('exact input tokens from the buyer\'s own tokenizer', () => {
  it('counts every prompt exactly as the engine does, far below the bytes bound', async () => {
    expect(tokenizer.fingerprint).toBe(engine.model.fingerprint)
    for (const p of PROMPTS) {
      const counted = await tokenizer.countInputTokens(p)
      expect(counted).toBe(await engineInputTokens(engine, p))
      expect(counted).toBeLessThan(utf8BoundCounter().maxInputTokens(p.messages))
    }
  })

  it('a node holding the file buys with the exact bound; one without keeps the bytes bound', async () => {
    const seller = await startNode({}, { sell: { backend: overclaiming(engine, 0), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n, maxSessions: 1 } })
    const exact = await startNode({ bootstrap: seller.addrs() }, { tokenizers: [modelPath], buy: { sessionLockUc: 100_000n } })
    const model = engine.model.id
    await waitFor(() => exact.offerList(model).length === 1, 'the offer')
    const r = await exact.infer(model, PROMPTS[1])
    expect(r.inputBound).toBe('exact')
    expect(r.inputTokens).toBe(await tokenizer.countInputTokens(PROMPTS[1]))
    await exact.closeSessions(AbortSignal.timeout(10_000))
    const bytes = await startNode({ bootstrap: seller.addrs() }, { buy: { sessionLockUc: 100_000n } })
    await waitFor(() => bytes.offerList(model).length === 1, 'the offer')
    const b = await bytes.infer(model, PROMPTS[1])
    expect(b.inputBound).toBe('bytes')
    expect(b.inputTokens).toBe(r.inputTokens)
  }, 60_000)

  it('refuses a seller that bills one input token more than the exact count, which the bytes bound lets through', async () => {
    const p = PROMPTS[0]
    const counted = await tokenizer.countInputTokens(p)
    const exact = exactInputCounter(counted)
    expect(exact.maxInputTokens(p.messages)).toBe(counted)
    // the bytes bound would have signed for the overclaim
    expect(utf8BoundCounter().maxInputTokens(p.messages)).toBeGreaterThan(counted + 1)
    const seller = await startNode({}, { sell: { backend: overclaiming(engine, 1), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n, maxSessions: 1 } })
    const buyer = await startNode({ bootstrap: seller.addrs() }, { tokenizers: [modelPath], buy: { sessionLockUc: 100_000n } })
    await waitFor(() => buyer.offerList(engine.model.id).length === 1, 'the offer')
    await expect(buyer.infer(engine.model.id, p)).rejects.toThrow(/input tokens/)
  }, 60_000)
})

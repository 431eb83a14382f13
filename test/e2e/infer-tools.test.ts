/**
 * Tool calls on /tally/infer between real libp2p nodes: the seller streams a backend's tool-call
 * deltas in chunks and bills their tokens as output; the buyer rebuilds the calls and signs for no
 * more tokens than the bytes delivered; a seller whose backend lacks the capability refuses the
 * request rather than answering it as plain chat.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Backend, BackendEvent, ChatRequest, ModelInfo, ToolCallDelta } from '../../src/exec/backend.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import { RemoteInferError, SellerOverclaimError } from '../../src/exec/infer/errors.js'
import { connectedPair, inferNet, makeTerms, stopAll, type InferPeer } from './infer-helpers.js'

const model: ModelInfo = { id: 'scripted-1', fingerprint: 'scripted', fingerprintVerified: false, params: 1_000_000_000, quantization: 'F16', contextLength: 4096 }
const request: ChatRequest = {
  messages: [{ role: 'user', content: 'weather?' }],
  tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
  toolChoice: 'required'
}
const DELTAS: ToolCallDelta[] = [
  { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
  { index: 0, function: { arguments: '{"city":' } },
  { index: 0, function: { arguments: '"Paris"}' } }
]

/** a backend that streams scripted tool-call deltas, `tokensEach` output tokens per delta */
class ScriptedToolBackend implements Backend {
  readonly kind = 'simulated' as const
  readonly model = model
  readonly maxConcurrency = 1
  requests = 0
  constructor (readonly capabilities: string[], private readonly tokensEach: number) {}
  async * stream (_request: ChatRequest, _signal: AbortSignal): AsyncIterable<BackendEvent> {
    this.requests++
    for (const d of DELTAS) yield { type: 'chunk', text: '', outputTokens: this.tokensEach, toolCalls: [d] }
    yield { type: 'done', usage: { inputTokens: 5, outputTokens: DELTAS.length * this.tokensEach, source: 'reported' }, finishReason: 'tool_calls' }
  }

  async close (): Promise<void> {}
}

let peers: InferPeer[] = []
afterEach(async () => { await stopAll(...peers); peers = [] })

async function pair (backend: Backend): Promise<{ run: () => ReturnType<InferBuyer['infer']>, sessions: SellerSessions, contractId: Uint8Array }> {
  const { buyer, seller } = await connectedPair()
  peers.push(buyer, seller)
  const sessions = new SellerSessions({ net: inferNet, now: Date.now })
  await new InferSeller({ registrar: seller.libp2p, backend, sessions }, { voucherTimeoutMs: 2000 }).start()
  const terms = makeTerms(buyer, seller)
  sessions.add(terms)
  const svc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
  return { run: async () => await svc.infer(seller.libp2p.peerId, terms, request), sessions, contractId: terms.contractId }
}

describe('tool calls on /tally/infer', () => {
  it('stream as deltas, come back as whole calls, and their tokens are billed as output', async () => {
    const { run, sessions, contractId } = await pair(new ScriptedToolBackend(['chat', 'tools'], 2))
    const r = await run()
    expect(r.finishReason).toBe('tool_calls')
    expect(r.toolCalls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }])
    expect(r.usage.outputTokens).toBe(6)
    expect(r.finalVoucher.outputTokens).toBe(6n)
    // the final voucher follows the result (infer() resolves at done): the seller holds it right after
    await expect.poll(() => sessions.highestVoucher(contractId)?.outputTokens).toBe(6n)
  })

  it('a seller claiming more tokens than the deltas\' bytes gets no voucher for them', async () => {
    // the first delta's JSON is ~80 bytes: 500 tokens cannot have produced it
    const { run, sessions, contractId } = await pair(new ScriptedToolBackend(['chat', 'tools'], 500))
    await expect(run()).rejects.toBeInstanceOf(SellerOverclaimError)
    expect(sessions.highestVoucher(contractId)).toBeUndefined()
  })

  it('a seller without the tools capability refuses the request: bad-request, the backend never runs', async () => {
    const backend = new ScriptedToolBackend(['chat'], 1)
    const { run } = await pair(backend)
    const err = await run().catch(e => e)
    expect(err).toBeInstanceOf(RemoteInferError)
    expect(err.failure?.code ?? err.message).toMatch(/bad-request|does not serve tools/)
    expect(err.message).toMatch(/does not serve tools/)
    expect(backend.requests).toBe(0)
  })
})

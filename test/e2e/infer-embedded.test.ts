/**
 * The acceptance run: a buyer and a seller node over /tally/infer with the embedded tiny
 * model. The streamed completion equals the engine's direct output for the same seed, and both
 * ends hold the same final voucher whose token counts equal the engine's usage exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedBackend, runEngineDirect, type EmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel, tinyTokenCount } from '../../src/exec/model/tiny.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import type { TokenCounter } from '../../src/exec/infer/token-counter.js'
import type { ChatRequest } from '../../src/exec/backend.js'
import { sessionAmountUc } from '../../src/exec/pricing.js'
import { connectedPair, inferNet, makeTerms, stopAll, type InferPeer } from './infer-helpers.js'

/** the tiny model's exact tokenizer as the buyer would hold it (GeneralChatWrapper, one user message) */
const tinyCounter: TokenCounter = {
  maxOutputTokens: (text) => tinyTokenCount(text),
  maxInputTokens: (messages) => 1 + tinyTokenCount(`### Human\n${messages.map(m => m.content).join('')}\n\n### Assistant\n`)
}

let modelPath: string
let backend: EmbeddedBackend
let buyer: InferPeer
let seller: InferPeer

beforeAll(async () => {
  modelPath = ensureTinyModel()
  backend = await createEmbeddedBackend({ modelPath, maxConcurrency: 1 })
  ;({ buyer, seller } = await connectedPair())
}, 120_000)

afterAll(async () => {
  await backend?.close()
  await stopAll(...[buyer, seller].filter(p => p != null))
})

describe('infer with the embedded tiny model', () => {
  it('streams the engine\'s exact completion and both ends hold the same exact final voucher', async () => {
    const req: ChatRequest = { messages: [{ role: 'user', content: 'Who is Alice?' }], temperature: 0.8, seed: 42, maxTokens: 60 }
    const sellerSessions = new SellerSessions({ net: inferNet, now: Date.now })
    const svc = new InferSeller({ registrar: seller.libp2p, backend, sessions: sellerSessions })
    await svc.start()
    const terms = makeTerms(buyer, seller, { modelId: backend.model.id, params: backend.model.params })
    sellerSessions.add(terms)
    const buyerSvc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }), tokenCounter: tinyCounter })
    const streamed: string[] = []
    const res = await buyerSvc.infer(seller.libp2p.peerId, terms, req, { onChunk: t => streamed.push(t) })
    const direct = await runEngineDirect(modelPath, req)
    expect(res.text.length).toBeGreaterThan(0)
    expect(res.text).toBe(direct.text)
    expect(streamed.join('')).toBe(direct.text)
    expect(res.usage.inputTokens).toBe(direct.usage.inputTokens)
    expect(res.usage.outputTokens).toBe(direct.usage.outputTokens)
    const v = res.finalVoucher
    expect(v.inputTokens).toBe(BigInt(direct.usage.inputTokens))
    expect(v.outputTokens).toBe(BigInt(direct.usage.outputTokens))
    expect(v.amountUc).toBe(sessionAmountUc(v.inputTokens, v.outputTokens, terms))
    const held = svc.highestVoucher(terms.contractId)!
    expect(Buffer.from(held.bytes).equals(Buffer.from(v.bytes))).toBe(true)
    expect(res.meter.bptNano).toBe(BigInt(direct.usage.inputTokens + direct.usage.outputTokens) * BigInt(backend.model.params))
    await svc.stop()
  })
})

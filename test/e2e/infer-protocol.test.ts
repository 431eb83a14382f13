import { afterEach, describe, expect, it } from 'vitest'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { BackendEvent, ChatRequest } from '../../src/exec/backend.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import { BudgetExhaustedError, InferAbortedError, RemoteInferError, SessionExpiredError, UnknownSessionError, WrongSellerError } from '../../src/exec/infer/errors.js'
import { sessionAmountUc } from '../../src/exec/pricing.js'
import type { MeterRecord } from '../../src/exec/metering.js'
import type { SessionTerms } from '../../src/exec/infer/terms.js'
import { connectedPair, inferNet, makeTerms, stopAll, type InferPeer } from './infer-helpers.js'

const request: ChatRequest = { messages: [{ role: 'user', content: 'Tell me about compute markets.' }], maxTokens: 40, seed: 7 }

async function direct (backend: SimulatedBackend, r: ChatRequest): Promise<{ text: string, usage: { inputTokens: number, outputTokens: number } }> {
  let text = ''
  let usage = { inputTokens: 0, outputTokens: 0 }
  for await (const ev of backend.stream(r, new AbortController().signal) as AsyncIterable<BackendEvent>) {
    if (ev.type === 'chunk') text += ev.text
    else usage = ev.usage
  }
  return { text, usage }
}

interface Setup {
  buyer: InferPeer
  seller: InferPeer
  sellerSvc: InferSeller
  buyerSvc: InferBuyer
  sellerSessions: SellerSessions
  buyerSessions: BuyerSessions
  backend: SimulatedBackend
  meters: MeterRecord[]
}

let peers: InferPeer[] = []
afterEach(async () => { await stopAll(...peers); peers = [] })

async function setup (backendInit: ConstructorParameters<typeof SimulatedBackend>[0] = {}, now: () => number = Date.now): Promise<Setup> {
  const { buyer, seller } = await connectedPair()
  peers.push(buyer, seller)
  const backend = new SimulatedBackend(backendInit)
  const sellerSessions = new SellerSessions({ net: inferNet, now })
  const buyerSessions = new BuyerSessions({ now })
  const meters: MeterRecord[] = []
  const sellerSvc = new InferSeller({ registrar: seller.libp2p, backend, sessions: sellerSessions, onMeter: m => meters.push(m) }, { voucherTimeoutMs: 2000 })
  await sellerSvc.start()
  const buyerSvc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: buyerSessions })
  return { buyer, seller, sellerSvc, buyerSvc, sellerSessions, buyerSessions, backend, meters }
}

function open (s: Setup, over: Partial<SessionTerms> = {}): SessionTerms {
  const terms = makeTerms(s.buyer, s.seller, over)
  s.sellerSessions.add(terms)
  return terms
}

describe('/tally/infer/1.0.0 on memory transport', () => {
  it('streams the same text as a direct backend call and both ends hold the same final voucher', async () => {
    const s = await setup({ tokensPerChunk: 1 })
    const terms = open(s)
    const chunks: string[] = []
    const res = await s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request, { onChunk: t => chunks.push(t) })
    const want = await direct(s.backend, request)
    expect(res.text).toBe(want.text)
    expect(chunks.join('')).toBe(want.text)
    expect(res.usage.inputTokens).toBe(want.usage.inputTokens)
    expect(res.usage.outputTokens).toBe(want.usage.outputTokens)
    expect(res.usage.source).toBe('reported')
    expect(res.finishReason).toBe('length')
    const v = res.finalVoucher
    expect(v.inputTokens).toBe(BigInt(want.usage.inputTokens))
    expect(v.outputTokens).toBe(BigInt(want.usage.outputTokens))
    expect(v.amountUc).toBe(sessionAmountUc(v.inputTokens, v.outputTokens, terms))
    await expect.poll(() => s.sellerSvc.highestVoucher(terms.contractId)?.nonce).toBe(v.nonce)
    const held = s.sellerSvc.highestVoucher(terms.contractId)
    expect(Buffer.from(held!.bytes).equals(Buffer.from(v.bytes))).toBe(true)
    // metering from both views agrees on tokens and money
    expect(res.meter.amountUc).toBe(v.amountUc)
    expect(res.meter.bpt).toBe(String(want.usage.inputTokens + want.usage.outputTokens))
    await expect.poll(() => s.meters.length).toBe(1)
    expect(s.meters[0].amountUc).toBe(v.amountUc)
    expect(s.meters[0].outputTokens).toBe(want.usage.outputTokens)
  })

  it('carries several sequential requests on one session with cumulative counters', async () => {
    const s = await setup({ tokensPerChunk: 3 })
    const terms = open(s)
    const a = await s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request)
    const second: ChatRequest = { ...request, seed: 8, messages: [{ role: 'user', content: 'and again' }] }
    const b = await s.buyerSvc.infer(s.seller.libp2p.peerId, terms, second)
    const want = await direct(s.backend, second)
    expect(b.text).toBe(want.text)
    expect(b.finalVoucher.nonce).toBeGreaterThan(a.finalVoucher.nonce)
    expect(b.finalVoucher.outputTokens).toBe(a.finalVoucher.outputTokens + BigInt(want.usage.outputTokens))
    expect(b.finalVoucher.inputTokens).toBe(a.finalVoucher.inputTokens + BigInt(want.usage.inputTokens))
    expect(b.meter.amountUc).toBe(b.finalVoucher.amountUc - a.finalVoucher.amountUc)
    await expect.poll(() => s.sellerSvc.highestVoucher(terms.contractId)!.nonce).toBe(b.finalVoucher.nonce)
  })

  it('stops at max spend, never vouches above it, then refuses further requests', async () => {
    const s = await setup({ tokensPerChunk: 1 })
    // 20 output tokens at 1.5 µc/token fit in 30 µc; the prompt's input tokens are billed at done and capped
    const terms = open(s, { maxSpendUc: 30n, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_500_000n })
    const res = await s.buyerSvc.infer(s.seller.libp2p.peerId, terms, { ...request, maxTokens: 200 })
    expect(res.stopReason).toBe('budget')
    expect(res.finishReason).toBe('length')
    expect(res.finalVoucher.amountUc).toBe(30n)
    expect(res.usage.outputTokens).toBe(20)
    await expect.poll(() => s.sellerSvc.highestVoucher(terms.contractId)!.amountUc).toBe(30n)
    await expect(s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(BudgetExhaustedError)
  })

  it('seller refuses a buyer whose own registry is fresh but whose session is spent', async () => {
    const s = await setup()
    const terms = open(s, { maxSpendUc: 10n })
    await s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request)
    const freshBuyer = new InferBuyer({ dialer: s.buyer.libp2p, signer: s.buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
    await expect(freshBuyer.infer(s.seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(BudgetExhaustedError)
  })

  it('refuses an unknown contract, an expired session and the wrong seller with typed errors', async () => {
    let clock = Date.now()
    const s = await setup({}, () => clock)
    const unknown = makeTerms(s.buyer, s.seller)
    await expect(s.buyerSvc.infer(s.seller.libp2p.peerId, unknown, request)).rejects.toBeInstanceOf(UnknownSessionError)
    const terms = open(s, { expiresAtMs: clock + 1000 })
    clock += 2000
    // the buyer's own registry refuses first; a fresh buyer registry reaches the seller, which refuses too
    await expect(s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(SessionExpiredError)
    const lateBuyer = new InferBuyer({ dialer: s.buyer.libp2p, signer: s.buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: () => clock - 1500 }) })
    await expect(lateBuyer.infer(s.seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(SessionExpiredError)
    await expect(s.buyerSvc.infer(s.buyer.libp2p.peerId, makeTerms(s.buyer, s.seller), request)).rejects.toBeInstanceOf(WrongSellerError)
  })

  it('buyer abort stops the seller\'s backend and the buyer keeps its last voucher', async () => {
    const s = await setup({ tokensPerSec: 200 })
    const terms = open(s)
    const ctrl = new AbortController()
    let chunks = 0
    const p = s.buyerSvc.infer(s.seller.libp2p.peerId, terms, { ...request, maxTokens: 1000 }, {
      signal: ctrl.signal,
      onChunk: () => { if (++chunks === 3) ctrl.abort() }
    })
    await expect(p).rejects.toBeInstanceOf(InferAbortedError)
    const last = s.buyerSessions.lastVoucher(terms.contractId)
    expect(last).toBeDefined()
    expect(last!.outputTokens).toBeGreaterThan(0n)
    await expect.poll(() => s.sellerSessions.get(terms.contractId)!.busy).toBe(false)
    // the seller stopped: its billed output is far below the 1000 tokens asked for
    expect(s.sellerSessions.get(terms.contractId)!.totalOutputTokens).toBeLessThan(100n)
  })

  it('after an aborted request the next one on the same session resumes from the signed totals', async () => {
    const s = await setup({ tokensPerSec: 200 })
    const terms = open(s)
    const ctrl = new AbortController()
    let chunks = 0
    await expect(s.buyerSvc.infer(s.seller.libp2p.peerId, terms, { ...request, maxTokens: 1000 }, {
      signal: ctrl.signal,
      onChunk: () => { if (++chunks === 2) ctrl.abort() }
    })).rejects.toBeInstanceOf(InferAbortedError)
    const before = s.buyerSessions.lastVoucher(terms.contractId)!
    await expect.poll(() => s.sellerSessions.get(terms.contractId)!.busy).toBe(false)
    const fast = { ...request, seed: 11 }
    const res = await s.buyerSvc.infer(s.seller.libp2p.peerId, terms, fast)
    const want = await direct(s.backend, fast)
    expect(res.text).toBe(want.text)
    expect(res.finalVoucher.nonce).toBeGreaterThan(before.nonce)
    expect(res.finalVoucher.outputTokens).toBe(before.outputTokens + BigInt(want.usage.outputTokens))
    expect(res.finalVoucher.inputTokens).toBe(before.inputTokens + BigInt(want.usage.inputTokens))
    expect(s.sellerSvc.highestVoucher(terms.contractId)!.nonce).toBe(res.finalVoucher.nonce)
  })

  it('a backend failure reaches the buyer as a typed error and the session stays usable', async () => {
    const s = await setup({ failAfterTokens: 5 })
    const terms = open(s)
    await expect(s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request)).rejects.toSatisfy((e: unknown) => e instanceof RemoteInferError && e.code === 'backend-error')
    const last = s.buyerSessions.lastVoucher(terms.contractId)
    expect(last).toBeDefined()
    expect(last!.outputTokens).toBe(5n)
  })
})

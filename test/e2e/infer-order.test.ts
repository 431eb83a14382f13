/**
 * The seller's order of request checks (protocols/infer.md, Flow 2) and its refusal while it
 * stops, on real libp2p nodes (memory transport) speaking the raw protocol.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { ChatRequest } from '../../src/exec/backend.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller, type InferSellerInit } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import { decodeSellerFrame, encodeRequest, INFER_PROTOCOL } from '../../src/exec/infer/codec.js'
import type { SellerFrame } from '../../src/wire/pb/infer.js'
import type { SessionTerms } from '../../src/exec/infer/terms.js'
import { connectedPair, inferNet, makeTerms, stopAll, type InferPeer } from './infer-helpers.js'

const request: ChatRequest = { messages: [{ role: 'user', content: 'in what order do you check?' }], maxTokens: 40, seed: 3 }

let peers: InferPeer[] = []
afterEach(async () => { await stopAll(...peers); peers = [] })

/** a seller whose backend takes ~1 s for a request (40 tokens at 40 tokens/s), its buyer, and a stranger connected to it */
async function setup (init: InferSellerInit = {}) {
  const { buyer, seller } = await connectedPair()
  const { buyer: stranger } = await connectedPair()
  peers.push(buyer, seller, stranger)
  await stranger.libp2p.dial(seller.libp2p.getMultiaddrs()[0])
  const sessions = new SellerSessions({ net: inferNet, now: Date.now })
  const svc = new InferSeller({ registrar: seller.libp2p, backend: new SimulatedBackend({ tokensPerSec: 40, tokensPerChunk: 1 }), sessions }, { voucherTimeoutMs: 5_000, ...init })
  await svc.start()
  const buyerSvc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
  const open = (over: Partial<SessionTerms> = {}): SessionTerms => {
    const terms = makeTerms(buyer, seller, over)
    sessions.add(terms)
    return terms
  }
  return { buyer, seller, stranger, sessions, svc, buyerSvc, open }
}

/** one raw request; resolves with the seller's first frame */
async function firstFrame (from: InferPeer, seller: InferPeer, terms: SessionTerms): Promise<SellerFrame> {
  const stream = await from.libp2p.dialProtocol(seller.libp2p.peerId, INFER_PROTOCOL)
  const lp = lpStream(stream)
  await lp.write(encodeRequest(terms.contractId, request))
  return decodeSellerFrame(await lp.read({ signal: AbortSignal.timeout(5_000) }))
}

describe('the seller checks the buyer before the session\'s state', () => {
  it('a stranger using a busy session\'s contract id gets wrong-buyer, never busy', async () => {
    const s = await setup()
    const terms = s.open()
    let firstChunk = false
    const running = s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request, { onChunk: () => { firstChunk = true } })
    await expect.poll(() => firstChunk).toBe(true)
    expect(s.sessions.get(terms.contractId)!.busy).toBe(true)
    const refusal = await firstFrame(s.stranger, s.seller, terms)
    expect(refusal.failure?.code).toBe('wrong-buyer')
    // the session's own buyer, asking at the same time, is told it is busy
    expect((await firstFrame(s.buyer, s.seller, terms)).failure?.code).toBe('busy')
    await running
  })

  it('a stranger learns nothing of a closed, spent or expired session either', async () => {
    const s = await setup()
    const closed = s.open()
    s.sessions.closeSession(closed.contractId)
    const spent = s.open()
    s.sessions.get(spent.contractId)!.amountUc = spent.maxSpendUc
    const expired = s.open({ expiresAtMs: Date.now() - 1 })
    for (const terms of [closed, spent, expired]) {
      expect((await firstFrame(s.stranger, s.seller, terms)).failure?.code).toBe('wrong-buyer')
    }
    expect((await firstFrame(s.buyer, s.seller, closed)).failure?.code).toBe('closed')
    expect((await firstFrame(s.buyer, s.seller, spent)).failure?.code).toBe('budget')
    expect((await firstFrame(s.buyer, s.seller, expired)).failure?.code).toBe('expired')
  })
})

describe('a stopping seller', () => {
  it('refuses new requests with shutting-down while the running one finishes', async () => {
    const s = await setup({ drainTimeoutMs: 10_000 })
    const running = s.open()
    const next = s.open()
    let firstChunk = false
    const result = s.buyerSvc.infer(s.seller.libp2p.peerId, running, request, { onChunk: () => { firstChunk = true } })
    await expect.poll(() => firstChunk).toBe(true)
    const stopped = s.svc.stop()
    expect((await firstFrame(s.buyer, s.seller, next)).failure?.code).toBe('shutting-down')
    const r = await result
    expect(r.usage.outputTokens).toBe(40)
    expect(r.finalVoucher.outputTokens).toBe(40n)
    await stopped
    // once stopped, the protocol is gone
    await expect(s.buyer.libp2p.dialProtocol(s.seller.libp2p.peerId, INFER_PROTOCOL)).rejects.toThrow()
  })

  it('without a drain time aborts the running request and refuses the rest', async () => {
    const s = await setup()
    const running = s.open()
    let firstChunk = false
    const result = s.buyerSvc.infer(s.seller.libp2p.peerId, running, request, { onChunk: () => { firstChunk = true } })
    await expect.poll(() => firstChunk).toBe(true)
    await s.svc.stop()
    await expect(result).rejects.toThrow()
    expect(s.sessions.get(running.contractId)!.busy).toBe(false)
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { BuyerSessions, SellerSessions, type ClosedSession } from '../../src/exec/infer/sessions.js'
import { InferSeller } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import { RemoteInferError } from '../../src/exec/infer/errors.js'
import { connectedPair, inferNet, makeTerms, stopAll, type InferPeer } from './infer-helpers.js'

let peers: InferPeer[] = []
afterEach(async () => { await stopAll(...peers); peers = [] })

async function setup (awaitSession?: (id: Uint8Array, signal: AbortSignal) => Promise<void>) {
  const { buyer, seller } = await connectedPair()
  peers.push(buyer, seller)
  const sellerSessions = new SellerSessions({ net: inferNet, now: Date.now })
  const closed: ClosedSession[] = []
  const sellerSvc = new InferSeller({ registrar: seller.libp2p, backend: new SimulatedBackend({ tokensPerChunk: 2 }), sessions: sellerSessions, onSessionClosed: c => closed.push(c), awaitSession }, { voucherTimeoutMs: 2000, requestTimeoutMs: 2000 })
  await sellerSvc.start()
  const buyerSvc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
  return { buyer, seller, sellerSessions, buyerSvc, closed }
}

const request = { messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 12, seed: 1 }

describe('/tally/infer close and late sessions', () => {
  it('the buyer closes a session; the seller hands its highest voucher to settle and refuses further requests', async () => {
    const s = await setup()
    const terms = makeTerms(s.buyer, s.seller)
    s.sellerSessions.add(terms)
    const r = await s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request)
    const totals = await s.buyerSvc.closeSession(s.seller.libp2p.peerId, terms.contractId)
    expect(totals.amountUc).toBe(r.finalVoucher.amountUc)
    expect(s.closed).toHaveLength(1)
    expect(s.closed[0].highestVoucher?.amountUc).toBe(r.finalVoucher.amountUc)
    expect(s.closed[0].highestVoucher?.nonce).toBe(r.finalVoucher.nonce)
    // a second close of the same contract finds it closed, not a new settle
    await expect(s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request)).rejects.toThrow()
  })

  it('only the contract\'s buyer may close a session', async () => {
    const s = await setup()
    // terms naming the seller as its own buyer's counterparty but another key as buyer
    const other = await connectedPair()
    peers.push(other.buyer, other.seller)
    const terms = makeTerms(other.buyer, s.seller)
    s.sellerSessions.add(terms)
    await expect(s.buyerSvc.closeSession(s.seller.libp2p.peerId, terms.contractId)).rejects.toBeInstanceOf(RemoteInferError)
    expect(s.closed).toHaveLength(0)
  })

  it('a request for a contract not yet known waits for awaitSession (the buyer\'s open arriving)', async () => {
    let pendingTerms: ReturnType<typeof makeTerms> | undefined
    let sessions: SellerSessions | undefined
    const s = await setup(async (_id, signal) => {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 50)
        signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) })
      })
      sessions!.add(pendingTerms!)
    })
    sessions = s.sellerSessions
    pendingTerms = makeTerms(s.buyer, s.seller)
    const r = await s.buyerSvc.infer(s.seller.libp2p.peerId, pendingTerms, request)
    expect(r.usage.outputTokens).toBeGreaterThan(0)
  })

  it('a contract that never becomes a session is refused as unknown after awaitSession gives up', async () => {
    const s = await setup(async () => { throw new Error('no open for this contract') })
    const terms = makeTerms(s.buyer, s.seller)
    await expect(s.buyerSvc.infer(s.seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(RemoteInferError)
  })
})

/**
 * The contract's max_unpaid_uc while serving (infer.md, Flow 5): the seller's chunks stop before
 * the output that would bill more than the term beyond the buyer's highest voucher, so with a term
 * below two tokens' price every chunk carries one token, however fast the backend runs.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import { connectedPair, inferNet, makeTerms, stopAll, type InferPeer } from './infer-helpers.js'

let peers: InferPeer[] = []
afterEach(async () => { await stopAll(...peers); peers = [] })

async function run (maxUnpaidUc?: bigint): Promise<{ chunks: number, outputTokens: number }> {
  const { buyer, seller } = await connectedPair()
  peers.push(buyer, seller)
  // one token per backend output, far faster than a voucher's round trip: without a term they coalesce
  const backend = new SimulatedBackend({ tokensPerChunk: 1, tokensPerSec: 100_000, naturalTokens: 1_000 })
  const sellerSessions = new SellerSessions({ net: inferNet, now: Date.now })
  const sellerSvc = new InferSeller({ registrar: seller.libp2p, backend, sessions: sellerSessions }, { voucherTimeoutMs: 5_000 })
  await sellerSvc.start()
  const buyerSvc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
  // 1.5 µc per output token: the rule on cumulative totals moves 1 or 2 µc per token, 3 per two
  const terms = makeTerms(buyer, seller, { priceInPerMTokUc: 0n, priceOutPerMTokUc: 1_500_000n, maxUnpaidUc })
  sellerSessions.add(terms)
  let chunks = 0
  const res = await buyerSvc.infer(seller.libp2p.peerId, terms, { messages: [{ role: 'user', content: 'count to forty' }], maxTokens: 40, seed: 1 }, { onChunk: () => { chunks++ } })
  await sellerSvc.stop()
  return { chunks, outputTokens: res.usage.outputTokens }
}

describe('max_unpaid_uc while serving', () => {
  it('a 2 µc term sends one token per chunk; without it the same output leaves in fewer chunks', async () => {
    const bounded = await run(2n)
    expect(bounded.outputTokens).toBe(40)
    expect(bounded.chunks).toBe(40)
    const free = await run()
    expect(free.outputTokens).toBe(40)
    expect(free.chunks).toBeLessThan(40)
  })
})

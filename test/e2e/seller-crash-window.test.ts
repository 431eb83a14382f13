import { afterEach, describe, expect, it } from 'vitest'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import type { SignedVoucher } from '../../src/exec/voucher.js'
import { connectedPair, inferNet, makeTerms, stopAll, type InferPeer } from './infer-helpers.js'
import { waitFor } from '../helpers/wait.js'

let peers: InferPeer[] = []
afterEach(async () => { await stopAll(...peers); peers = [] })

describe('seller durability window on /tally/infer', () => {
  it('sends no chunk beyond the window of the highest durable voucher (the journal write gates the stream)', async () => {
    const { buyer, seller } = await connectedPair()
    peers.push(buyer, seller)
    const sellerSessions = new SellerSessions({ net: inferNet, now: Date.now })
    const held: Array<{ v: SignedVoucher, done: () => void }> = []
    let instant = false
    const sellerSvc = new InferSeller({
      registrar: seller.libp2p,
      backend: new SimulatedBackend({ tokensPerChunk: 1 }),
      sessions: sellerSessions,
      persistVoucher: async (_id, v) => { if (!instant) await new Promise<void>(resolve => held.push({ v, done: resolve })) }
    }, { voucherTimeoutMs: 20_000, maxChunkTokens: 4, minChunkIntervalMs: 0 })
    await sellerSvc.start()
    const buyerSvc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
    const terms = makeTerms(buyer, seller)
    sellerSessions.add(terms)
    let chunks = 0
    const res = buyerSvc.infer(seller.libp2p.peerId, terms, { messages: [{ role: 'user', content: 'hold on' }], maxTokens: 24, seed: 1 }, { onChunk: () => { chunks++ } })

    // chunk 1 went out (nothing was sent before it); the buyer paid for it; the write is held
    await waitFor(() => held.length === 1 && sellerSessions.highestVoucher(terms.contractId)?.nonce === 1n, 'voucher 1 accepted and held')
    // the seller has the voucher in memory but not on disk: chunk 2 waits
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(chunks).toBe(1)
    expect(sellerSessions.get(terms.contractId)!.totalOutputTokens).toBe(1n)
    // each durable voucher lets exactly one more chunk out
    held[0].done()
    await waitFor(() => held.length === 2, 'voucher 2 arrives once chunk 2 went out')
    expect(chunks).toBe(2)
    // from here every write completes at once
    instant = true
    held[1].done()
    const r = await res
    expect(r.usage.outputTokens).toBe(24)
    await sellerSvc.stop()
  })
})

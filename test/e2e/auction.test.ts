/**
 * Reverse auction end to end (issue 20.1, protocols/auction.md): real nodes on the memory
 * transport. Three sellers at different posted prices and load answer a bid with signed quotes
 * below their posted prices, sent directly to the bidder; a seller started with auctions off
 * sends none; a quote that does not match its bid, or is signed by someone other than the peer
 * that sends it, is refused with its code and never used. One market for the file.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { BackendEvent, ChatRequest } from '../../src/exec/backend.js'
import { createTallyNode, type TallyNode, type SellInit } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { AUCTION_PROTOCOL, decodeAuctionFrame, encodeAckFrame, encodeBidQuoteFrame, pickQuotes, type AuctionResult } from '../../src/node/auction/index.js'
import { signBidQuote, type BidQuoteTerms } from '../../src/market/bid-quote.js'
import type { Ed25519Signer } from '../../src/identity/ed25519.js'
import { waitFor } from '../helpers/wait.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const MODEL = 'sim-auction-8b'
const HOUR = 3_600_000

/** holds every request until opened: a seller with a request running (load) */
class GatedBackend extends SimulatedBackend {
  running = 0
  private readonly gate = Promise.withResolvers<void>()
  open (): void { this.gate.resolve() }
  override async * stream (request: ChatRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    this.running++
    try {
      await this.gate.promise
      yield * super.stream(request, signal)
    } finally {
      this.running--
    }
  }
}

const nodes: TallyNode[] = []
const dirs: string[] = []
async function start (bootstrap: string[], sell?: SellInit): Promise<TallyNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-auction-'))
  dirs.push(dataDir)
  const n = await createTallyNode(parseConfig({ dataDir, transport: 'memory', bootstrap }), { memoryLedger: true, sell })
  nodes.push(n)
  await n.start()
  return n
}

const backend = (): SimulatedBackend => new SimulatedBackend({ modelId: MODEL, params: 8_000_000_000, maxConcurrency: 2, naturalTokens: 8 })
const gated = new GatedBackend({ modelId: MODEL, params: 8_000_000_000, maxConcurrency: 2, naturalTokens: 8 })

let buyer: TallyNode
let rogue: TallyNode
let cheapIdle: TallyNode // posted 8M out, 2 free slots
let loaded: TallyNode // posted 6M out, 1 of 2 slots running
let dear: TallyNode // posted 9M out, 2 free slots, smaller discounts
let off: TallyNode // posted 5M out, --no-auction
let loadRun: Promise<unknown> | undefined

/** one market for the file, built by the first test that needs it (waitFor runs inside a test only) */
let ready: Promise<void> | undefined
async function market (): Promise<void> {
  ready ??= build()
  await ready
}
async function build (): Promise<void> {
  buyer = await start([])
  const boot = buyer.addrs()
  cheapIdle = await start(boot, { backend: backend(), priceInPerMTokUc: 2_000_000n, priceOutPerMTokUc: 8_000_000n })
  loaded = await start(boot, { backend: gated, priceInPerMTokUc: 2_000_000n, priceOutPerMTokUc: 6_000_000n })
  dear = await start(boot, { backend: backend(), priceInPerMTokUc: 3_000_000n, priceOutPerMTokUc: 9_000_000n, auction: { batchDiscountPct: 10, idleDiscountPct: 10 } })
  off = await start(boot, { backend: backend(), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 5_000_000n, auction: { disabled: true } })
  rogue = await start(boot)
  await waitFor(() => buyer.offerList(MODEL).length === 4, 'the four offers in the buyer book')
  const subscribers = (): string[] => buyer.libp2p.services.pubsub.getSubscribers(buyer.market.bidsTopic).map(p => p.toString())
  await waitFor(() => [cheapIdle, loaded, dear, off].every(s => subscribers().includes(s.libp2p.peerId.toString())), 'the sellers on the bids topic')
  // one request running at the loaded seller: a client node buys from it only
  await waitFor(() => rogue.offerList(MODEL).length === 4, 'the four offers in the client book')
  const others = [cheapIdle, dear, off].map(s => s.libp2p.peerId.toString())
  loadRun = rogue.infer(MODEL, { messages: [{ role: 'user', content: 'hold a slot' }], maxTokens: 4 }, { excludeSellers: others }).catch((err) => err)
  await waitFor(() => gated.running === 1, 'a request running at the loaded seller')
}

afterAll(async () => {
  gated.open()
  await loadRun?.catch(() => {})
  await Promise.all(nodes.splice(0).map(async n => await n.stop().catch(() => {})))
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

const spec = { modelId: MODEL, maxPriceInPerMTokUc: 3_000_000n, maxPriceOutPerMTokUc: 9_000_000n, expectedOutputTokens: 50_000n, expectedInputTokens: 10_000n }

describe('reverse auction on the memory transport', () => {
  it('three sellers answer below their posted prices; the seller with auctions off sends none', async () => {
    await market()
    const deadlineMs = Date.now() + 2 * HOUR
    const result = await buyer.auction.postBid({ ...spec, deadlineMs, windowMs: 2_000 })
    const bySeller = new Map(result.quotes.map(q => [q.sellerId, q]))
    expect([...bySeller.keys()].sort()).toEqual([cheapIdle, loaded, dear].map(s => s.libp2p.peerId.toString()).sort())
    expect(result.refused).toEqual([])
    // every quote verified against the bid: ours, under the posted prices, for the deadline
    for (const q of result.quotes) {
      expect(Buffer.from(q.bidId).equals(Buffer.from(result.bidId))).toBe(true)
      expect(q.priceOutPerMTokUc).toBeLessThan(q.postedPriceOutPerMTokUc)
      expect(q.validUntilMs).toBe(BigInt(deadlineMs))
      expect(q.maxOutputTokens).toBe(50_000n)
    }
    // pricing policy: posted × (100 − batch − idle × free / slots) / 100
    expect(bySeller.get(cheapIdle.libp2p.peerId.toString())?.priceOutPerMTokUc).toBe(8_000_000n * 50n / 100n)
    expect(bySeller.get(loaded.libp2p.peerId.toString())?.priceOutPerMTokUc).toBe(6_000_000n * 60n / 100n)
    expect(bySeller.get(dear.libp2p.peerId.toString())?.priceOutPerMTokUc).toBe(9_000_000n * 80n / 100n)
    expect(bySeller.get(cheapIdle.libp2p.peerId.toString())?.priceInPerMTokUc).toBe(1_000_000n)
    // the seller with auctions off saw the bid and answered nothing
    expect(off.market.bids.size).toBeGreaterThan(0)
    expect(off.auctionSellerEnd?.stats.sent).toBe(0)
    // each seller holds its accepted quote for negotiation, with its volume
    const q = bySeller.get(loaded.libp2p.peerId.toString()) as NonNullable<ReturnType<typeof bySeller.get>>
    await waitFor(() => loaded.auction.lookupBidQuote(q.quoteId) != null, 'the loaded seller holds its quote')
    expect(loaded.auction.lookupBidQuote(q.quoteId)?.priceOutPerMTokUc).toBe(q.priceOutPerMTokUc)
    expect(loaded.auction.consumeVolume(q.quoteId, 20_000n)).toBe(30_000n)
    expect(loaded.auction.consumeVolume(q.quoteId, 40_000n)).toBe(0n)
    expect(cheapIdle.auction.lookupBidQuote(q.quoteId)).toBeUndefined()
    // the buyer picks: cheapest first, the volume split over the quotes' committed volumes
    const picked = pickQuotes(result.quotes, 120_000n, buyer.auction.sellerRecord)
    expect(picked.map(p => [p.quote.sellerId, p.outputTokens])).toEqual([[loaded.libp2p.peerId.toString(), 50_000n], [cheapIdle.libp2p.peerId.toString(), 50_000n], [dear.libp2p.peerId.toString(), 20_000n]])
  })

  it('a quote that does not match its bid, or is signed by another than its sender, is refused and never used', async () => {
    await market()
    const deadlineMs = Date.now() + 2 * HOUR
    const posted = buyer.auction.postBid({ ...spec, modelId: MODEL, deadlineMs, windowMs: 5_000 })
    // the rogue learns the bid from its own bid book (gossip), as any seller would
    await waitFor(() => rogue.market.bids.list(Date.now(), MODEL).some(b => b.deadlineMs === BigInt(deadlineMs)), 'the bid at the rogue')
    const bid = rogue.market.bids.list(Date.now(), MODEL).find(b => b.deadlineMs === BigInt(deadlineMs)) as NonNullable<ReturnType<typeof rogue.market.bids.list>[number]>
    const terms = (over: Partial<BidQuoteTerms>): BidQuoteTerms => ({
      bidId: bid.id,
      buyer: bid.buyer,
      modelId: MODEL,
      fingerprint: `simulated:${MODEL}`,
      fingerprintVerified: false,
      params: 8_000_000_000n,
      quantization: 'simulated',
      priceInPerMTokUc: 1n,
      priceOutPerMTokUc: 1n,
      maxOutputTokens: 1_000n,
      validUntilMs: bid.deadlineMs,
      postedPriceOutPerMTokUc: 0n,
      multiaddrs: [],
      quoteId: new Uint8Array(16).fill(0xee),
      ...over
    })
    const send = async (signer: Ed25519Signer, t: BidQuoteTerms): Promise<{ accepted: boolean, code: string }> => {
      const q = signBidQuote(signer, rogue.net, t)
      const stream = await rogue.libp2p.dialProtocol(buyer.libp2p.peerId, AUCTION_PROTOCOL)
      const lp = lpStream(stream)
      await lp.write(encodeBidQuoteFrame(q.bytes))
      const f = decodeAuctionFrame((await lp.read()).subarray())
      await stream.close()
      if (f.kind !== 'ack') throw new Error('expected an ack')
      return { accepted: f.accepted, code: f.code }
    }
    // too dear, too much volume, wrong model, another buyer, valid past the deadline: all mismatches
    expect(await send(rogue.base.signer, terms({ priceOutPerMTokUc: 9_000_001n }))).toEqual({ accepted: false, code: 'bid-quote-mismatch' })
    expect(await send(rogue.base.signer, terms({ maxOutputTokens: 50_001n }))).toEqual({ accepted: false, code: 'bid-quote-mismatch' })
    expect(await send(rogue.base.signer, terms({ modelId: 'other-model' }))).toEqual({ accepted: false, code: 'bid-quote-mismatch' })
    expect(await send(rogue.base.signer, terms({ buyer: rogue.base.signer.publicKey }))).toEqual({ accepted: false, code: 'bid-quote-mismatch' })
    expect(await send(rogue.base.signer, terms({ validUntilMs: bid.deadlineMs + 1n }))).toEqual({ accepted: false, code: 'bid-quote-mismatch' })
    // signed with a real seller's key but sent by the rogue: forged
    expect(await send(cheapIdle.base.signer, terms({}))).toEqual({ accepted: false, code: 'invalid-signature' })
    // a bid that is not the buyer's
    expect(await send(rogue.base.signer, terms({ bidId: new Uint8Array(32).fill(1) }))).toEqual({ accepted: false, code: 'unknown-bid' })
    const result: AuctionResult = await posted
    const rogueId = rogue.libp2p.peerId.toString()
    expect(result.quotes.map(q => q.sellerId)).not.toContain(rogueId)
    expect(result.quotes.some(q => Buffer.from(q.quoteId).equals(Buffer.alloc(16, 0xee)))).toBe(false)
    expect(result.refused.filter(r => r.seller === rogueId).map(r => r.code)).toEqual(Array(5).fill('bid-quote-mismatch'))
    // the honest sellers answered this bid too
    expect(result.quotes.length).toBe(3)
    // after the window: auction-closed
    expect(await send(rogue.base.signer, terms({}))).toEqual({ accepted: false, code: 'auction-closed' })
  })

  it('postBid refuses an absurd deadline or window with a typed error', async () => {
    await market()
    await expect(buyer.auction.postBid({ ...spec, deadlineMs: Date.now() + 8 * 24 * HOUR })).rejects.toMatchObject({ code: 'invalid-argument' })
    await expect(buyer.auction.postBid({ ...spec, deadlineMs: Date.now() + 1_000, windowMs: 5_000 })).rejects.toMatchObject({ code: 'invalid-argument' })
    await expect(buyer.auction.postBid({ ...spec, deadlineMs: Date.now() + HOUR, windowMs: 600_000 })).rejects.toMatchObject({ code: 'invalid-argument' })
    await expect(buyer.auction.postBid({ ...spec, deadlineMs: Date.now() + HOUR, expectedOutputTokens: 100_000_001n })).rejects.toMatchObject({ code: 'field-out-of-range' })
  })

  it('a frame that does not decode, or is an ack, gets the stream reset and no ack', async () => {
    await market()
    for (const bytes of [new Uint8Array([0xff, 0xff, 0xff]), encodeAckFrame(true)]) {
      const stream = await rogue.libp2p.dialProtocol(buyer.libp2p.peerId, AUCTION_PROTOCOL)
      const lp = lpStream(stream)
      await lp.write(bytes)
      await expect(lp.read()).rejects.toThrow()
    }
  })
})

/**
 * Contracts at an auction price (negotiate.md § Auction price): a QuoteRequest carrying the
 * seller's own BidQuote gets a quote at the BidQuote's prices, and the contract takes its volume
 * off what the seller holds at countersign. Every other BidQuote is a typed refusal: another
 * seller's, another buyer's, another model's, expired, not held, a lock beyond the volume left,
 * volume taken by a concurrent contract in between, and a seller that takes no bid quotes.
 * Real libp2p peers (memory transport) and real signed BidQuotes; the seller's holdings are a map
 * (the node's are the auction seller's, wired in src/node/tally.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { bidVolumeOf, type BidQuoteDesk } from '../../../src/contract/negotiate.js'
import { RefusalReason } from '../../../src/wire/pb/negotiate.js'
import { signBidQuote, openBidQuote, type BidQuoteTerms } from '../../../src/market/bid-quote.js'
import type { Ed25519Signer } from '../../../src/identity/ed25519.js'
import { stopAll, testNet } from '../../e2e/market-helpers.js'
import { MODEL, negotiatingPeer, type NegotiatingPeer } from '../../e2e/negotiate-helpers.js'

/** what the seller holds of the BidQuotes it sent, by quote id (hex) */
const held = new Map<string, bigint>()
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
/** quotes another contract takes one token of right after the seller read their volume (between quote and accept) */
const racing = new Set<string>()
const desk: BidQuoteDesk = {
  open: (b) => openBidQuote(b, testNet),
  volumeLeft: (id) => {
    const left = held.get(hex(id))
    if (left != null && racing.has(hex(id))) held.set(hex(id), left - 1n)
    return left
  },
  consume: (id, tokens) => {
    const left = held.get(hex(id))
    if (left == null || left < tokens) return false
    held.set(hex(id), left - tokens)
    return true
  }
}

let seller: NegotiatingPeer
let postedOnly: NegotiatingPeer
let buyer: NegotiatingPeer
let other: NegotiatingPeer

beforeAll(async () => {
  seller = await negotiatingPeer({}, { sellerTerms: () => ({ ...MODEL, maxSessions: 100 }), bidQuotes: desk })
  postedOnly = await negotiatingPeer({}, { sellerTerms: () => MODEL })
  buyer = await negotiatingPeer()
  other = await negotiatingPeer()
})
afterAll(async () => {
  const all = [seller, postedOnly, buyer, other]
  await Promise.all(all.map(async p => await p.svc.stop()))
  await stopAll(all.map(p => p.peer))
})

/** a BidQuote signed by `by` (the seller unless said), held with its whole volume unless `hold` is false */
function bidQuote (over: Partial<BidQuoteTerms> = {}, by: Ed25519Signer = seller.peer.signer, hold = true): { bytes: Uint8Array, quoteId: Uint8Array } {
  const q = signBidQuote(by, testNet, {
    bidId: randomBytes(32),
    buyer: buyer.peer.signer.publicKey,
    modelId: MODEL.modelId,
    fingerprint: MODEL.fingerprint,
    fingerprintVerified: true,
    params: MODEL.params,
    quantization: '',
    priceInPerMTokUc: 2_000_000n,
    priceOutPerMTokUc: 4_000_000n,
    maxOutputTokens: 10_000n,
    validUntilMs: BigInt(Date.now() + 60_000),
    postedPriceOutPerMTokUc: MODEL.priceOutPerMTokUc,
    multiaddrs: [],
    quoteId: randomBytes(16),
    ...over
  })
  if (hold) held.set(hex(q.quoteId), q.maxOutputTokens)
  return { bytes: q.bytes, quoteId: q.quoteId }
}

const ask = (bid: Uint8Array, lock = 20_000n, prices = { in: 2_000_000n, out: 4_000_000n }): any => ({
  modelId: MODEL.modelId,
  maxPriceInPerMTokUc: prices.in,
  maxPriceOutPerMTokUc: prices.out,
  maxSpendUc: lock,
  sessionExpiresAtMs: BigInt(Date.now() + 60_000),
  bidQuote: bid
})

async function refusal (from: NegotiatingPeer, to: NegotiatingPeer, req: unknown): Promise<any> {
  return await from.svc.negotiate(to.peer.libp2p.getMultiaddrs(), req as any).then(() => { throw new Error('negotiated') }, e => e)
}

describe('the volume a contract at an auction price takes', () => {
  it('is what its lock buys at the output price (rounded up), or the expected output when larger', () => {
    expect(bidVolumeOf(20_000n, 4_000_000n)).toBe(5_000n)
    expect(bidVolumeOf(20_001n, 4_000_000n)).toBe(5_001n)
    expect(bidVolumeOf(1n, 4_000_000n)).toBe(1n)
    expect(bidVolumeOf(20_000n, 4_000_000n, 6_000n)).toBe(6_000n)
  })
})

describe('negotiating with the seller\'s own BidQuote', () => {
  it('quotes and contracts at the auction prices, below the posted ones, and takes the contract\'s volume at countersign', async () => {
    const q = bidQuote()
    const c = await buyer.svc.negotiate(seller.peer.libp2p.getMultiaddrs(), ask(q.bytes))
    expect(c.priceInPerMTokUc).toBe(2_000_000n)
    expect(c.priceOutPerMTokUc).toBe(4_000_000n)
    expect(c.priceOutPerMTokUc).toBeLessThan(MODEL.priceOutPerMTokUc)
    expect(c.maxSpendUc).toBe(20_000n)
    // 20,000 µc at 4 µc per output token: 5,000 tokens of 10,000
    expect(held.get(hex(q.quoteId))).toBe(5_000n)
    const c2 = await buyer.svc.negotiate(seller.peer.libp2p.getMultiaddrs(), ask(q.bytes))
    expect(c2.priceOutPerMTokUc).toBe(4_000_000n)
    expect(held.get(hex(q.quoteId))).toBe(0n)
    // nothing left: the third is refused before anything is reserved
    const e = await refusal(buyer, seller, ask(q.bytes, 4n))
    expect(e.reason).toBe(RefusalReason.BID_VOLUME_EXHAUSTED)
    expect(e.code).toBe('bid-volume-exhausted')
    // without a bid quote the same seller quotes its posted prices
    const posted = await buyer.svc.negotiate(seller.peer.libp2p.getMultiaddrs(), { modelId: MODEL.modelId, maxSpendUc: 20_000n, sessionExpiresAtMs: BigInt(Date.now() + 60_000) })
    expect(posted.priceOutPerMTokUc).toBe(MODEL.priceOutPerMTokUc)
  })

  it('refuses a lock beyond the volume left, and takes nothing for it', async () => {
    const q = bidQuote({ maxOutputTokens: 1_000n })
    const e = await refusal(buyer, seller, ask(q.bytes, 4_001n))
    expect(e.code).toBe('bid-volume-exhausted')
    expect(e.message).toMatch(/1001 output tokens .* 1000 are left/)
    expect(held.get(hex(q.quoteId))).toBe(1_000n)
    // the lock that fits is taken
    await buyer.svc.negotiate(seller.peer.libp2p.getMultiaddrs(), ask(q.bytes, 4_000n))
    expect(held.get(hex(q.quoteId))).toBe(0n)
  })

  it('refuses another seller\'s quote, another buyer\'s, another model\'s, an expired one and one it does not hold', async () => {
    const cases: Array<[Uint8Array, NegotiatingPeer, string, RegExp]> = [
      [bidQuote({}, other.peer.signer).bytes, buyer, 'bid-quote-invalid', /another seller/],
      [bidQuote().bytes, other, 'bid-quote-invalid', /another buyer/],
      [bidQuote({ modelId: 'other-model' }).bytes, buyer, 'bid-quote-invalid', /other-model/],
      [bidQuote({ validUntilMs: BigInt(Date.now() - 1) }).bytes, buyer, 'bid-quote-expired', /valid until/],
      [bidQuote({}, seller.peer.signer, false).bytes, buyer, 'bid-quote-invalid', /holds no such bid quote/],
      [randomBytes(200), buyer, 'bid-quote-invalid', /does not open/]
    ]
    for (const [bytes, who, code, why] of cases) {
      const e = await refusal(who, seller, ask(bytes))
      expect(e.code, why.source).toBe(code)
      expect(e.message).toMatch(why)
    }
    // a request at an auction price states its lock
    const e = await refusal(buyer, seller, ask(bidQuote().bytes, 0n))
    expect(e.code).toBe('negotiation-refused')
    expect(e.message).toMatch(/must state its lock/)
    // a seller without held bid quotes quotes no auction price
    const p = await refusal(buyer, postedOnly, ask(bidQuote({}, postedOnly.peer.signer).bytes))
    expect(p.code).toBe('bid-quote-invalid')
    expect(p.message).toMatch(/posted prices only/)
  })

  it('refuses the accept when a concurrent contract took the volume after the quote', async () => {
    const q = bidQuote({ maxOutputTokens: 5_000n })
    racing.add(hex(q.quoteId))
    // the quote sees 5,000 left and is given; a token goes before the accept is countersigned
    const before = seller.svc.stats.quotesIssued
    const e = await refusal(buyer, seller, ask(q.bytes))
    expect(seller.svc.stats.quotesIssued).toBe(before + 1)
    expect(e.code).toBe('bid-volume-exhausted')
    expect(e.message).toMatch(/fewer than the 5000 output tokens/)
    expect(held.get(hex(q.quoteId))).toBe(4_999n)
  })
})

/**
 * Reverse auction, pure parts (protocols/auction.md, market.md § Bid): the bid's auction fields
 * and their range rules, the BidQuote codec and range rules, the bidder's match check, the
 * seller's price and volume, and pickQuotes.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createSigner } from '../../../src/identity/ed25519.js'
import { accountIdFromPublicKey } from '../../../src/identity/account.js'
import { netId } from '../../../src/ledger/genesis.js'
import { MAX_BID_DEADLINE_AHEAD_MS, openBid, signBid, type Bid, type BidTerms } from '../../../src/market/bid.js'
import { checkBidQuoteMatches, openBidQuote, signBidQuote, type BidQuote, type BidQuoteTerms } from '../../../src/market/bid-quote.js'
import { auctionPrice, auctionVolume, pickQuotes, type PickableQuote } from '../../../src/market/auction.js'
import { sealEnvelope } from '../../../src/wire/envelope.js'
import { Domain } from '../../../src/wire/domains.js'
import { BidQuote as BidQuotePb } from '../../../src/wire/pb/auction.js'
import { Bid as BidPb } from '../../../src/wire/pb/market.js'
import { MAX_PRICE_PER_MTOK_UC } from '../../../src/wire/limits.js'

const net = netId({ name: 'unit', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
const other = netId({ name: 'other', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
const buyer = createSigner(new Uint8Array(32).fill(1))
const seller = createSigner(new Uint8Array(32).fill(2))
const buyerId = accountIdFromPublicKey(buyer.publicKey)
const sellerId = accountIdFromPublicKey(seller.publicKey)
const NOW = 1_700_000_000_000
const HOUR = 3_600_000

const auctionBid: BidTerms = {
  modelId: 'llama-3-8b',
  minParams: 7_000_000_000n,
  quantizations: ['Q4_K_M', 'Q8_0'],
  maxPriceInPerMTokUc: 5_000_000n,
  maxPriceOutPerMTokUc: 8_000_000n,
  expectedInputTokens: 1_000_000n,
  expectedOutputTokens: 5_000_000n,
  deadlineMs: BigInt(NOW + 2 * HOUR),
  auctionEndsAtMs: BigInt(NOW + 5_000),
  multiaddrs: ['/ip4/1.2.3.4/tcp/4001', `/ip4/1.2.3.4/tcp/4001/p2p/${buyerId}`, '/ip4/5.6.7.8/tcp/1/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK/p2p-circuit'],
  verifiedOnly: false
}
const bidOpts = { seq: 3n, expiresAtMs: BigInt(NOW + 60_000) }

function quoteTerms (bid: Bid, over: Partial<BidQuoteTerms> = {}): BidQuoteTerms {
  return {
    bidId: bid.id,
    buyer: bid.buyer,
    modelId: bid.modelId,
    fingerprint: 'a'.repeat(64),
    fingerprintVerified: true,
    params: 8_000_000_000n,
    quantization: 'Q4_K_M',
    priceInPerMTokUc: 3_000_000n,
    priceOutPerMTokUc: 6_000_000n,
    maxOutputTokens: 2_000_000n,
    validUntilMs: bid.deadlineMs,
    postedPriceOutPerMTokUc: 8_000_000n,
    multiaddrs: [`/ip4/9.9.9.9/tcp/1/p2p/${sellerId}`],
    quoteId: new Uint8Array(16).fill(9),
    ...over
  }
}

describe('bid auction fields (market.md § Bid)', () => {
  it('round-trip through sign and open, and an old-style bid has them zero', () => {
    const signed = signBid(buyer, net, auctionBid, bidOpts)
    const opened = openBid(signed.bytes, net, NOW)
    expect(opened).toEqual(signed)
    expect(opened.deadlineMs).toBe(auctionBid.deadlineMs)
    expect(opened.auctionEndsAtMs).toBe(auctionBid.auctionEndsAtMs)
    expect(opened.multiaddrs).toEqual(auctionBid.multiaddrs)
    const plain = openBid(signBid(buyer, net, { ...auctionBid, deadlineMs: undefined, auctionEndsAtMs: undefined, multiaddrs: undefined, verifiedOnly: undefined, expectedOutputTokens: 0n }, bidOpts).bytes, net, NOW)
    expect([plain.deadlineMs, plain.auctionEndsAtMs, plain.multiaddrs, plain.verifiedOnly]).toEqual([0n, 0n, [], false])
  })

  it('fast-check: any in-range auction bid round-trips', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: MAX_BID_DEADLINE_AHEAD_MS - 60_000 }), fc.bigInt(1n, 100_000_000n), fc.boolean(),
      (ends, extra, volume, verifiedOnly) => {
        const t = { ...auctionBid, auctionEndsAtMs: BigInt(NOW + ends), deadlineMs: BigInt(NOW + ends + extra), expectedOutputTokens: volume, verifiedOnly }
        const s = signBid(buyer, net, t, bidOpts)
        expect(openBid(s.bytes, net, NOW)).toEqual(s)
      }), { numRuns: 50 })
  })

  it('rejects every broken range rule', () => {
    const sign = (t: Partial<BidTerms>, o = bidOpts): Bid => signBid(buyer, net, { ...auctionBid, ...t }, o)
    const raw = (t: Partial<BidTerms>): Uint8Array => {
      // bypass signBid's own checks: what a hostile peer could gossip
      const m = { ...auctionBid, ...t }
      return sealEnvelope(buyer, Domain.bid, net, BidPb.encode({ seq: 3n, modelId: m.modelId, minParams: m.minParams, quantizations: m.quantizations, maxPriceInPerMtokUc: m.maxPriceInPerMTokUc, maxPriceOutPerMtokUc: m.maxPriceOutPerMTokUc, expectedInputTokens: m.expectedInputTokens, expectedOutputTokens: m.expectedOutputTokens, expiresAtMs: bidOpts.expiresAtMs, deadlineMs: m.deadlineMs ?? 0n, auctionEndsAtMs: m.auctionEndsAtMs ?? 0n, multiaddrs: m.multiaddrs ?? [], verifiedOnly: m.verifiedOnly ?? false })).bytes
    }
    const code = (t: Partial<BidTerms>): string => { try { openBid(raw(t), net, NOW); return 'ok' } catch (e: any) { return e.code } }
    // absurd volume
    expect(code({ expectedOutputTokens: 100_000_001n })).toBe('field-out-of-range')
    expect(() => sign({ expectedOutputTokens: 100_000_001n })).toThrow(expect.objectContaining({ code: 'field-out-of-range' }))
    // an auction bid with no volume, or no deadline
    expect(code({ expectedOutputTokens: 0n })).toBe('field-out-of-range')
    expect(code({ deadlineMs: 0n })).toBe('field-out-of-range')
    // absurd deadline: in the past, more than 7 days ahead, before the window's end
    expect(code({ deadlineMs: BigInt(NOW - 1), auctionEndsAtMs: BigInt(NOW - 2) })).toBe('expired')
    expect(code({ deadlineMs: BigInt(NOW + MAX_BID_DEADLINE_AHEAD_MS + 6_000) })).toBe('expiry-too-far')
    expect(code({ deadlineMs: BigInt(NOW + MAX_BID_DEADLINE_AHEAD_MS) })).toBe('ok')
    expect(code({ deadlineMs: BigInt(NOW + 1_000), auctionEndsAtMs: BigInt(NOW + 2_000) })).toBe('field-out-of-range')
    // window past the bid's own expiry
    expect(code({ auctionEndsAtMs: bidOpts.expiresAtMs + 1n })).toBe('field-out-of-range')
    expect(() => sign({ auctionEndsAtMs: bidOpts.expiresAtMs + 1n })).toThrow(expect.objectContaining({ code: 'field-out-of-range' }))
    // addresses: too many, too long, another peer's
    expect(code({ multiaddrs: Array(9).fill('/ip4/1.2.3.4/tcp/1') })).toMatch(/field-out-of-range|malformed-message/)
    expect(code({ multiaddrs: ['/ip4/1.2.3.4/tcp/1/' + 'x'.repeat(300)] })).toMatch(/invalid-string-field|message-too-large/)
    expect(code({ multiaddrs: [`/ip4/1.2.3.4/tcp/1/p2p/${sellerId}`] })).toBe('foreign-address')
    expect(() => sign({ multiaddrs: [`/ip4/1.2.3.4/tcp/1/p2p/${sellerId}`] })).toThrow(expect.objectContaining({ code: 'foreign-address' }))
    // a plain bid (no window) may have no deadline and no volume
    expect(code({ auctionEndsAtMs: 0n, deadlineMs: 0n, expectedOutputTokens: 0n })).toBe('ok')
  })
})

describe('BidQuote codec and range rules (auction.md § BidQuote)', () => {
  const bid = signBid(buyer, net, auctionBid, bidOpts)

  it('round-trips, and opens only under its own net and domain', () => {
    const q = signBidQuote(seller, net, quoteTerms(bid))
    const opened = openBidQuote(q.bytes, net)
    expect(opened).toEqual(q)
    expect(opened.sellerId).toBe(sellerId)
    expect(() => openBidQuote(q.bytes, other)).toThrow(expect.objectContaining({ code: 'invalid-signature' }))
    expect(() => openBidQuote(bid.bytes, net)).toThrow(expect.objectContaining({ code: 'wrong-domain' }))
  })

  it('fast-check: in-range terms round-trip; garbage never opens', () => {
    fc.assert(fc.property(
      fc.bigInt(1n, MAX_PRICE_PER_MTOK_UC), fc.bigInt(1n, MAX_PRICE_PER_MTOK_UC), fc.bigInt(1n, 100_000_000n), fc.bigInt(0n, MAX_PRICE_PER_MTOK_UC), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(),
      (pin, pout, vol, posted, quoteId, verified) => {
        const q = signBidQuote(seller, net, quoteTerms(bid, { priceInPerMTokUc: pin, priceOutPerMTokUc: pout, maxOutputTokens: vol, postedPriceOutPerMTokUc: posted, quoteId, fingerprintVerified: verified }))
        expect(openBidQuote(q.bytes, net)).toEqual(q)
      }), { numRuns: 50 })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (junk) => {
      expect(() => openBidQuote(junk, net)).toThrow()
    }), { numRuns: 200 })
  })

  it('refuses each broken range rule with its code', () => {
    const raw = (over: Partial<BidQuoteTerms>): Uint8Array => {
      const t = quoteTerms(bid, over)
      return sealEnvelope(seller, Domain.bidQuote, net, BidQuotePb.encode({ bidId: t.bidId as Uint8Array<ArrayBuffer>, buyer: t.buyer as Uint8Array<ArrayBuffer>, modelId: t.modelId, fingerprint: t.fingerprint, fingerprintVerified: t.fingerprintVerified, params: t.params, priceInPerMtokUc: t.priceInPerMTokUc, priceOutPerMtokUc: t.priceOutPerMTokUc, maxOutputTokens: t.maxOutputTokens, validUntilMs: t.validUntilMs, postedPriceOutPerMtokUc: t.postedPriceOutPerMTokUc, multiaddrs: t.multiaddrs, quoteId: t.quoteId as Uint8Array<ArrayBuffer>, quantization: t.quantization })).bytes
    }
    const code = (over: Partial<BidQuoteTerms>): string => { try { openBidQuote(raw(over), net); return 'ok' } catch (e: any) { return e.code } }
    expect(code({})).toBe('ok')
    expect(code({ bidId: new Uint8Array(31) })).toBe('field-out-of-range')
    expect(code({ buyer: new Uint8Array(33) })).toBe('field-out-of-range')
    expect(code({ quoteId: new Uint8Array(0) })).toBe('field-out-of-range')
    expect(code({ modelId: '' })).toBe('invalid-string-field')
    expect(code({ fingerprint: 'f'.repeat(129) })).toBe('invalid-string-field')
    expect(code({ quantization: 'q'.repeat(33) })).toBe('invalid-string-field')
    expect(code({ params: 0n })).toBe('field-out-of-range')
    expect(code({ priceOutPerMTokUc: 0n })).toBe('invalid-price')
    expect(code({ priceInPerMTokUc: MAX_PRICE_PER_MTOK_UC + 1n })).toBe('invalid-price')
    expect(code({ postedPriceOutPerMTokUc: MAX_PRICE_PER_MTOK_UC + 1n })).toBe('invalid-price')
    expect(code({ maxOutputTokens: 0n })).toBe('field-out-of-range')
    expect(code({ maxOutputTokens: 100_000_001n })).toBe('field-out-of-range')
    expect(code({ validUntilMs: 0n })).toBe('field-out-of-range')
    expect(code({ multiaddrs: [`/ip4/1.1.1.1/tcp/1/p2p/${buyerId}`] })).toBe('foreign-address')
    expect(code({ multiaddrs: ['/ip4/1.1.1.1/tcp/1/' + 'x'.repeat(240), ...Array(8).fill('/ip4/1.1.1.1/tcp/1')] })).toMatch(/field-out-of-range|message-too-large|malformed-message/)
  })
})

describe('checkBidQuoteMatches (auction.md § Verification 3-4)', () => {
  const bid = openBid(signBid(buyer, net, { ...auctionBid, verifiedOnly: true }, bidOpts).bytes, net, NOW)
  const q = (over: Partial<BidQuoteTerms>): BidQuote => signBidQuote(seller, net, quoteTerms(bid, over))
  const verdict = (over: Partial<BidQuoteTerms>, now = NOW + 1_000): string => { try { checkBidQuoteMatches(q(over), bid, now); return 'ok' } catch (e: any) { return e.code } }

  it('accepts a quote that matches', () => {
    expect(verdict({})).toBe('ok')
    expect(verdict({ quantization: 'Q8_0', priceOutPerMTokUc: bid.maxPriceOutPerMTokUc, priceInPerMTokUc: bid.maxPriceInPerMTokUc, maxOutputTokens: bid.expectedOutputTokens, validUntilMs: bid.auctionEndsAtMs })).toBe('ok')
  })

  it('refuses a quote answering a bid it does not match', () => {
    const other = signBid(buyer, net, { ...auctionBid, modelId: 'x' }, bidOpts)
    expect(verdict({ bidId: other.id })).toBe('bid-quote-mismatch')
    expect(verdict({ buyer: seller.publicKey })).toBe('bid-quote-mismatch')
    expect(verdict({ modelId: 'llama-3-70b' })).toBe('bid-quote-mismatch')
    expect(verdict({ params: 6_999_999_999n })).toBe('bid-quote-mismatch')
    expect(verdict({ quantization: 'F16' })).toBe('bid-quote-mismatch')
    expect(verdict({ fingerprintVerified: false })).toBe('bid-quote-mismatch')
    expect(verdict({ priceOutPerMTokUc: bid.maxPriceOutPerMTokUc + 1n })).toBe('bid-quote-mismatch')
    expect(verdict({ priceInPerMTokUc: bid.maxPriceInPerMTokUc + 1n })).toBe('bid-quote-mismatch')
    expect(verdict({ maxOutputTokens: bid.expectedOutputTokens + 1n })).toBe('bid-quote-mismatch')
    expect(verdict({ validUntilMs: bid.auctionEndsAtMs - 1n })).toBe('bid-quote-mismatch')
    expect(verdict({ validUntilMs: bid.deadlineMs + 1n })).toBe('bid-quote-mismatch')
  })

  it('refuses a quote after the window', () => {
    expect(verdict({}, Number(bid.auctionEndsAtMs) + 5_001)).toBe('auction-closed')
  })
})

describe('seller pricing and volume (auction.md § Seller policy)', () => {
  const p = { batchDiscountPct: 30, idleDiscountPct: 20, batchMinDeferMs: 600_000 }

  it('applies the batch discount only to deferred work, and the idle discount by free share', () => {
    expect(auctionPrice(1_000_000n, p, { freeSlots: 0, slots: 4, deferMs: 600_000 })).toBe(700_000n)
    expect(auctionPrice(1_000_000n, p, { freeSlots: 0, slots: 4, deferMs: 599_999 })).toBe(1_000_000n)
    expect(auctionPrice(1_000_000n, p, { freeSlots: 4, slots: 4, deferMs: 0 })).toBe(800_000n)
    expect(auctionPrice(1_000_000n, p, { freeSlots: 2, slots: 4, deferMs: 3_600_000 })).toBe(600_000n)
    expect(auctionPrice(1_000_000n, p, { freeSlots: 1, slots: 3, deferMs: 0 })).toBe(933_333n)
    expect(auctionPrice(1n, p, { freeSlots: 4, slots: 4, deferMs: 3_600_000 })).toBe(1n)
    expect(auctionPrice(10n, { ...p, batchDiscountPct: 80 }, { freeSlots: 1, slots: 1, deferMs: 3_600_000 })).toBe(1n)
  })

  it('fast-check: never above posted, never below 1, lower with more free slots', () => {
    fc.assert(fc.property(fc.bigInt(1n, MAX_PRICE_PER_MTOK_UC), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 3_600_000 }),
      (posted, batch, idle, slots, free, defer) => {
        const pp = { batchDiscountPct: batch, idleDiscountPct: idle, batchMinDeferMs: 600_000 }
        const a = auctionPrice(posted, pp, { freeSlots: Math.min(free, slots), slots, deferMs: defer })
        expect(a >= 1n && a <= posted).toBe(true)
        const b = auctionPrice(posted, pp, { freeSlots: slots, slots, deferMs: defer })
        expect(b <= a).toBe(true)
      }), { numRuns: 200 })
  })

  it('commits at most what its slots produce before the deadline, less what it holds', () => {
    expect(auctionVolume({ bidVolume: 5_000_000n, tokensPerSecPerSlot: 10, slots: 2, msToDeadline: 3_600_000, heldVolume: 0n })).toBe(72_000n)
    expect(auctionVolume({ bidVolume: 5_000n, tokensPerSecPerSlot: 10, slots: 2, msToDeadline: 3_600_000, heldVolume: 0n })).toBe(5_000n)
    expect(auctionVolume({ bidVolume: 5_000_000n, tokensPerSecPerSlot: 10, slots: 2, msToDeadline: 3_600_000, heldVolume: 70_000n })).toBe(2_000n)
    expect(auctionVolume({ bidVolume: 5_000_000n, tokensPerSecPerSlot: 10, slots: 2, msToDeadline: 3_600_000, heldVolume: 72_000n })).toBe(0n)
    expect(auctionVolume({ bidVolume: 5_000_000n, tokensPerSecPerSlot: 10, slots: 2, msToDeadline: -1, heldVolume: 0n })).toBe(0n)
  })
})

describe('pickQuotes', () => {
  const mk = (sellerId: string, out: bigint, inp: bigint, vol: bigint): PickableQuote => ({ sellerId, priceOutPerMTokUc: out, priceInPerMTokUc: inp, maxOutputTokens: vol })

  it('takes the cheapest first (out, then in), ties by record, and splits the volume', () => {
    const qs = [mk('c', 9n, 1n, 100n), mk('a', 5n, 2n, 30n), mk('b', 5n, 1n, 30n), mk('d', 5n, 1n, 30n)]
    const record = (s: string): number => s === 'd' ? 5 : 0
    const picked = pickQuotes(qs, 100n, record)
    expect(picked.map(p => [p.quote.sellerId, p.outputTokens])).toEqual([['d', 30n], ['b', 30n], ['a', 30n], ['c', 10n]])
    expect(pickQuotes(qs, 20n, record).map(p => [p.quote.sellerId, p.outputTokens])).toEqual([['d', 20n]])
    expect(pickQuotes([], 20n, record)).toEqual([])
  })

  it('fast-check: never more than a quote\'s volume, the total is min(volume, offered), and no cheaper quote keeps free volume while a dearer one gets some', () => {
    const quoteArb = fc.record({ sellerId: fc.string({ minLength: 1, maxLength: 4 }), priceOutPerMTokUc: fc.bigInt(1n, 20n), priceInPerMTokUc: fc.bigInt(1n, 5n), maxOutputTokens: fc.bigInt(1n, 1_000n) })
    fc.assert(fc.property(fc.array(quoteArb, { maxLength: 12 }), fc.bigInt(0n, 8_000n), fc.func(fc.integer({ min: -5, max: 5 })), (qs, volume, rec) => {
      const picked = pickQuotes(qs, volume, (s) => rec(s))
      let total = 0n
      for (const p of picked) {
        expect(p.outputTokens > 0n && p.outputTokens <= p.quote.maxOutputTokens).toBe(true)
        total += p.outputTokens
      }
      const offered = qs.reduce((s, q) => s + q.maxOutputTokens, 0n)
      expect(total).toBe(volume < offered ? volume : offered)
      const given = new Map(picked.map(p => [p.quote, p.outputTokens]))
      for (const cheap of qs) {
        const free = cheap.maxOutputTokens - (given.get(cheap) ?? 0n)
        if (free <= 0n) continue
        for (const dear of qs) {
          const dearer = dear.priceOutPerMTokUc > cheap.priceOutPerMTokUc || (dear.priceOutPerMTokUc === cheap.priceOutPerMTokUc && dear.priceInPerMTokUc > cheap.priceInPerMTokUc)
          if (dearer) expect(given.get(dear) ?? 0n).toBe(0n)
        }
      }
    }), { numRuns: 300 })
  })
})

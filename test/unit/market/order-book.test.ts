import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createSigner, type Ed25519Signer } from '../../../src/identity/ed25519.js'
import { signOffer, type Offer, type OfferTerms } from '../../../src/market/offer.js'
import { OrderBook } from '../../../src/market/order-book.js'
import { NOW, net, terms } from './book-fixtures.js'

const signers: Ed25519Signer[] = Array.from({ length: 8 }, (_, i) => createSigner(new Uint8Array(32).fill(i + 1)))

function offer (i: number, over: Partial<OfferTerms> = {}, seq = 1n, ttl = 60_000, withdrawn = false): Offer {
  return signOffer(signers[i], net, terms(over), { seq, expiresAtMs: BigInt(NOW + ttl), withdrawn })
}

describe('OrderBook', () => {
  it('ranks one model by effective price, ties by quality then seller id', () => {
    const quality = new Map<string, number>()
    const book = new OrderBook({ quality: id => quality.get(id) ?? 0 })
    const a = offer(0, { priceOutPerMTokUc: 9_000_000n })
    const b = offer(1, { priceOutPerMTokUc: 6_000_000n })
    const c = offer(2, { priceOutPerMTokUc: 6_000_000n })
    const d = offer(3, { priceOutPerMTokUc: 6_000_000n, priceInPerMTokUc: 999_999n })
    for (const o of [a, b, c, d]) expect(book.add(o, NOW)).toBe('accepted')
    const [lo, hi] = [b.sellerId, c.sellerId].sort()
    expect(book.query({ model: 'm7' }, NOW).map(r => r.offer.sellerId)).toEqual([d.sellerId, lo, hi, a.sellerId])
    quality.set(hi, 0.9)
    expect(book.query({ model: 'm7' }, NOW).map(r => r.offer.sellerId)).toEqual([d.sellerId, hi, lo, a.sellerId])
    // effective µc per request: (999_999·1000 + 6e6·3000) / 1e6 = 18999.999, rounded up
    expect(book.query({ model: 'm7' }, NOW)[0].effectivePriceUc).toBe(19_000n)
  })

  it('across models ranks by price per parameter; filters apply', () => {
    const book = new OrderBook()
    const small = offer(0, { modelId: 'm7', params: 7_000_000_000n, priceOutPerMTokUc: 14_000_000n, priceInPerMTokUc: 14_000_000n, fingerprintVerified: false })
    const big = offer(1, { modelId: 'm70', params: 70_000_000_000n, priceOutPerMTokUc: 70_000_000n, priceInPerMTokUc: 70_000_000n, quantization: 'Q8_0' })
    book.add(small, NOW)
    book.add(big, NOW)
    expect(book.query({}, NOW).map(r => r.offer.modelId)).toEqual(['m70', 'm7'])
    expect(book.query({}, NOW).map(r => r.pricePerBpt)).toEqual([1, 2])
    expect(book.query({ minParams: 8_000_000_000n }, NOW).map(r => r.offer.modelId)).toEqual(['m70'])
    expect(book.query({ maxPriceOutPerMTokUc: 20_000_000n }, NOW).map(r => r.offer.modelId)).toEqual(['m7'])
    expect(book.query({ quantizations: ['Q4_K_M'] }, NOW).map(r => r.offer.modelId)).toEqual(['m7'])
    expect(book.query({ verifiedOnly: true }, NOW).map(r => r.offer.modelId)).toEqual(['m70'])
    expect(book.query({ exclude: [big.sellerId] }, NOW).map(r => r.offer.modelId)).toEqual(['m7'])
    expect(book.query({ limit: 1 }, NOW)).toHaveLength(1)
    expect(book.models(NOW)).toEqual(['m7', 'm70'])
    const flagged = new OrderBook({ isFlagged: id => id === small.sellerId })
    flagged.add(small, NOW)
    flagged.add(big, NOW)
    expect(flagged.query({}, NOW).map(r => r.offer.modelId)).toEqual(['m70'])
  })

  it('newer seq replaces, older and equal are ignored, withdrawal sticks until it expires', () => {
    const book = new OrderBook()
    const v1 = offer(0, {}, 10n)
    const v2 = offer(0, { priceOutPerMTokUc: 5_000_000n }, 11n)
    expect(book.add(v1, NOW)).toBe('accepted')
    expect(book.add(v1, NOW)).toBe('duplicate')
    expect(book.add(v2, NOW)).toBe('accepted')
    expect(book.add(v1, NOW)).toBe('stale')
    expect(book.get(v1.sellerId, 'm7', NOW)?.priceOutPerMTokUc).toBe(5_000_000n)
    const gone = offer(0, {}, 12n, 30_000, true)
    expect(book.add(gone, NOW)).toBe('withdrawn')
    expect(book.query({}, NOW)).toEqual([])
    expect(book.add(v2, NOW)).toBe('stale')
    expect(book.query({}, NOW)).toEqual([])
  })

  it('tells observers of every offer and withdrawal it takes in, never of stale or duplicate ones', () => {
    const book = new OrderBook()
    const seen: string[] = []
    const off = book.onAdd((o, status) => { seen.push(`${o.seq}:${status}`) })
    const v1 = offer(0, {}, 10n)
    book.add(v1, NOW)
    book.add(v1, NOW)
    book.ingest(offer(0, {}, 11n).bytes, net, NOW)
    book.add(v1, NOW)
    book.add(offer(0, {}, 12n, 30_000, true), NOW)
    expect(seen).toEqual(['10:accepted', '11:accepted', '12:withdrawn'])
    off()
    book.add(offer(0, {}, 13n), NOW)
    expect(seen).toHaveLength(3)
  })

  it('expiry follows the nowMs passed in; prune drops expired entries', () => {
    const book = new OrderBook()
    book.add(offer(0, {}, 1n, 1_000), NOW)
    book.add(offer(1, {}, 1n, 5_000), NOW)
    expect(book.query({}, NOW + 999)).toHaveLength(2)
    expect(book.query({}, NOW + 1_000)).toHaveLength(1)
    expect(book.prune(NOW + 1_000)).toBe(1)
    expect(book.size).toBe(1)
    expect(book.prune(NOW + 5_000)).toBe(1)
    expect(book.size).toBe(0)
  })

  it('caps per seller and in total, evicting the oldest', () => {
    // every seller fresh, fresh allowed the whole book: the plain caps
    const book = new OrderBook({ maxOffersPerSeller: 2, maxOffers: 3, freshSharePercent: 100 })
    book.add(offer(0, { modelId: 'a' }, 1n), NOW)
    book.add(offer(0, { modelId: 'b' }, 2n), NOW)
    book.add(offer(0, { modelId: 'c' }, 3n), NOW)
    expect(book.query({}, NOW).map(r => r.offer.modelId).sort()).toEqual(['b', 'c'])
    book.add(offer(1, { modelId: 'x' }, 1n), NOW)
    book.add(offer(2, { modelId: 'y' }, 1n), NOW)
    expect(book.size).toBe(3)
    // the oldest received (seller 0, model b) went first
    expect(book.query({}, NOW).map(r => r.offer.modelId).sort()).toEqual(['c', 'x', 'y'])
  })

  it('ingest verifies and never throws', () => {
    const book = new OrderBook()
    const good = offer(0)
    expect(book.ingest(good.bytes, net, NOW).status).toBe('accepted')
    expect(book.ingest(good.bytes, net, NOW).status).toBe('duplicate')
    const r = book.ingest(new Uint8Array([1, 2, 3]), net, NOW)
    expect(r.status).toBe('rejected')
    expect(r.status === 'rejected' && r.error.name).toBe('MalformedMessageError')
  })

  it('property: ranking is a total order independent of insertion order, and bounded', () => {
    const arb = fc.array(fc.record({ s: fc.integer({ min: 0, max: 7 }), m: fc.constantFrom('a', 'b', 'c'), pIn: fc.bigInt(1n, 100n), pOut: fc.bigInt(1n, 100n), params: fc.bigInt(1n, 3n) }), { maxLength: 40 })
    fc.assert(fc.property(arb, fc.integer({ min: 1, max: 10 }), (specs, cap) => {
      const offers = specs.map((x, i) => offer(x.s, { modelId: x.m, priceInPerMTokUc: x.pIn, priceOutPerMTokUc: x.pOut, params: x.params }, BigInt(i + 1)))
      const fwd = new OrderBook()
      const rev = new OrderBook()
      for (const o of offers) fwd.add(o, NOW)
      // the latest per (seller, model) wins whatever the order
      for (const o of [...offers].reverse()) rev.add(o, NOW)
      const key = (b: OrderBook, model?: string): string[] => b.query({ model }, NOW).map(r => `${r.offer.sellerId}/${r.offer.modelId}/${r.offer.seq}`)
      expect(key(rev)).toEqual(key(fwd))
      expect(key(rev, 'a')).toEqual(key(fwd, 'a'))
      const ranked = fwd.query({ model: 'a' }, NOW)
      for (let i = 1; i < ranked.length; i++) expect(fwd.effective(ranked[i - 1].offer) <= fwd.effective(ranked[i].offer)).toBe(true)
      const bounded = new OrderBook({ maxOffers: cap, maxOffersPerSeller: 2 })
      for (const o of offers) bounded.add(o, NOW)
      expect(bounded.size).toBeLessThanOrEqual(cap)
    }), { numRuns: 100 })
  })
})

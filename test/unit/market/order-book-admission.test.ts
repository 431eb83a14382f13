/**
 * Order book admission under an offer flood (issue 15.4; protocols/market.md § Order book):
 * seller tiers (fresh, aged, proven), the fresh share and per-key caps, eviction order, routed
 * offers kept, and the one-pass model listing.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createSigner, type Ed25519Signer } from '../../../src/identity/ed25519.js'
import { signOffer, type Offer, type OfferTerms } from '../../../src/market/offer.js'
import { OrderBook, type SellerStanding } from '../../../src/market/order-book.js'
import { NOW, net, terms } from './book-fixtures.js'

const signers: Ed25519Signer[] = Array.from({ length: 40 }, (_, i) => createSigner(new Uint8Array(32).fill(i + 1)))
const ids = signers.map(s => signOffer(s, net, terms(), { seq: 1n, expiresAtMs: BigInt(NOW + 1) }).sellerId)


function offer (i: number, modelId: string, seq = 1n, ttl = 60 * 60_000, over: Partial<OfferTerms> = {}): Offer {
  return signOffer(signers[i], net, terms({ modelId, ...over }), { seq, expiresAtMs: BigInt(NOW + ttl) })
}

/** the sellers with these indexes have ledger history */
function provenIs (...idx: number[]): (seller: string) => SellerStanding {
  const set = new Set(idx.map(i => ids[i]))
  return (seller) => ({ settledSessions: set.has(seller) ? 1 : 0, earnedUc: 0n })
}

const held = (book: OrderBook, i: number, model: string, now = NOW): boolean => book.get(ids[i], model, now) !== undefined

describe('OrderBook admission', () => {
  it('fresh sellers hold at most their share; a flood of fresh keys evicts only fresh offers, oldest first', () => {
    const book = new OrderBook({ maxOffers: 20, freshSharePercent: 25, standing: provenIs(0, 1) })
    book.add(offer(0, 'a'), NOW)
    book.add(offer(1, 'b'), NOW)
    // 30 fresh keys, one offer each: only 5 (25 % of 20) stay, the newest
    for (let i = 10; i < 40; i++) expect(book.add(offer(i, `f${i}`), NOW)).toBe('accepted')
    expect(book.freshSize).toBe(5)
    expect(book.size).toBe(7)
    expect(held(book, 0, 'a') && held(book, 1, 'b')).toBe(true)
    expect(book.models(NOW)).toEqual(['a', 'b', 'f35', 'f36', 'f37', 'f38', 'f39'])
    expect(book.tier(ids[0], NOW)).toBe('proven')
    expect(book.tier(ids[10], NOW)).toBe('fresh')
  })

  it('a fresh seller keeps at most maxOffersPerFreshSeller entries (its lowest seq goes); one with history keeps maxOffersPerSeller', () => {
    const book = new OrderBook({ maxOffersPerFreshSeller: 2, maxOffersPerSeller: 3, freshSharePercent: 100, standing: provenIs(0) })
    for (let k = 0; k < 4; k++) book.add(offer(5, `m${k}`, BigInt(k + 1)), NOW)
    expect(['m0', 'm1', 'm2', 'm3'].filter(m => held(book, 5, m))).toEqual(['m2', 'm3'])
    for (let k = 0; k < 4; k++) book.add(offer(0, `m${k}`, BigInt(k + 1)), NOW)
    expect(['m0', 'm1', 'm2', 'm3'].filter(m => held(book, 0, m))).toEqual(['m1', 'm2', 'm3'])
  })

  it('when full: the oldest fresh entry goes first; a newcomer never displaces a higher tier (full)', () => {
    const book = new OrderBook({ maxOffers: 4, freshSharePercent: 50, standing: provenIs(0, 1, 2, 3) })
    book.add(offer(0, 'p0'), NOW)
    book.add(offer(1, 'p1'), NOW)
    book.add(offer(10, 'f10'), NOW)
    book.add(offer(11, 'f11'), NOW)
    expect(book.size).toBe(4)
    // a proven newcomer evicts the oldest fresh entry, not the older proven ones
    expect(book.add(offer(2, 'p2'), NOW)).toBe('accepted')
    expect(held(book, 10, 'f10')).toBe(false)
    expect(held(book, 0, 'p0') && held(book, 1, 'p1') && held(book, 11, 'f11')).toBe(true)
    expect(book.add(offer(3, 'p3'), NOW)).toBe('accepted')
    expect(book.freshSize).toBe(0)
    // only proven entries left: a fresh newcomer finds no room
    expect(book.add(offer(12, 'f12'), NOW)).toBe('full')
    expect(book.size).toBe(4)
    expect(held(book, 12, 'f12')).toBe(false)
    // a re-announce of a held entry never needs room
    expect(book.add(offer(0, 'p0', 2n), NOW)).toBe('accepted')
  })

  it('a seller in the book continuously for agedAfterMs is aged: outside the fresh share, never displaced by fresh keys', () => {
    const book = new OrderBook({ maxOffers: 4, freshSharePercent: 25, agedAfterMs: 60_000 })
    book.add(offer(0, 'old'), NOW)
    expect(book.tier(ids[0], NOW)).toBe('fresh')
    // a fresh key would evict it while it is fresh (share of 1)
    const t = NOW + 60_000
    expect(book.tier(ids[0], t)).toBe('aged')
    for (let i = 10; i < 20; i++) book.add(offer(i, `f${i}`), t)
    expect(held(book, 0, 'old', t)).toBe(true)
    expect(book.freshSize).toBe(1)
    // aged sellers fill most of the book; fresh keys take turns in what is left
    const full = new OrderBook({ maxOffers: 4, freshSharePercent: 75, agedAfterMs: 60_000 })
    for (const i of [1, 2, 3]) full.add(offer(i, `a${i}`), NOW)
    full.add(offer(1, 'a1', 2n), NOW + 30_000) // a re-announce keeps the seller's age
    full.prune(t) // re-classifies: seen since NOW, aged at t
    expect(full.freshSize).toBe(0)
    for (let i = 10; i < 20; i++) expect(full.add(offer(i, `f${i}`), t)).toBe('accepted')
    expect(full.size).toBe(4)
    expect(full.freshSize).toBe(1)
    expect([1, 2, 3].every(i => held(full, i, `a${i}`, t))).toBe(true)
    // a seller that left the book starts over
    const s = new OrderBook({ agedAfterMs: 60_000 })
    s.add(offer(3, 'x', 1n, 1_000), NOW)
    s.prune(NOW + 1_000)
    s.add(offer(3, 'x', 2n, 120_000), NOW + 1_000)
    expect(s.tier(ids[3], NOW + 60_000)).toBe('fresh')
  })

  it('an offer that routed a request recently is never evicted, across re-announces, until the window ends', () => {
    const book = new OrderBook({ maxOffers: 10, freshSharePercent: 20, routedProtectMs: 60_000 })
    book.add(offer(0, 'used'), NOW)
    expect(book.touch(ids[0], 'used', NOW)).toBe(true)
    expect(book.touch(ids[0], 'absent', NOW)).toBe(false)
    book.add(offer(0, 'used', 2n), NOW) // re-announce keeps the mark
    for (let i = 10; i < 30; i++) book.add(offer(i, `f${i}`), NOW + 1)
    expect(held(book, 0, 'used', NOW + 1)).toBe(true)
    expect(book.freshSize).toBe(2)
    // every fresh slot routed: a fresh newcomer is refused rather than evicting one
    book.touch(ids[29], 'f29', NOW + 1)
    expect(book.add(offer(30 % 40, 'g'), NOW + 1)).toBe('full')
    // the window over, the oldest goes again
    expect(book.add(offer(31, 'g31'), NOW + 60_000)).toBe('accepted')
    expect(held(book, 0, 'used', NOW + 60_000)).toBe(false)
    expect(held(book, 29, 'f29', NOW + 60_000)).toBe(true)
  })

  it('asks the ledger about a seller without history at most every standingRefreshMs, and promotes it when history appears', () => {
    let settled = 0
    let asked = 0
    const book = new OrderBook({ maxOffers: 4, freshSharePercent: 25, standingRefreshMs: 30_000, standing: () => { asked++; return { settledSessions: settled, earnedUc: 0n } } })
    book.add(offer(0, 'a'), NOW)
    book.add(offer(0, 'a', 2n), NOW + 1)
    expect(asked).toBe(1)
    settled = 1
    expect(book.tier(ids[0], NOW + 2)).toBe('fresh')
    expect(book.tier(ids[0], NOW + 30_000)).toBe('proven')
    const n = asked
    expect(book.tier(ids[0], NOW + 90_000)).toBe('proven')
    expect(asked).toBe(n) // history never goes away: not asked again
  })

  it('lists every model in one pass with the same figures as one query per model; a query without a model returns every model', () => {
    const quality = new Map<string, number>([[ids[2], 0.5]])
    const book = new OrderBook({ quality: id => quality.get(id) ?? 0, isFlagged: id => id === ids[4] })
    book.add(offer(0, 'a', 1n, 60_000, { priceOutPerMTokUc: 5_000_000n, priceInPerMTokUc: 3_000_000n, params: 8n }), NOW)
    book.add(offer(1, 'a', 1n, 60_000, { priceOutPerMTokUc: 6_000_000n, priceInPerMTokUc: 1_000_000n, params: 9n }), NOW)
    book.add(offer(2, 'a', 1n, 60_000, { priceOutPerMTokUc: 5_000_000n, priceInPerMTokUc: 3_000_000n, params: 10n }), NOW)
    book.add(offer(3, 'b', 1n, 60_000, { params: 70n }), NOW)
    book.add(offer(4, 'c'), NOW) // flagged: listed by no one
    book.add(signOffer(signers[5], net, terms({ modelId: 'd' }), { seq: 1n, expiresAtMs: BigInt(NOW + 60_000), withdrawn: true }), NOW)
    const summaries = book.modelSummaries(NOW)
    expect(summaries.map(s => s.modelId)).toEqual(['a', 'b'])
    for (const s of summaries) {
      const ranked = book.query({ model: s.modelId }, NOW).map(r => r.offer)
      expect(s.sellers).toBe(ranked.length)
      expect(s.params).toBe(ranked[0].params)
      expect(s.bestPriceInPerMTokUc).toBe(ranked.reduce((m, o) => (o.priceInPerMTokUc < m ? o.priceInPerMTokUc : m), ranked[0].priceInPerMTokUc))
      expect(s.bestPriceOutPerMTokUc).toBe(ranked.reduce((m, o) => (o.priceOutPerMTokUc < m ? o.priceOutPerMTokUc : m), ranked[0].priceOutPerMTokUc))
    }
    // seller 2 ties seller 0 on price and wins on quality
    expect(summaries[0]).toMatchObject({ sellers: 3, params: 10n, bestPriceInPerMTokUc: 1_000_000n, bestPriceOutPerMTokUc: 5_000_000n })
    expect(book.query({}, NOW).map(r => r.offer.modelId).sort()).toEqual(['a', 'a', 'a', 'b'])
    expect(book.modelSummaries(NOW + 60_000)).toEqual([])
  })

  it('a snapshot for a joining peer puts sellers with history first, newest first within a tier', () => {
    const book = new OrderBook({ freshSharePercent: 100, standing: provenIs(0) })
    book.add(offer(0, 'p', 1n, 60_000), NOW)
    book.add(offer(10, 'f', 5n, 60_000), NOW)
    book.add(offer(11, 'g', 7n, 60_000), NOW)
    const order = book.snapshot(NOW, 10).map(b => book.ingest(b, net, NOW)).map(r => (r.status === 'duplicate' ? `${r.offer.modelId}` : r.status))
    expect(order).toEqual(['p', 'g', 'f'])
    expect(book.snapshot(NOW, 1)).toHaveLength(1)
  })

  it('property: never over capacity or the fresh share; fresh newcomers never evict an entry with history; routed entries stay', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), s: fc.integer({ min: 0, max: 11 }), m: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant('touch' as const), s: fc.integer({ min: 0, max: 11 }), m: fc.integer({ min: 0, max: 5 }) })
    )
    fc.assert(fc.property(
      fc.array(op, { maxLength: 60 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 1, max: 4 }),
      fc.subarray([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
      (ops, maxOffers, share, perFresh, provenIdx) => {
        const proven = new Set(provenIdx.map(i => ids[i]))
        const book = new OrderBook({ maxOffers, freshSharePercent: share, maxOffersPerFreshSeller: perFresh, maxOffersPerSeller: 4, standing: provenIs(...provenIdx) })
        const maxFresh = Math.max(1, Math.floor(maxOffers * share / 100))
        const touched = new Set<string>()
        let seq = 0n
        for (const o of ops) {
          const model = `m${o.m}`
          if (o.kind === 'touch') {
            if (book.touch(ids[o.s], model, NOW)) touched.add(`${o.s}/${model}`)
            continue
          }
          const before: string[] = []
          for (let s = 0; s < 12; s++) for (let m = 0; m < 6; m++) if (held(book, s, `m${m}`)) before.push(`${s}/m${m}`)
          book.add(offer(o.s, model, ++seq), NOW)
          const now = new Set(before.filter(k => { const [s, m] = k.split('/'); return held(book, Number(s), m) }))
          expect(book.size).toBeLessThanOrEqual(maxOffers)
          expect(book.freshSize).toBeLessThanOrEqual(maxFresh)
          for (const k of before) {
            if (now.has(k)) continue
            const seller = Number(k.split('/')[0])
            // routed entries are never evicted
            expect(touched.has(k)).toBe(false)
            // a fresh newcomer evicts only fresh entries (its own included)
            if (!proven.has(ids[o.s])) expect(proven.has(ids[seller])).toBe(false)
          }
        }
      }), { numRuns: 150 })
  })
})

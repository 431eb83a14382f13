import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { QualityTracker, rankOffers, type RoutableOffer } from '../../../src/market/router.js'

function offer (seller: string, priceOut: number, extra: Partial<RoutableOffer> = {}): RoutableOffer {
  return { seller, modelId: 'm', params: 1_000_000, quantization: 'F16', fingerprint: 'f', fingerprintVerified: true, priceInPerMTokUc: 100n, priceOutPerMTokUc: BigInt(priceOut), ...extra }
}

describe('router ranking', () => {
  it('orders by effective price, cheapest first', () => {
    const ranked = rankOffers([offer('b', 300), offer('a', 200), offer('c', 100)], {}, undefined, { nowMs: 0 })
    expect(ranked.map(o => o.seller)).toEqual(['c', 'a', 'b'])
  })

  it('honours every constraint', () => {
    const offers = [
      offer('cheap-unverified', 10, { fingerprintVerified: false }),
      offer('small', 20, { params: 10 }),
      offer('q4', 30, { quantization: 'Q4_K_M' }),
      offer('pricey', 1000),
      offer('ok', 40)
    ]
    const ranked = rankOffers(offers, { verifiedOnly: true, minParams: 1000, quantizations: ['F16'], maxPriceOutPerMTokUc: 500n, excludeSellers: [] }, undefined, { nowMs: 0 })
    expect(ranked.map(o => o.seller)).toEqual(['ok'])
    expect(rankOffers(offers, { excludeSellers: ['cheap-unverified'] }, undefined, { nowMs: 0 })[0].seller).toBe('small')
  })

  it('ranks busy sellers after free ones, whatever their price, and before sellers in cooldown', () => {
    const q = new QualityTracker()
    q.failure('cool', 1000)
    q.failure('cool', 1000)
    const offers = [offer('busy', 50, { busy: true }), offer('free', 300), offer('cool', 10), offer('free-dear', 400)]
    expect(rankOffers(offers, {}, q, { nowMs: 2000 }).map(o => o.seller)).toEqual(['free', 'free-dear', 'busy', 'cool'])
  })

  it('puts failing sellers in cooldown and last, then forgives them', () => {
    const q = new QualityTracker()
    q.failure('c', 1000)
    q.failure('c', 1000)
    const offers = [offer('c', 100), offer('a', 200)]
    expect(rankOffers(offers, {}, q, { nowMs: 2000 }).map(o => o.seller)).toEqual(['a', 'c'])
    expect(rankOffers(offers, {}, q, { nowMs: 1000 + 31_000 }).map(o => o.seller)).toEqual(['a', 'c'])
    q.success('c', 5, 100)
    q.success('c', 5, 100)
    q.success('c', 5, 100)
    expect(rankOffers(offers, {}, q, { nowMs: 1000 + 31_000 }).map(o => o.seller)).toEqual(['c', 'a'])
  })

  it('drops sellers slower than max TTFT and breaks price ties by TTFT', () => {
    const q = new QualityTracker()
    q.success('slow', 900, 10)
    q.success('fast', 20, 10)
    const offers = [offer('slow', 100), offer('fast', 100)]
    expect(rankOffers(offers, {}, q, { nowMs: 0 }).map(o => o.seller)).toEqual(['fast', 'slow'])
    expect(rankOffers(offers, { maxTtftMs: 500 }, q, { nowMs: 0 }).map(o => o.seller)).toEqual(['fast'])
  })

  it('property: result is a constraint-respecting permutation, sorted by price, one per seller', () => {
    fc.assert(fc.property(fc.array(fc.record({ s: fc.constantFrom('a', 'b', 'c', 'd'), p: fc.integer({ min: 1, max: 1000 }) })), fc.integer({ min: 1, max: 1000 }), (list, max) => {
      const offers = list.map(x => offer(x.s, x.p))
      const ranked = rankOffers(offers, { maxPriceOutPerMTokUc: BigInt(max) }, undefined, { nowMs: 0 })
      expect(new Set(ranked.map(o => o.seller)).size).toBe(ranked.length)
      for (const o of ranked) expect(o.priceOutPerMTokUc <= BigInt(max)).toBe(true)
      for (let i = 1; i < ranked.length; i++) expect(ranked[i - 1].priceOutPerMTokUc <= ranked[i].priceOutPerMTokUc).toBe(true)
      const eligibleSellers = new Set(offers.filter(o => o.priceOutPerMTokUc <= BigInt(max)).map(o => o.seller))
      expect(ranked.length).toBe(eligibleSellers.size)
    }))
  })
})

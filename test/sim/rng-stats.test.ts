/** The simulator's pure parts: seeded randomness is reproducible and in range; quantiles are nearest-rank. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createRng, peerSeed } from '../../src/sim/rng.js'
import { quantile, summarize } from '../../src/sim/stats.js'

describe('sim rng', () => {
  it('one seed, one sequence; another seed, another', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => {
      const x = createRng(a); const y = createRng(a)
      const xs = Array.from({ length: 16 }, () => x.next())
      expect(Array.from({ length: 16 }, () => y.next())).toEqual(xs)
      if (a !== b) {
        const z = createRng(b)
        expect(Array.from({ length: 16 }, () => z.next())).not.toEqual(xs)
      }
    }))
  })

  it('int, pick, sample and shuffle stay in range', () => {
    fc.assert(fc.property(fc.string(), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 1000 }), fc.array(fc.integer(), { minLength: 1, maxLength: 40 }), fc.nat(50), (seed, lo, span, items, k) => {
      const r = createRng(seed)
      const v = r.int(lo, lo + span)
      expect(Number.isInteger(v) && v >= lo && v <= lo + span).toBe(true)
      expect(items).toContain(r.pick(items))
      const idx = items.map((_, i) => i)
      const s = r.sample(idx, k)
      expect(s.length).toBe(Math.min(k, idx.length))
      expect(new Set(s).size).toBe(s.length)
      expect(r.shuffle(idx).slice().sort((p, q) => p - q)).toEqual(idx)
      const f = r.next()
      expect(f >= 0 && f < 1).toBe(true)
    }))
    expect(() => createRng('x').pick([])).toThrow(RangeError)
  })

  it('peer seeds are 32 bytes and differ by index and generation', () => {
    expect(peerSeed('s', 1, 0)).toHaveLength(32)
    expect(Buffer.from(peerSeed('s', 1, 0)).equals(Buffer.from(peerSeed('s', 1, 0)))).toBe(true)
    expect(Buffer.from(peerSeed('s', 1, 0)).equals(Buffer.from(peerSeed('s', 2, 0)))).toBe(false)
    expect(Buffer.from(peerSeed('s', 1, 0)).equals(Buffer.from(peerSeed('s', 1, 1)))).toBe(false)
  })
})

describe('sim stats', () => {
  it('nearest-rank quantiles lie in the samples and are monotone', () => {
    fc.assert(fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 200 }), (xs) => {
      const s = xs.slice().sort((a, b) => a - b)
      expect(s).toContain(quantile(s, 0.5))
      expect(quantile(s, 0.5)).toBeLessThanOrEqual(quantile(s, 0.95))
      expect(quantile(s, 1)).toBe(s[s.length - 1])
      const sum = summarize(xs)
      expect(sum.count).toBe(xs.length)
      expect(sum.p50).toBeLessThanOrEqual(sum.p95 + 0.1)
    }))
  })

  it('no samples: count 0 and -1 markers, never NaN in JSON', () => {
    expect(summarize([])).toEqual({ count: 0, p50: -1, p95: -1, max: -1, mean: -1 })
    expect(summarize([Number.NaN, 5])).toMatchObject({ count: 1, p50: 5 })
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2)
  })
})

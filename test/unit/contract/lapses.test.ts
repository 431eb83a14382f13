/** Lapsed reservations (negotiate.md § Lapsed reservations): the pure rule, on passed-in time. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { DEFAULT_LAPSE_ALLOWANCE, DEFAULT_LAPSE_COOL_DOWN_MS, DEFAULT_LAPSE_WINDOW_MS, DEFAULT_MAX_LAPSE_COOL_DOWN_MS, ReservationLapses, lapseCoolDownMs } from '../../../src/contract/lapses.js'

describe('reservation lapses', () => {
  it('the allowance is free; past it the cool-down starts at coolDownMs and doubles per lapse, up to the cap', () => {
    expect(DEFAULT_LAPSE_ALLOWANCE).toBe(1)
    expect(lapseCoolDownMs(0)).toBe(0)
    expect(lapseCoolDownMs(1)).toBe(0)
    expect(lapseCoolDownMs(2)).toBe(DEFAULT_LAPSE_COOL_DOWN_MS)
    expect(lapseCoolDownMs(3)).toBe(2 * DEFAULT_LAPSE_COOL_DOWN_MS)
    expect(lapseCoolDownMs(4)).toBe(4 * DEFAULT_LAPSE_COOL_DOWN_MS)
    expect(lapseCoolDownMs(1_000)).toBe(DEFAULT_MAX_LAPSE_COOL_DOWN_MS)
    expect(lapseCoolDownMs(3, { allowance: 3 })).toBe(0)
    expect(lapseCoolDownMs(5, { allowance: 3, coolDownMs: 10, maxCoolDownMs: 15 })).toBe(15)
  })

  it('a squatter that re-squats after each cool-down waits longer each time; the retry-after counts from its last lapse', () => {
    const l = new ReservationLapses()
    l.record('b', 5_000)
    expect(l.retryAfterMs('b', 5_000)).toBe(0)
    // two contracts lapse together
    l.record('b', 5_000)
    expect(l.retryAfterMs('b', 5_000)).toBe(DEFAULT_LAPSE_COOL_DOWN_MS)
    expect(l.retryAfterMs('b', 20_000)).toBe(DEFAULT_LAPSE_COOL_DOWN_MS - 15_000)
    expect(l.retryAfterMs('b', 5_000 + DEFAULT_LAPSE_COOL_DOWN_MS)).toBe(0)
    // it squats again at once and lets that lapse too: twice as long
    const t = 5_000 + DEFAULT_LAPSE_COOL_DOWN_MS + 5_000
    l.record('b', t)
    expect(l.count('b', t)).toBe(3)
    expect(l.retryAfterMs('b', t)).toBe(2 * DEFAULT_LAPSE_COOL_DOWN_MS)
    // others are not touched
    expect(l.retryAfterMs('other', t)).toBe(0)
  })

  it('lapses leave the window: an honest buyer that lapsed once in a while is never cooled down', () => {
    const l = new ReservationLapses()
    for (let i = 0; i < 20; i++) {
      const t = i * (DEFAULT_LAPSE_WINDOW_MS + 1)
      expect(l.retryAfterMs('h', t)).toBe(0)
      l.record('h', t)
      expect(l.count('h', t)).toBe(1)
    }
    // old lapses are forgotten with the subject
    const l2 = new ReservationLapses()
    l2.record('x', 0)
    expect(l2.count('x', DEFAULT_LAPSE_WINDOW_MS)).toBe(0)
    expect(l2.size).toBe(0)
  })

  it('memory is bounded: the subject that lapsed longest ago is forgotten first', () => {
    const l = new ReservationLapses({ maxSubjects: 3, allowance: 0 })
    for (const [s, t] of [['a', 1], ['b', 2], ['c', 3], ['a', 4], ['d', 5]] as const) l.record(s, t)
    expect(l.size).toBe(3)
    expect(l.count('b', 6)).toBe(0)
    expect(l.count('a', 6)).toBe(2)
    expect(l.retryAfterMs('d', 6)).toBeGreaterThan(0)
  })

  it('property: the wait never exceeds the cap, never grows back once time passes, and is 0 within the allowance', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 2 * DEFAULT_LAPSE_WINDOW_MS }), { maxLength: 30 }), fc.integer({ min: 0, max: 3 * DEFAULT_LAPSE_WINDOW_MS }), (times, later) => {
      const sorted = [...times].sort((a, b) => a - b)
      const l = new ReservationLapses()
      for (const t of sorted) l.record('s', t)
      const end = sorted.length > 0 ? sorted[sorted.length - 1] : 0
      const w = l.retryAfterMs('s', end)
      expect(w).toBeLessThanOrEqual(DEFAULT_MAX_LAPSE_COOL_DOWN_MS)
      if (l.count('s', end) <= DEFAULT_LAPSE_ALLOWANCE) expect(w).toBe(0)
      expect(l.retryAfterMs('s', end + later)).toBeLessThanOrEqual(Math.max(0, w - later))
    }), { numRuns: 200 })
  })
})

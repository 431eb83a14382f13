/** churn, partition and price-shock over 20 real nodes: the market keeps working and the ledgers converge. */
import { describe, expect, it } from 'vitest'
import { runSmall } from './helpers.js'

describe('sim: churn, partition, price shock', () => {
  it('churn: peers leave and rejoin (same and new identities), trading goes on, ledgers agree', async () => {
    const r = await runSmall('churn', { durationMs: 6_000, clock: 'virtual' })
    expect(r.figures.leaves).toBeGreaterThanOrEqual(5)
    expect(r.figures.joinsWithNewIdentity).toBeGreaterThan(0)
    expect(r.events.some(e => /start peer \d+ \(\w+, new identity\)/.test(e.what))).toBe(true)
    expect(r.requests.completed).toBeGreaterThan(r.requests.sent * 0.7)
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
    // a buyer that came back under its identity is judged on every voucher it ever signed
    expect(r.losses.withinBounds).toBe(true)
  })

  it('partition: both halves diverge while cut, converge after the heal', async () => {
    const r = await runSmall('partition', { durationMs: 6_000, clock: 'virtual' })
    expect(r.figures.groupA).toBe(10)
    expect(r.figures.groupB).toBe(10)
    expect(r.events.map(e => e.what)).toEqual(expect.arrayContaining(['partition 10 | 10', 'heal']))
    expect(typeof r.figures.convergedAfterHealMs).toBe('number')
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
    expect(r.requests.completed).toBeGreaterThan(0)
    expect(r.losses.withinBounds).toBe(true)
  })

  it('price-shock: routing leaves the sellers that tripled their prices', async () => {
    const r = await runSmall('price-shock', { durationMs: 6_000, clock: 'virtual' })
    expect(r.figures.shockedSellers).toBeGreaterThan(0)
    expect(r.figures.requestsAfterShock).toBeGreaterThan(3)
    expect(Number(r.figures.shockedShareAfterPct)).toBeLessThan(Number(r.figures.shockedShareBeforePct))
    expect(r.balancesAgree).toBe(true)
    expect(r.losses.withinBounds).toBe(true)
  })
})

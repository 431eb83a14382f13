/** steady, 20 real nodes: requests complete, ledgers agree and sum to zero, cheap sellers win. */
import { describe, expect, it } from 'vitest'
import { runSmall } from './helpers.js'

describe('sim: steady', () => {
  it('trades, settles, converges and routes to the cheapest sellers', async () => {
    const r = await runSmall('steady', { durationMs: 5_000 })
    expect(r.peers).toBe(20)
    expect(r.requests.sent).toBeGreaterThan(5)
    expect(r.requests.completed).toBe(r.requests.sent)
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
    expect(r.settledSessions).toBeGreaterThan(0)
    expect(r.settlementConvergenceMs.count).toBeGreaterThan(0)
    expect(r.settlementConvergenceMs.unfinished).toBe(0)
    expect(r.offerPropagationMs.count).toBe(r.sellers)
    expect(r.offerPropagationMs.unfinished).toBe(0)
    expect(r.ttftMs.count).toBe(r.requests.completed)
    expect(r.negotiationMs.count).toBeGreaterThan(0)
    // arbitrage: the cheapest third of the sellers serves most requests
    expect(r.market.cheapestThirdSharePct).toBeGreaterThan(50)
    expect(r.resources.rssPerPeerMb).toBeGreaterThan(0)
    expect(r.resources.cpuPerPeerPct).toBeGreaterThan(0)
    // nobody honest lost anything beyond the bounds; honest buyers were never overcharged
    expect(r.losses.withinBounds).toBe(true)
    expect(r.losses.honestBuyersOverchargedUc).toBe('0')
    expect(r.losses.overdrafts).toEqual([])
    expect(r.losses.honestAccounts).toBe(20)
    // JSON-able: no bigint anywhere
    expect(() => JSON.stringify(r)).not.toThrow()
  })

  it('one seed, one plan: roles, prices, topology and traffic ticks repeat; another seed differs', async () => {
    const a = await runSmall('steady', { peers: 6, durationMs: 1_500, seed: 'plan' })
    const b = await runSmall('steady', { peers: 6, durationMs: 1_500, seed: 'plan' })
    const c = await runSmall('steady', { peers: 6, durationMs: 1_500, seed: 'other' })
    expect(a.plan.trafficTicks).toBeGreaterThan(0)
    expect(b.plan).toEqual(a.plan)
    expect(b.market.sellers.map(s => [s.index, s.priceOutUc])).toEqual(a.market.sellers.map(s => [s.index, s.priceOutUc]))
    expect(c.plan.digest).not.toBe(a.plan.digest)
  })
})

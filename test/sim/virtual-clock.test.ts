/** the simulator on the virtual clock: the same plan as on the real clock, simulated time, clean exit. */
import { describe, expect, it } from 'vitest'
import { runSimulation } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'
import { installedClock } from '../../src/sim/clock.js'
import { renderSimReport } from '../../src/sim/html.js'

describe('sim: virtual clock', () => {
  it('runs 20 real nodes on simulated time: trades, settles, converges, then hands the real clock back', async () => {
    const RealDate = Date
    const realTimeout = setTimeout
    const opts = { peers: 20, scenario: SCENARIOS.steady, seed: 'virtual', durationMs: 12_000 }
    // the default clock
    const r = await runSimulation(opts)
    expect(installedClock()).toBeUndefined()
    expect(Date).toBe(RealDate)
    expect(setTimeout).toBe(realTimeout)
    expect(r.clock).toBe('virtual')
    // twelve simulated seconds of trading (plus warm-up and settling); how much wall time that took
    // is a benchmark figure (bench sim), never a test threshold: a loaded machine may take longer
    expect(r.resources.simulatedMs).toBeGreaterThan(opts.durationMs)
    expect(r.resources.wallMs).toBeGreaterThan(0)
    expect(r.requests.sent).toBeGreaterThan(12)
    expect(r.requests.completed).toBe(r.requests.sent)
    expect(r.requests.late).toBe(0)
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
    expect(r.settlementConvergenceMs.unfinished).toBe(0)
    expect(r.offerPropagationMs.unfinished).toBe(0)
    expect(r.losses.withinBounds).toBe(true)
    // the report says which time its figures are in
    expect(await renderSimReport(r)).toContain('Time is simulated (virtual clock)')
    // the plan depends on the seed only, not on the clock
    const real = await runSimulation({ ...opts, durationMs: 1_000, clock: 'real' })
    const virtual = await runSimulation({ ...opts, durationMs: 1_000, clock: 'virtual' })
    expect(virtual.plan).toEqual(real.plan)
    expect(real.clock).toBe('real')
  })

  it('on simulated time one seed gives one result, figure for figure; another seed another', async () => {
    const run = async (seed: string): Promise<string> => {
      const { resources, ...rest } = await runSimulation({ peers: 10, scenario: SCENARIOS.steady, seed, durationMs: 3_000, clock: 'virtual' })
      expect(resources.simulatedMs).toBeGreaterThan(3_000)
      return JSON.stringify(rest)
    }
    const a = await run('same')
    const b = await run('same')
    expect(JSON.parse(a).requests.completed).toBeGreaterThan(0)
    expect(b).toBe(a)
    expect(await run('other')).not.toBe(a)
  })

  it('simulated sellers as slow as real ones cost simulated time only: TTFT and request time follow the backend', async () => {
    const r = await runSimulation({ peers: 8, scenario: SCENARIOS.steady, seed: 'slow', durationMs: 6_000, tokensPerSec: 30, ttftMs: 600, clock: 'virtual' })
    expect(r.backend).toContain('30 tokens/s after a 600 ms first token')
    expect(r.requests.completed).toBeGreaterThan(0)
    expect(r.requests.completed).toBe(r.requests.sent)
    // first token: the backend's 600 ms plus the links; each answer is 8..48 tokens at 30/s
    expect(r.ttftMs.p50).toBeGreaterThanOrEqual(600)
    expect(r.ttftMs.max).toBeLessThan(1_000)
    expect(r.requestMs.p50).toBeGreaterThan(600 + 8 / 30 * 1000)
  })

  it('bootstrapNodes: every peer dials the same well-known nodes, the topology of a deployment without peer discovery', async () => {
    const opts = { peers: 30, scenario: SCENARIOS.steady, seed: 'star', durationMs: 2_000 }
    const random = await runSimulation(opts)
    const star = await runSimulation({ ...opts, bootstrapNodes: 1 })
    expect(star.plan.digest).not.toBe(random.plan.digest)
    // the hub's mesh holds at most 12 peers: the other leaves of the star have no mesh at all
    // (they hear offers and records only through IHAVE gossip); a random graph leaves none out
    expect(random.figures.honestNodesWithoutOffersMesh).toBe(0)
    expect(star.figures.honestNodesWithoutOffersMesh).toBeGreaterThan(10)
    expect(star.settlementConvergenceMs.p95).toBeGreaterThan(random.settlementConvergenceMs.p95)
    expect(star.losses.withinBounds).toBe(true)
  })

  it('refuses a second virtual-clock run in the same process while one is running', async () => {
    const first = runSimulation({ peers: 4, scenario: SCENARIOS.steady, durationMs: 500, clock: 'virtual' })
    await expect(runSimulation({ peers: 4, scenario: SCENARIOS.steady, durationMs: 500, clock: 'virtual' })).rejects.toMatchObject({ name: 'SimulationError', message: expect.stringMatching(/already running/) })
    expect((await first).clock).toBe('virtual')
  })
})

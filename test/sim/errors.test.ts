/** runSimulation refuses bad options with a typed error before starting any node. */
import { describe, expect, it } from 'vitest'
import { runSimulation } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'

describe('runSimulation options', () => {
  it.each([
    [{ peers: 1 }, /peers must be an integer/],
    [{ peers: 2.5 }, /peers must be an integer/],
    [{ peers: 10, sellersShare: 1 }, /sellersShare/],
    [{ peers: 10, sellersShare: 0 }, /sellersShare/],
    [{ peers: 10, durationMs: 0 }, /durationMs/],
    [{ peers: 10, embeddedSellers: 9 }, /embeddedSellers/],
    [{ peers: 10, embeddedSellers: 1.5 }, /embeddedSellers/],
    [{ peers: 10, lossRate: 1.5 }, /links: lossRate/],
    [{ peers: 10, jitter: -1 }, /links: jitter/],
    [{ peers: 10, latencyMs: Number.NaN }, /links: latencyMs/],
    [{ peers: 10, clock: 'wall' as any }, /clock must be one of real, virtual/],
    [{ peers: 10, tokensPerSec: 0 }, /tokensPerSec must be an integer/],
    [{ peers: 10, bootstrapNodes: 0 }, /bootstrapNodes must be an integer/],
    [{ peers: 10, requestsPerSec: 0 }, /requestsPerSec must be between/],
    [{ peers: 10, requestsPerSec: 500 }, /requestsPerSec must be between/],
    [{ peers: 10, ttftMs: -5 }, /ttftMs must be an integer/],
    [{ peers: 10, clock: 'virtual' as const, embeddedSellers: 1 }, /embedded sellers need the real clock/]
  ])('%o → SimulationError', async (o, msg) => {
    await expect(runSimulation({ scenario: SCENARIOS.steady, ...o })).rejects.toMatchObject({ name: 'SimulationError', message: expect.stringMatching(msg) })
  })

  it('every built-in scenario is registered under its own name with a description', () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual(['batch-auction', 'batch-auction-baseline', 'capacity-squatter', 'churn', 'double-spender', 'gossip-spammer', 'grant-chain', 'lock-griefer', 'non-paying-buyer', 'overbilling-seller', 'partition', 'price-shock', 'stalling-seller', 'steady', 'sybil-drain', 'sybil-drain-baseline'])
    for (const [k, s] of Object.entries(SCENARIOS)) {
      expect(s.name).toBe(k)
      expect(s.description.length).toBeGreaterThan(10)
    }
  })
})

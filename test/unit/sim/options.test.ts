import { describe, expect, it } from 'vitest'
import { resolveParams, SimulationError, DEFAULT_SIM_LATENCY_MS, DEFAULT_SIM_TOKENS_PER_SEC, DEFAULT_SIM_TTFT_MS } from '../../../src/sim/options.js'
import { defineScenario } from '../../../src/sim/scenario.js'

const scenario = defineScenario({ name: 't', description: 't', defaults: { durationMs: 7_000, latencyMs: 30 }, run: async () => {} })

describe('resolveParams', () => {
  it('takes the option, then the scenario\'s default, then the simulator\'s', () => {
    const p = resolveParams({ peers: 50, scenario })
    expect(p).toEqual({ peers: 50, seed: '1', durationMs: 7_000, sellersShare: 0.3, latencyMs: 30, lossRate: 0, requestsPerSec: 5, embeddedSellers: 0, bootstrapNodes: undefined, tokensPerSec: DEFAULT_SIM_TOKENS_PER_SEC, ttftMs: DEFAULT_SIM_TTFT_MS, genesis: 'development' })
    expect(resolveParams({ peers: 50, scenario: { ...scenario, defaults: { genesis: 'issued' } } }).genesis).toBe('issued')
    expect(resolveParams({ peers: 50, scenario: { ...scenario, defaults: { genesis: 'issued' } }, genesis: 'development' }).genesis).toBe('development')
    expect(resolveParams({ peers: 50, scenario, durationMs: 1_000, latencyMs: 5, seed: 9 })).toMatchObject({ durationMs: 1_000, latencyMs: 5, seed: '9' })
    expect(resolveParams({ peers: 2, scenario: { ...scenario, defaults: {} } }).latencyMs).toBe(DEFAULT_SIM_LATENCY_MS)
  })

  it('the default request rate falls with N above 100 peers (2..20 per second)', () => {
    expect(resolveParams({ peers: 10, scenario }).requestsPerSec).toBe(2)
    expect(resolveParams({ peers: 100, scenario }).requestsPerSec).toBe(10)
    expect(resolveParams({ peers: 400, scenario }).requestsPerSec).toBe(5)
  })

  it('refuses every out-of-range option with a SimulationError', () => {
    const bad = [
      { peers: 1 }, { peers: 2.5 }, { peers: 10, requestsPerSec: 0 }, { peers: 10, requestsPerSec: 201 }, { peers: 10, sellersShare: 1 },
      { peers: 10, durationMs: 0 }, { peers: 10, embeddedSellers: 9 }, { peers: 10, bootstrapNodes: 0 }, { peers: 10, bootstrapNodes: 17 },
      { peers: 10, tokensPerSec: 0 }, { peers: 10, tokensPerSec: 1.5 }, { peers: 10, ttftMs: -1 }, { peers: 10, ttftMs: 60_001 }, { peers: 10, genesis: 'public' as never }
    ]
    for (const o of bad) expect(() => resolveParams({ scenario, ...o })).toThrow(SimulationError)
  })
})

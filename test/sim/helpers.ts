/** Shared bits of the simulator tests: run a built-in scenario small and short. */
import { runSimulation, type SimClock, type SimResult } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'

/** on the real clock unless asked (steady shows the nodes keep up on wall time); adversaries and market dynamics run on the virtual clock, one seed one result */
export async function runSmall (name: string, opts: { peers?: number, durationMs?: number, seed?: string, clock?: SimClock } = {}): Promise<SimResult> {
  const scenario = SCENARIOS[name]
  if (scenario == null) throw new Error(`no scenario ${name}`)
  return await runSimulation({ peers: opts.peers ?? 20, scenario, seed: opts.seed ?? 'test', durationMs: opts.durationMs ?? scenario.defaults.durationMs ?? 5_000, clock: opts.clock ?? 'real' })
}

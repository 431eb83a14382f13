/** Shared bits of the simulator tests: run a built-in scenario small and short. */
import { runSimulation, type SimResult } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'

export async function runSmall (name: string, opts: { peers?: number, durationMs?: number, seed?: string } = {}): Promise<SimResult> {
  const scenario = SCENARIOS[name]
  if (scenario == null) throw new Error(`no scenario ${name}`)
  return await runSimulation({ peers: opts.peers ?? 20, scenario, seed: opts.seed ?? 'test', durationMs: opts.durationMs ?? scenario.defaults.durationMs ?? 5_000 })
}

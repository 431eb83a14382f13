/**
 * runSimulation: N real Tally nodes (the production createTallyNode) in one process on the
 * memory transport with plaintext encryption, seeded randomness and scaled timers, driven by a
 * scenario; it measures the market and the ledger from the nodes' own events and returns a
 * JSON-able SimResult (bigints as strings). The run's phases are in src/sim/phases.ts, its state
 * in src/sim/world.ts, its figures in src/sim/result.ts.
 */
import '../polyfill.js'
import { createRng } from './rng.js'
import { VirtualClock, installedClock } from './clock.js'
import { buildNetwork, measurePropagation, settle, teardown, trade, warmUp } from './phases.js'
import { simResult } from './result.js'
import { SimWorld, simLinks, tinyModelFor } from './world.js'
import { resolveParams, SIM_CLOCKS, SimulationError, type SimClock, type SimResult, type SimulationOptions } from './options.js'

// the model, the options' limits (the CLI checks them too) and the types callers use
export {
  SIM_MODEL, MAX_REQUESTS_PER_SEC, MIN_REQUESTS_PER_SEC, MAX_BOOTSTRAP_NODES, MAX_EMBEDDED_SELLERS, MAX_SIM_TOKENS_PER_SEC, MAX_SIM_TTFT_MS,
  SIM_CLOCKS, SimulationError, type SimulationOptions, type SimClock, type SimProgress, type SellerShare, type SimResult
} from './options.js'

/** where simulated time starts on the virtual clock: 2026-01-01T00:00:00Z */
const SIM_EPOCH_MS = Date.UTC(2026, 0, 1)

export async function runSimulation (opts: SimulationOptions): Promise<SimResult> {
  // virtual unless a real engine runs (it answers on wall time)
  const clockKind = opts.clock ?? ((opts.embeddedSellers ?? 0) > 0 ? 'real' : 'virtual')
  if (!SIM_CLOCKS.includes(clockKind)) throw new SimulationError(`clock must be one of ${SIM_CLOCKS.join(', ')}, got ${String(clockKind)}`)
  if (clockKind === 'real') return await simulate(opts, 'real')
  // the real engine answers on wall time in a child process: it cannot follow a virtual clock
  if ((opts.embeddedSellers ?? 0) > 0) throw new SimulationError('embedded sellers need the real clock (they run in a child process on wall time)')
  if (installedClock() != null) throw new SimulationError('a virtual-clock simulation is already running in this process')
  // the calendar starts at one fixed instant: timestamps go into records, whose ids order sync ranges
  const clock = new VirtualClock({ epochMs: SIM_EPOCH_MS })
  // with time virtual, the libraries' own draws (gossipsub's mesh and gossip picks) are the last
  // thing that differs between two runs of one seed: they draw from the seed too (and so do the
  // negotiators' quote ids and nonces, world.ts)
  const mathRandom = Math.random
  Math.random = createRng(`${String(opts.seed ?? 1)}/math-random`).next
  clock.install()
  try {
    return await simulate(opts, 'virtual')
  } finally {
    clock.uninstall()
    Math.random = mathRandom
  }
}

async function simulate (opts: SimulationOptions, clockKind: SimClock): Promise<SimResult> {
  const params = resolveParams(opts)
  const tinyModelPath = tinyModelFor(params)
  const world = new SimWorld(opts, params, clockKind, simLinks(params, opts.jitter), tinyModelPath)
  await buildNetwork(world)
  const warm = await warmUp(world)
  // from the reprices to the figures each phase starts the next in its own last turn (see measurePropagation)
  const result = await measurePropagation(world, async () =>
    await trade(world, async (traded) =>
      await settle(world, traded, () => simResult(world, warm, traded))))
  await teardown(world)
  return result
}

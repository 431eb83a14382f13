/**
 * Virtual clock figures: timers fired per wall second (the clock's own overhead: 10k pending timers
 * re-arming at random delays), and simulated ms per wall ms for steady at 100 peers (how much faster
 * or slower than real time the virtual clock runs the whole node stack here). Never fails on time.
 */
import '../../src/polyfill.js'
import { VirtualClock, wallNowMs } from '../../src/sim/clock.js'
import { createRng } from '../../src/sim/rng.js'
import { runSimulation } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'

const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d
const PENDING = 10_000
const FIRES = 500_000

async function timerThroughput (): Promise<{ firesPerWallSec: number, simulatedMs: number }> {
  const rng = createRng('clock-bench')
  const clock = new VirtualClock()
  clock.install()
  try {
    const t0 = wallNowMs()
    let fired = 0
    await new Promise<void>(resolve => {
      const arm = (): void => {
        setTimeout(() => { if (++fired === FIRES) resolve(); else if (fired <= FIRES - PENDING) arm() }, 1 + Math.floor(rng.next() * 1_000))
      }
      for (let i = 0; i < PENDING; i++) arm()
    })
    return { firesPerWallSec: round(FIRES / ((wallNowMs() - t0) / 1000)), simulatedMs: clock.elapsedMs() }
  } finally {
    clock.uninstall()
  }
}

export default async function (): Promise<Record<string, unknown>> {
  const timers = await timerThroughput()
  const r = await runSimulation({ peers: 100, scenario: SCENARIOS.steady, seed: 'bench', durationMs: 10_000, clock: 'virtual' })
  return {
    timersPending: PENDING,
    timersFired: FIRES,
    timerFiresPerWallSec: timers.firesPerWallSec,
    steady100: { simulatedMs: r.resources.simulatedMs, wallMs: r.resources.wallMs, simulatedPerWall: round(r.resources.simulatedMs / r.resources.wallMs, 3), requestsCompleted: r.requests.completed, requestsSent: r.requests.sent }
  }
}

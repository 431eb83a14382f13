/**
 * Simulator figures: steady at 300 peers (memory per peer, settlement convergence p95, offer
 * propagation p95), double spender flagged on every node p95 at 300, and steady at larger N to
 * find the largest N whose offer propagation p95 stays ≤ 2 s; each on both clocks (virtual: the
 * protocol's figures on simulated time; real: what one thread carries on wall time). Sizes from
 * TALLY_BENCH_SIM_PEERS (default 300) and TALLY_BENCH_SIM_SCALE (default "500"), clocks from
 * TALLY_BENCH_SIM_CLOCKS (default "virtual,real"). Never fails on time.
 */
import '../../src/polyfill.js'
import { runSimulation, SIM_CLOCKS, type SimClock, type SimResult } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'

const PEERS = Number(process.env.TALLY_BENCH_SIM_PEERS ?? 300)
const SCALE = (process.env.TALLY_BENCH_SIM_SCALE ?? '500').split(',').filter(s => s !== '').map(Number)
const DURATION_MS = Number(process.env.TALLY_BENCH_SIM_DURATION_MS ?? 15_000)
const CLOCKS = (process.env.TALLY_BENCH_SIM_CLOCKS ?? 'virtual,real').split(',').filter((c): c is SimClock => (SIM_CLOCKS as readonly string[]).includes(c))
const PROPAGATION_TARGET_MS = 2_000

function figures (r: SimResult): Record<string, unknown> {
  return {
    clock: r.clock,
    peers: r.peers,
    requestsCompleted: r.requests.completed,
    requestsSent: r.requests.sent,
    offerPropagationP50Ms: r.offerPropagationMs.p50,
    offerPropagationP95Ms: r.offerPropagationMs.p95,
    offerPropagationUnfinished: r.offerPropagationMs.unfinished,
    settlementConvergenceP50Ms: r.settlementConvergenceMs.p50,
    settlementConvergenceP95Ms: r.settlementConvergenceMs.p95,
    settlementUnfinished: r.settlementConvergenceMs.unfinished,
    ttftP95Ms: r.ttftMs.p95,
    negotiationP95Ms: r.negotiationMs.p95,
    balancesAgree: r.balancesAgree,
    lossesWithinBounds: r.losses.withinBounds,
    honestSellersUnpaidUc: r.losses.honestSellersUnpaidUc,
    linkLatencyMs: r.links.latencyMs,
    rssPerPeerMb: r.resources.rssPerPeerMb,
    addedRssPerPeerMb: r.resources.addedRssPerPeerMb,
    heapUsedPerPeerMb: r.resources.heapUsedPerPeerMb,
    startMs: r.resources.startMs,
    cpuMs: r.resources.cpuUserMs + r.resources.cpuSystemMs,
    cpuPerPeerPct: r.resources.cpuPerPeerPct,
    wallMs: r.resources.wallMs,
    simulatedMs: r.resources.simulatedMs,
    /** simulated seconds per wall second (1 on the real clock by definition) */
    simulatedPerWall: Math.round(r.resources.simulatedMs / Math.max(1, r.resources.wallMs) * 1000) / 1000
  }
}

/** each run's figures as soon as it ends: the whole bench takes many minutes */
function note (name: string, f: unknown): void {
  process.stderr.write(`sim bench ${name}: ${JSON.stringify(f)}\n`)
}

export default async function (): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  const largest: Record<string, number> = {}
  const within = (r: SimResult): boolean => r.offerPropagationMs.p95 <= PROPAGATION_TARGET_MS && r.offerPropagationMs.unfinished === 0
  for (const clock of CLOCKS) {
    const steady = await runSimulation({ peers: PEERS, scenario: SCENARIOS.steady, seed: 'bench', durationMs: DURATION_MS, clock })
    out[`steady_${PEERS}_${clock}`] = figures(steady)
    note(`steady_${PEERS}_${clock}`, out[`steady_${PEERS}_${clock}`])
    const ds = await runSimulation({ peers: PEERS, scenario: SCENARIOS['double-spender'], seed: 'bench', durationMs: Math.min(DURATION_MS, 10_000), clock })
    out[`doubleSpender_${PEERS}_${clock}`] = { ...figures(ds), flaggedP50Ms: ds.doubleSpendFlaggedMs?.p50, flaggedP95Ms: ds.doubleSpendFlaggedMs?.p95, flaggedOn: ds.doubleSpendFlaggedMs?.flaggedOn, honestNodes: ds.doubleSpendFlaggedMs?.nodes }
    note(`doubleSpender_${PEERS}_${clock}`, out[`doubleSpender_${PEERS}_${clock}`])
    largest[clock] = within(steady) ? PEERS : 0
    for (const n of SCALE) {
      const r = await runSimulation({ peers: n, scenario: SCENARIOS.steady, seed: 'bench', durationMs: DURATION_MS, clock })
      out[`steady_${n}_${clock}`] = figures(r)
      note(`steady_${n}_${clock}`, out[`steady_${n}_${clock}`])
      if (within(r)) largest[clock] = Math.max(largest[clock], n)
    }
  }
  out.largestPeersWithPropagationP95Under2s = largest
  return out
}

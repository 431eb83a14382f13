/**
 * Simulator figures: steady at 300 peers (memory per peer, settlement convergence p95, offer
 * propagation p95), double spender flagged on every node p95 at 300, and steady at larger N to
 * find the largest N whose offer propagation p95 stays ≤ 2 s. Sizes from TALLY_BENCH_SIM_PEERS
 * (default 300) and TALLY_BENCH_SIM_SCALE (default "500"). Never fails on time.
 */
import '../../src/polyfill.js'
import { runSimulation, type SimResult } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'

const PEERS = Number(process.env.TALLY_BENCH_SIM_PEERS ?? 300)
const SCALE = (process.env.TALLY_BENCH_SIM_SCALE ?? '500').split(',').filter(s => s !== '').map(Number)
const DURATION_MS = Number(process.env.TALLY_BENCH_SIM_DURATION_MS ?? 15_000)
const PROPAGATION_TARGET_MS = 2_000

function figures (r: SimResult): Record<string, unknown> {
  return {
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
    wallMs: r.resources.wallMs
  }
}

/** each run's figures as soon as it ends: the whole bench takes many minutes */
function note (name: string, f: unknown): void {
  process.stderr.write(`sim bench ${name}: ${JSON.stringify(f)}\n`)
}

export default async function (): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  const steady = await runSimulation({ peers: PEERS, scenario: SCENARIOS.steady, seed: 'bench', durationMs: DURATION_MS })
  out[`steady_${PEERS}`] = figures(steady)
  note(`steady_${PEERS}`, out[`steady_${PEERS}`])
  const ds = await runSimulation({ peers: PEERS, scenario: SCENARIOS['double-spender'], seed: 'bench', durationMs: Math.min(DURATION_MS, 10_000) })
  out[`doubleSpender_${PEERS}`] = { ...figures(ds), flaggedP50Ms: ds.doubleSpendFlaggedMs?.p50, flaggedP95Ms: ds.doubleSpendFlaggedMs?.p95, flaggedOn: ds.doubleSpendFlaggedMs?.flaggedOn, honestNodes: ds.doubleSpendFlaggedMs?.nodes }
  note(`doubleSpender_${PEERS}`, out[`doubleSpender_${PEERS}`])
  let largest = steady.offerPropagationMs.p95 <= PROPAGATION_TARGET_MS && steady.offerPropagationMs.unfinished === 0 ? PEERS : 0
  for (const n of SCALE) {
    const r = await runSimulation({ peers: n, scenario: SCENARIOS.steady, seed: 'bench', durationMs: DURATION_MS })
    out[`steady_${n}`] = figures(r)
    note(`steady_${n}`, out[`steady_${n}`])
    if (r.offerPropagationMs.p95 <= PROPAGATION_TARGET_MS && r.offerPropagationMs.unfinished === 0) largest = Math.max(largest, n)
  }
  out.largestPeersWithPropagationP95Under2s = largest
  return out
}

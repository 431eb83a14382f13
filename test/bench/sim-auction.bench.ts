/**
 * The batch-auction scenario at one N (issue 20 § 4 targets: ≥ 90 % of batch volume to the
 * cheapest sellers able to meet the deadline; utilisation with batch demand vs without): runs
 * `batch-auction-baseline` then `batch-auction` on the same seed and prints both runs' figures.
 * N from TALLY_BENCH_SIM_AUCTION_PEERS (default 60), clock virtual. Never fails on time.
 */
import '../../src/polyfill.js'
import { runSimulation, type SimResult } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'

const PEERS = Number(process.env.TALLY_BENCH_SIM_AUCTION_PEERS ?? 60)
const mb = (b: number): number => Math.round(b / 1e5) / 10

async function measured (scenario: string): Promise<{ r: SimResult, peakRssMb: number, cpuMs: number }> {
  let peak = process.memoryUsage().rss
  // the wall's own interval is fine here: the virtual clock is installed only inside runSimulation
  const iv = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 500)
  const cpu0 = process.cpuUsage()
  try {
    const r = await runSimulation({ peers: PEERS, scenario: SCENARIOS[scenario], seed: 'bench', clock: 'virtual' })
    const c = process.cpuUsage(cpu0)
    return { r, peakRssMb: mb(Math.max(peak, process.memoryUsage().rss)), cpuMs: Math.round((c.user + c.system) / 1000) }
  } finally {
    clearInterval(iv)
  }
}

function figures (m: { r: SimResult, peakRssMb: number, cpuMs: number }): Record<string, unknown> {
  const { r } = m
  return {
    peers: r.peers,
    sellers: r.sellers,
    interactiveRequestsCompleted: r.requests.completed,
    interactiveRequestsSent: r.requests.sent,
    ...r.figures,
    quotesPerBid: r.metrics.quotesPerBid,
    timeToFillMs: r.metrics.timeToFillMs,
    sellerUtilisationPctPerSeller: r.metrics.sellerUtilisationPct,
    lossesWithinBounds: r.losses.withinBounds,
    balancesAgree: r.balancesAgree,
    peakRssMb: m.peakRssMb,
    cpuMs: m.cpuMs,
    wallMs: r.resources.wallMs,
    simulatedMs: r.resources.simulatedMs
  }
}

export default async function (): Promise<Record<string, unknown>> {
  const base = await measured('batch-auction-baseline')
  const batch = await measured('batch-auction')
  return {
    baseline: figures(base),
    batchAuction: figures(batch),
    utilisationPct: { withoutBatch: base.r.figures.sellerUtilisationPct, withBatch: batch.r.figures.sellerUtilisationPct }
  }
}

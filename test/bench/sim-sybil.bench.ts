/**
 * Memory of the sybil-drain scenario: the peak live heap (sampled after a full GC every ~2 s of
 * CPU) and peak RSS of `sybil-drain` and of `sybil-drain-baseline` at one N, per peer and, for the
 * difference, per sybil key and per try (key × seller), with the run's outcome (honest completion
 * vs the baseline, credits taken from honest sellers). N from TALLY_BENCH_SIM_SYBIL_PEERS (default
 * 60: 300 keys × 18 sellers), clock virtual. Never fails on time.
 */
import '../../src/polyfill.js'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { runSimulation, type SimResult } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'
import { sybilKeysFor } from '../../src/sim/scenarios/sybil-drain.js'

const PEERS = Number(process.env.TALLY_BENCH_SIM_SYBIL_PEERS ?? 60)
/** a full GC this often (CPU ms): often enough to see the peak, rarely enough not to dominate */
const GC_EVERY_CPU_MS = 2_000
// the wall's own interval: the virtual clock replaces the global one while a run is on
const wallInterval = setInterval
const wallClearInterval = clearInterval
const mb = (b: number): number => Math.round(b / 1e5) / 10

interface Peaks { liveHeapMb: number, rssMb: number }

async function measured (scenario: string): Promise<{ r: SimResult, peaks: Peaks }> {
  v8.setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  let live = process.memoryUsage().heapUsed; let rss = process.memoryUsage().rss
  let lastGcCpuMs = 0
  const cpuMs = (): number => { const c = process.cpuUsage(); return (c.user + c.system) / 1000 }
  const sample = (): void => {
    const now = cpuMs()
    if (now - lastGcCpuMs >= GC_EVERY_CPU_MS) { gc(); lastGcCpuMs = now; live = Math.max(live, process.memoryUsage().heapUsed) }
    rss = Math.max(rss, process.memoryUsage().rss)
  }
  const iv = wallInterval(sample, 250)
  try {
    const r = await runSimulation({ peers: PEERS, scenario: SCENARIOS[scenario], seed: 'bench', clock: 'virtual' })
    return { r, peaks: { liveHeapMb: mb(live), rssMb: mb(rss) } }
  } finally {
    wallClearInterval(iv)
  }
}

function figures (r: SimResult, p: Peaks): Record<string, unknown> {
  const f = r.figures as Record<string, unknown>
  return {
    peers: r.peers,
    requestsCompleted: r.requests.completed,
    requestsSent: r.requests.sent,
    honestCompletedPct: f.honestCompletedPct,
    sybilAttempts: f.sybilAttempts,
    sybilContracts: f.sybilContracts,
    creditsTakenFromHonestSellersUc: f.creditsTakenFromHonestSellersUc,
    honestSellersUnpaidUc: f.honestSellersUnpaidUc,
    lossesWithinBounds: r.losses.withinBounds,
    peakLiveHeapMb: p.liveHeapMb,
    peakLiveHeapPerPeerMb: Math.round(p.liveHeapMb / r.peers * 100) / 100,
    peakRssMb: p.rssMb,
    peakRssPerPeerMb: Math.round(p.rssMb / r.peers * 100) / 100,
    wallMs: r.resources.wallMs,
    simulatedMs: r.resources.simulatedMs
  }
}

export default async function (): Promise<Record<string, unknown>> {
  const base = await measured('sybil-drain-baseline')
  const attack = await measured('sybil-drain')
  const keys = sybilKeysFor(PEERS)
  const tries = Number((attack.r.figures as Record<string, unknown>).sybilAttempts ?? 0)
  const extraMb = attack.peaks.liveHeapMb - base.peaks.liveHeapMb
  return {
    baseline: figures(base.r, base.peaks),
    sybilDrain: figures(attack.r, attack.peaks),
    sybilKeys: keys,
    /** live heap the attack added at its peak, per key and per try (key × seller) */
    extraLiveHeapMb: Math.round(extraMb * 10) / 10,
    extraLiveHeapPerKeyKb: keys === 0 ? 0 : Math.round(extraMb * 1000 / keys),
    extraLiveHeapPerTryKb: tries === 0 ? 0 : Math.round(extraMb * 1e4 / tries) / 10
  }
}

/**
 * The attacks of issue 15 (test/e2e/hostile/attacks.ts, the same ones the hostile-node e2e suite
 * runs) against a seller node with a gateway, each on a fresh World (seller + gateway + honest
 * buyer, memory transport, simulated backend): first N honest requests with no attack (the
 * baseline), then N more while the attack runs. Figures per attack: honest purchase latency
 * (negotiate + open + infer, p50/p95) and honest HTTP latency (GET /v1/models on the seller's
 * gateway, p50/p95), baseline vs during; the process's RSS and heap (MB) at the baseline and the
 * most seen during the attack (sampled every 50 ms); failed honest requests; the attack's facts.
 * The seller, the honest buyer and the attacker share this process, so RSS is theirs together.
 * Never fails on time.
 */
import '../../src/polyfill.js'
import { ATTACKS, forceGc, type Attack } from '../e2e/hostile/attacks.js'
import { honestRequest, startWorld, type HonestTimes, type World } from '../e2e/hostile/world.js'

const N = Number(process.env.ATTACKS_BENCH_N ?? 20)

const mb = (b: number): number => Math.round(b / 2 ** 20 * 10) / 10
const round = (x: number): number => Math.round(x * 10) / 10

function pct (xs: number[], p: number): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return round(s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)])
}

interface Latency { n: number, failed: number, errors: string[], inferP50Ms: number | null, inferP95Ms: number | null, httpP50Ms: number | null, httpP95Ms: number | null }

async function measure (w: World): Promise<Latency> {
  const times: HonestTimes[] = []
  let failed = 0
  const errors = new Set<string>()
  for (let i = 0; i < N; i++) {
    try { times.push(await honestRequest(w)) } catch (err: any) { failed++; errors.add(`${String(err?.code ?? err?.name)}: ${String(err?.message).slice(0, 160)}`) }
  }
  const infer = times.map(t => t.inferMs)
  const http = times.map(t => t.httpMs)
  return { n: N, failed, errors: [...errors], inferP50Ms: pct(infer, 50), inferP95Ms: pct(infer, 95), httpP50Ms: pct(http, 50), httpP95Ms: pct(http, 95) }
}

async function one (attack: Attack): Promise<Record<string, unknown>> {
  const w = await startWorld()
  try {
    await honestRequest(w)
    forceGc()
    const base = process.memoryUsage()
    const baseline = await measure(w)
    let peakRss = 0
    let peakHeap = 0
    const sample = (): void => {
      const m = process.memoryUsage()
      peakRss = Math.max(peakRss, m.rss)
      peakHeap = Math.max(peakHeap, m.heapUsed)
    }
    const sampler = setInterval(sample, 50)
    const t0 = performance.now()
    const running = await attack.start(w)
    sample()
    const during = await measure(w)
    sample()
    const facts = await running.stop()
    clearInterval(sampler)
    const alive = w.seller.libp2p.status === 'started'
    return {
      point: attack.point,
      alive,
      attackMs: Math.round(performance.now() - t0),
      baseline,
      during,
      rssMb: { baseline: mb(base.rss), duringMax: mb(peakRss) },
      heapMb: { baseline: mb(base.heapUsed), duringMax: mb(peakHeap) },
      facts
    }
  } finally {
    await w.stop()
  }
}

export default async function run (): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { honestRequestsEach: N }
  // ATTACKS_BENCH_ONLY=ledger-spam,offer-flood runs only those
  const only = process.env.ATTACKS_BENCH_ONLY?.split(',')
  for (const a of ATTACKS.filter(a => only == null || only.includes(a.name))) {
    process.stderr.write(`  attack ${a.name} ...\n`)
    try {
      out[a.name] = await one(a)
    } catch (err: any) {
      out[a.name] = { error: String(err?.stack ?? err) }
    }
  }
  return out
}

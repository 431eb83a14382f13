/**
 * The figures of a finished run: what the world recorded (samples, events, requests) turned into
 * the JSON-able SimResult. Reads the nodes' end state and the process's resource use; changes
 * nothing.
 */
import { performance } from 'node:perf_hooks'
import { TINY_MODEL_ID } from '../exec/model/tiny.js'
import { lossLedger } from './losses.js'
import { summarize, type Summary } from './stats.js'
import { wallNowMs } from './clock.js'
import type { SimPeer } from './scenario.js'
import { balanceView, type SimWorld } from './world.js'
import type { Traded, WarmedUp } from './phases.js'
import { SAMPLE_CAP, SIM_MODEL, type SellerShare, type SimResult } from './options.js'

const mb = (b: number): number => Math.round(b / 1048576 * 100) / 100

function cap<T> (xs: T[]): T[] { return xs.length > SAMPLE_CAP ? xs.slice(0, SAMPLE_CAP) : xs }

/** per message (an offer's price, a record): the time until the last peer that should hold it did, or unfinished */
function spread<T extends { atMs: number, seen: Map<number, number> }> (items: Iterable<T>, targets: (item: T) => SimPeer[]): { times: number[], unfinished: number } {
  const out: number[] = []
  let unfinished = 0
  for (const it of items) {
    const ts = targets(it)
    if (ts.length === 0) continue
    const times = ts.map(q => it.seen.get(q.index))
    if (times.some(t => t == null)) { unfinished++; continue }
    out.push(Math.max(...times as number[]) - it.atMs)
  }
  return { times: out, unfinished }
}

/** each seller's share of the completed requests for its own model, and the market's price figures */
function market (w: SimWorld): SimResult['market'] {
  const done = w.requests.filter(r => r.ok)
  const sellersAll = w.peers.filter(p => p.role === 'seller')
  const shares: SellerShare[] = sellersAll.map(s => {
    const accounts = new Set([s.node.account])
    const n = done.filter(r => r.seller != null && accounts.has(r.seller)).length
    // a seller's share of the requests for its own model
    const model = w.embedded.has(s.index) ? TINY_MODEL_ID : SIM_MODEL
    const all = done.filter(r => (r.model ?? SIM_MODEL) === model).length
    return { index: s.index, account: s.node.account, adversary: s.adversary ?? '', priceOutUc: s.priceOutUc.toString(), requests: n, sharePct: all === 0 ? 0 : Math.round(n / all * 1000) / 10 }
  })
  const honestSellers = shares.filter(s => s.adversary === '' && !w.embedded.has(s.index)).sort((a, b) => (BigInt(a.priceOutUc) < BigInt(b.priceOutUc) ? -1 : 1))
  const third = honestSellers.slice(0, Math.max(1, Math.ceil(honestSellers.length / 3)))
  const prices = honestSellers.map(s => Number(s.priceOutUc))
  const meanP = prices.reduce((a, b) => a + b, 0) / Math.max(1, prices.length)
  const cv = prices.length === 0 ? 0 : Math.sqrt(prices.reduce((a, b) => a + (b - meanP) ** 2, 0) / prices.length) / meanP
  // from counts, not from the rounded shares (whose sum may pass 100)
  const simRequests = done.filter(r => (r.model ?? SIM_MODEL) === SIM_MODEL).length
  return {
    sellers: shares,
    priceDispersionCv: Math.round(cv * 1000) / 1000,
    minPriceOutUc: String(prices.length === 0 ? 0 : Math.min(...prices)),
    maxPriceOutUc: String(prices.length === 0 ? 0 : Math.max(...prices)),
    cheapestThirdSharePct: simRequests === 0 ? 0 : Math.round(third.reduce((s, x) => s + x.requests, 0) / simRequests * 1000) / 10
  }
}

/** The run's result, from the world once trading and settling are over. */
export function simResult (w: SimWorld, warm: WarmedUp, traded: Traded): SimResult {
  const { peers, p } = w
  const honestRunning = (): SimPeer[] => peers.filter(q => q.running && q.adversary == null)
  const losses = lossLedger(peers, honestRunning()[0]?.node)
  const rssEnd = process.memoryUsage().rss
  const endViews = honestRunning().map(q => balanceView(q.node))
  const balancesAgree = new Set(endViews).size === 1
  const ref = honestRunning()[0]?.node
  const sum = ref == null ? 0n : ref.balances().reduce((s, b) => s + b.balanceUc, 0n)

  const propagation = spread(w.offerPublished.values(), (o) => peers.filter(q => q.running && q.index !== o.seller && q.startedAtMs <= o.atMs))
  const convergence = spread(w.recordMade.values(), (r) => peers.filter(q => q.running && q.adversary == null && q.index !== r.maker && q.startedAtMs <= r.atMs))
  const sellers = peers.filter(q => q.role === 'seller').length
  const done = w.requests.filter(r => r.ok)
  const errors: Record<string, number> = {}
  for (const r of w.requests) if (!r.ok) errors[r.error ?? 'Error'] = (errors[r.error ?? 'Error'] ?? 0) + 1
  let ds: SimResult['doubleSpendFlaggedMs']
  const doubleSpend = w.doubleSpend
  if (doubleSpend != null) {
    const honest = peers.filter(q => q.running && q.adversary == null)
    ds = { ...summarize([...doubleSpend.flagged.values()]), nodes: honest.length, flaggedOn: honest.filter(q => doubleSpend.flagged.has(q.index)).length }
  }
  const metrics: Record<string, Summary> = {}
  const samples: Record<string, number[]> = {
    offerPropagationMs: cap(propagation.times.map(Math.round)),
    settlementConvergenceMs: cap(convergence.times.map(Math.round)),
    ttftMs: cap(done.map(r => Math.round(r.ttftMs ?? 0))),
    negotiationMs: cap(w.negotiationMs.map(Math.round))
  }
  for (const [k, xs] of w.custom) { metrics[k] = summarize(xs); samples[k] = cap(xs) }
  if (doubleSpend != null) samples.doubleSpendFlaggedMs = cap([...doubleSpend.flagged.values()].map(Math.round))
  const cpu = process.cpuUsage(w.cpuStart)
  const n = peers.length
  const { net } = w
  return {
    scenario: w.opts.scenario.name,
    description: w.opts.scenario.description,
    seed: p.seed,
    clock: w.clockKind,
    peers: n,
    sellers,
    buyers: n - sellers,
    adversaries: peers.filter(q => q.adversary != null).length,
    durationMs: p.durationMs,
    latencyMs: p.latencyMs,
    links: (() => { const st = net.stats(); return { latencyMs: p.latencyMs, jitter: net.jitter, lossRate: p.lossRate, rtoMs: net.rtoMs, buffers: st.buffers, bytes: st.bytes, retransmits: st.retransmits, connections: st.connections } })(),
    backend: `simulated: deterministic token generator (no model runs), 7B parameters declared, ${p.tokensPerSec} tokens/s after a ${p.ttftMs} ms first token` +
      (w.embedded.size > 0 ? `; ${w.embedded.size} seller(s) run the real embedded engine (node-llama-cpp) on the tiny model ${TINY_MODEL_ID} (toy weights)` : ''),
    embedded: { sellers: w.embedded.size, model: TINY_MODEL_ID, requests: w.requests.filter(r => r.model === TINY_MODEL_ID).length, completed: done.filter(r => r.model === TINY_MODEL_ID).length },
    requests: { sent: w.requests.length, completed: done.length, failed: w.requests.length - done.length, withFallback: done.filter(r => r.attempts > 1).length, errors, skippedBusy: traded.skippedBusy, late: traded.late },
    plan: { digest: w.planDigest(), trafficTicks: traded.ticks },
    losses,
    offerPropagationMs: { ...summarize(propagation.times), unfinished: propagation.unfinished },
    negotiationMs: summarize(w.negotiationMs),
    ttftMs: summarize(done.map(r => r.ttftMs ?? Number.NaN)),
    requestMs: summarize(done.map(r => r.totalMs)),
    settlementConvergenceMs: { ...summarize(convergence.times), unfinished: convergence.unfinished },
    divergence: w.divergence,
    balancesAgree,
    finalBalanceViews: new Set(endViews).size,
    sumOfBalancesUc: sum.toString(),
    settledSessions: peers.reduce((s, q) => s + q.node.settledSessions, 0),
    ...(ds != null ? { doubleSpendFlaggedMs: ds } : {}),
    market: market(w),
    resources: {
      rssBeforeMb: mb(w.rssBefore),
      rssAfterStartMb: mb(warm.rssAfterStart),
      rssEndMb: mb(rssEnd),
      rssPerPeerMb: mb(warm.rssAfterStart / n),
      addedRssPerPeerMb: mb((warm.rssAfterStart - w.rssBefore) / n),
      heapUsedPerPeerMb: mb(warm.heapAfterStart / n),
      cpuUserMs: Math.round(cpu.user / 1000),
      cpuSystemMs: Math.round(cpu.system / 1000),
      wallMs: Math.round(wallNowMs() - w.wallStart),
      simulatedMs: Math.round(performance.now() - w.simStart),
      // what one node needed of one core while trading: the process's CPU over the trading time, per node
      cpuPerPeerPct: Math.round((traded.cpuTrading.user + traded.cpuTrading.system) / 1000 / traded.tradedMs / n * 100 * 1000) / 1000,
      startMs: Math.round(warm.startMs)
    },
    figures: w.figures,
    metrics,
    events: w.events,
    samples
  }
}

/**
 * `tally sim`: runs a scenario over N in-process nodes via runSimulation, shows a progress bar on
 * a terminal, prints a summary (or the JSON result) and writes the HTML report when asked.
 */
import { writeFile } from 'node:fs/promises'
import { SingleBar, Presets } from 'cli-progress'
import { runSimulation, type SimProgress, type SimResult } from '../../sim/simulation.js'
import { SCENARIOS } from '../../sim/scenarios/index.js'
import { renderSimReport } from '../../sim/html.js'
import type { CliIO } from '../io.js'
import { parseSimFlags, type SimFlags } from './options.js'

export interface SimHandlerDeps {
  /** show a progress bar (default: stderr is a TTY and --json is off) */
  tty?: boolean
  run?: typeof runSimulation
}

export function simSummary (r: SimResult): string[] {
  const f = (s: { p50: number, p95: number }): string => `p50 ${s.p50} ms, p95 ${s.p95} ms`
  const lines = [
    `scenario ${r.scenario}: ${r.peers} peers (${r.sellers} sellers, ${r.adversaries} adversaries), seed ${r.seed}, ${r.durationMs} ms on the ${r.clock} clock`,
    `links ${r.links.latencyMs} ms ±${Math.round(r.links.jitter * 100)}%, loss ${r.links.lossRate} (${r.links.retransmits} of ${r.links.buffers} buffers retransmitted)`,
    `requests ${r.requests.completed}/${r.requests.sent} completed, ${r.requests.withFallback} after fallback` +
      (r.embedded.sellers > 0 ? `; ${r.embedded.completed}/${r.embedded.requests} to the ${r.embedded.sellers} real-engine sellers (${r.embedded.model})` : ''),
    `offer propagation ${f(r.offerPropagationMs)}; negotiation ${f(r.negotiationMs)}; ttft ${f(r.ttftMs)}`,
    `settlement convergence ${f(r.settlementConvergenceMs)} (${r.settlementConvergenceMs.unfinished} unfinished)`,
    `ledgers ${r.balancesAgree ? 'agree' : `DIVERGE (${r.finalBalanceViews} views)`}, Σ balances ${r.sumOfBalancesUc} µc, ${r.settledSessions} sessions settled`,
    `cheapest third of sellers served ${r.market.cheapestThirdSharePct}% (price CV ${r.market.priceDispersionCv})`,
    `memory ${r.resources.rssPerPeerMb} MB RSS per peer, cpu ${r.resources.cpuUserMs + r.resources.cpuSystemMs} ms in ${r.resources.wallMs} ms wall` + (r.clock === 'virtual' ? ` for ${r.resources.simulatedMs} ms simulated` : '') + ` (${r.resources.cpuPerPeerPct}% of a core per peer while trading)`,
    `honest losses ${r.losses.withinBounds ? 'within bounds' : 'BEYOND BOUNDS'}: sellers' unpaid work ${r.losses.honestSellersUnpaidUc} µc (bound ${r.losses.honestSellersUnpaidBoundUc} µc), buyers overcharged ${r.losses.honestBuyersOverchargedUc} µc` +
      (r.losses.overdrafts.length > 0 ? `, forked accounts overdrawn ${r.losses.overdrafts.map(o => `${o.overdraftUc}/${o.boundUc}`).join(', ')} µc (bound)` : ''),
    `plan ${r.plan.digest.slice(0, 16)} (${r.plan.trafficTicks} traffic ticks, ${r.requests.skippedBusy} skipped: buyer busy)`
  ]
  if (r.doubleSpendFlaggedMs != null) lines.push(`double spender flagged on ${r.doubleSpendFlaggedMs.flaggedOn}/${r.doubleSpendFlaggedMs.nodes} nodes, ${f(r.doubleSpendFlaggedMs)}`)
  for (const [k, v] of Object.entries(r.figures)) lines.push(`${k}: ${String(v)}`)
  return lines
}

export async function simHandler (flags: SimFlags, io: CliIO, signal: AbortSignal, deps: SimHandlerDeps = {}): Promise<SimResult> {
  const o = parseSimFlags(flags)
  const tty = deps.tty ?? (process.stderr.isTTY === true && !o.json)
  let bar: SingleBar | undefined
  let phase = ''
  const onProgress = (p: SimProgress): void => {
    if (!tty) return
    if (p.phase !== phase) {
      bar?.stop()
      phase = p.phase
      if (p.phase === 'starting' || p.phase === 'warming' || p.phase === 'measuring' || p.phase === 'trading') {
        bar = new SingleBar({ format: `${p.phase} [{bar}] {value}/{total}`, stream: process.stderr }, Presets.shades_classic)
        bar.start(p.total, p.done)
      } else {
        bar = undefined
      }
      return
    }
    bar?.update(p.done)
    // the bar redraws on its own timer and clock, which on the virtual clock stand still while the
    // process is busy (starting 1,000 nodes takes minutes of wall time and no simulated time)
    bar?.render()
  }
  const result = await (deps.run ?? runSimulation)({ peers: o.peers, scenario: SCENARIOS[o.scenario], seed: o.seed, durationMs: o.durationMs, sellersShare: o.sellersShare, latencyMs: o.latencyMs, jitter: o.jitter, lossRate: o.lossRate, embeddedSellers: o.embeddedSellers, bootstrapNodes: o.bootstrapNodes, requestsPerSec: o.requestsPerSec, tokensPerSec: o.tokensPerSec, ttftMs: o.ttftMs, clock: o.clock, onProgress, signal })
  bar?.stop()
  if (o.report != null) await writeFile(o.report, await renderSimReport(result))
  if (o.json) io.out(JSON.stringify(result))
  else for (const l of simSummary(result)) io.out(l)
  return result
}

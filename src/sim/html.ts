/** The HTML report of one simulation run: tables and vega-lite plots of a SimResult. */
import { histogramSpec, lineSpec, renderHtmlReport, scatterSpec, type ReportSection } from './report.js'
import type { SimResult } from './simulation.js'
import type { Summary } from './stats.js'

function row (name: string, s: Summary, unit = 'ms'): Record<string, string | number> {
  return { metric: name, unit, count: s.count, p50: s.p50, p95: s.p95, max: s.max, mean: s.mean }
}

export async function renderSimReport (r: SimResult): Promise<string> {
  const sections: ReportSection[] = []
  sections.push({
    title: 'Run',
    note: `${r.description}. Sellers use the ${r.backend}. ` + (r.clock === 'virtual'
      ? `Time is simulated (virtual clock): every figure in ms is simulated time, each node as if on its own CPU; ${r.resources.simulatedMs} ms simulated took ${r.resources.wallMs} ms of wall time.`
      : `Time is wall time (real clock): every node shares this process's thread, so its load is in the figures; the run took ${r.resources.wallMs} ms.`),
    table: [{ scenario: r.scenario, clock: r.clock, seed: r.seed, plan: r.plan.digest.slice(0, 16), peers: r.peers, sellers: r.sellers, buyers: r.buyers, adversaries: r.adversaries, durationMs: r.durationMs, latencyMs: r.latencyMs }]
  })
  sections.push({
    title: 'Requests',
    table: [{ sent: r.requests.sent, completed: r.requests.completed, failed: r.requests.failed, withFallback: r.requests.withFallback, errors: JSON.stringify(r.requests.errors) }]
  })
  const timing = [
    row('offer propagation (every node has a new offer)', r.offerPropagationMs),
    row('negotiation', r.negotiationMs),
    row('time to first token', r.ttftMs),
    row('request', r.requestMs),
    row('settlement convergence (every node counts a settle/transfer)', r.settlementConvergenceMs)
  ]
  if (r.doubleSpendFlaggedMs != null) timing.push(row(`double spender flagged (on ${r.doubleSpendFlaggedMs.flaggedOn}/${r.doubleSpendFlaggedMs.nodes} nodes)`, r.doubleSpendFlaggedMs))
  for (const [k, s] of Object.entries(r.metrics)) timing.push(row(k, s, ''))
  sections.push({
    title: 'Timings',
    table: timing,
    charts: [
      histogramSpec('offer propagation', 'ms', r.samples.offerPropagationMs ?? []),
      histogramSpec('settlement convergence', 'ms', r.samples.settlementConvergenceMs ?? []),
      histogramSpec('time to first token', 'ms', r.samples.ttftMs ?? []),
      ...(r.samples.doubleSpendFlaggedMs != null ? [histogramSpec('double spender flagged', 'ms', r.samples.doubleSpendFlaggedMs)] : [])
    ]
  })
  sections.push({
    title: 'Ledger',
    note: 'distinct balance views among running nodes, sampled every second (1 = every node agrees)',
    table: [{ balancesAgree: r.balancesAgree, finalBalanceViews: r.finalBalanceViews, sumOfBalancesUc: r.sumOfBalancesUc, settledSessions: r.settledSessions }],
    charts: [lineSpec('ledger divergence', 'ms into the run', 'distinct views', r.divergence.map(d => ({ x: d.tMs, y: d.views })))]
  })
  sections.push({
    title: 'Market',
    note: `price dispersion (coefficient of variation) ${r.market.priceDispersionCv}; the cheapest third of honest sellers served ${r.market.cheapestThirdSharePct}% of requests`,
    table: r.market.sellers.map(s => ({ peer: s.index, adversary: s.adversary, priceOutUc: s.priceOutUc, requests: s.requests, sharePct: s.sharePct })),
    charts: [scatterSpec('market share vs price (arbitrage)', 'price out, µc per 1M tokens', 'share of requests, %', r.market.sellers.map(s => ({ x: Number(s.priceOutUc), y: s.sharePct, label: `peer ${s.index}${s.adversary !== '' ? ` (${s.adversary})` : ''}` })))]
  })
  const L = r.losses
  sections.push({
    title: 'Losses of honest accounts',
    note: `${L.withinBounds ? 'Every honest account lost no more than the protocols bound' : 'SOME LOSS EXCEEDS ITS BOUND'}. ` +
      'A seller risks at most one unpaid chunk plus the request\'s input tokens per request (window 1); a buyer is never charged above the voucher it signed; ' +
      'a forked account overdraws its credit line at most once per proven conflicting seq. ' +
      `${L.honestAccounts} honest accounts; the table lists those with unpaid work, an overcharge or an open lock.`,
    table: [{ honestSellersUnpaidUc: L.honestSellersUnpaidUc, honestSellersUnpaidBoundUc: L.honestSellersUnpaidBoundUc, honestBuyersOverchargedUc: L.honestBuyersOverchargedUc, withinBounds: L.withinBounds },
      ...L.accounts.map(a => ({ peer: a.index, role: a.role, unpaidWorkUc: a.unpaidWorkUc, unpaidBoundUc: a.unpaidBoundUc, unpaidRequests: a.unpaidRequests, overchargedUc: a.overchargedUc, lockedUc: a.lockedUc, withinBound: a.withinBound })),
      ...L.overdrafts.map(o => ({ peer: o.index, adversary: o.adversary, balanceUc: o.balanceUc, creditLimitUc: o.creditLimitUc, overdraftUc: o.overdraftUc, boundUc: o.boundUc, withinBound: o.withinBound }))]
  })
  sections.push({ title: 'Scenario figures', table: Object.entries(r.figures).map(([k, v]) => ({ figure: k, value: v })) })
  sections.push({ title: 'Resources', table: [r.resources] })
  sections.push({ title: 'Timeline', table: r.events.map(e => ({ tMs: e.tMs, what: e.what })) })
  return await renderHtmlReport(`Tally simulation: ${r.scenario}, ${r.peers} peers, seed ${r.seed}`, sections, r)
}

/** `tally demo`: a small real market in one process (see src/demo). */
import type { Command } from 'commander'
import { formatCredits, table } from '../api.js'
import { UsageError, type CliIO } from '../io.js'
import type { DemoApis, DemoResult } from '../../demo/index.js'

interface Flags { sellers?: string, requests?: string, concurrency?: string, json?: boolean, keepRunning?: boolean }

function count (v: string | undefined, flag: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt
  if (!/^[0-9]{1,6}$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${flag} must be an integer ${min}..${max}, got ${JSON.stringify(v)}`)
  return Number(v)
}

/** the demo's summary in words */
function summaryLines (r: DemoResult): string[] {
  const out: string[] = ['']
  out.push(`model ${r.model} (${r.params} parameters): real engine, toy weights`)
  for (const l of table(r.sellers.map(s => ({ seller: s.account, 'µc/1M out': s.priceOutPerMTokUc, served: s.served, 'tokens out': s.outputTokens, Bpt: s.bpt, 'earned (credits)': formatCredits(s.earnedUc) })))) out.push(l)
  out.push('')
  out.push(`buyer ${r.buyer.account} spent ${formatCredits(r.buyer.spentUc)} credits for ${r.buyer.bpt} Bpt (${r.completed}/${r.requests} requests completed)`)
  out.push(`balances agree on every node: ${r.balancesAgree ? 'yes' : 'no'}; sum of all balances: ${r.sumOfBalancesUc} µc`)
  out.push(`sample completion: ${JSON.stringify(r.sample.slice(0, 120))}`)
  return out
}

export function registerDemo (program: Command, io: CliIO, signal: AbortSignal): void {
  program.command('demo')
    .description('run a small real market in one process: sellers with the embedded tiny model, a buyer with the gateway')
    .option('--sellers <n>', 'seller nodes (1..8, default 3)')
    .option('--requests <n>', 'chat requests sent through the gateway (1..1000, default 10)')
    .option('--concurrency <n>', 'requests in flight at once (1..8, default 1; more lets the dearer sellers earn the overflow)')
    .option('--json', 'print one JSON object')
    .option('--keep-running', 'leave the market up after the requests (the buyer buys on, slowly), print the dashboard\'s and every node\'s API URL, stop on Ctrl-C')
    .action(async (f: Flags) => {
      const sellers = count(f.sellers, '--sellers', 1, 8, 3)
      const requests = count(f.requests, '--requests', 1, 1000, 10)
      const concurrency = count(f.concurrency, '--concurrency', 1, 8, 1)
      const json = f.json === true
      const { runDemo } = await import('../../demo/index.js')
      const keepRunning = f.keepRunning === true
        ? {
            signal,
            onUp: (r: DemoResult, apis: DemoApis) => {
              if (json) { io.out(JSON.stringify({ ...r, apis })); return }
              for (const l of summaryLines(r)) io.out(l)
              io.out('')
              io.out(`dashboard ${apis.dashboardUrl} (the buyer's node)`)
              for (const s of apis.sellers) io.out(`seller ${s.account} API ${s.url}`)
              io.out('the market stays up and the buyer buys on, one request every few seconds; Ctrl-C stops it')
            }
          }
        : undefined
      const r = await runDemo({ sellers, requests, concurrency, onProgress: json ? undefined : (l) => { io.out(l) }, keepRunning })
      if (keepRunning != null) {
        if (!json) io.out('demo market stopped')
        return
      }
      if (json) { io.out(JSON.stringify(r)); return }
      for (const l of summaryLines(r)) io.out(l)
      if (!r.balancesAgree || r.completed === 0) throw new Error('the demo market did not settle')
    })
}

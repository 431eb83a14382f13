/** `tally report [--by tag|model|seller] [--since 1h]`: what work cost, in Bpt and credits. */
import { Option, type Command } from 'commander'
import { callApi, formatCredits, table, API_FLAG_HELP, DATA_DIR_FLAG_HELP, type ApiFlags } from '../api.js'
import { UsageError, type CliIO } from '../io.js'

interface Flags extends ApiFlags { by?: string, since?: string, json?: boolean }

/** "90s", "15m", "2h", "7d" ago, or an ISO date → unix ms */
export function parseSince (v: string, nowMs: number): number {
  const m = /^([0-9]{1,9})(s|m|h|d)$/.exec(v)
  if (m != null) return nowMs - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's']
  const t = Date.parse(v)
  if (Number.isNaN(t)) throw new UsageError(`--since must be like 30m, 2h, 7d or an ISO date, got ${JSON.stringify(v)}`)
  return t
}

export function registerReport (program: Command, io: CliIO): void {
  program.command('report')
    .description('compute cost report: requests, tokens, Bpt and credits per tag, model or seller; spent is what the ledger settled, vouchers signed beyond it are shown apart')
    .addOption(new Option('--by <group>', 'group by').choices(['tag', 'model', 'seller']).default('tag'))
    .option('--since <when>', 'only entries since (30m, 2h, 7d, or an ISO date)')
    .option('--api <url>', API_FLAG_HELP)
    .option('--data-dir <dir>', DATA_DIR_FLAG_HELP)
    .option('--json', 'print JSON')
    .action(async (f: Flags) => {
      const since = f.since != null ? `&since=${parseSince(f.since, Date.now())}` : ''
      const r = await callApi(f, io, `/tally/report?by=${f.by ?? 'tag'}${since}`)
      if (f.json === true) { io.out(JSON.stringify(r)); return }
      for (const l of table(r.rows.map((x: any) => ({ [r.by]: x.key, requests: x.requests, 'tokens in': x.inputTokens, 'tokens out': x.outputTokens, Bpt: x.bpt, 'spent (credits)': formatCredits(x.spentUc), 'signed, unsettled': formatCredits(x.pendingUc), 'signed, never charged': formatCredits(x.unchargedUc), 'paid (credits)': formatCredits(x.paymentsSentUc), 'received (credits)': formatCredits(x.paymentsReceivedUc) })))) io.out(l)
    })
}

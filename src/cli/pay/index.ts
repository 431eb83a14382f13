/** `tally pay <account> <amount>`: one agent pays another through the running node. */
import type { Command } from 'commander'
import { callApi, formatCredits, parseAmountUc, API_FLAG_HELP, DATA_DIR_FLAG_HELP, type ApiFlags } from '../api.js'
import type { CliIO } from '../io.js'

interface Flags extends ApiFlags { memo?: string, tag?: string, json?: boolean }

export function registerPay (program: Command, io: CliIO): void {
  program.command('pay <account> <amount>')
    .description('pay another account: amount in µc (250000) or credits (0.25c)')
    .option('--memo <text>', 'what the payment is for (≤ 256 bytes)')
    .option('--tag <tag>', 'cost-accounting tag (≤ 64 bytes)')
    .option('--api <url>', API_FLAG_HELP)
    .option('--data-dir <dir>', DATA_DIR_FLAG_HELP)
    .option('--json', 'print JSON')
    .action(async (account: string, amount: string, f: Flags) => {
      const amountUc = parseAmountUc(amount)
      const r = await callApi(f, io, '/tally/pay', { method: 'POST', body: { to: account, amount_uc: amountUc.toString(), memo: f.memo, tag: f.tag } })
      if (f.json === true) { io.out(JSON.stringify(r)); return }
      io.out(`paid ${formatCredits(r.amountUc)} credits to ${r.to} (record ${String(r.id).slice(0, 16)}…)`)
    })
}

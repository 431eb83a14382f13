/** `tally history [account]`: the ledger records that moved an account's balance. */
import type { Command } from 'commander'
import { callApi, formatCredits, table, API_FLAG_HELP, DATA_DIR_FLAG_HELP, type ApiFlags } from '../api.js'
import type { CliIO } from '../io.js'

interface Flags extends ApiFlags { json?: boolean }

export function registerHistory (program: Command, io: CliIO): void {
  program.command('history [account]')
    .description('ledger history of this node\'s account (or another)')
    .option('--api <url>', API_FLAG_HELP)
    .option('--data-dir <dir>', DATA_DIR_FLAG_HELP)
    .option('--json', 'print JSON')
    .action(async (account: string | undefined, f: Flags) => {
      const r = await callApi(f, io, `/tally/history${account != null ? `?account=${encodeURIComponent(account)}` : ''}`)
      if (f.json === true) { io.out(JSON.stringify(r)); return }
      io.out(`account ${r.account}`)
      for (const l of table(r.entries.map((e: any) => ({ seq: e.seq, type: e.type, counterparty: e.counterparty ?? '', delta: formatCredits(e.deltaUc), memo: e.memo })))) io.out(l)
    })
}

/** `tally balance [account] [--all]`: balances from the running node's ledger. */
import type { Command } from 'commander'
import { callApi, formatCredits, table, type ApiFlags } from '../api.js'
import type { CliIO } from '../io.js'

interface Flags extends ApiFlags { all?: boolean, json?: boolean }

export function registerBalance (program: Command, io: CliIO): void {
  program.command('balance [account]')
    .description('balance of this node\'s account (or another, or --all) in the CRDT ledger')
    .option('--all', 'every account the ledger knows, with the sum (always 0)')
    .option('--api <url>', 'the node\'s API (default http://127.0.0.1:8080, env TALLY_API)')
    .option('--json', 'print JSON')
    .action(async (account: string | undefined, f: Flags) => {
      if (f.all === true) {
        const r = await callApi(f, io, '/tally/balance?all=true')
        if (f.json === true) { io.out(JSON.stringify(r)); return }
        for (const l of table(r.balances.map((b: any) => ({ account: b.account, balance: formatCredits(b.balanceUc), locked: formatCredits(b.lockedUc), flagged: b.flagged ? 'yes' : '' })))) io.out(l)
        io.out(`sum ${formatCredits(r.sumUc)} credits`)
        return
      }
      const b = await callApi(f, io, `/tally/balance${account != null ? `?account=${encodeURIComponent(account)}` : ''}`)
      if (f.json === true) { io.out(JSON.stringify(b)); return }
      io.out(`account   ${b.account}`)
      io.out(`balance   ${formatCredits(b.balanceUc)} credits`)
      io.out(`locked    ${formatCredits(b.lockedUc)} credits (open sessions)`)
      io.out(`spendable ${formatCredits(b.spendableUc)} credits (credit limit ${formatCredits(b.creditLimitUc)})`)
      if (b.availableUc != null) io.out(`available ${formatCredits(b.availableUc)} credits (balance − locked − lines granted)`)
      for (const l of creditLineRows(b.lines)) io.out(l)
      if (b.flagged === true) io.out('FLAGGED: this account signed two records for one seq')
    })
}

/** the credit lines an account granted (it bears them) and received, from the balance answer's `lines` */
export function creditLineRows (lines: { granted?: any[], received?: any[] } | undefined): string[] {
  const out: string[] = []
  const granted = lines?.granted ?? []
  const received = lines?.received ?? []
  if (granted.length > 0) {
    out.push('credit lines granted (borne by this account):')
    for (const l of table(granted.map((g: any) => ({ grantee: g.grantee, amount: formatCredits(g.amountUc), used: formatCredits(g.usedUc), unused: formatCredits(g.unusedUc) })))) out.push(`  ${l}`)
  }
  if (received.length > 0) {
    out.push('credit lines received:')
    for (const l of table(received.map((r: any) => ({ grantor: r.grantor, amount: formatCredits(r.amountUc), used: formatCredits(r.usedUc), acked: r.acked === true ? 'yes' : 'not yet' })))) out.push(`  ${l}`)
  }
  return out
}

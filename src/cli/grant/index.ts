/** `tally grant <account> <amount>` and `tally revoke <grant-id> <amount>`: explicit credit lines through the running node (protocols/ledger.md, grant and revoke). */
import type { Command } from 'commander'
import { callApi, formatCredits, parseAmountUc, API_FLAG_HELP, DATA_DIR_FLAG_HELP, type ApiFlags } from '../api.js'
import { UsageError, type CliIO } from '../io.js'

interface Flags extends ApiFlags { json?: boolean }

export function registerGrant (program: Command, io: CliIO): void {
  program.command('grant <account> <amount>')
    .description('extend another account a credit line backed by your own funds: amount in µc (250000) or credits (0.25c); you bear what it spends of it')
    .option('--api <url>', API_FLAG_HELP)
    .option('--data-dir <dir>', DATA_DIR_FLAG_HELP)
    .option('--json', 'print JSON')
    .action(async (account: string, amount: string, f: Flags) => {
      const amountUc = parseAmountUc(amount)
      const r = await callApi(f, io, '/tally/grant', { method: 'POST', body: { to: account, amount_uc: amountUc.toString() } })
      if (f.json === true) { io.out(JSON.stringify(r)); return }
      io.out(`granted ${formatCredits(r.amountUc)} credits to ${r.to} (grant ${String(r.id)})`)
    })
  program.command('revoke <grant-id> <amount>')
    .description('take back part of a grant (the grantee gives back only what it has not used): amount in µc or credits (0.25c)')
    .option('--api <url>', API_FLAG_HELP)
    .option('--data-dir <dir>', DATA_DIR_FLAG_HELP)
    .option('--json', 'print JSON')
    .action(async (grantId: string, amount: string, f: Flags) => {
      if (!/^[0-9a-f]{64}$/.test(grantId)) throw new UsageError(`grant-id must be the grant's record id (64 lowercase hex), got ${JSON.stringify(grantId)}`)
      const amountUc = parseAmountUc(amount)
      const r = await callApi(f, io, '/tally/revoke', { method: 'POST', body: { grant_id: grantId, amount_uc: amountUc.toString() } })
      if (f.json === true) { io.out(JSON.stringify(r)); return }
      io.out(`revoked ${formatCredits(r.amountUc)} credits of grant ${grantId.slice(0, 16)}… (record ${String(r.id).slice(0, 16)}…)`)
    })
}

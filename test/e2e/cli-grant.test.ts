/**
 * `tally grant` / `tally revoke` through a running node's API (real nodes on the memory transport,
 * real HTTP gateway, the CLI in process): the grantee auto-acks the line and spends it, the
 * grantor gets back only the unused part of a revoke, and a grant above the grantor's own funds
 * is refused with grant-unbacked (protocols/ledger.md, grant and revoke).
 */
import { describe, expect, it } from 'vitest'
import { startGateway } from '../../src/api/gateway.js'
import { main } from '../../src/cli/main.js'
import type { CliIO } from '../../src/cli/io.js'
import { startNode, trackGateway, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

async function tally (api: string, ...args: string[]): Promise<{ code: number, out: string[], err: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const io: CliIO = { out: l => { out.push(l) }, err: l => { err.push(l) }, env: {} }
  const code = await main(['node', 'tally', ...args, '--api', api], { io, signal: new AbortController().signal })
  return { code, out, err }
}

describe('tally grant / revoke', () => {
  it('grants a line the grantee spends, revokes the unused part, refuses a grant above own funds', async () => {
    const a = await startNode()
    const b = await startNode({ bootstrap: a.addrs() })
    const c = await startNode({ bootstrap: a.addrs() })
    const gw = trackGateway(await startGateway(a, { port: 0 }))
    const limit = a.ledger.balance().creditLimitUc
    expect(limit).toBeGreaterThan(0n)

    const g = await tally(gw.url, 'grant', b.account, '2000000', '--json')
    expect(g.code).toBe(0)
    const grantId = JSON.parse(g.out[0]).id as string
    // b acks the grant by itself; everyone sees the line
    await waitFor(() => a.ledger.grants(b.account).linesUc === 2_000_000n && c.ledger.grants(b.account).linesUc === 2_000_000n, 'b acked the grant')
    expect(a.ledger.grants()).toEqual({ grantedUc: 2_000_000n, linesUc: 0n })
    expect(a.ledger.balance().availableUc).toBe(-2_000_000n)

    // b spends its whole default line and 1.5 credits of the grant
    await b.pay(c.account, limit + 1_500_000n)
    await waitFor(() => a.ledger.balance(b.account).balanceUc === -(limit + 1_500_000n), 'b\'s payment at a')

    // a grant above a's own funds: the CLI reports grant-unbacked, exit 1
    const over = await tally(gw.url, 'grant', c.account, (limit - 2_000_000n + 1n).toString())
    expect(over.code).toBe(1)
    expect(over.err.join('\n')).toMatch(/grant-unbacked/)

    // revoking 1 credit: b has used 1.5 of the 2, so it cannot give 1 back; 0.5 it can
    expect((await tally(gw.url, 'revoke', grantId, '1c')).code).toBe(0)
    expect((await tally(gw.url, 'revoke', grantId, '0.5c')).code).toBe(0)
    await waitFor(() => a.ledger.grants().grantedUc === 1_500_000n, 'the unused 0.5 credits came back to a')
    expect(b.ledger.grants()).toEqual({ grantedUc: 0n, linesUc: 1_500_000n })
    // a revoke of a grant that is not a's, and a malformed grant id
    expect((await tally(gw.url, 'revoke', 'ab'.repeat(32), '1')).code).toBe(1)
    expect((await tally(gw.url, 'revoke', 'nope', '1')).code).toBe(2)
  })
})

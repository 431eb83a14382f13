/**
 * Credit lines as `balance()` shows them (src/node/credit-lines.ts): granted (amount still borne,
 * used, unused) and received (from whom, amount, used), the draw put on the grantee's lines in
 * the order its chain acked them; the seller's trusted-grantors arithmetic on the same lines.
 */
import { describe, expect, it } from 'vitest'
import { fromHex } from '../../../src/ledger/record.js'
import { creditLines, receivedLines } from '../../../src/node/credit-lines.js'
import { spendableTrusting } from '../../../src/contract/policy.js'
import { World, CREDIT_LIMIT } from '../ledger/world.js'

describe('credit lines', () => {
  it('two lines drawn oldest-acked first; both grantors and the grantee see the same figures; a revoke returns only the unused part', async () => {
    const w = new World(5)
    const hex = (i: number): string => Buffer.from(w.key(i)).toString('hex')
    const id = (i: number): string => w.actors[0].ledger.accountId(hex(i))
    await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 5_000n })
    await w.sign(0, { type: 'credit', to: w.key(2), amountUc: 5_000n })
    await w.sign(1, { type: 'ack' })
    await w.sign(2, { type: 'ack' })
    const g1 = await w.sign(1, { type: 'grant', to: w.key(3), amountUc: 2_000n })
    // not acked yet: counted as incoming (a seller's trust rule sees it), nothing used
    expect(receivedLines(w.actors[0].ledger, hex(3))).toEqual([{ grantId: g1.id, grantor: id(1), grantorKey: hex(1), amountUc: 2_000n, usedUc: 0n, acked: false }])
    await w.sign(3, { type: 'ack' })
    const g2 = await w.sign(2, { type: 'grant', to: w.key(3), amountUc: 3_000n })
    await w.sign(3, { type: 'ack' })
    // the grantee spends its network line and 2,500 µc of its lines: the first line acked is drawn first
    await w.sign(3, { type: 'transfer', to: w.key(4), amountUc: CREDIT_LIMIT + 2_500n })
    for (const l of [w.actors[0].ledger, w.actors[3].ledger, w.fresh()]) {
      expect(creditLines(l, w.key(3))).toEqual({
        granted: [],
        received: [
          { grantId: g1.id, grantor: id(1), amountUc: 2_000n, usedUc: 2_000n, acked: true },
          { grantId: g2.id, grantor: id(2), amountUc: 3_000n, usedUc: 500n, acked: true }
        ]
      })
      expect(creditLines(l, w.key(1)).granted).toEqual([{ grantId: g1.id, grantee: id(3), amountUc: 2_000n, usedUc: 2_000n, unusedUc: 0n }])
      expect(creditLines(l, w.key(2)).granted).toEqual([{ grantId: g2.id, grantee: id(3), amountUc: 3_000n, usedUc: 500n, unusedUc: 2_500n }])
    }
    // what a seller trusting one grantor lets it lock: its headroom as if the other line did not
    // exist (own funds and the network line are 2,500 below 0), whichever line the display draws first
    const l0 = w.actors[0].ledger
    const lines = receivedLines(l0, hex(3), false).map(l => ({ grantor: l.grantorKey, amountUc: l.amountUc }))
    expect(l0.balance(w.key(3)).spendableUc).toBe(2_500n)
    expect(spendableTrusting(2_500n, lines, [w.key(1)])).toBe(-500n)
    expect(spendableTrusting(2_500n, lines, [w.key(2)])).toBe(500n)
    expect(spendableTrusting(2_500n, lines, [w.key(1), w.key(2)])).toBe(2_500n)
    // grantor 2 takes back 1,000 of its unused 2,500: the grantee acks it, the grantor acks the return
    await w.sign(2, { type: 'revoke', grantId: fromHex(g2.id), amountUc: 1_000n })
    await w.sign(3, { type: 'ack' })
    await w.sign(2, { type: 'ack' })
    expect(creditLines(l0, w.key(3)).received[1]).toEqual({ grantId: g2.id, grantor: id(2), amountUc: 2_000n, usedUc: 500n, acked: true })
    expect(creditLines(l0, w.key(2)).granted).toEqual([{ grantId: g2.id, grantee: id(3), amountUc: 2_000n, usedUc: 500n, unusedUc: 1_500n }])
    expect(l0.grants(w.key(2)).grantedUc).toBe(2_000n)
  })
})

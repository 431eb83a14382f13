/** Explicit credit lines (protocols/ledger.md § Validity, grant and revoke; issue 14.1): a grant backed by the grantor's own funds, revocable for the unused part. */
import { describe, expect, it } from 'vitest'
import { fromHex, signRecord, type RecordKindInput } from '../../../src/ledger/record.js'
import { InvalidRecordError } from '../../../src/ledger/errors.js'
import { LedgerService } from '../../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { waitFor } from '../../helpers/wait.js'
import { World, CREDIT_LIMIT } from './world.js'

/** issuer 0 credits account 1 with 5,000 µc, which it acks; account 1 grants account 2 a 3,000 µc line */
async function granted (n = 4): Promise<{ w: World, grant: string, raw: (i: number, seq: bigint, prev: string, kind: RecordKindInput, acks?: string[]) => ReturnType<typeof signRecord> }> {
  const w = new World(n)
  await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 5_000n })
  await w.sign(1, { type: 'ack' })
  const g = await w.sign(1, { type: 'grant', to: w.key(2), amountUc: 3_000n })
  const net = w.actors[0].ledger.net
  const raw = (i: number, seq: bigint, prev: string, kind: RecordKindInput, acks: string[] = []): ReturnType<typeof signRecord> =>
    signRecord(w.actors[i].signer, { net, seq, prev: prev === '' ? undefined : fromHex(prev), kind, acks: acks.map(fromHex) })
  return { w, grant: g.id, raw }
}

const reasonOf = async (p: Promise<unknown>): Promise<string | undefined> => await p.then(() => undefined, (err: unknown) => err instanceof InvalidRecordError ? err.reason : String(err))

describe('grants: explicit credit lines', () => {
  it('the grantee spends the line once it acks the grant; the grantor holds the grant like a lock', async () => {
    const { w } = await granted()
    const l = w.actors[0].ledger
    // before the grantee acks, the line is only unacked incoming headroom
    expect(l.grants(w.key(2))).toEqual({ grantedUc: 0n, linesUc: 0n })
    expect(l.balance(w.key(2)).spendableUc).toBe(CREDIT_LIMIT + 3_000n)
    await w.sign(2, { type: 'ack' })
    expect(l.grants(w.key(2))).toEqual({ grantedUc: 0n, linesUc: 3_000n })
    expect(l.grants(w.key(1))).toEqual({ grantedUc: 3_000n, linesUc: 0n })
    expect(l.balance(w.key(1))).toMatchObject({ balanceUc: 5_000n, availableUc: 2_000n, spendableUc: 2_000n + CREDIT_LIMIT })
    // the grantee spends down to −(limit + line), not one µc more
    expect(await reasonOf(w.actors[2].ledger.createRecord({ type: 'transfer', to: w.key(3), amountUc: CREDIT_LIMIT + 3_001n }))).toMatch(/InsufficientCredit|overspend/)
    await w.sign(2, { type: 'transfer', to: w.key(3), amountUc: CREDIT_LIMIT + 3_000n })
    expect(l.balance(w.key(2))).toMatchObject({ balanceUc: -(CREDIT_LIMIT + 3_000n), spendableUc: 0n })
    // a grant moves no balance
    expect(l.balance(w.key(1)).balanceUc).toBe(5_000n)
    expect(l.totalUc()).toBe(0n)
  })

  it('rejects a grant above the grantor\'s own funds, and a grant backed by a received line (grant-unbacked)', async () => {
    const { w, raw } = await granted()
    // account 1: 5,000 own + 1,000 limit − 3,000 granted = 3,000 left to grant
    expect(await reasonOf(w.actors[1].ledger.createRecord({ type: 'grant', to: w.key(3), amountUc: 3_001n }))).toBe('grant-unbacked')
    await w.sign(1, { type: 'grant', to: w.key(3), amountUc: 3_000n })
    // account 2 holds a 3,000 line but only its own 1,000 limit backs a grant
    await w.sign(2, { type: 'ack' })
    const head2 = w.actors[2].ledger.chain(w.key(2), 1n, 10).at(-1)!
    expect(w.fresh().add(raw(2, head2.seq + 1n, head2.id, { type: 'grant', to: w.key(3), amountUc: CREDIT_LIMIT + 1n }).bytes)).toMatchObject({ status: 'rejected', reason: 'grant-unbacked' })
    expect(w.fresh().add(raw(2, head2.seq + 1n, head2.id, { type: 'grant', to: w.key(3), amountUc: CREDIT_LIMIT }).bytes).status).toBe('accepted')
  })

  it('rejects a revoke by another account than the grant\'s author, a revoke above the grant, a revoke of a non-grant (bad-revoke)', async () => {
    const { w, grant, raw } = await granted()
    expect(w.fresh().add(raw(3, 1n, '', { type: 'revoke', grantId: fromHex(grant), amountUc: 1n }).bytes)).toMatchObject({ status: 'rejected', reason: 'bad-revoke' })
    await w.sign(1, { type: 'revoke', grantId: fromHex(grant), amountUc: 2_000n })
    expect(await reasonOf(w.actors[1].ledger.createRecord({ type: 'revoke', grantId: fromHex(grant), amountUc: 1_001n }))).toBe('bad-revoke')
    await w.sign(1, { type: 'revoke', grantId: fromHex(grant), amountUc: 1_000n })
    expect(await reasonOf(w.actors[1].ledger.createRecord({ type: 'revoke', grantId: fromHex(grant), amountUc: 1n }))).toBe('bad-revoke')
    const head1 = w.actors[1].ledger.chain(w.key(1), 1n, 10).at(-1)!
    expect(w.fresh().add(raw(1, head1.seq + 1n, head1.id, { type: 'revoke', grantId: fromHex(head1.id), amountUc: 1n }).bytes)).toMatchObject({ status: 'rejected', reason: 'bad-revoke' })
  })

  it('rejects the ack of a revoke whose grant the chain never acked (bad-ack); a grant and its revoke may be acked together', async () => {
    const { w, grant, raw } = await granted()
    const rv = await w.sign(1, { type: 'revoke', grantId: fromHex(grant), amountUc: 1_000n })
    expect(w.fresh().add(raw(2, 1n, '', { type: 'ack' }, [rv.id]).bytes)).toMatchObject({ status: 'rejected', reason: 'bad-ack' })
    const both = raw(2, 1n, '', { type: 'ack' }, [rv.id, grant])
    const l = w.fresh([...w.records, both.bytes])
    expect(l.has(both.id)).toBe(true)
    expect(l.grants(w.key(2)).linesUc).toBe(2_000n)
  })

  it('only the unused part of a line can be revoked: the grantee acks a revoke only while its headroom covers it', async () => {
    const { w, grant } = await granted()
    await w.sign(2, { type: 'transfer', to: w.key(3), amountUc: 2_500n })
    const l2 = w.actors[2].ledger
    const big = await w.sign(1, { type: 'revoke', grantId: fromHex(grant), amountUc: 2_000n })
    // −2,500 would be below −(1,000 + 1,000): the ack of this revoke overspends
    expect(await reasonOf(l2.createRecord({ type: 'ack' }))).toMatch(/InsufficientCredit|overspend/)
    // a record that spends nothing more still goes out, without that ack
    await w.sign(0, { type: 'credit', to: w.key(2), amountUc: 10n })
    const r = await w.sign(2, { type: 'ack' })
    expect(l2.get(r.id)!.rec.acks).not.toContain(big.id)
    expect(l2.grants(w.key(2)).linesUc).toBe(3_000n)
    // once the grantee has funds of its own it acks the revoke
    await w.sign(0, { type: 'credit', to: w.key(2), amountUc: 2_000n })
    const r2 = await w.sign(2, { type: 'ack' })
    expect(l2.get(r2.id)!.rec.acks).toContain(big.id)
    expect(l2.grants(w.key(2)).linesUc).toBe(1_000n)
  })

  it('the grantee acks the revokes its headroom covers even when a larger one waits beside them', async () => {
    const { w, grant } = await granted()
    // 3,000 used of 1,000 + 3,000: 1,000 can come back, not 1,500
    await w.sign(2, { type: 'transfer', to: w.key(3), amountUc: 3_000n })
    const big = await w.sign(1, { type: 'revoke', grantId: fromHex(grant), amountUc: 1_000n })
    const small = await w.sign(1, { type: 'revoke', grantId: fromHex(grant), amountUc: 500n })
    const r = await w.sign(2, { type: 'ack' })
    expect(w.actors[2].ledger.get(r.id)!.rec.acks).toEqual([small.id])
    expect(w.actors[2].ledger.unackedIncoming(w.key(2))).toEqual([big.id])
    expect(w.actors[0].ledger.grants(w.key(2)).linesUc).toBe(2_500n)
  })

  it('the grantor gets a revoked part back by acking the grantee\'s revoke-ack, once: a forked grantee acking one revoke on two branches returns it once (double-release)', async () => {
    const { w, grant, raw } = await granted()
    const ackGrant = await w.sign(2, { type: 'ack' })
    const rv = await w.sign(1, { type: 'revoke', grantId: fromHex(grant), amountUc: 1_000n })
    // the grantee forks: two records at seq 2, each acking the revoke
    const b1 = raw(2, 2n, ackGrant.id, { type: 'ack' }, [rv.id])
    const b2 = raw(2, 2n, ackGrant.id, { type: 'transfer', to: w.key(3), amountUc: 1n }, [rv.id])
    w.deliver(b1.bytes)
    w.deliver(b2.bytes)
    const l = w.actors[0].ledger
    expect(l.isFlagged(w.key(2))).toBe(true)
    expect(l.grants(w.key(2)).linesUc).toBe(2_000n)
    // the grantor's honest ack returns the revoke once and leaves the other branch's ack alone
    expect(w.actors[1].ledger.unackedIncoming(w.key(1))).toEqual([b1.id < b2.id ? b1.id : b2.id])
    const ret = await w.sign(1, { type: 'ack' })
    expect(w.actors[1].ledger.get(ret.id)!.rec.acks).toHaveLength(1)
    expect(l.grants(w.key(1)).grantedUc).toBe(2_000n)
    expect(w.actors[1].ledger.unackedIncoming(w.key(1))).toEqual([])
    // acking the other branch's record returns the same revoke a second time: invalid
    const other = w.actors[1].ledger.get(ret.id)!.rec.acks[0] === b1.id ? b2.id : b1.id
    const retSeq = w.actors[1].ledger.get(ret.id)!.rec.seq
    expect(w.fresh().add(raw(1, retSeq + 1n, ret.id, { type: 'ack' }, [other]).bytes)).toMatchObject({ status: 'rejected', reason: 'double-release' })
    // and both in one record
    const head1 = w.actors[1].ledger.get(ret.id)!.rec.prev
    expect(w.fresh().add(raw(1, retSeq, head1, { type: 'ack' }, [b1.id, b2.id]).bytes)).toMatchObject({ status: 'rejected', reason: 'double-release' })
  })

  it('LedgerService: grant and revoke; the grantee auto-acks the grant and the revoke, the grantor auto-acks the return', async () => {
    const w = new World(3)
    const svc = w.actors.slice(1).map(a => new LedgerService({ genesis: w.genesis, signer: a.signer, store: new MemoryLedgerStore(), releaseCheckMs: 0 }))
    await Promise.all(svc.map(async s => { await s.start() }))
    const all = [...svc]
    for (const s of all) s.onRecord(bytes => { for (const o of all) if (o !== s) o.add(bytes) })
    const c = await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 4_000n })
    for (const s of all) s.add(c.bytes)
    await waitFor(() => svc[0].balance().balanceUc === 4_000n)
    const g = await svc[0].grant(w.key(2), 2_000n)
    await waitFor(() => svc[0].grants(w.key(2)).linesUc === 2_000n)
    await expect(svc[0].grant(w.key(2), 3_001n)).rejects.toMatchObject({ reason: 'grant-unbacked' })
    await expect(svc[1].revoke(g.id, 1n)).rejects.toMatchObject({ code: 'invalid-argument' })
    await svc[0].revoke(g.id, 500n)
    await waitFor(() => svc[0].grants().grantedUc === 1_500n)
    expect(svc[1].grants()).toEqual({ grantedUc: 0n, linesUc: 1_500n })
    // history: the grant and the revoke name the other side and move no balance
    expect(svc[1].history().filter(h => h.type === 'grant' || h.type === 'revoke').map(h => [h.type, h.counterparty, h.deltaUc])).toEqual([['grant', svc[0].account, 0n], ['revoke', svc[0].account, 0n]])
    await Promise.all(svc.map(async s => { await s.stop() }))
  })
})

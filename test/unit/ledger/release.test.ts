/** Locks end (protocols/ledger.md § Validity, release; issue 14.4): the buyer releases an unsettled lock after its contract's end + grace. */
import { describe, expect, it } from 'vitest'
import { fromHex, signRecord, signVoucher } from '../../../src/ledger/record.js'
import { RELEASE_GRACE_MS } from '../../../src/ledger/validity.js'
import { LedgerService } from '../../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { World, CREDIT_LIMIT } from './world.js'

const cid = (n: number): Uint8Array => new Uint8Array(32).fill(n)
const END = 1_000_000n
const DUE = END + BigInt(RELEASE_GRACE_MS)

/** buyer 1 opens a 600 µc lock with seller 2 for a contract ending at END */
async function opened (w: World, endsAtMs = END): Promise<{ open: string, net: Uint8Array, release: (seq: bigint, prev: string, time: bigint, signer?: number) => ReturnType<typeof signRecord> }> {
  const net = w.actors[0].ledger.net
  const open = await w.sign(1, { type: 'open', seller: w.key(2), contractId: cid(1), maxSpendUc: 600n, endsAtMs })
  const release = (seq: bigint, prev: string, time: bigint, signer = 1): ReturnType<typeof signRecord> =>
    signRecord(w.actors[signer].signer, { net, seq, prev: prev === '' ? undefined : fromHex(prev), time, kind: { type: 'release', openId: fromHex(open.id) } })
  return { open: open.id, net, release }
}

describe('release: locks end', () => {
  it('the buyer releases an unsettled lock from end + grace; its headroom comes back once', async () => {
    const w = new World(3)
    const { open, release } = await opened(w)
    const buyer = w.actors[1].ledger
    expect(buyer.balance(w.key(1))).toMatchObject({ lockedUc: 600n, spendableUc: CREDIT_LIMIT - 600n })
    expect(buyer.add(release(2n, open, DUE - 1n).bytes)).toMatchObject({ status: 'rejected', reason: 'release-too-early' })
    const r = release(2n, open, DUE)
    expect(buyer.add(r.bytes).status).toBe('accepted')
    expect(buyer.balance(w.key(1))).toMatchObject({ lockedUc: 0n, availableUc: 0n, spendableUc: CREDIT_LIMIT })
    // a second release of the same open
    expect(w.fresh([...w.records, r.bytes]).add(release(3n, r.id, DUE + 1n).bytes)).toMatchObject({ status: 'rejected', reason: 'double-release' })
  })

  it('rejects a release of another account\'s open, of an open without an end, of a settled-and-acked open, of a non-open', async () => {
    const w = new World(3)
    const { open, release } = await opened(w)
    // the seller (or anyone else) cannot release the buyer's lock
    expect(w.fresh().add(release(1n, '', DUE, 2).bytes)).toMatchObject({ status: 'rejected', reason: 'bad-release' })
    // an open with no end is released only by a settle
    const w2 = new World(3)
    const o2 = await opened(w2, 0n)
    expect(w2.fresh().add(o2.release(2n, o2.open, DUE * 10n).bytes)).toMatchObject({ status: 'rejected', reason: 'bad-release' })
    // settled and acked: the lock was released by the ack
    await w.sign(2, { type: 'settle', openId: fromHex(open), amountUc: 0n })
    const ack = await w.sign(1, { type: 'ack' })
    expect(w.fresh().add(release(3n, ack.id, DUE).bytes)).toMatchObject({ status: 'rejected', reason: 'double-release' })
    // a release naming a record that is not an open
    const net = w.actors[0].ledger.net
    const notOpen = signRecord(w.actors[1].signer, { net, seq: 3n, prev: fromHex(ack.id), time: DUE, kind: { type: 'release', openId: fromHex(ack.id) } })
    expect(w.fresh().add(notOpen.bytes)).toMatchObject({ status: 'rejected', reason: 'bad-release' })
  })

  it('a settle after the release still pays the seller; the buyer acks it without a second release; the overdraft is that lock at most', async () => {
    const w = new World(3)
    const { open, net, release } = await opened(w)
    // the buyer spends all its headroom once the lock is released
    const r = release(2n, open, DUE)
    w.deliver(r.bytes)
    const spend = await w.sign(1, { type: 'transfer', to: w.key(0), amountUc: CREDIT_LIMIT })
    // then the seller settles late with the buyer's voucher for 400
    const voucher = signVoucher(w.actors[1].signer, net, { contractId: cid(1), nonce: 3n, amountUc: 400n })
    const settle = await w.sign(2, { type: 'settle', openId: fromHex(open), voucher, amountUc: 400n })
    for (const l of [w.fresh(), w.fresh([...w.records].reverse())]) {
      expect(l.balance(w.key(2)).balanceUc).toBe(400n)
      expect(l.balance(w.key(1))).toMatchObject({ balanceUc: -CREDIT_LIMIT - 400n, lockedUc: 0n })
      expect(l.overdraftUc(w.key(1))).toBe(400n)
      expect(l.balance(w.key(1)).availableUc).toBeGreaterThanOrEqual(-(CREDIT_LIMIT + l.overdraftUc(w.key(1))))
      expect(l.totalUc()).toBe(0n)
    }
    // the honest buyer acks the late settle (a debit, no second release) and cannot spend until it earns
    const buyer = w.actors[1].ledger
    expect(buyer.unackedIncoming(w.key(1))).toEqual([settle.id])
    expect(buyer.balance(w.key(1)).spendableUc).toBe(-400n)
    const ack = signRecord(w.actors[1].signer, { net, seq: 4n, prev: fromHex(spend.id), acks: [fromHex(settle.id)], kind: { type: 'ack' } })
    expect(buyer.add(ack.bytes).status).toBe('accepted')
    expect(buyer.headState(buyer.keyOf(w.key(1)))).toMatchObject({ locked: 0n, debits: CREDIT_LIMIT + 400n })
    await expect(buyer.createRecord({ type: 'transfer', to: w.key(0), amountUc: 1n })).rejects.toMatchObject({ name: 'InsufficientCreditError' })
  })

  it('a node releases its own stuck locks once past end + grace, and none a settle released', async () => {
    const w = new World(3)
    let nowMs = 0
    const svc = new LedgerService({ genesis: w.genesis, signer: w.actors[1].signer, store: new MemoryLedgerStore(), now: () => nowMs, releaseCheckMs: 0 })
    await svc.start()
    const stuck = await svc.openSession({ seller: w.key(2), contractId: cid(1), maxSpendUc: 300n, endsAtMs: END })
    const settled = await svc.openSession({ seller: w.key(2), contractId: cid(2), maxSpendUc: 300n, endsAtMs: END })
    await svc.openSession({ seller: w.key(2), contractId: cid(3), maxSpendUc: 300n })
    const settle = signRecord(w.actors[2].signer, { net: svc.ledger.net, seq: 1n, kind: { type: 'settle', openId: fromHex(settled.id), amountUc: 0n } })
    expect(svc.add(settle.bytes).status).toBe('accepted')
    nowMs = Number(DUE) - 1
    expect(await svc.releaseStuckLocks()).toEqual([])
    nowMs = Number(DUE)
    const released = await svc.releaseStuckLocks()
    expect(released.map(r => r.record.kind)).toEqual([{ type: 'release', openId: stuck.id }])
    expect(await svc.releaseStuckLocks()).toEqual([])
    // the settle is acked with the release (auto-ack), so nothing is locked any more but the open with no end
    expect(svc.balance()).toMatchObject({ lockedUc: 300n })
    await svc.stop()
  })
})

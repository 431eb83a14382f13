import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LedgerService } from '../../../src/ledger/service.js'
import { LevelLedgerStore, MemoryLedgerStore, type StoreOp } from '../../../src/ledger/store.js'
import { LedgerArgumentError, LedgerStateError } from '../../../src/ledger/errors.js'
import { signVoucher, toHex } from '../../../src/ledger/record.js'
import { World, CREDIT_LIMIT } from './world.js'

function tmp (): string { return mkdtempSync(join(tmpdir(), 'tally-ledger-')) }

describe('LedgerService', () => {
  it('pays, settles, persists to LevelDB and reloads everything (records and pending) on restart', async () => {
    const w = new World(3)
    const dir = tmp()
    try {
      const published: string[] = []
      const mk = (): LedgerService => new LedgerService({ genesis: w.genesis, signer: w.actors[1].signer, dataDir: dir, onRecord: (_b, id) => published.push(id) })
      let svc = mk()
      await expect(svc.pay(w.key(2), 1n)).rejects.toBeInstanceOf(LedgerStateError)
      await svc.start()
      const c = await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 50_000n })
      expect(svc.add(w.records[0]).status).toBe('accepted')
      const p = await svc.pay(svc.balance(w.key(2)).account, 1_000n, { memo: 'hi', tag: 'agents' })
      expect(p.record.acks).toEqual([c.id])
      const open = await svc.openSession({ seller: w.key(2), contractId: new Uint8Array(32).fill(4), maxSpendUc: 10_000n })
      const voucher = signVoucher(w.actors[1].signer, w.actors[0].ledger.net, { contractId: new Uint8Array(32).fill(4), nonce: 2n, amountUc: 2_500n })
      const seller = new LedgerService({ genesis: w.genesis, signer: w.actors[2].signer })
      await seller.start()
      for (const b of [w.records[0], p.bytes, open.bytes]) seller.add(b)
      await expect(seller.settleSession({ openId: open.id, voucherBytes: new Uint8Array(3) })).rejects.toBeInstanceOf(LedgerArgumentError)
      const settle = await seller.settleSession({ openId: open.id, voucherBytes: voucher })
      expect(seller.balance()).toMatchObject({ balanceUc: 3_500n })
      expect(svc.add(settle.bytes).status).toBe('accepted')
      const ack = await svc.ackIncoming()
      expect(ack?.record.acks).toEqual([settle.id])
      expect(await svc.ackIncoming()).toBeUndefined()
      // a record from the future waits in the pending set
      const t2 = await w.sign(0, { type: 'credit', to: w.key(2), amountUc: 7n })
      const t3 = await w.sign(0, { type: 'credit', to: w.key(2), amountUc: 8n })
      void t2
      expect(svc.add(t3.bytes).status).toBe('pending')
      expect(published).toEqual([p.id, open.id, ack!.id])
      const before = svc.balances()
      const hist = svc.history()
      expect(hist.map(h => [h.type, h.deltaUc])).toEqual([['credit', 50_000n], ['transfer', -1_000n], ['open', 0n], ['settle', -2_500n], ['ack', 0n]])
      expect(hist[1].tag).toBe('agents')
      await svc.stop()

      svc = mk()
      await svc.start()
      expect(svc.balances()).toEqual(before)
      expect(svc.ledger.pendingSize).toBe(1)
      expect(svc.missing()).toEqual([t2.id])
      expect(svc.balance()).toMatchObject({ balanceUc: 50_000n - 1_000n - 2_500n, lockedUc: 0n, spendableUc: 50_000n - 3_500n + CREDIT_LIMIT })
      const next = await svc.pay(w.key(2), 1n)
      expect(next.record.seq).toBe(4n)
      expect(next.record.prev).toBe(ack!.id)
      await svc.stop()
      await seller.stop()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses bad arguments with typed errors', async () => {
    const w = new World(2)
    const svc = new LedgerService({ genesis: w.genesis, signer: w.actors[1].signer })
    await svc.start()
    await expect(svc.pay('not-an-account', 1n)).rejects.toBeInstanceOf(LedgerArgumentError)
    await expect(svc.pay(w.key(0), 0n)).rejects.toBeInstanceOf(LedgerArgumentError)
    await expect(svc.pay(w.key(0), -5n)).rejects.toBeInstanceOf(LedgerArgumentError)
    await expect(svc.pay(w.key(1), 5n)).rejects.toBeInstanceOf(LedgerArgumentError)
    await expect(svc.pay(w.key(0), 5n, { memo: 'x'.repeat(300) })).rejects.toBeInstanceOf(LedgerArgumentError)
    await expect(svc.openSession({ seller: w.key(0), contractId: new Uint8Array(3), maxSpendUc: 5n })).rejects.toBeInstanceOf(LedgerArgumentError)
    await expect(svc.settleSession({ openId: 'zz' })).rejects.toBeInstanceOf(LedgerArgumentError)
    await expect(svc.settleSession({ openId: '00'.repeat(32) })).rejects.toBeInstanceOf(LedgerArgumentError)
    expect(() => svc.balance('12D3KooWnope')).toThrow(LedgerArgumentError)
    expect(svc.ledger.size).toBe(0)
    await svc.stop()
  })

  it('store writes with sync and reloads in any order', async () => {
    const dir = tmp()
    try {
      const s = new LevelLedgerStore(dir)
      await s.open()
      await s.write([{ type: 'put', space: 'record', id: 'aa', bytes: new Uint8Array([1]) }, { type: 'put', space: 'pending', id: 'bb', bytes: new Uint8Array([2]) }], { sync: true })
      await s.write([{ type: 'del', space: 'pending', id: 'bb' }], { sync: false })
      expect(await s.load()).toEqual({ records: [new Uint8Array([1])], pending: [] })
      await s.close()
      await expect(s.write([{ type: 'del', space: 'pending', id: 'bb' }], { sync: true })).rejects.toBeInstanceOf(LedgerStateError)
      expect(toHex(new Uint8Array([1, 255]))).toBe('01ff')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('LedgerService sync adapters', () => {
  it('exposes records, chains and a revision for sync, and takes records back', async () => {
    const w = new World(3)
    const c = await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 50n })
    const t1 = await w.sign(1, { type: 'transfer', to: w.key(2), amountUc: 5n })
    const t2 = await w.sign(1, { type: 'transfer', to: w.key(2), amountUc: 5n })
    const svc = new LedgerService({ genesis: w.genesis, signer: w.actors[2].signer })
    await svc.start()
    const src = svc.recordSource()
    const sink = svc.recordSink()
    const r0 = src.revision()
    expect(await sink.add(w.records[2])).toMatchObject({ status: 'pending' })
    expect(src.revision()).toBe(r0)
    for (const b of w.records) await sink.add(b)
    expect(src.revision()).toBe(r0 + 3)
    expect([...src.items()].map(i => toHex(i.id)).sort()).toEqual([c.id, t1.id, t2.id].sort())
    expect(src.get(Buffer.from(t1.id, 'hex'))).toEqual(w.records[1])
    expect(src.chain(svc.balance(w.key(1)).account, 2n, 10)).toEqual([w.records[2]])
    expect(src.chain(toHex(w.key(1)), 1n, 1)).toEqual([w.records[1]])
    await svc.stop()
  })
})

describe('writes around an own record', () => {
  it('records received while the own record is being fsynced are persisted too', async () => {
    const w = new World(3)
    const c1 = await w.sign(0, { type: 'credit', to: w.key(2), amountUc: 10n })
    const c2 = await w.sign(0, { type: 'credit', to: w.key(2), amountUc: 20n })
    let during: (() => void) | undefined
    class SlowStore extends MemoryLedgerStore {
      override async write (ops: StoreOp[], opts?: { sync: boolean }): Promise<void> {
        if (opts?.sync === true && during != null) { const f = during; during = undefined; f(); await new Promise(resolve => setTimeout(resolve, 5)) }
        await super.write(ops)
      }
    }
    const store = new SlowStore()
    const svc = new LedgerService({ genesis: w.genesis, signer: w.actors[1].signer, store })
    await svc.start()
    svc.add(c1.bytes)
    during = () => { expect(svc.add(c2.bytes).status).toBe('accepted') }
    await svc.pay(w.key(2), 5n)
    await svc.stop()
    expect(store.records.has(c2.id)).toBe(true)
    expect(store.records.size).toBe(3)
  })
})

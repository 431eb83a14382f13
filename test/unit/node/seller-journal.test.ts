import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultLogger } from '@libp2p/logger'
import { LedgerService } from '../../../src/ledger/service.js'
import { signVoucher, toHex } from '../../../src/ledger/record.js'
import { decodeJournal, LevelJournalStore, MemoryJournalStore, SellerJournal, type JournalOp, type SellerJournalStore } from '../../../src/node/seller-journal.js'
import { World } from '../ledger/world.js'
import { waitFor } from '../../helpers/wait.js'

const log = defaultLogger().forComponent('test:seller-journal')
const C1 = 'c1'.repeat(32)
const C2 = 'c2'.repeat(32)

/** a store whose writes, while held, each wait for a release; records each batch */
class HeldStore extends MemoryJournalStore {
  readonly batches: Array<{ keys: string[], sync: boolean }> = []
  holding = false
  private readonly waiting: Array<() => void> = []
  release (): void { this.waiting.shift()?.() }
  override async write (ops: JournalOp[], opts: { sync: boolean }): Promise<void> {
    this.batches.push({ keys: ops.map(o => o[0]), sync: opts.sync })
    if (this.holding) await new Promise<void>(resolve => this.waiting.push(resolve))
    await super.write(ops)
  }
}

/** a buyer (actor 1) that opened a session with the seller (actor 2), both ledgers started */
async function session (lock = 10_000n): Promise<{ w: World, buyer: LedgerService, seller: LedgerService, openId: string, openBytes: Uint8Array, contract: Uint8Array, voucher: (n: bigint, amountUc: bigint) => Uint8Array }> {
  const w = new World(3)
  const buyer = new LedgerService({ genesis: w.genesis, signer: w.actors[1].signer })
  const seller = new LedgerService({ genesis: w.genesis, signer: w.actors[2].signer })
  await buyer.start()
  await seller.start()
  const c = await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 50_000n })
  buyer.add(c.bytes)
  seller.add(c.bytes)
  const contract = new Uint8Array(32).fill(0xc1)
  const open = await buyer.openSession({ seller: w.key(2), contractId: contract, maxSpendUc: lock })
  return { w, buyer, seller, openId: open.id, openBytes: open.bytes, contract, voucher: (nonce, amountUc) => signVoucher(w.actors[1].signer, buyer.ledger.net, { contractId: contract, nonce, amountUc }) }
}

function settlesBy (svc: LedgerService): Array<{ openId: string, amountUc: bigint }> {
  const me = toHex(svc.ledger.signer!.publicKey)
  return svc.ledger.history(me).flatMap(r => r.from === me && r.kind.type === 'settle' ? [{ openId: r.kind.openId, amountUc: r.kind.amountUc }] : [])
}

describe('seller journal', () => {
  it('keeps open and voucher in LevelDB across a reopen, and forgets a settled session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-journal-'))
    try {
      const s = await session()
      const j = new SellerJournal({ ledger: s.seller, log }, { store: new LevelJournalStore(dir) })
      // nothing to recover: start leaves the ledger alone
      await j.start()
      void j.opened(C1, s.openId, s.openBytes)
      void j.opened(C2, '22'.repeat(32))
      await j.voucher(C1, s.voucher(1n, 10n))
      await j.voucher(C1, s.voucher(2n, 20n))
      j.forget(C2)
      await j.drained()
      await j.stop()
      const store = new LevelJournalStore(dir)
      await store.open()
      const { entries, corrupt } = decodeJournal(await store.load())
      await store.close()
      expect(corrupt).toEqual([])
      expect(entries).toHaveLength(1)
      expect(entries[0]).toMatchObject({ contractId: C1, openId: s.openId })
      expect(entries[0].open).toEqual(s.openBytes)
      expect(entries[0].voucher).toEqual(s.voucher(2n, 20n))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('pipelines: vouchers that arrive during a write go together in the next one, with one fsync', async () => {
    const s = await session()
    const store = new HeldStore()
    const j = new SellerJournal({ ledger: s.seller, log }, { store })
    await j.start()
    void j.opened(C1, s.openId)
    await j.drained()
    store.holding = true
    const done: number[] = []
    const first = j.voucher(C1, s.voucher(1n, 1n)).then(() => done.push(1))
    // the first voucher's write is in flight: these wait for the next batch, together
    const later = [j.voucher(C1, s.voucher(2n, 2n)), j.voucher(C1, s.voucher(3n, 3n)), j.voucher(C2, s.voucher(1n, 1n))].map(async (p, i) => { await p; done.push(i + 2) })
    await Promise.resolve()
    expect(done).toEqual([])
    expect(store.batches).toHaveLength(2)
    store.release()
    await first
    expect(done).toEqual([1])
    await waitFor(() => store.batches.length === 3, 'the second batch')
    store.release()
    await Promise.all(later)
    await j.drained()
    // the open (no fsync of its own), then the vouchers each with fsync, newest per session
    expect(store.batches.map(b => b.sync)).toEqual([false, true, true])
    expect(store.batches[2].keys.sort()).toEqual([`v/${C1}`, `v/${C2}`])
    expect(store.data.get(`v/${C1}`)).toEqual(s.voucher(3n, 3n))
  })

  it('at start settles each journaled session with its voucher, once, and forgets it', async () => {
    const s = await session()
    const store = new MemoryJournalStore()
    let j = new SellerJournal({ ledger: s.seller, log }, { store })
    await j.start()
    s.seller.add(s.openBytes)
    void j.opened(C1, s.openId, s.openBytes)
    await j.voucher(C1, s.voucher(7n, 4_321n))
    // the seller crashes: nothing settled; the next start settles from the journal
    j = new SellerJournal({ ledger: s.seller, log }, { store })
    await j.start()
    expect(j.recovered).toBe(1)
    expect(settlesBy(s.seller)).toEqual([{ openId: s.openId, amountUc: 4_321n }])
    await j.drained()
    expect(store.data.size).toBe(0)
    // the buyer's lock ended: it was charged the voucher, no more
    expect(s.buyer.add((s.seller.ledger.history(s.seller.ledger.signer!.publicKey).at(-1)!).bytes).status).toBe('accepted')
    expect(s.buyer.balance()).toMatchObject({ lockedUc: 0n })
    j = new SellerJournal({ ledger: s.seller, log }, { store })
    await j.start()
    expect(settlesBy(s.seller)).toHaveLength(1)
  })

  it('settles a session the ledger lost from the open bytes in the journal, and one without a voucher empty', async () => {
    const s = await session()
    const store = new MemoryJournalStore()
    let j = new SellerJournal({ ledger: s.seller, log }, { store })
    await j.start()
    void j.opened(C1, s.openId, s.openBytes)
    await j.drained()
    expect(s.seller.ledger.has(s.openId)).toBe(false)
    j = new SellerJournal({ ledger: s.seller, log }, { store })
    await j.start()
    expect(settlesBy(s.seller)).toEqual([{ openId: s.openId, amountUc: 0n }])
  })

  it('a journaled session already settled (crash between settle and forget) is only forgotten', async () => {
    const s = await session()
    const store = new MemoryJournalStore()
    const j0 = new SellerJournal({ ledger: s.seller, log }, { store })
    await j0.start()
    s.seller.add(s.openBytes)
    void j0.opened(C1, s.openId)
    await j0.voucher(C1, s.voucher(1n, 5n))
    await s.seller.settleSession({ openId: s.openId, voucherBytes: s.voucher(1n, 5n) })
    const j = new SellerJournal({ ledger: s.seller, log }, { store })
    await j.start()
    expect(j.recovered).toBe(0)
    expect(settlesBy(s.seller)).toHaveLength(1)
    await j.drained()
    expect(store.data.size).toBe(0)
  })

  it('drops undecodable keys and a voucher without its open, and keeps a session whose open is not valid yet', async () => {
    const s = await session()
    const store: SellerJournalStore & { data: Map<string, Uint8Array> } = new MemoryJournalStore()
    store.data.set('junk', new Uint8Array(1))
    store.data.set(`o/${C2}`, new Uint8Array(3))
    store.data.set(`v/${'ab'.repeat(32)}`, s.voucher(1n, 1n))
    // an open whose buyer chain is not here: it waits (no settle, kept for the retry)
    store.data.set(`o/${C1}`, Buffer.from('99'.repeat(32), 'hex'))
    const j = new SellerJournal({ ledger: s.seller, log }, { store, retryMs: 60_000 })
    await j.start()
    await j.drained()
    expect([...store.data.keys()]).toEqual([`o/${C1}`])
    expect(j.pendingRecovery()).toEqual([C1])
    expect(settlesBy(s.seller)).toEqual([])
    await j.stop()
  })
})

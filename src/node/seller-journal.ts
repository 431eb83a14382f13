/**
 * The seller's journal: per open session, what it needs to settle after a crash (the buyer's
 * `open` and the highest voucher accepted), written durably before the seller serves beyond the
 * window that voucher covers; at start, every journaled session without a settle in the ledger is
 * settled with its voucher and forgotten. Rules: protocols/infer.md § Seller durability.
 */
import { ClassicLevel } from 'classic-level'
import type { Logger } from '@libp2p/interface'
import { ErrorCode, TallyError } from '../errors/index.js'
import type { LedgerService } from '../ledger/service.js'
import { InvalidRecordError, LedgerArgumentError } from '../ledger/errors.js'
import { toHex } from '../ledger/record.js'

/** a journaled session waiting for its open (the buyer's chain not here yet) is tried again this often */
export const JOURNAL_RETRY_MS = 5_000

const OPEN_ID_BYTES = 32

/** the journal's store is unusable, or an entry in it does not decode */
export class SellerJournalError extends TallyError {
  override name = 'SellerJournalError'
  override readonly code: ErrorCode = ErrorCode.sellerJournal
}

/** one session as journaled (ids as lowercase hex) */
export interface JournalEntry {
  contractId: string
  openId: string
  /** the buyer's open record, so a restart can settle even if the ledger lost it */
  open?: Uint8Array
  /** the highest voucher envelope accepted: what the settle carries */
  voucher?: Uint8Array
}

/** key → value (undefined: delete) */
export type JournalOp = [key: string, value: Uint8Array | undefined]

export interface SellerJournalStore {
  open(): Promise<void>
  close(): Promise<void>
  /** apply atomically, in order after every earlier write; with `sync` only once on disk */
  write(ops: JournalOp[], opts: { sync: boolean }): Promise<void>
  /** every key and value */
  load(): Promise<JournalOp[]>
}

/** LevelDB (classic-level) under the node's data dir, as the ledger store: `sync` reaches fsync */
export class LevelJournalStore implements SellerJournalStore {
  private readonly db: ClassicLevel<string, Uint8Array>
  constructor (readonly path: string) {
    this.db = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  async open (): Promise<void> { await this.db.open() }
  async close (): Promise<void> { await this.db.close() }

  async write (ops: JournalOp[], opts: { sync: boolean }): Promise<void> {
    if (this.db.status !== 'open') throw new SellerJournalError(`seller journal at ${this.path} is ${this.db.status}`)
    await this.db.batch(ops.map(([key, value]) => value != null ? { type: 'put' as const, key, value } : { type: 'del' as const, key }), { sync: opts.sync })
  }

  async load (): Promise<JournalOp[]> {
    const out: JournalOp[] = []
    for await (const [k, v] of this.db.iterator()) out.push([k, new Uint8Array(v.buffer, v.byteOffset, v.byteLength)])
    return out
  }
}

/** simulations and tests: kept in memory (survives a desk restart, not a process) */
export class MemoryJournalStore implements SellerJournalStore {
  readonly data = new Map<string, Uint8Array>()
  async open (): Promise<void> {}
  async close (): Promise<void> {}
  async write (ops: JournalOp[], _opts?: { sync: boolean }): Promise<void> {
    for (const [k, v] of ops) { if (v != null) this.data.set(k, v); else this.data.delete(k) }
  }

  async load (): Promise<JournalOp[]> { return [...this.data] }
}

const openKey = (contractHex: string): string => `o/${contractHex}`
const voucherKey = (contractHex: string): string => `v/${contractHex}`

/** the journal's entries from the store's keys; entries without their open id are reported, not returned */
export function decodeJournal (ops: JournalOp[]): { entries: JournalEntry[], corrupt: string[] } {
  const byContract = new Map<string, JournalEntry>()
  const vouchers = new Map<string, Uint8Array>()
  const corrupt: string[] = []
  for (const [k, v] of ops) {
    const m = /^([ov])\/([0-9a-f]{64})$/.exec(k)
    if (m == null || v == null) { corrupt.push(k); continue }
    if (m[1] === 'v') { vouchers.set(m[2], v); continue }
    if (v.length < OPEN_ID_BYTES) { corrupt.push(k); continue }
    byContract.set(m[2], { contractId: m[2], openId: toHex(v.subarray(0, OPEN_ID_BYTES)), open: v.length > OPEN_ID_BYTES ? v.slice(OPEN_ID_BYTES) : undefined })
  }
  for (const [c, v] of vouchers) {
    const e = byContract.get(c)
    if (e == null) corrupt.push(voucherKey(c))
    else e.voucher = v
  }
  return { entries: [...byContract.values()], corrupt }
}

export interface SellerJournalComponents {
  ledger: LedgerService
  /** hand a record to the node's ledger path (gossip ingest); default ledger.add */
  ingest?: (bytes: Uint8Array) => void
  log: Logger
}

export interface SellerJournalInit {
  /** LevelDB directory; without it (and without `store`) the journal lives in memory */
  dir?: string
  store?: SellerJournalStore
  retryMs?: number
}

export function sellerJournal (init: SellerJournalInit = {}) {
  return (components: SellerJournalComponents) => new SellerJournal(components, init)
}

interface Waiter { resolve: () => void, reject: (err: unknown) => void }

/**
 * Writes are pipelined: one batch in flight at a time; what arrives meanwhile (vouchers of every
 * session, newest per session) goes in the next batch, with one fsync for all of them.
 */
export class SellerJournal {
  private readonly store: SellerJournalStore
  private readonly retryMs: number
  /** the next batch: key → value (undefined: delete), newest wins */
  private next = new Map<string, Uint8Array | undefined>()
  private nextSync = false
  private nextWaiters: Waiter[] = []
  private writing = false
  private idle: Promise<void> = Promise.resolve()
  private markIdle?: () => void
  /** sessions journaled before this start, not settled yet */
  private readonly recovering = new Map<string, JournalEntry>()
  private retry?: ReturnType<typeof setInterval>
  private started = false
  /** sessions settled from the journal at start (or later, once their open arrived) */
  recovered = 0

  constructor (private readonly c: SellerJournalComponents, init: SellerJournalInit = {}) {
    this.store = init.store ?? (init.dir != null ? new LevelJournalStore(init.dir) : new MemoryJournalStore())
    this.retryMs = init.retryMs ?? JOURNAL_RETRY_MS
  }

  /** open the store and settle every journaled session whose open is in the ledger (before serving) */
  async start (): Promise<void> {
    if (this.started) return
    await this.store.open()
    this.started = true
    const { entries, corrupt } = decodeJournal(await this.store.load())
    for (const k of corrupt) this.c.log.error('seller journal: dropping undecodable key %s', k)
    if (corrupt.length > 0) await this.store.write(corrupt.map(k => [k, undefined]), { sync: false })
    for (const e of entries) this.recovering.set(e.contractId, e)
    await this.recoverAll()
    if (this.recovering.size > 0) {
      this.retry = setInterval(() => { void this.recoverAll() }, this.retryMs)
      this.retry.unref?.()
    }
  }

  async stop (): Promise<void> {
    if (!this.started) return
    if (this.retry != null) clearInterval(this.retry)
    this.retry = undefined
    await this.drained()
    this.started = false
    await this.store.close()
  }

  /** journaled sessions not settled yet (recovered ones waiting for their open, and live ones) */
  pendingRecovery (): string[] {
    return [...this.recovering.keys()]
  }

  /**
   * A session was admitted on this open: journal it. No fsync of its own (the first voucher's
   * batch carries it: the store writes in order); resolves once written.
   */
  async opened (contractHex: string, openId: string, openBytes?: Uint8Array): Promise<void> {
    const v = new Uint8Array(OPEN_ID_BYTES + (openBytes?.length ?? 0))
    v.set(Buffer.from(openId, 'hex'))
    if (openBytes != null) v.set(openBytes, OPEN_ID_BYTES)
    await this.enqueue(openKey(contractHex), v, false)
  }

  /**
   * The session's new highest voucher: resolves once it (or a later one of the session) is on
   * disk. The seller sends nothing beyond the window this voucher covers before then.
   */
  async voucher (contractHex: string, voucherBytes: Uint8Array): Promise<void> {
    await this.enqueue(voucherKey(contractHex), voucherBytes, true)
  }

  /** the session's settle is durable in the ledger: drop it (no fsync: a leftover entry is found settled at the next start) */
  forget (contractHex: string): void {
    this.recovering.delete(contractHex)
    void this.enqueue(openKey(contractHex), undefined, false).catch(() => {})
    void this.enqueue(voucherKey(contractHex), undefined, false).catch(() => {})
  }

  /** every write so far has reached the store */
  async drained (): Promise<void> {
    while (this.writing) await this.idle
  }

  private async enqueue (key: string, value: Uint8Array | undefined, sync: boolean): Promise<void> {
    if (!this.started) throw new SellerJournalError('the seller journal is not started')
    this.next.set(key, value)
    this.nextSync ||= sync
    const p = new Promise<void>((resolve, reject) => { this.nextWaiters.push({ resolve, reject }) })
    if (!this.writing) void this.drain()
    await p
  }

  private async drain (): Promise<void> {
    this.writing = true
    this.idle = new Promise(resolve => { this.markIdle = resolve })
    try {
      while (this.next.size > 0) {
        const ops: JournalOp[] = [...this.next]
        const sync = this.nextSync
        const waiters = this.nextWaiters
        this.next = new Map()
        this.nextSync = false
        this.nextWaiters = []
        try {
          await this.store.write(ops, { sync })
          for (const w of waiters) w.resolve()
        } catch (err) {
          this.c.log.error('seller journal write failed: %s', (err as Error)?.message ?? err)
          for (const w of waiters) w.reject(err)
        }
      }
    } finally {
      this.writing = false
      this.markIdle?.()
    }
  }

  private settledOpens (): Set<string> {
    const me = toHex(this.c.ledger.ledger.signer!.publicKey)
    const out = new Set<string>()
    for (const r of this.c.ledger.ledger.history(me)) {
      if (r.from === me && r.kind.type === 'settle') out.add(r.kind.openId)
    }
    return out
  }

  private recoveringNow = false

  /** settle the recovered sessions whose open is valid here; keep the others for the next try */
  private async recoverAll (): Promise<void> {
    if (this.recoveringNow || this.recovering.size === 0) return
    this.recoveringNow = true
    try {
      const settled = this.settledOpens()
      for (const e of [...this.recovering.values()]) {
        if (!this.started) return
        if (settled.has(e.openId)) { this.forget(e.contractId); continue }
        const ledger = this.c.ledger.ledger
        if (!ledger.has(e.openId) && e.open != null) {
          if (this.c.ingest != null) this.c.ingest(e.open)
          else ledger.add(e.open)
        }
        if (!ledger.has(e.openId)) {
          this.c.log('journaled session %s waits for its open %s', e.contractId.slice(0, 12), e.openId.slice(0, 12))
          continue
        }
        try {
          await this.c.ledger.settleSession({ openId: e.openId, voucherBytes: e.voucher })
          this.recovered++
          this.forget(e.contractId)
        } catch (err: any) {
          // a settle the ledger can never accept (a bad voucher, settled elsewhere) is dropped; a
          // store or state failure is tried again
          const permanent = err instanceof InvalidRecordError || err instanceof LedgerArgumentError
          this.c.log.error('settling journaled session %s: %s%s', e.contractId.slice(0, 12), err?.message ?? err, permanent ? ' (dropped)' : '')
          if (permanent) this.forget(e.contractId)
        }
      }
    } finally {
      this.recoveringNow = false
      if (this.recovering.size === 0 && this.retry != null) { clearInterval(this.retry); this.retry = undefined }
    }
  }
}

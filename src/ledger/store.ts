/**
 * Ledger persistence: valid records and the pending set, keyed by record id. `LevelLedgerStore`
 * writes through classic-level directly (so `sync` reaches LevelDB's fsync); `MemoryLedgerStore`
 * serves simulations and tests. Key layout: protocols/ledger.md §Store.
 */
import { ClassicLevel } from 'classic-level'
import { LedgerStateError } from './errors.js'

export type StoreOp =
  | { type: 'put', space: 'record' | 'pending', id: string, bytes: Uint8Array }
  | { type: 'del', space: 'pending', id: string }

export interface StoredLedger {
  records: Uint8Array[]
  pending: Uint8Array[]
}

export interface LedgerStore {
  open(): Promise<void>
  close(): Promise<void>
  /** apply ops atomically; with `sync` the call returns only after the data is on disk */
  write(ops: StoreOp[], opts: { sync: boolean }): Promise<void>
  load(): Promise<StoredLedger>
}

/** LevelDB hands back Buffers; callers get plain Uint8Arrays */
const plain = (v: Uint8Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)

const PREFIX = { record: 'r/', pending: 'p/' } as const

export class LevelLedgerStore implements LedgerStore {
  private readonly db: ClassicLevel<string, Uint8Array>

  constructor (readonly path: string) {
    this.db = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  async open (): Promise<void> {
    await this.db.open()
  }

  async close (): Promise<void> {
    await this.db.close()
  }

  async write (ops: StoreOp[], opts: { sync: boolean }): Promise<void> {
    if (this.db.status !== 'open') throw new LedgerStateError(`ledger store at ${this.path} is ${this.db.status}`)
    if (ops.length === 0) return
    await this.db.batch(ops.map(op => op.type === 'put'
      ? { type: 'put' as const, key: PREFIX[op.space] + op.id, value: op.bytes }
      : { type: 'del' as const, key: PREFIX[op.space] + op.id }), { sync: opts.sync })
  }

  async load (): Promise<StoredLedger> {
    const out: StoredLedger = { records: [], pending: [] }
    for await (const v of this.db.values({ gte: 'p/', lt: 'p0' })) out.pending.push(plain(v))
    for await (const v of this.db.values({ gte: 'r/', lt: 'r0' })) out.records.push(plain(v))
    return out
  }
}

export class MemoryLedgerStore implements LedgerStore {
  readonly records = new Map<string, Uint8Array>()
  readonly pending = new Map<string, Uint8Array>()

  async open (): Promise<void> {}
  async close (): Promise<void> {}

  async write (ops: StoreOp[]): Promise<void> {
    for (const op of ops) {
      const m = op.space === 'record' ? this.records : this.pending
      if (op.type === 'put') m.set(op.id, op.bytes)
      else m.delete(op.id)
    }
  }

  async load (): Promise<StoredLedger> {
    return { records: [...this.records.values()], pending: [...this.pending.values()] }
  }
}

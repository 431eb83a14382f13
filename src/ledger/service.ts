/**
 * LedgerService: what the node calls. Owns the store (LevelDB under `dataDir`, or memory),
 * reloads the ledger on start, signs the local account's payments, sessions and settles, and
 * hands every own record to `onRecord` listeners for the integrator to publish. No libp2p here:
 * received records come in through `add()`.
 */
import type { Ed25519Signer } from '../identity/ed25519.js'
import type { Genesis } from './genesis.js'
import { Ledger, DEFAULT_MAX_PENDING, type AccountBalance, type AddResult, type FraudProof, type GossipVerdict } from './ledger.js'
import { LevelLedgerStore, MemoryLedgerStore, type LedgerStore } from './store.js'
import { CONTRACT_ID_LENGTH, ID_LENGTH, MAX_ACKS, MAX_MEMO_BYTES, MAX_RECORD_BYTES, MAX_TAG_BYTES, fromHex, parseRecord, parseVoucher, toHex, type ParsedRecord } from './record.js'
import { InvalidRecordError, LedgerArgumentError, LedgerStateError } from './errors.js'
import { DEFAULT_MAX_HELD_FUTURE, FutureHold, MAX_RECORD_CLOCK_SKEW_MS } from './admission.js'
import { decodeEnvelope } from '../wire/envelope.js'
import { Record as RecordPb } from '../wire/pb/ledger.js'

export interface LedgerServiceInit {
  genesis: Genesis
  signer: Ed25519Signer
  /** LevelDB directory; without it (and without `store`) records live in memory only */
  dataDir?: string
  store?: LedgerStore
  maxPending?: number
  /** future-dated records held at once (see admission.ts) */
  maxHeldFuture?: number
  /** how far ahead of `now` a record's time may be and still be judged at once; default 60 s */
  maxClockSkewMs?: number
  /** the node's clock: own records' time, and whether a received record is dated in the future */
  now?: () => number
  /** called with every record this node signs, once it is durable */
  onRecord?: (bytes: Uint8Array, id: string) => void
  /** how often the node releases its own locks past contract end + grace (ms); 0 = never */
  releaseCheckMs?: number
}

/** a stuck lock is released within a minute of end + grace (ledger.md § Validity, release) */
export const DEFAULT_RELEASE_CHECK_MS = 60_000

/** what the service needs from the node: the network's genesis and the key that signs */
export interface LedgerServiceComponents {
  genesis: Genesis
  signer: Ed25519Signer
}

/** js-libp2p-style factory: `ledgerService(init)(components)` */
export function ledgerService (init: Omit<LedgerServiceInit, 'genesis' | 'signer'> = {}) {
  return (components: LedgerServiceComponents) => new LedgerService({ ...init, ...components })
}

export interface SignedRecord {
  /** hex record id */
  id: string
  bytes: Uint8Array
  record: ParsedRecord
}

export interface HistoryEntry {
  id: string
  from: string
  seq: bigint
  type: ParsedRecord['kind']['type']
  /** the counterparty account, where there is one */
  counterparty?: string
  /** signed effect on the queried account's balance, µc */
  deltaUc: bigint
  memo: string
  tag?: string
  time: bigint
}

/** what `add` says about a record from the network, beyond the ledger's AddResult */
export interface ReceivedResult extends AddResult {
  /** hex key of the record's author, when the bytes decode that far */
  author?: string
  /** the record is dated more than the clock skew ahead: verified, held, not judged yet */
  future?: boolean
}

function bytesLen (s: string): number { return Buffer.byteLength(s, 'utf8') }

/** author and signed time of envelope bytes, without verifying them; undefined when they do not decode */
function peek (bytes: Uint8Array): { author: string, timeMs: number } | undefined {
  try {
    const env = decodeEnvelope(bytes, MAX_RECORD_BYTES)
    const r = RecordPb.decode(env.payload, { limits: { acks: MAX_ACKS } })
    return { author: toHex(env.publicKey), timeMs: Number(r.time) }
  } catch {
    return undefined
  }
}

export class LedgerService {
  readonly ledger: Ledger
  private readonly store: LedgerStore
  private readonly listeners = new Set<(bytes: Uint8Array, id: string) => void>()
  private readonly future: FutureHold
  private readonly now: () => number
  private issuers?: Set<string>
  private started = false
  private readonly releaseCheckMs: number
  private releaseTimer?: ReturnType<typeof setInterval>

  constructor (init: LedgerServiceInit) {
    this.store = init.store ?? (init.dataDir != null ? new LevelLedgerStore(init.dataDir) : new MemoryLedgerStore())
    this.now = init.now ?? (() => Date.now())
    this.ledger = new Ledger({ genesis: init.genesis, signer: init.signer, store: this.store, maxPending: init.maxPending ?? DEFAULT_MAX_PENDING, now: this.now })
    this.future = new FutureHold(init.maxHeldFuture ?? DEFAULT_MAX_HELD_FUTURE, init.maxClockSkewMs ?? MAX_RECORD_CLOCK_SKEW_MS)
    if (init.onRecord != null) this.listeners.add(init.onRecord)
    this.releaseCheckMs = init.releaseCheckMs ?? DEFAULT_RELEASE_CHECK_MS
  }

  get account (): string { return this.ledger.accountId(toHex(this.signerKey())) }

  private signerKey (): Uint8Array {
    return this.ledger.signer!.publicKey
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.store.open()
    await this.ledger.load()
    this.started = true
    if (this.releaseCheckMs > 0) {
      this.releaseTimer = setInterval(() => { this.releaseStuckLocks().catch(() => {}) }, this.releaseCheckMs)
      this.releaseTimer.unref?.()
    }
  }

  /** release every own lock past its contract's end + grace that no settle released; the releases written */
  async releaseStuckLocks (): Promise<SignedRecord[]> {
    if (!this.started) return []
    const out: SignedRecord[] = []
    for (const openId of this.ledger.releasableOpens(this.now())) out.push(await this.sign({ type: 'release', openId: fromHex(openId) }))
    return out
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.releaseTimer)
    await this.ledger.flush()
    await this.store.close()
  }

  isStarted (): boolean { return this.started }

  /** subscribe to own records (to publish them); returns the unsubscribe function */
  onRecord (fn: (bytes: Uint8Array, id: string) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private check (): void {
    if (!this.started) throw new LedgerStateError('ledger service is not started')
  }

  /**
   * a record received from a peer (gossip, sync, fetch). One dated more than the clock skew
   * ahead of the node's clock is verified and held, not judged: `releaseDue` judges it once the
   * clock gets there (protocols/ledger.md § Admission).
   */
  add (bytes: Uint8Array): ReceivedResult {
    this.check()
    const p = peek(bytes)
    if (p == null || !this.future.isFuture(p.timeMs, this.now())) {
      const res = this.ledger.add(bytes)
      this.autoAckLines(res.accepted)
      return { ...res, author: p?.author }
    }
    let rec: ParsedRecord
    try {
      rec = parseRecord(bytes, { net: this.ledger.net })
    } catch (err: any) {
      const reason = err instanceof InvalidRecordError ? err.reason : 'malformed'
      return { status: 'rejected', id: '', reason, message: String(err?.message ?? err), accepted: [], author: p.author }
    }
    if (this.ledger.has(rec.id) || this.future.has(rec.id)) return { status: 'duplicate', id: rec.id, accepted: [], author: p.author, future: true }
    this.future.hold(rec.id, bytes, p.timeMs)
    return { status: 'pending', id: rec.id, accepted: [], author: p.author, future: true }
  }

  /** judge the held future-dated records the clock has reached; what became valid (with what they unblocked) */
  releaseDue (): { released: Array<{ id: string, bytes: Uint8Array }>, accepted: ParsedRecord[] } {
    if (!this.started) return { released: [], accepted: [] }
    const released = this.future.due(this.now())
    const accepted: ParsedRecord[] = []
    // their signatures were verified when they were held
    for (const r of released) accepted.push(...this.ledger.add(r.bytes, { trusted: true }).accepted)
    return { released, accepted }
  }

  /** future-dated records held now */
  get heldFutureSize (): number { return this.future.size }

  /** whether the hex key is a genesis issuer's (its balance is negative by construction) */
  isIssuer (keyHex: string): boolean {
    this.issuers ??= new Set(this.ledger.genesis.issuers.map(i => toHex(i.publicKey)))
    return this.issuers.has(keyHex)
  }

  validateGossipRecord (bytes: Uint8Array): GossipVerdict {
    return this.ledger.validateGossipRecord(bytes)
  }

  private async sign (kind: Parameters<Ledger['createRecord']>[0], memo?: string): Promise<SignedRecord> {
    this.check()
    const r = await this.ledger.createRecord(kind, { memo })
    for (const fn of this.listeners) fn(r.bytes, r.id)
    return r
  }

  private key (account: string | Uint8Array, what: string): Uint8Array {
    try {
      return fromHex(this.ledger.keyOf(account))
    } catch (err: any) {
      throw new LedgerArgumentError(`${what}: ${err?.message ?? err}`)
    }
  }

  private amount (a: bigint, what: string): bigint {
    if (typeof a !== 'bigint' || a <= 0n || a >= 2n ** 64n) throw new LedgerArgumentError(`${what} must be a positive bigint of µc below 2^64`)
    return a
  }

  /** pay another account; acks every pending incoming credit on the way */
  async pay (to: string | Uint8Array, amountUc: bigint, opts: { memo?: string, tag?: string } = {}): Promise<SignedRecord> {
    const key = this.key(to, 'pay to')
    if (toHex(key) === toHex(this.signerKey())) throw new LedgerArgumentError('cannot pay yourself')
    if (opts.memo != null && bytesLen(opts.memo) > MAX_MEMO_BYTES) throw new LedgerArgumentError(`memo is over ${MAX_MEMO_BYTES} bytes`)
    if (opts.tag != null && bytesLen(opts.tag) > MAX_TAG_BYTES) throw new LedgerArgumentError(`tag is over ${MAX_TAG_BYTES} bytes`)
    return await this.sign({ type: 'transfer', to: key, amountUc: this.amount(amountUc, 'amountUc'), memo: opts.memo, tag: opts.tag })
  }

  /** claim pending incoming credits without paying anyone; undefined when there is nothing to claim */
  async ackIncoming (): Promise<SignedRecord | undefined> {
    if (this.ledger.unackedIncoming(this.signerKey()).length === 0) return undefined
    return await this.sign({ type: 'ack' })
  }

  /**
   * Honest nodes ack incoming grants and revokes of lines they hold (a revoke only while the
   * headroom covers it: createRecord leaves it out otherwise), and a grantor acks its grantee's
   * record that acked its revoke (the revoked part comes back). Runs after the current add.
   */
  private autoAckLines (accepted: ParsedRecord[]): void {
    if (this.ledger.signer == null || accepted.length === 0) return
    const self = toHex(this.signerKey())
    const relevant = accepted.some(r => r.from !== self && (
      (r.kind.type === 'grant' && r.kind.to === self) ||
      (r.kind.type === 'revoke' && grantTo(this.ledger.get(r.kind.grantId)?.rec) === self) ||
      r.acks.some(a => { const t = this.ledger.get(a)?.rec; return t?.kind.type === 'revoke' && t.from === self })))
    if (!relevant) return
    setTimeout(() => { if (this.started) this.ackIncoming().catch(() => {}) }, 0)
  }

  /** extend `to` an explicit credit line of `amountUc`, backed by this account's own funds (ledger.md, grant) */
  async grant (to: string | Uint8Array, amountUc: bigint): Promise<SignedRecord> {
    const key = this.key(to, 'grant to')
    if (toHex(key) === toHex(this.signerKey())) throw new LedgerArgumentError('cannot grant yourself a line')
    return await this.sign({ type: 'grant', to: key, amountUc: this.amount(amountUc, 'amountUc') })
  }

  /** take back `amountUc` of an own grant (the grantee acks it while the unused part covers it) */
  async revoke (grantId: string | Uint8Array, amountUc: bigint): Promise<SignedRecord> {
    const id = typeof grantId === 'string' ? grantId : toHex(grantId)
    if (!/^[0-9a-f]{64}$/.test(id)) throw new LedgerArgumentError(`grantId must be a ${ID_LENGTH}-byte record id`)
    const g = this.ledger.get(id)?.rec
    if (g?.kind.type !== 'grant' || g.from !== toHex(this.signerKey())) throw new LedgerArgumentError(`grant ${id} is not a valid grant of this account here`)
    return await this.sign({ type: 'revoke', grantId: fromHex(id), amountUc: this.amount(amountUc, 'amountUc') })
  }

  /** explicit credit lines at the account's head: extended (still borne) and received */
  grants (account?: string | Uint8Array): { grantedUc: bigint, linesUc: bigint } {
    return this.ledger.grants(account ?? this.signerKey())
  }

  /** issue a credit line (genesis issuers only) */
  async credit (to: string | Uint8Array, amountUc: bigint): Promise<SignedRecord> {
    return await this.sign({ type: 'credit', to: this.key(to, 'credit to'), amountUc: this.amount(amountUc, 'amountUc') })
  }

  /** buyer: lock `maxSpendUc` for a session with `seller` under `contractId` (32 bytes) */
  async openSession (o: { seller: string | Uint8Array, contractId: Uint8Array, maxSpendUc: bigint, endsAtMs?: bigint }): Promise<SignedRecord> {
    if (!(o.contractId instanceof Uint8Array) || o.contractId.length !== CONTRACT_ID_LENGTH) throw new LedgerArgumentError(`contractId must be ${CONTRACT_ID_LENGTH} bytes`)
    const seller = this.key(o.seller, 'seller')
    if (toHex(seller) === toHex(this.signerKey())) throw new LedgerArgumentError('cannot open a session with yourself')
    return await this.sign({ type: 'open', seller, contractId: o.contractId, maxSpendUc: this.amount(o.maxSpendUc, 'maxSpendUc'), endsAtMs: o.endsAtMs })
  }

  /** seller: settle an open with the buyer's highest voucher (or release it with none) */
  async settleSession (s: { openId: string | Uint8Array, voucherBytes?: Uint8Array }): Promise<SignedRecord> {
    const openId = typeof s.openId === 'string' ? s.openId : toHex(s.openId)
    if (!/^[0-9a-f]{64}$/.test(openId)) throw new LedgerArgumentError(`openId must be a ${ID_LENGTH}-byte record id`)
    if (!this.ledger.has(openId)) throw new LedgerArgumentError(`open ${openId} is not a valid record here`)
    let amountUc = 0n
    if (s.voucherBytes != null) {
      try {
        amountUc = parseVoucher(s.voucherBytes, this.ledger.net).amountUc
      } catch (err: any) {
        throw new LedgerArgumentError(`voucher: ${err?.message ?? err}`)
      }
    }
    return await this.sign({ type: 'settle', openId: fromHex(openId), voucher: s.voucherBytes, amountUc })
  }

  balance (account?: string | Uint8Array): AccountBalance {
    return this.ledger.balance(account ?? this.signerKey())
  }

  balances (): AccountBalance[] { return this.ledger.balances() }

  history (account?: string | Uint8Array): HistoryEntry[] {
    const k = this.ledger.keyOf(account ?? this.signerKey())
    return this.ledger.history(k).map(r => historyEntry(this.ledger, r, k))
  }

  /** the shape ledger/sync reads (RecordSource): valid records as (time, id), bytes by id, chains */
  recordSource (): { items: () => Iterable<{ timestamp: bigint, id: Uint8Array }>, get: (id: Uint8Array) => Uint8Array | undefined, chain: (account: string, fromSeq: bigint, limit: number) => Uint8Array[], revision: () => number, size: () => number, missing: () => Uint8Array[] } {
    const l = this.ledger
    return {
      missing: () => this.missing().map(fromHex),
      items: function * () { for (const r of l.records()) yield { timestamp: r.time, id: fromHex(r.id) } },
      get: (id) => l.recordBytes(toHex(id)),
      chain: (account, fromSeq, limit) => l.chain(account, fromSeq, limit).map(r => r.bytes),
      revision: () => l.revision(),
      size: () => l.size
    }
  }

  /** the shape ledger/sync writes to (RecordSink) */
  recordSink (): { add: (bytes: Uint8Array) => Promise<AddResult> } {
    return { add: async (bytes) => this.add(bytes) }
  }

  isFlagged (account: string | Uint8Array): boolean { return this.ledger.isFlagged(account) }
  fraudProofs (): FraudProof[] { return this.ledger.fraudProofs() }
  /** ids pending records wait for that this node holds nowhere (a held future-dated record is not missing) */
  missing (): string[] { return this.ledger.missing().filter(id => !this.future.has(id)) }
}

/** the grantee of a grant record; undefined for anything else */
function grantTo (r: ParsedRecord | undefined): string | undefined {
  return r?.kind.type === 'grant' ? r.kind.to : undefined
}

/** one history line from the point of view of account `k` */
export function historyEntry (ledger: Ledger, r: ParsedRecord, k: string): HistoryEntry {
  const base = { id: r.id, from: ledger.accountId(r.from), seq: r.seq, type: r.kind.type, memo: r.memo, time: r.time }
  const kind = r.kind
  if (kind.type === 'transfer' || kind.type === 'credit') {
    const out = r.from === k
    return { ...base, counterparty: ledger.accountId(out ? kind.to : r.from), deltaUc: out ? -kind.amountUc : kind.amountUc, tag: kind.type === 'transfer' ? kind.tag : undefined, memo: kind.type === 'transfer' && kind.memo !== '' ? kind.memo : r.memo }
  }
  if (kind.type === 'open') return { ...base, counterparty: ledger.accountId(r.from === k ? kind.seller : r.from), deltaUc: 0n }
  // a grant or revoke moves no balance: the counterparty is the grantee (for the grantor) or the grantor
  if (kind.type === 'grant') return { ...base, counterparty: ledger.accountId(r.from === k ? kind.to : r.from), deltaUc: 0n }
  if (kind.type === 'revoke') {
    const to = grantTo(ledger.get(kind.grantId)?.rec)
    return { ...base, counterparty: to == null ? undefined : ledger.accountId(r.from === k ? to : r.from), deltaUc: 0n }
  }
  if (kind.type === 'settle') {
    const open = ledger.get(kind.openId)?.rec
    const buyer = open?.from ?? ''
    return { ...base, counterparty: ledger.accountId(r.from === k ? buyer : r.from), deltaUc: r.from === k ? kind.amountUc : -kind.amountUc }
  }
  return { ...base, deltaUc: 0n }
}

/**
 * Ledger state: the grow-only set of valid records (a CRDT: merge = union + re-evaluation),
 * the bounded pending set, balances, histories, fork detection with fraud proofs, and the
 * local signer's chain (`createRecord`, persisted before the signature is returned).
 */
import type { Genesis } from './genesis.js'
import { netId } from './genesis.js'
import { accountIdFromPublicKey, publicKeyFromAccountId } from '../identity/account.js'
import type { Ed25519Signer } from '../identity/ed25519.js'
import { InvalidRecordError, InsufficientCreditError, LedgerArgumentError, LedgerStateError, type RejectReason } from './errors.js'
import { MAX_ACKS, fromHex, parseRecord, signRecord, toHex, type ParsedRecord, type RecordKindInput } from './record.js'
import { dependencies, EMPTY_STATE, judge, netRules, RELEASE_GRACE_MS, type AncestorView, type ChainState, type LockRelease, type NetRules, type ValidRecord } from './validity.js'
import type { LedgerStore, StoreOp } from './store.js'

/** records waiting for ancestors; the oldest is dropped beyond this */
export const DEFAULT_MAX_PENDING = 10_000
/** ids remembered as invalid, so their dependants are rejected at once */
const MAX_REJECTED_IDS = 10_000

export type AddStatus = 'accepted' | 'pending' | 'duplicate' | 'rejected'

export interface AddResult {
  status: AddStatus
  /** hex record id; '' when the bytes are too broken to have one */
  id: string
  reason?: RejectReason
  message?: string
  /** records that became valid by this call: this one and pending ones it unblocked */
  accepted: ParsedRecord[]
}

export type GossipVerdict = 'accept' | 'ignore' | 'reject'

export interface AccountBalance {
  account: string
  /** credits − debits over all valid records; Σ over all accounts is 0 */
  balanceUc: bigint
  /** max spend of this account's opens that no valid settle closed yet */
  lockedUc: bigint
  /** balanceUc − lockedUc */
  availableUc: bigint
  /** what the account's own next record may spend: chain headroom + unacked incoming credit */
  spendableUc: bigint
  creditLimitUc: bigint
  flagged: boolean
}

export interface FraudProof {
  account: string
  seq: bigint
  /** two envelopes signed by `account` for the same seq: self-verifying */
  a: Uint8Array
  b: Uint8Array
}

export interface LedgerInit {
  genesis: Genesis
  /** the local account; needed by createRecord */
  signer?: Ed25519Signer
  /** where records go; without it the ledger is memory only and createRecord refuses */
  store?: LedgerStore
  maxPending?: number
  /** clock for the informational `time` field of own records */
  now?: () => number
}

interface Balance { balance: bigint, locked: bigint }

/** bounded FIFO set */
class BoundedSet {
  private readonly s = new Set<string>()
  constructor (private readonly max: number) {}
  add (k: string): void {
    if (this.s.size >= this.max) this.s.delete(this.s.values().next().value as string)
    this.s.add(k)
  }

  has (k: string): boolean { return this.s.has(k) }
}

function push<K, V> (m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k)
  if (l == null) m.set(k, [v])
  else l.push(v)
}

export class Ledger implements AncestorView {
  readonly genesis: Genesis
  readonly net: Uint8Array
  readonly rules: NetRules
  readonly signer?: Ed25519Signer
  private readonly self?: string
  private readonly store?: LedgerStore
  private readonly maxPending: number
  private readonly now: () => number

  private readonly valid = new Map<string, ValidRecord>()
  private readonly pending = new Map<string, ParsedRecord>()
  private readonly waiting = new Map<string, Set<string>>()
  private readonly rejected = new BoundedSet(MAX_REJECTED_IDS)
  /** `${from}:${seq}` → ids (valid or pending) */
  private readonly bySeq = new Map<string, string[]>()
  private readonly forked = new Map<string, FraudProof[]>()
  private readonly ackIndex = new Map<string, string[]>()
  private readonly settleIndex = new Map<string, string[]>()
  /** open id → records of its buyer that released its lock: by acking a settle of it, or a release */
  private readonly releaseIndex = new Map<string, Array<{ id: string, via: LockRelease }>>()
  /** grant id → its revoke records */
  private readonly revokeIndex = new Map<string, string[]>()
  /** revoke id → grantor records that acked a grantee record acking it (the revoke's return) */
  private readonly returnIndex = new Map<string, string[]>()
  /** open id → the settle counted in balances (see countSettle) */
  private readonly countedSettle = new Map<string, string>()
  /** settles acked by a valid record of their open's buyer */
  private readonly buyerAckedSettles = new Set<string>()
  /** opens whose lock no longer counts in lockedUc (a counted settle or a valid release) */
  private readonly unlocked = new Set<string>()
  /** buyer key → its opens that a valid release record ended */
  private readonly releasedOpens = new Map<string, Set<string>>()
  private readonly balancesByKey = new Map<string, Balance>()
  private readonly historyByKey = new Map<string, string[]>()
  /** incoming credit records not yet acked by the account, per account */
  private readonly unacked = new Map<string, Set<string>>()
  /** highest-seq valid record per author (lowest id on a tie) */
  private readonly heads = new Map<string, ValidRecord>()
  private readonly accountIds = new Map<string, string>()

  private rev = 0
  private writeQueue: StoreOp[] = []
  private writing: Promise<void> = Promise.resolve()
  private writeError: unknown
  private signing: Promise<unknown> = Promise.resolve()
  /** incoming credits the local account does not ack yet (see setAckDeferral) */
  private deferAck: (id: string) => boolean = () => false

  constructor (init: LedgerInit) {
    this.genesis = init.genesis
    this.net = netId(init.genesis)
    this.rules = netRules(init.genesis)
    this.signer = init.signer
    this.self = init.signer != null ? toHex(init.signer.publicKey) : undefined
    this.store = init.store
    this.maxPending = init.maxPending ?? DEFAULT_MAX_PENDING
    this.now = init.now ?? Date.now
  }

  // ---- AncestorView ----
  get (id: string): ValidRecord | undefined { return this.valid.get(id) }
  isRejected (id: string): boolean { return this.rejected.has(id) }

  /** is `rec` (by the same author) on the chain ending at `head`? */
  private onChain (rec: ParsedRecord, head: ValidRecord | undefined): boolean {
    if (head == null || rec.seq > head.rec.seq) return false
    if (!this.forked.has(rec.from)) return true
    let cur: ValidRecord | undefined = head
    while (cur != null && cur.rec.seq > rec.seq) cur = this.valid.get(cur.rec.prev)
    return cur?.rec.id === rec.id
  }

  ackedInChain (author: string, ackId: string, head: ValidRecord | undefined): boolean {
    for (const id of this.ackIndex.get(ackId) ?? []) {
      const r = this.valid.get(id)
      if (r != null && r.rec.from === author && this.onChain(r.rec, head)) return true
    }
    return false
  }

  settledInChain (author: string, openId: string, head: ValidRecord | undefined): boolean {
    for (const id of this.settleIndex.get(openId) ?? []) {
      const r = this.valid.get(id)
      if (r != null && r.rec.from === author && this.onChain(r.rec, head)) return true
    }
    return false
  }

  releasedInChain (author: string, openId: string, head: ValidRecord | undefined): LockRelease | undefined {
    let found: LockRelease | undefined
    for (const { id, via } of this.releaseIndex.get(openId) ?? []) {
      const r = this.valid.get(id)
      if (r == null || r.rec.from !== author || !this.onChain(r.rec, head)) continue
      if (via === 'settle') return 'settle'
      found = via
    }
    return found
  }

  inChain (id: string, head: ValidRecord | undefined): boolean {
    const r = this.valid.get(id)
    return r != null && head != null && r.rec.from === head.rec.from && this.onChain(r.rec, head)
  }

  revokedInChain (author: string, grantId: string, head: ValidRecord | undefined): bigint {
    let total = 0n
    for (const id of this.revokeIndex.get(grantId) ?? []) {
      const r = this.valid.get(id)
      if (r?.rec.kind.type === 'revoke' && r.rec.from === author && this.onChain(r.rec, head)) total += r.rec.kind.amountUc
    }
    return total
  }

  returnedInChain (author: string, revokeId: string, head: ValidRecord | undefined): boolean {
    for (const id of this.returnIndex.get(revokeId) ?? []) {
      const r = this.valid.get(id)
      if (r != null && r.rec.from === author && this.onChain(r.rec, head)) return true
    }
    return false
  }

  // ---- ingest ----

  /** Parse, verify and merge one record envelope. Never throws on bad input. */
  add (bytes: Uint8Array, opts: { trusted?: boolean } = {}): AddResult {
    let rec: ParsedRecord
    try {
      rec = parseRecord(bytes, { net: this.net, trusted: opts.trusted })
    } catch (err: any) {
      if (err instanceof InvalidRecordError) return { status: 'rejected', id: '', reason: err.reason, message: err.message, accepted: [] }
      return { status: 'rejected', id: '', reason: 'malformed', message: String(err?.message ?? err), accepted: [] }
    }
    return this.addParsed(rec)
  }

  private addParsed (rec: ParsedRecord): AddResult {
    if (this.valid.has(rec.id) || this.pending.has(rec.id)) return { status: 'duplicate', id: rec.id, accepted: [] }
    if (this.rejected.has(rec.id)) return { status: 'rejected', id: rec.id, reason: 'invalid-ancestor', message: 'record was rejected before', accepted: [] }
    const v = judge(rec, this, this.rules)
    if (v.ok === false) {
      this.reject(rec.id)
      return { status: 'rejected', id: rec.id, reason: v.reason, message: v.message, accepted: [] }
    }
    // forks are detected among kept records only, so flags follow from the stored set
    this.noteSeq(rec)
    if (v.ok === 'missing') {
      this.park(rec, v.missing)
      return { status: 'pending', id: rec.id, accepted: [] }
    }
    const accepted: ParsedRecord[] = []
    this.accept(rec, v.state, accepted)
    return { status: 'accepted', id: rec.id, accepted }
  }

  /** The gossip validator: Accept a new valid record, Ignore duplicates and records that wait
   * for ancestors, Reject anything malformed, mis-signed, from another net or invalid. Reads only. */
  validateGossipRecord (bytes: Uint8Array): GossipVerdict {
    let rec: ParsedRecord
    try {
      rec = parseRecord(bytes, { net: this.net })
    } catch {
      return 'reject'
    }
    if (this.valid.has(rec.id) || this.pending.has(rec.id)) return 'ignore'
    if (this.rejected.has(rec.id)) return 'reject'
    const v = judge(rec, this, this.rules)
    if (v.ok === 'missing') return 'ignore'
    return v.ok ? 'accept' : 'reject'
  }

  private noteSeq (rec: ParsedRecord): void {
    const k = `${rec.from}:${rec.seq}`
    const ids = this.bySeq.get(k)
    if (ids == null) { this.bySeq.set(k, [rec.id]); return }
    if (ids.includes(rec.id)) return
    const other = this.valid.get(ids[0])?.rec ?? this.pending.get(ids[0])
    ids.push(rec.id)
    if (other != null) push(this.forked, rec.from, { account: this.accountId(rec.from), seq: rec.seq, a: other.bytes, b: rec.bytes })
  }

  private park (rec: ParsedRecord, missing: string[]): void {
    this.pending.set(rec.id, rec)
    for (const m of missing) {
      let s = this.waiting.get(m)
      if (s == null) this.waiting.set(m, s = new Set())
      s.add(rec.id)
    }
    this.enqueue({ type: 'put', space: 'pending', id: rec.id, bytes: rec.bytes })
    while (this.pending.size > this.maxPending) {
      const oldest = this.pending.keys().next().value as string
      this.dropPending(oldest)
    }
  }

  private dropPending (id: string): void {
    const rec = this.pending.get(id)
    if (rec == null) return
    this.pending.delete(id)
    for (const d of dependencies(rec)) {
      const s = this.waiting.get(d)
      if (s != null) { s.delete(id); if (s.size === 0) this.waiting.delete(d) }
    }
    const k = `${rec.from}:${rec.seq}`
    const ids = this.bySeq.get(k)
    if (ids != null && !this.forked.has(rec.from)) {
      const rest = ids.filter(x => x !== id)
      if (rest.length === 0) this.bySeq.delete(k)
      else this.bySeq.set(k, rest)
    }
    this.enqueue({ type: 'del', space: 'pending', id })
  }

  private reject (id: string): void {
    const stack = [id]
    while (stack.length > 0) {
      const x = stack.pop()!
      this.rejected.add(x)
      const waiters = this.waiting.get(x)
      this.waiting.delete(x)
      if (this.pending.has(x)) this.dropPending(x)
      if (waiters != null) for (const w of waiters) stack.push(w)
    }
  }

  private accept (first: ParsedRecord, firstState: ChainState, out: ParsedRecord[]): void {
    const work: Array<[ParsedRecord, ChainState]> = [[first, firstState]]
    while (work.length > 0) {
      const [rec, state] = work.pop()!
      if (this.pending.has(rec.id)) {
        this.pending.delete(rec.id)
        this.enqueue({ type: 'del', space: 'pending', id: rec.id })
      }
      this.install(rec, state)
      this.enqueue({ type: 'put', space: 'record', id: rec.id, bytes: rec.bytes })
      out.push(rec)
      const waiters = this.waiting.get(rec.id)
      if (waiters == null) continue
      this.waiting.delete(rec.id)
      for (const w of waiters) {
        const p = this.pending.get(w)
        if (p == null) continue
        const v = judge(p, this, this.rules)
        if (v.ok === 'missing') {
          for (const m of v.missing) {
            let s = this.waiting.get(m)
            if (s == null) this.waiting.set(m, s = new Set())
            s.add(w)
          }
        } else if (v.ok === false) {
          this.reject(w)
        } else {
          work.push([p, v.state])
        }
      }
    }
  }

  private bal (k: string): Balance {
    let b = this.balancesByKey.get(k)
    if (b == null) this.balancesByKey.set(k, b = { balance: 0n, locked: 0n })
    return b
  }

  private touch (account: string, id: string): void {
    push(this.historyByKey, account, id)
  }

  /** make a judged-valid record part of the state */
  private install (rec: ParsedRecord, state: ChainState): void {
    const vr: ValidRecord = { rec, state }
    this.valid.set(rec.id, vr)
    this.rev++
    const head = this.heads.get(rec.from)
    if (head == null || rec.seq > head.rec.seq || (rec.seq === head.rec.seq && rec.id < head.rec.id)) this.heads.set(rec.from, vr)
    this.touch(rec.from, rec.id)
    for (const a of rec.acks) {
      push(this.ackIndex, a, rec.id)
      this.unacked.get(rec.from)?.delete(a)
      const target = this.valid.get(a)?.rec
      for (const b of target?.acks ?? []) {
        const rv = this.valid.get(b)?.rec
        if (rv?.kind.type === 'revoke' && rv.from === rec.from && target!.from !== rec.from) push(this.returnIndex, b, rec.id)
      }
      const t = target?.kind
      // the grantee acked a revoke: the grantor may now ack this record to get the revoked part back
      if (t?.type === 'revoke' && t != null) {
        const g = this.valid.get(t.grantId)?.rec
        if (g?.kind.type === 'grant' && g.kind.to === rec.from) this.addUnacked(g.from, rec.id)
      }
      if (t?.type === 'settle' && this.valid.get(t.openId)?.rec.from === rec.from) {
        push(this.releaseIndex, t.openId, { id: rec.id, via: 'settle' })
        this.buyerAckedSettles.add(a)
        this.countSettle(t.openId)
      }
    }
    const k = rec.kind
    if (k.type === 'transfer' || k.type === 'credit') {
      this.bal(rec.from).balance -= k.amountUc
      this.bal(k.to).balance += k.amountUc
      this.touch(k.to, rec.id)
      this.addUnacked(k.to, rec.id)
    } else if (k.type === 'open') {
      this.bal(rec.from).locked += k.maxSpendUc
      this.touch(k.seller, rec.id)
    } else if (k.type === 'settle') {
      push(this.settleIndex, k.openId, rec.id)
      const buyer = this.valid.get(k.openId)!.rec.from
      this.touch(buyer, rec.id)
      this.addUnacked(buyer, rec.id)
      this.countSettle(k.openId)
    } else if (k.type === 'grant') {
      this.touch(k.to, rec.id)
      this.addUnacked(k.to, rec.id)
    } else if (k.type === 'revoke') {
      push(this.revokeIndex, k.grantId, rec.id)
      const g = this.valid.get(k.grantId)!.rec
      if (g.kind.type === 'grant') {
        this.touch(g.kind.to, rec.id)
        this.addUnacked(g.kind.to, rec.id)
      }
    } else if (k.type === 'release') {
      push(this.releaseIndex, k.openId, { id: rec.id, via: 'release' })
      let set = this.releasedOpens.get(rec.from)
      if (set == null) this.releasedOpens.set(rec.from, set = new Set())
      set.add(k.openId)
      this.unlock(k.openId)
    }
  }

  /**
   * How far a settle that came after its lock's release can take the account below its credit
   * limit: Σ of the counted settle amounts of its released opens (each at most that open's lock).
   * For an unflagged account that is not an issuer, availableUc ≥ −(creditLimit + overdraftUc).
   */
  overdraftUc (account: string | Uint8Array): bigint {
    const k = this.keyOf(account)
    let total = 0n
    for (const openId of this.releasedOpens.get(k) ?? []) {
      const s = this.countedSettle.get(openId)
      const kind = s != null ? this.valid.get(s)?.rec.kind : undefined
      if (kind?.type === 'settle') total += kind.amountUc
    }
    return total
  }

  /**
   * Balances count one settle per open: the smallest-id settle its buyer acked, else the
   * smallest-id settle. Two settles of one open exist only on a forked seller's branches; an
   * unflagged buyer acks at most one, and the balances charge it exactly what its chain debited.
   */
  private countSettle (openId: string): void {
    const open = this.valid.get(openId)?.rec
    if (open?.kind.type !== 'open') return
    let want: string | undefined
    let wantAcked = false
    for (const id of this.settleIndex.get(openId) ?? []) {
      if (!this.valid.has(id)) continue
      const acked = this.buyerAckedSettles.has(id)
      if (want == null || (acked && !wantAcked) || (acked === wantAcked && id < want)) { want = id; wantAcked = acked }
    }
    const counted = this.countedSettle.get(openId)
    if (want == null || want === counted) return
    if (counted != null) {
      const old = this.valid.get(counted)!.rec
      if (old.kind.type === 'settle') this.moveSettled(open.from, old.from, -old.kind.amountUc)
    }
    const now = this.valid.get(want)!.rec
    if (now.kind.type === 'settle') this.moveSettled(open.from, now.from, now.kind.amountUc)
    this.countedSettle.set(openId, want)
    this.unlock(openId)
  }

  /** the open's lock stops counting in lockedUc (once, however many settles and releases) */
  private unlock (openId: string): void {
    if (this.unlocked.has(openId)) return
    const open = this.valid.get(openId)?.rec
    if (open?.kind.type !== 'open') return
    this.unlocked.add(openId)
    this.bal(open.from).locked -= open.kind.maxSpendUc
  }

  private moveSettled (buyer: string, seller: string, amountUc: bigint): void {
    this.bal(buyer).balance -= amountUc
    this.bal(seller).balance += amountUc
  }

  private addUnacked (account: string, id: string): void {
    if (this.ackedInChain(account, id, this.heads.get(account))) return
    let s = this.unacked.get(account)
    if (s == null) this.unacked.set(account, s = new Set())
    s.add(id)
  }

  // ---- queries ----

  /** ids referenced by pending records and not held: what to fetch */
  missing (): string[] {
    const out: string[] = []
    for (const id of this.waiting.keys()) if (!this.valid.has(id) && !this.pending.has(id)) out.push(id)
    return out
  }

  has (id: string): boolean { return this.valid.has(id) }
  get size (): number { return this.valid.size }
  get pendingSize (): number { return this.pending.size }
  /** bytes of a valid record by hex id */
  recordBytes (id: string): Uint8Array | undefined { return this.valid.get(id)?.rec.bytes }
  /** every valid record (in acceptance order) */
  * records (): IterableIterator<ParsedRecord> { for (const v of this.valid.values()) yield v.rec }
  * pendingRecords (): IterableIterator<ParsedRecord> { yield * this.pending.values() }

  accountId (keyHex: string): string {
    let a = this.accountIds.get(keyHex)
    if (a == null) { a = accountIdFromPublicKey(fromHex(keyHex)); this.accountIds.set(keyHex, a) }
    return a
  }

  /** account id string, hex key or raw key → hex key */
  keyOf (account: string | Uint8Array): string {
    if (account instanceof Uint8Array) {
      if (account.length !== 32) throw new LedgerArgumentError(`account key must be 32 bytes, got ${account.length}`)
      return toHex(account)
    }
    if (/^[0-9a-f]{64}$/.test(account)) return account
    try {
      return toHex(publicKeyFromAccountId(account))
    } catch (err: any) {
      throw new LedgerArgumentError(err?.message ?? String(err))
    }
  }

  creditLimit (_keyHex: string): bigint { return this.rules.defaultCreditLimitUc }

  isFlagged (account: string | Uint8Array): boolean { return this.forked.has(this.keyOf(account)) }

  fraudProofs (): FraudProof[] { return [...this.forked.values()].flat() }

  /** chain state at the account's head (its highest valid record) */
  headState (keyHex: string): ChainState { return this.heads.get(keyHex)?.state ?? EMPTY_STATE }

  balance (account: string | Uint8Array): AccountBalance {
    const k = this.keyOf(account)
    const b = this.balancesByKey.get(k) ?? { balance: 0n, locked: 0n }
    const s = this.headState(k)
    let incoming = 0n
    for (const id of this.unackedIncoming(k)) incoming += this.ackValue(k, id)
    return {
      account: this.accountId(k),
      balanceUc: b.balance,
      lockedUc: b.locked,
      // outstanding grants are held like a lock: the grantor bears what its grantees spend
      availableUc: b.balance - b.locked - s.granted,
      spendableUc: s.acked - s.debits - s.locked - s.granted + this.creditLimit(k) + s.lines + incoming,
      creditLimitUc: this.creditLimit(k),
      flagged: this.forked.has(k)
    }
  }

  /**
   * Explicit credit lines at the account's head: `grantedUc` it extended and still bears (its
   * availableUc excludes them), `linesUc` it received and acked (it may spend down to
   * −(creditLimit + linesUc)).
   */
  grants (account: string | Uint8Array): { grantedUc: bigint, linesUc: bigint } {
    const s = this.headState(this.keyOf(account))
    return { grantedUc: s.granted, linesUc: s.lines }
  }

  /** revokes of `revokeId`s grant returned by acking `id` (a grantee's record), for `account` the grantor at `head` */
  private returnsOf (account: string, id: string, head: ValidRecord | undefined): bigint {
    const r = this.valid.get(id)?.rec
    if (r == null || r.from === account) return 0n
    let total = 0n
    for (const b of r.acks) {
      const rv = this.valid.get(b)?.rec
      if (rv?.kind.type !== 'revoke' || rv.from !== account) continue
      if (!this.inChain(b, head) || this.returnedInChain(account, b, head)) continue
      total += rv.kind.amountUc
    }
    return total
  }

  /** headroom gained by acking `id` */
  private ackValue (account: string, id: string): bigint {
    const r = this.valid.get(id)?.rec
    if (r == null) return 0n
    const k = r.kind
    const back = this.returnsOf(account, id, this.heads.get(account))
    if (k.type === 'grant') return back + (k.to === account ? k.amountUc : 0n)
    if (k.type === 'revoke') return back - k.amountUc
    if (k.type === 'transfer' || k.type === 'credit') return back + (k.to === account ? k.amountUc : 0n)
    if (back > 0n) return back
    if (k.type === 'settle') {
      const o = this.valid.get(k.openId)?.rec.kind
      if (o?.type !== 'open') return 0n
      // after a release the lock is already off: acking the late settle only debits
      return this.releasedInChain(account, k.openId, this.heads.get(account)) === 'release' ? -k.amountUc : o.maxSpendUc - k.amountUc
    }
    return 0n
  }

  /** balances of every account that appears in a valid record */
  balances (): AccountBalance[] {
    return [...this.balancesByKey.keys()].sort().map(k => this.balance(k))
  }

  /** Σ balanceUc over all accounts (0 by construction) */
  totalUc (): bigint {
    let t = 0n
    for (const b of this.balancesByKey.values()) t += b.balance
    return t
  }

  /** valid records the account signed or is a counterparty of, in acceptance order */
  history (account: string | Uint8Array): ParsedRecord[] {
    const k = this.keyOf(account)
    return (this.historyByKey.get(k) ?? []).map(id => this.valid.get(id)!.rec)
  }

  /** changes whenever the valid set grows (sync caches its reconciliation storage per revision) */
  revision (): number { return this.rev }

  /** the account's valid records with seq ≥ fromSeq, in seq order, at most `limit` (forks: all branches) */
  chain (account: string | Uint8Array, fromSeq: bigint, limit: number): ParsedRecord[] {
    const k = this.keyOf(account)
    return this.history(k).filter(r => r.from === k && r.seq >= fromSeq)
      .sort((a, b) => a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : a.id < b.id ? -1 : 1)
      .slice(0, Math.max(0, limit))
  }

  // ---- local signer ----

  /** valid records crediting the account that its head chain has not acked, oldest first */
  unackedIncoming (account: string | Uint8Array): string[] {
    const k = this.keyOf(account)
    const s = this.unacked.get(k)
    if (s == null) return []
    const head = this.heads.get(k)
    // a chain acks one settle per open (others are a forked seller's): the smallest id, which balances count
    const settleOf = new Map<string, string>()
    const out = [...s].filter(id => {
      if (this.ackedInChain(k, id, head)) return false
      const rec = this.valid.get(id)?.rec
      const t = rec?.kind
      // a grantee's revoke-ack is worth acking only while it returns something; a record that
      // would return a revoke returned before (a forked grantee's other branch) is never acked
      if (rec != null && rec.from !== k && this.returnsOf(k, id, head) === 0n && (this.returnable(k, rec, head).length > 0 || !this.credits(k, rec))) return false
      if (t?.type === 'revoke') {
        const g = this.valid.get(t.grantId)?.rec
        if (g == null || !this.ackedInChain(k, t.grantId, head)) {
          // acked together with its grant, or once the grant is acked
          if (!s.has(t.grantId)) return false
        }
      }
      if (t?.type !== 'settle') return true
      if (this.releasedInChain(k, t.openId, head) === 'settle') return false
      const other = settleOf.get(t.openId)
      if (other == null || id < other) settleOf.set(t.openId, id)
      return true
    })
    // of several records returning one revoke (a forked grantee's branches), only the smallest id
    const claimed = new Set<string>()
    const dropped = new Set<string>()
    for (const id of [...out].sort()) {
      const rec = this.valid.get(id)?.rec
      if (rec == null) continue
      const rv = this.returnable(k, rec, head)
      if (rv.some(x => claimed.has(x) || this.returnedInChain(k, x, head))) dropped.add(id)
      else for (const x of rv) claimed.add(x)
    }
    return out.filter(id => {
      const t = this.valid.get(id)?.rec.kind
      if (dropped.has(id)) return false
      return t?.type !== 'settle' || settleOf.get(t.openId) === id
    })
  }

  /** the revokes on `account`'s chain at `head` that `rec` (a grantee's record) acked */
  private returnable (account: string, rec: ParsedRecord, head: ValidRecord | undefined): string[] {
    if (rec.from === account) return []
    return rec.acks.filter(b => {
      const rv = this.valid.get(b)?.rec
      return rv?.kind.type === 'revoke' && rv.from === account && this.inChain(b, head)
    })
  }

  /** does `rec` credit `account` by itself (not counting revokes it returns)? */
  private credits (account: string, rec: ParsedRecord): boolean {
    const k = rec.kind
    if (k.type === 'transfer' || k.type === 'credit' || k.type === 'grant') return k.to === account
    if (k.type === 'settle') return this.valid.get(k.openId)?.rec.from === account
    if (k.type === 'revoke') {
      const g = this.valid.get(k.grantId)?.rec.kind
      return g?.type === 'grant' && g.to === account
    }
    return false
  }

  /**
   * Tell the local signer which incoming credits not to ack yet: an ack makes every later own
   * record depend on the acked one, so a record this node did not forward (its author was over
   * the gossip budget) is acked only once the others can have pulled it.
   */
  setAckDeferral (defer: (id: string) => boolean): void {
    this.deferAck = defer
  }

  private ownUnacked (withRevokes = true): string[] {
    const ids = this.unackedIncoming(this.self!).filter(id => !this.deferAck(id))
    // grants before the revokes that name them
    const order = (id: string): number => { const t = this.valid.get(id)?.rec.kind.type; return t === 'grant' ? 0 : t === 'revoke' ? 2 : 1 }
    ids.sort((a, b) => order(a) - order(b))
    return ids.filter(id => withRevokes || this.valid.get(id)?.rec.kind.type !== 'revoke').slice(0, MAX_ACKS)
  }

  /**
   * Build, sign and persist (fsync) the local account's next record: next seq, prev = own head,
   * acks = pending incoming credits. Returns only once the record is durable, so a crash can
   * never make this node sign a second record for the same seq.
   */
  async createRecord (kind: RecordKindInput, opts: { memo?: string } = {}): Promise<{ id: string, bytes: Uint8Array, record: ParsedRecord }> {
    const run = this.signing.then(async () => await this.createRecordNow(kind, opts))
    this.signing = run.catch(() => {})
    return await run
  }

  private async createRecordNow (kind: RecordKindInput, opts: { memo?: string }): Promise<{ id: string, bytes: Uint8Array, record: ParsedRecord }> {
    if (this.signer == null || this.self == null) throw new LedgerStateError('this ledger has no local signer')
    if (this.store == null) throw new LedgerStateError('this ledger has no store: own records must be persisted before signing')
    if (this.writeError != null) throw new LedgerStateError(`ledger store failed: ${String(this.writeError)}`)
    const self = this.self
    // the newest own record, valid or waiting: never reuse its seq
    let head: ParsedRecord | undefined = this.heads.get(self)?.rec
    for (const p of this.pending.values()) if (p.from === self && (head == null || p.seq > head.seq)) head = p
    const seq = (head?.seq ?? 0n) + 1n
    const build = (acks: string[]): { id: string, bytes: Uint8Array, rec: ParsedRecord, v: ReturnType<typeof judge> } => {
      const { id, bytes } = signRecord(this.signer!, {
        net: this.net, seq, prev: head != null ? fromHex(head.id) : undefined, kind, acks: acks.map(fromHex), memo: opts.memo, time: BigInt(this.now())
      })
      const rec = parseRecord(bytes, { net: this.net, trusted: true })
      return { id, bytes, rec, v: judge(rec, this, this.rules) }
    }
    const acks = this.ownUnacked()
    let built = build(acks)
    // a revoke is acked only while the headroom covers it (only the unused part of a line is
    // revoked): on overspend, the smallest revokes are kept as long as the record stays valid
    if (built.v.ok === false && built.v.reason === 'overspend') {
      const amountOf = (id: string): bigint => { const k = this.valid.get(id)?.rec.kind; return k?.type === 'revoke' ? k.amountUc : 0n }
      const revokes = acks.filter(id => this.valid.get(id)?.rec.kind.type === 'revoke').sort((x, y) => amountOf(x) < amountOf(y) ? -1 : amountOf(x) > amountOf(y) ? 1 : 0)
      const others = acks.filter(id => !revokes.includes(id))
      for (let m = revokes.length - 1; m >= 0; m--) {
        const some = [...others, ...revokes.slice(0, m)]
        if (some.length === 0 && kind.type === 'ack') break
        built = build(some)
        if (built.v.ok !== false || built.v.reason !== 'overspend') break
      }
    }
    const { id, bytes, rec, v } = built
    if (v.ok === false) {
      if (v.reason === 'overspend') throw new InsufficientCreditError(v.message)
      throw new InvalidRecordError(v.reason, v.message)
    }
    if (v.ok === 'missing') throw new LedgerStateError(`own chain waits for ${v.missing.join(', ')}`)
    // everything this record depends on goes into the same fsynced batch
    const ops: StoreOp[] = this.takeQueue()
    for (const d of dependencies(rec)) {
      const b = this.valid.get(d)?.rec.bytes
      if (b != null) ops.push({ type: 'put', space: 'record', id: d, bytes: b })
    }
    ops.push({ type: 'put', space: 'record', id, bytes })
    const store = this.store
    const durable = this.writing.then(async () => { await store.write(ops, { sync: true }) })
    this.writing = durable.catch(err => { this.writeError = err })
    await durable
    this.noteSeq(rec)
    const accepted: ParsedRecord[] = []
    // accept() queues a second (unsynced, harmless) put of this record and the puts of any
    // records it unblocked; writes queued by other add() calls meanwhile stay queued
    this.accept(rec, v.state, accepted)
    return { id, bytes, record: rec }
  }

  /**
   * The local account's opens whose lock it may release now: an end, `nowMs` past end + grace
   * (RELEASE_GRACE_MS), no valid settle known here, not released in its chain yet.
   */
  releasableOpens (nowMs: number): string[] {
    if (this.self == null) return []
    const self = this.self
    const head = this.heads.get(self)
    return this.history(self).filter(r => {
      const k = r.kind
      if (k.type !== 'open' || r.from !== self || k.endsAtMs === 0n) return false
      if (BigInt(nowMs) < k.endsAtMs + BigInt(RELEASE_GRACE_MS)) return false
      if ((this.settleIndex.get(r.id) ?? []).some(id => this.valid.has(id))) return false
      return this.releasedInChain(self, r.id, head) == null
    }).map(r => r.id)
  }

  /** the local account's own head seq (0 before its first record) */
  ownSeq (): bigint {
    if (this.self == null) return 0n
    return this.heads.get(this.self)?.rec.seq ?? 0n
  }

  // ---- persistence ----

  private takeQueue (): StoreOp[] {
    const q = this.writeQueue
    this.writeQueue = []
    return q
  }

  private enqueue (op: StoreOp): void {
    if (this.store == null) return
    this.writeQueue.push(op)
    if (this.writeQueue.length === 1) {
      this.writing = this.writing.then(async () => {
        await Promise.resolve()
        const ops = this.takeQueue()
        if (ops.length > 0) await this.store!.write(ops, { sync: false })
      }).catch(err => { this.writeError = err })
    }
  }

  /** wait until every queued write reached the store */
  async flush (): Promise<void> {
    while (this.writeQueue.length > 0) {
      const ops = this.takeQueue()
      this.writing = this.writing.then(async () => { await this.store?.write(ops, { sync: false }) }).catch(err => { this.writeError = err })
    }
    await this.writing
    if (this.writeError != null) throw new LedgerStateError(`ledger store failed: ${String(this.writeError)}`)
  }

  /** Reload from the store: records and the pending set, in any order. */
  async load (): Promise<{ records: number, pending: number }> {
    if (this.store == null) throw new LedgerStateError('this ledger has no store')
    const stored = await this.store.load()
    for (const b of stored.records) this.add(b, { trusted: true })
    for (const b of stored.pending) this.add(b, { trusted: true })
    this.takeQueue()
    return { records: this.valid.size, pending: this.pending.size }
  }
}

/** map an add() result to a gossipsub verdict */
export function gossipVerdict (r: AddResult): GossipVerdict {
  return r.status === 'accepted' ? 'accept' : r.status === 'rejected' ? 'reject' : 'ignore'
}

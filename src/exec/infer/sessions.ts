/**
 * Session registries for both ends of /tally/infer. The seller's keeps the terms, what it has
 * billed so far and the highest voucher per contract (to check the next one against) and tells
 * an observer when a request begins or ends and when a voucher is accepted: the seller's session
 * machine (exec/session/seller-machine.ts) decides expiry and settles. The buyer's keeps what it
 * has signed. Time comes from an injected clock; no I/O.
 */
import type { Ed25519Path } from '../../identity/ed25519.js'
import { checkVoucher, openVoucher, type SignedVoucher } from '../voucher.js'
import { BudgetExhaustedError, SessionBusyError, SessionClosedError, SessionExpiredError, UnknownSessionError, WrongBuyerError } from './errors.js'
import { bytesEqual, contractKey, validateTerms, type SessionTerms } from './terms.js'
import type { UnpaidRoom } from './window.js'

export type Clock = () => number

interface SessionBase {
  terms: SessionTerms
  /** cumulative session totals */
  totalInputTokens: bigint
  totalOutputTokens: bigint
  amountUc: bigint
  busy: boolean
  closed: boolean
}

export interface SellerSession extends SessionBase {
  /** highest voucher accepted (undefined until the first) */
  highest?: SignedVoucher
}

/**
 * Work a seller streamed that no voucher covers (the buyer stopped signing, left, or sent a bad
 * voucher). Window 1 bounds each request's share by one chunk of output plus that request's
 * input tokens (vouchered only at its end): `boundUc` sums that bound over the same requests.
 */
export interface UnpaidWork {
  /** requests that ended with streamed work no voucher covered */
  requests: number
  inputTokens: bigint
  outputTokens: bigint
  /** the unpaid work at the sessions' prices */
  amountUc: bigint
  /** Σ per request of ceil(price(that request's input tokens, one full chunk of output)) */
  boundUc: bigint
  /** the most output tokens left unpaid by one request */
  maxOutputTokens: bigint
}

/** what a seller's session observer hears */
export type SessionActivity =
  | { type: 'request-began' }
  | { type: 'request-ended' }
  | { type: 'voucher', voucher: SignedVoucher }

export type SessionObserver = (contractId: Uint8Array, activity: SessionActivity) => void

export interface ClosedSession {
  terms: SessionTerms
  highestVoucher?: SignedVoucher
}

/** checks shared by both ends before a request starts */
function checkStartable (s: SessionBase | undefined, contractId: Uint8Array, now: number): asserts s is SessionBase {
  if (s == null) throw new UnknownSessionError(`no session for contract ${contractKey(contractId)}`)
  if (s.closed) throw new SessionClosedError('session is closed')
  if (now >= s.terms.expiresAtMs) throw new SessionExpiredError(`session expired at ${s.terms.expiresAtMs}`)
  if (s.amountUc >= s.terms.maxSpendUc) throw new BudgetExhaustedError(`session has billed its max spend of ${s.terms.maxSpendUc} µc`)
  if (s.busy) throw new SessionBusyError('a request is already running on this session')
}

export interface SellerSessionsInit {
  net: Uint8Array
  now: Clock
  /** ed25519 verification path for vouchers; default native */
  path?: Ed25519Path
  /** the most billed ahead of the highest vouchers across all sessions (µc); absent = no cap */
  maxUnpaidTotalUc?: bigint
}

export class SellerSessions {
  private readonly sessions = new Map<string, SellerSession>()
  private readonly unpaidWork: UnpaidWork = { requests: 0, inputTokens: 0n, outputTokens: 0n, amountUc: 0n, boundUc: 0n, maxOutputTokens: 0n }
  private readonly net: Uint8Array
  private readonly now: Clock
  private readonly path?: Ed25519Path
  private readonly maxUnpaidTotalUc?: bigint
  private observer?: SessionObserver

  constructor (init: SellerSessionsInit) {
    this.net = init.net
    this.now = init.now
    this.path = init.path
    this.maxUnpaidTotalUc = init.maxUnpaidTotalUc
  }

  /** the one observer of request and voucher activity (the seller's desk) */
  observe (observer: SessionObserver | undefined): void {
    this.observer = observer
  }

  /** register a session from its contract's terms (idempotent for the same contract) */
  add (terms: SessionTerms): SellerSession {
    validateTerms(terms)
    const key = contractKey(terms.contractId)
    const existing = this.sessions.get(key)
    if (existing != null) return existing
    const s: SellerSession = { terms, totalInputTokens: 0n, totalOutputTokens: 0n, amountUc: 0n, busy: false, closed: false }
    this.sessions.set(key, s)
    return s
  }

  get (contractId: Uint8Array): SellerSession | undefined {
    return this.sessions.get(contractKey(contractId))
  }

  /** Start a request: known, open, unexpired, under budget, idle, and asked by the buyer. */
  beginRequest (contractId: Uint8Array, remotePublicKey: Uint8Array | undefined): SellerSession {
    const s = this.sessions.get(contractKey(contractId))
    if (s == null) throw new UnknownSessionError(`no session for contract ${contractKey(contractId)}`)
    // the buyer before the session's state: a stranger learns nothing of someone else's session (busy, closed, spent)
    if (remotePublicKey == null || !bytesEqual(remotePublicKey, s.terms.buyer)) throw new WrongBuyerError('the stream\'s remote peer is not the contract\'s buyer')
    checkStartable(s, contractId, this.now())
    const session = s
    session.busy = true
    this.observer?.(session.terms.contractId, { type: 'request-began' })
    return session
  }

  endRequest (session: SellerSession): void {
    if (!session.busy) return
    session.busy = false
    this.observer?.(session.terms.contractId, { type: 'request-ended' })
  }

  /** Open and check a voucher against the session and its highest voucher; on success it becomes the highest. */
  acceptVoucher (contractId: Uint8Array, bytes: Uint8Array): SignedVoucher {
    const s = this.sessions.get(contractKey(contractId))
    if (s == null) throw new UnknownSessionError(`no session for contract ${contractKey(contractId)}`)
    const v = openVoucher(bytes, this.net, this.path)
    checkVoucher(v, s.terms, s.highest)
    s.highest = v
    this.observer?.(s.terms.contractId, { type: 'voucher', voucher: v })
    return v
  }

  highestVoucher (contractId: Uint8Array): SignedVoucher | undefined {
    return this.sessions.get(contractKey(contractId))?.highest
  }

  /** Close a session: no new request starts; returns what to settle with. */
  closeSession (contractId: Uint8Array): ClosedSession | undefined {
    const s = this.sessions.get(contractKey(contractId))
    if (s == null) return undefined
    s.closed = true
    return { terms: s.terms, highestVoucher: s.highest }
  }

  /** Forget a closed session once it is settled. */
  remove (contractId: Uint8Array): void {
    this.sessions.delete(contractKey(contractId))
  }

  list (): SellerSession[] {
    return [...this.sessions.values()]
  }

  /** what every session has billed beyond its highest voucher right now (µc) */
  exposureUc (): bigint {
    let n = 0n
    for (const s of this.sessions.values()) n += unpaidOf(s)
    return n
  }

  /**
   * How far this session may bill ahead of its highest voucher: the contract's max_unpaid_uc,
   * within what the node's cap leaves after the other sessions' unpaid work (undefined: neither
   * is set, the window of one chunk alone bounds it). With the term it is a paid-ahead window.
   */
  unpaidRoom (session: SellerSession): UnpaidRoom | undefined {
    const term = session.terms.maxUnpaidUc ?? 0n
    let room = term > 0n ? term : undefined
    if (this.maxUnpaidTotalUc != null) {
      const left = this.maxUnpaidTotalUc - (this.exposureUc() - unpaidOf(session))
      if (room == null || left < room) room = left
    }
    if (room == null) return undefined
    const r: UnpaidRoom = { paidUc: session.highest?.amountUc ?? 0n, roomUc: room > 0n ? room : 0n }
    // a stated term makes the room a paid-ahead window (infer.md § Flow 5); the node's cap alone only tightens one chunk
    if (term > 0n) r.window = true
    return r
  }

  /** count work a request streamed beyond what its buyer vouchered (`boundUc`: that request's bound) */
  recordUnpaid (w: { inputTokens: bigint, outputTokens: bigint, amountUc: bigint, boundUc: bigint }): void {
    const u = this.unpaidWork
    u.requests++
    u.inputTokens += w.inputTokens
    u.outputTokens += w.outputTokens
    u.amountUc += w.amountUc
    u.boundUc += w.boundUc
    if (w.outputTokens > u.maxOutputTokens) u.maxOutputTokens = w.outputTokens
  }

  /** every request's unpaid work so far (a copy) */
  unpaid (): UnpaidWork {
    return { ...this.unpaidWork }
  }
}

function unpaidOf (s: SellerSession): bigint {
  const d = s.amountUc - (s.highest?.amountUc ?? 0n)
  return d > 0n ? d : 0n
}

export interface BuyerSession extends SessionBase {
  /** nonce of the last voucher signed */
  nonce: bigint
  lastVoucher?: SignedVoucher
}

/** contracts whose last signed amount a buyer keeps after the session is gone */
const MAX_SIGNED_KEPT = 100_000

export class BuyerSessions {
  private readonly sessions = new Map<string, BuyerSession>()
  /** contract key → amount of the last voucher signed (what a settle may charge at most) */
  private readonly signed = new Map<string, bigint>()
  private readonly now: Clock

  constructor (init: { now: Clock }) {
    this.now = init.now
  }

  /** sessions not closed yet (for metrics) */
  openCount (): number {
    let n = 0
    for (const s of this.sessions.values()) if (!s.closed) n++
    return n
  }

  add (terms: SessionTerms): BuyerSession {
    validateTerms(terms)
    const key = contractKey(terms.contractId)
    const existing = this.sessions.get(key)
    if (existing != null) return existing
    const s: BuyerSession = { terms, totalInputTokens: 0n, totalOutputTokens: 0n, amountUc: 0n, busy: false, closed: false, nonce: 0n }
    this.sessions.set(key, s)
    return s
  }

  get (contractId: Uint8Array): BuyerSession | undefined {
    return this.sessions.get(contractKey(contractId))
  }

  beginRequest (contractId: Uint8Array): BuyerSession {
    const s = this.sessions.get(contractKey(contractId))
    checkStartable(s, contractId, this.now())
    const session = s as BuyerSession
    session.busy = true
    return session
  }

  endRequest (session: BuyerSession): void {
    session.busy = false
  }

  /** record a voucher this buyer signed (the caller built it from the session's next nonce) */
  recordVoucher (session: BuyerSession, v: SignedVoucher): void {
    session.nonce = v.nonce
    session.totalInputTokens = v.inputTokens
    session.totalOutputTokens = v.outputTokens
    session.amountUc = v.amountUc
    session.lastVoucher = v
    const key = contractKey(session.terms.contractId)
    this.signed.delete(key)
    this.signed.set(key, v.amountUc)
    if (this.signed.size > MAX_SIGNED_KEPT) this.signed.delete(this.signed.keys().next().value as string)
  }

  /** the amount of the last voucher this buyer signed for a contract (0 if none is known) */
  signedUc (contractId: Uint8Array): bigint {
    return this.signed.get(contractKey(contractId)) ?? 0n
  }

  lastVoucher (contractId: Uint8Array): SignedVoucher | undefined {
    return this.sessions.get(contractKey(contractId))?.lastVoucher
  }

  closeSession (contractId: Uint8Array): ClosedSession | undefined {
    const s = this.sessions.get(contractKey(contractId))
    if (s == null) return undefined
    s.closed = true
    return { terms: s.terms, highestVoucher: s.lastVoucher }
  }

  remove (contractId: Uint8Array): void {
    this.sessions.delete(contractKey(contractId))
  }
}

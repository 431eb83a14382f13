/**
 * The seller's side of one paid session as a pure state machine, keyed by contract id: from the
 * countersigned contract to the settle that frees the buyer's lock. It owns every deadline of a
 * session (the reservation's deadline for the buyer's open, the wait for a second peer, expiry
 * while serving, the settle's report) and says, as effects, when capacity is released and when to settle with
 * which voucher. No I/O and no clock: time comes in with each event.
 *
 *   contracted ──open──▶ serving ──close/expiry/stop──▶ closing ──settled──▶ settled
 *        │  └─large open─▶ confirming ─confirmed─▶ serving
 *        │                     └──not confirmed in time / stop──▶ closing (empty settle)
 *        ├──no open by openByMs (open_within_ms) or expiry──▶ expired-unopened
 *        └──stop──▶ aborted                        closing ──failed / no report──▶ settle-failed
 *
 * The quote before it stays in the Negotiator (contract/negotiate.ts): a quote has no contract
 * id yet, and the one stream that carried it holds its capacity for at most the quote's 10 s.
 */

/** a request past the session's expiry may finish its stream this long before the session is closed under it */
export const DEFAULT_EXPIRY_DRAIN_MS = 30_000
/** a large session's open is looked for at a second peer for at most this long */
export const DEFAULT_CONFIRM_FOR_MS = 30_000
/** the ledger reports a settle within this long, or the session ends as settle-failed */
export const DEFAULT_SETTLE_REPORT_MS = 60_000

/** what the machine needs of a contract (ids and keys as lowercase hex) */
export interface SellerContract {
  contractId: string
  buyer: string
  modelId: string
  maxSpendUc: bigint
  expiresAtMs: number
  /** the quote's term: a lock above this is served only once a second peer holds the open (0 = never asked) */
  secondPeerAboveUc: bigint
  /**
   * the reservation's end: without the buyer's open by then the contract is dropped (quote term
   * open_within_ms after the contract; absent = the contract's expiry)
   */
  openByMs?: number
}

/** a voucher the seller accepted: `bytes` is what the settle carries */
export interface HeldVoucher {
  nonce: bigint
  amountUc: bigint
  bytes: Uint8Array
}

export type SellerLive =
  | { phase: 'contracted', contract: SellerContract }
  | { phase: 'confirming', contract: SellerContract, openId: string, confirmUntilMs: number }
  | { phase: 'serving', contract: SellerContract, openId: string, busy: boolean, highest?: HeldVoucher }
  | { phase: 'closing', contract: SellerContract, openId: string, highest?: HeldVoucher, reportUntilMs: number }

/** how a session ended */
export type SellerEnd = 'settled' | 'settle-failed' | 'expired-unopened' | 'aborted'

export type SellerState = SellerLive | { phase: SellerEnd, contract: SellerContract }

export type SellerEvent =
  /** the buyer's `open` for this contract became valid in the ledger */
  | { type: 'open', openId: string, buyer: string, maxSpendUc: bigint }
  /** a peer other than the buyer holds the open */
  | { type: 'open-confirmed' }
  | { type: 'request-began' }
  | { type: 'request-ended' }
  /** a voucher was accepted for this session (checked against the previous one already) */
  | { type: 'voucher', voucher: HeldVoucher }
  /** the buyer closed the session */
  | { type: 'buyer-closed' }
  | { type: 'settle-done' }
  | { type: 'settle-failed', message: string }
  | { type: 'tick' }
  /** the seller is shutting down */
  | { type: 'stop' }

export type SellerEffect =
  /** the buyer's open is in: the contract's reservation becomes one of the offer's slots */
  | { type: 'slot-taken' }
  /** give the contract's capacity back to the negotiator (withdrawn offers come back); `lapsed`: the buyer's open never came */
  | { type: 'release-reservation', lapsed?: boolean }
  /** register the session for /tally/infer and wake the requests waiting for it */
  | { type: 'admit' }
  /** start asking other peers whether they hold this open */
  | { type: 'confirm-open', openId: string }
  /** requests still waiting for this session will not get it */
  | { type: 'fail-waiters', reason: string }
  /** no new request starts on this session */
  | { type: 'stop-requests' }
  /** settle the open: with the highest voucher, or empty (nothing was served) */
  | { type: 'publish-settle', openId: string, voucher?: HeldVoucher }
  /** drop the session from the infer registry */
  | { type: 'forget' }
  /** an open that names this contract but not its terms: left alone */
  | { type: 'ignored-open', openId: string, why: string }

export interface SellerMachineConfig {
  confirmForMs?: number
  drainMs?: number
  settleReportMs?: number
}

export interface SellerStep { state: SellerState, effects: SellerEffect[] }

const TERMINAL: ReadonlySet<string> = new Set<SellerEnd>(['settled', 'settle-failed', 'expired-unopened', 'aborted'])

export function isSellerTerminal (s: SellerState): boolean {
  return TERMINAL.has(s.phase)
}

/** a fresh session: the contract was countersigned and delivered, its capacity is reserved */
export function sellerContracted (contract: SellerContract): SellerState {
  return { phase: 'contracted', contract }
}

/** the earliest time a tick can change this state (undefined: only events can) */
export function sellerDeadline (s: SellerState, cfg: SellerMachineConfig = {}): number | undefined {
  switch (s.phase) {
    case 'contracted': return openDeadline(s.contract)
    case 'confirming': return s.confirmUntilMs
    case 'serving': return s.busy ? s.contract.expiresAtMs + (cfg.drainMs ?? DEFAULT_EXPIRY_DRAIN_MS) : s.contract.expiresAtMs
    case 'closing': return s.reportUntilMs
    default: return undefined
  }
}

export function sellerStep (s: SellerState, e: SellerEvent, nowMs: number, cfg: SellerMachineConfig = {}): SellerStep {
  const same: SellerStep = { state: s, effects: [] }
  switch (s.phase) {
    case 'contracted': {
      const c = s.contract
      if (e.type === 'open') {
        if (e.buyer !== c.buyer || e.maxSpendUc !== c.maxSpendUc) {
          return { state: s, effects: [{ type: 'ignored-open', openId: e.openId, why: 'its buyer or amount differs from the contract' }] }
        }
        if (c.secondPeerAboveUc > 0n && e.maxSpendUc > c.secondPeerAboveUc) {
          const confirmUntilMs = Math.min(c.expiresAtMs, nowMs + (cfg.confirmForMs ?? DEFAULT_CONFIRM_FOR_MS))
          return { state: { phase: 'confirming', contract: c, openId: e.openId, confirmUntilMs }, effects: [{ type: 'slot-taken' }, { type: 'confirm-open', openId: e.openId }] }
        }
        return { state: { phase: 'serving', contract: c, openId: e.openId, busy: false }, effects: [{ type: 'slot-taken' }, { type: 'admit' }] }
      }
      if (e.type === 'tick' && nowMs >= openDeadline(c)) {
        const reason = nowMs >= c.expiresAtMs ? 'the contract expired before the buyer\'s open arrived' : 'the buyer\'s open did not arrive within the quote\'s open_within_ms'
        return { state: { phase: 'expired-unopened', contract: c }, effects: [{ type: 'release-reservation', lapsed: true }, { type: 'fail-waiters', reason }] }
      }
      if (e.type === 'stop') {
        return { state: { phase: 'aborted', contract: c }, effects: [{ type: 'release-reservation' }, { type: 'fail-waiters', reason: 'seller stopping' }] }
      }
      return same
    }
    case 'confirming': {
      if (e.type === 'open-confirmed') {
        return { state: { phase: 'serving', contract: s.contract, openId: s.openId, busy: false }, effects: [{ type: 'admit' }] }
      }
      const why = e.type === 'stop' ? 'seller stopping' : e.type === 'tick' && nowMs >= s.confirmUntilMs ? 'no second peer holds the open' : undefined
      if (why == null) return same
      // never served: release the buyer's lock with an empty settle
      return {
        state: closing(s.contract, s.openId, undefined, nowMs, cfg),
        effects: [{ type: 'release-reservation' }, { type: 'fail-waiters', reason: why }, { type: 'publish-settle', openId: s.openId }]
      }
    }
    case 'serving': {
      switch (e.type) {
        case 'request-began': return { state: { ...s, busy: true }, effects: [] }
        case 'request-ended': {
          const idle = { ...s, busy: false }
          return nowMs >= s.contract.expiresAtMs ? close(idle, nowMs, cfg) : { state: idle, effects: [] }
        }
        case 'voucher':
          // a voucher only ever replaces an older one for no less money
          if (s.highest != null && (e.voucher.amountUc < s.highest.amountUc || e.voucher.nonce <= s.highest.nonce)) return same
          return { state: { ...s, highest: e.voucher }, effects: [] }
        case 'buyer-closed':
        case 'stop':
          return close(s, nowMs, cfg)
        case 'tick':
          return nowMs >= sellerDeadline(s, cfg)! ? close(s, nowMs, cfg) : same
        default: return same
      }
    }
    case 'closing': {
      if (e.type === 'settle-done') return { state: { phase: 'settled', contract: s.contract }, effects: [{ type: 'forget' }] }
      if (e.type === 'settle-failed' || (e.type === 'tick' && nowMs >= s.reportUntilMs)) {
        return { state: { phase: 'settle-failed', contract: s.contract }, effects: [{ type: 'forget' }] }
      }
      return same
    }
    default:
      return same
  }
}

/** a contract holds its reservation until the buyer's open, at most until openByMs and never past its expiry */
function openDeadline (c: SellerContract): number {
  return c.openByMs != null && c.openByMs < c.expiresAtMs ? c.openByMs : c.expiresAtMs
}

function closing (contract: SellerContract, openId: string, highest: HeldVoucher | undefined, nowMs: number, cfg: SellerMachineConfig): SellerState {
  return { phase: 'closing', contract, openId, highest, reportUntilMs: nowMs + (cfg.settleReportMs ?? DEFAULT_SETTLE_REPORT_MS) }
}

/** a served session ends: no new request, capacity back, settle with the highest voucher */
function close (s: Extract<SellerLive, { phase: 'serving' }>, nowMs: number, cfg: SellerMachineConfig): SellerStep {
  return {
    state: closing(s.contract, s.openId, s.highest, nowMs, cfg),
    effects: [{ type: 'stop-requests' }, { type: 'release-reservation' }, { type: 'publish-settle', openId: s.openId, voucher: s.highest }]
  }
}

/**
 * Every seller session by contract id. Ended sessions are dropped (an event for an unknown
 * contract is a no-op), so the table holds only live sessions.
 */
export class SellerSessionTable {
  private readonly live = new Map<string, SellerState>()

  constructor (private readonly cfg: SellerMachineConfig = {}) {}

  /** a contract was countersigned: its session starts (a second call for the same contract is ignored) */
  contracted (contract: SellerContract): boolean {
    if (this.live.has(contract.contractId)) return false
    this.live.set(contract.contractId, sellerContracted(contract))
    return true
  }

  get (contractId: string): SellerState | undefined {
    return this.live.get(contractId)
  }

  has (contractId: string): boolean {
    return this.live.has(contractId)
  }

  apply (contractId: string, e: SellerEvent, nowMs: number): SellerStep | undefined {
    const s = this.live.get(contractId)
    if (s == null) return undefined
    const r = sellerStep(s, e, nowMs, this.cfg)
    if (isSellerTerminal(r.state)) this.live.delete(contractId)
    else this.live.set(contractId, r.state)
    return r
  }

  /** time passes for every session; returns those that changed */
  tick (nowMs: number): Array<{ contractId: string } & SellerStep> {
    const out: Array<{ contractId: string } & SellerStep> = []
    for (const [id, s] of [...this.live]) {
      const d = sellerDeadline(s, this.cfg)
      if (d == null || nowMs < d) continue
      out.push({ contractId: id, ...this.apply(id, { type: 'tick' }, nowMs)! })
    }
    return out
  }

  ids (): string[] {
    return [...this.live.keys()]
  }

  /** sessions in a phase */
  count (phase: SellerLive['phase']): number {
    let n = 0
    for (const s of this.live.values()) if (s.phase === phase) n++
    return n
  }
}

/**
 * The buyer's side of one paid session as a pure state machine, keyed by contract id: from the
 * negotiation to the close that asks the seller to settle. The session record is the one place
 * that holds what the buyer has signed (its highest voucher's totals); every deadline (contract
 * expiry before the open, idle close, expiry while a request runs, the close's answer) is in the
 * state. No I/O and no clock: time comes in with each event.
 *
 *   negotiating ─contract─▶ contracted ─open published─▶ opened ⇄ serving ─broken/retire/idle─▶ closing ─▶ closed
 *        └─refused/timeout─▶ refused   └─open refused─▶ open-refused      serving ─past expiry─▶ expired
 */

/** a request may outlive the session's expiry this long before the buyer gives the session up */
export const DEFAULT_BUYER_DRAIN_MS = 30_000
/** a warm session unused this long is closed */
export const DEFAULT_BUYER_IDLE_CLOSE_MS = 60_000
/** the seller answers a close within this long, or the session is dropped anyway */
export const DEFAULT_CLOSE_REPORT_MS = 10_000

export interface BuyerContract {
  contractId: string
  seller: string
  modelId: string
  maxSpendUc: bigint
  expiresAtMs: number
}

/** the totals of the last voucher the buyer signed */
export interface SignedTotals {
  nonce: bigint
  inputTokens: bigint
  outputTokens: bigint
  amountUc: bigint
}

export type BuyerLive =
  | { phase: 'negotiating', seller: string, modelId: string, untilMs: number }
  | { phase: 'contracted', contract: BuyerContract }
  | { phase: 'opened', contract: BuyerContract, openId: string, signed?: SignedTotals, lastUsedAtMs: number }
  | { phase: 'serving', contract: BuyerContract, openId: string, signed?: SignedTotals, lastUsedAtMs: number }
  | { phase: 'closing', contract: BuyerContract, openId: string, signed?: SignedTotals, reportUntilMs: number }

export type BuyerEnd = 'closed' | 'refused' | 'open-refused' | 'expired' | 'aborted'

export type BuyerState = BuyerLive | { phase: BuyerEnd, signed?: SignedTotals }

export type BuyerEvent =
  | { type: 'contract', contract: BuyerContract }
  /** the seller refused, the negotiation broke or timed out */
  | { type: 'refused', message: string }
  | { type: 'open-published', openId: string }
  /** this buyer's own ledger refused the open (e.g. not enough credit) */
  | { type: 'open-refused', message: string }
  | { type: 'request-began' }
  | { type: 'voucher-signed', totals: SignedTotals }
  /** `broken`: the request failed in a way that makes the session unfit for reuse */
  | { type: 'request-ended', broken: boolean }
  /** the router stops using the session (budget spent, price changed) */
  | { type: 'retire' }
  | { type: 'close-acked' }
  | { type: 'close-failed', message: string }
  | { type: 'tick' }
  | { type: 'stop' }

export type BuyerEffect =
  /** lock the contract's max spend in the ledger */
  | { type: 'publish-open', maxSpendUc: bigint }
  /** ask the seller to settle */
  | { type: 'send-close' }
  /** drop the session from the router */
  | { type: 'forget' }

export interface BuyerMachineConfig {
  idleCloseMs?: number
  drainMs?: number
  closeReportMs?: number
}

export interface BuyerStep { state: BuyerState, effects: BuyerEffect[] }

const TERMINAL: ReadonlySet<string> = new Set<BuyerEnd>(['closed', 'refused', 'open-refused', 'expired', 'aborted'])

export function isBuyerTerminal (s: BuyerState): boolean {
  return TERMINAL.has(s.phase)
}

export function buyerNegotiating (seller: string, modelId: string, untilMs: number): BuyerState {
  return { phase: 'negotiating', seller, modelId, untilMs }
}

/** what the buyer has signed on this session so far (0 before the first voucher) */
export function signedUc (s: BuyerState): bigint {
  return 'signed' in s && s.signed != null ? s.signed.amountUc : 0n
}

export function buyerDeadline (s: BuyerState, cfg: BuyerMachineConfig = {}): number | undefined {
  switch (s.phase) {
    case 'negotiating': return s.untilMs
    case 'contracted': return s.contract.expiresAtMs
    case 'opened': return Math.min(s.contract.expiresAtMs, s.lastUsedAtMs + (cfg.idleCloseMs ?? DEFAULT_BUYER_IDLE_CLOSE_MS))
    case 'serving': return s.contract.expiresAtMs + (cfg.drainMs ?? DEFAULT_BUYER_DRAIN_MS)
    case 'closing': return s.reportUntilMs
    default: return undefined
  }
}

export function buyerStep (s: BuyerState, e: BuyerEvent, nowMs: number, cfg: BuyerMachineConfig = {}): BuyerStep {
  const same: BuyerStep = { state: s, effects: [] }
  const due = (): boolean => e.type === 'tick' && nowMs >= buyerDeadline(s, cfg)!
  switch (s.phase) {
    case 'negotiating':
      if (e.type === 'contract') return { state: { phase: 'contracted', contract: e.contract }, effects: [{ type: 'publish-open', maxSpendUc: e.contract.maxSpendUc }] }
      if (e.type === 'refused' || due()) return { state: { phase: 'refused' }, effects: [{ type: 'forget' }] }
      if (e.type === 'stop') return { state: { phase: 'aborted' }, effects: [{ type: 'forget' }] }
      return same
    case 'contracted':
      if (e.type === 'open-published') return { state: { phase: 'opened', contract: s.contract, openId: e.openId, lastUsedAtMs: nowMs }, effects: [] }
      // no lock was taken: the seller frees its reservation when the contract expires
      if (e.type === 'open-refused') return { state: { phase: 'open-refused' }, effects: [{ type: 'forget' }] }
      if (due()) return { state: { phase: 'expired' }, effects: [{ type: 'forget' }] }
      if (e.type === 'stop') return { state: { phase: 'aborted' }, effects: [{ type: 'forget' }] }
      return same
    case 'opened':
      if (e.type === 'request-began') return { state: { ...s, phase: 'serving' }, effects: [] }
      if (e.type === 'retire' || e.type === 'stop' || due()) return close(s, nowMs, cfg)
      return same
    case 'serving':
      switch (e.type) {
        case 'voucher-signed':
          // the buyer signs ever higher totals; an older one never replaces a newer
          if (s.signed != null && (e.totals.nonce <= s.signed.nonce || e.totals.amountUc < s.signed.amountUc)) return same
          return { state: { ...s, signed: e.totals }, effects: [] }
        case 'request-ended': {
          const idle: BuyerLive = { ...s, phase: 'opened', lastUsedAtMs: nowMs }
          return e.broken ? close(idle, nowMs, cfg) : { state: idle, effects: [] }
        }
        case 'stop': return close(s, nowMs, cfg)
        case 'tick': return due() ? { state: { phase: 'expired', signed: s.signed }, effects: [{ type: 'forget' }] } : same
        default: return same
      }
    case 'closing':
      if (e.type === 'close-acked' || e.type === 'close-failed' || due()) return { state: { phase: 'closed', signed: s.signed }, effects: [{ type: 'forget' }] }
      return same
    default:
      return same
  }
}

function close (s: Extract<BuyerLive, { phase: 'opened' | 'serving' }>, nowMs: number, cfg: BuyerMachineConfig): BuyerStep {
  return {
    state: { phase: 'closing', contract: s.contract, openId: s.openId, signed: s.signed, reportUntilMs: nowMs + (cfg.closeReportMs ?? DEFAULT_CLOSE_REPORT_MS) },
    effects: [{ type: 'send-close' }]
  }
}

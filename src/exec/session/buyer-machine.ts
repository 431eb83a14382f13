/**
 * The buyer's side of one paid session as a pure state machine, keyed by contract id: from the
 * negotiation to the close that asks the seller to settle. Every deadline (contract expiry
 * before the open, idle close, expiry while a request runs, the close's answer) is in the state.
 * What the buyer has signed is not here: the infer session record (exec/infer/sessions.ts), which
 * signs the vouchers, is its one holder. No I/O and no clock: time comes in with each event.
 *
 *   negotiating ─contract─▶ contracted ─open published─▶ opened ⇄ serving ─retire/idle─▶ closing ─▶ closed
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

export type BuyerLive =
  | { phase: 'negotiating', seller: string, modelId: string, untilMs: number }
  | { phase: 'contracted', contract: BuyerContract }
  | { phase: 'opened', contract: BuyerContract, openId: string, lastUsedAtMs: number }
  | { phase: 'serving', contract: BuyerContract, openId: string, lastUsedAtMs: number }
  | { phase: 'closing', contract: BuyerContract, openId: string, reportUntilMs: number }

export type BuyerEnd = 'closed' | 'refused' | 'open-refused' | 'expired' | 'aborted'

export type BuyerState = BuyerLive | { phase: BuyerEnd }

export type BuyerEvent =
  | { type: 'contract', contract: BuyerContract }
  /** the seller refused, the negotiation broke or timed out */
  | { type: 'refused', message: string }
  | { type: 'open-published', openId: string }
  /** this buyer's own ledger refused the open (e.g. not enough credit) */
  | { type: 'open-refused', message: string }
  | { type: 'request-began' }
  /** `retire`: the session is not to be reused (the request broke it, or spent its budget) */
  | { type: 'request-ended', retire: boolean }
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

/** a session whose negotiation the caller ran to the end itself: the open is to be published */
export function buyerContracted (contract: BuyerContract): BuyerState {
  return { phase: 'contracted', contract }
}

/** open and not closing: usable now or once its running request ends */
export function isBuyerLive (s: BuyerState): boolean {
  return s.phase === 'opened' || s.phase === 'serving'
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
        case 'request-ended': {
          const idle: BuyerLive = { ...s, phase: 'opened', lastUsedAtMs: nowMs }
          return e.retire ? close(idle, nowMs, cfg) : { state: idle, effects: [] }
        }
        case 'stop': return close(s, nowMs, cfg)
        case 'tick': return due() ? { state: { phase: 'expired' }, effects: [{ type: 'forget' }] } : same
        default: return same
      }
    case 'closing':
      if (e.type === 'close-acked' || e.type === 'close-failed' || due()) return { state: { phase: 'closed' }, effects: [{ type: 'forget' }] }
      return same
    default:
      return same
  }
}

function close (s: Extract<BuyerLive, { phase: 'opened' | 'serving' }>, nowMs: number, cfg: BuyerMachineConfig): BuyerStep {
  return {
    state: { phase: 'closing', contract: s.contract, openId: s.openId, reportUntilMs: nowMs + (cfg.closeReportMs ?? DEFAULT_CLOSE_REPORT_MS) },
    effects: [{ type: 'send-close' }]
  }
}

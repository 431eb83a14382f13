/**
 * The seller's risk policy, pure (negotiate.md § Seller risk policy): from what the seller's
 * ledger says of a buyer, whether to serve it and how far ahead of its vouchers. No I/O, no clock;
 * the node builds the view from its ledger and passes it in.
 */
import { RefusalReason } from '../wire/pb/negotiate.js'
import type { BuyerRequest, BuyerVerdict } from './negotiate.js'

/** per-node risk settings (node config `sell.risk`); every field optional */
export interface SellerRiskPolicy {
  /** most served ahead of one buyer's vouchers across its sessions here (µc) */
  maxUnpaidPerBuyerUc?: bigint
  /** the same for a young account (few records or no earned history) */
  maxUnpaidYoungUc?: bigint
  /** most served ahead of vouchers across all this seller's sessions (µc); the negotiator enforces it */
  maxUnpaidTotalUc?: bigint
  /** an account with fewer records than this in the seller's view is young */
  youngRecords?: number
  /** serve a buyer whose lock is more than its own funds (rests on a credit line or a grant) */
  serveOnCredit?: boolean
  /** quote term min_buyer_spendable_uc (0 = none) */
  minBuyerSpendableUc?: bigint
  /**
   * quote term trusted_grantors (32-byte keys, at most MAX_TRUSTED_GRANTORS): a lock that needs
   * lines granted by anyone else is refused BUYER_NOT_TRUSTED. Empty/absent: any grantor (every
   * grant is backed by its grantor's own funds by ledger validity)
   */
  trustedGrantors?: Uint8Array[]
}

/** one chunk costs ≈ 130 µc in the reference market: 50,000 µc is a few hundred chunks ahead */
export const DEFAULT_MAX_UNPAID_PER_BUYER_UC = 50_000n
/** a fresh key with no history gets a fifth of that */
export const DEFAULT_MAX_UNPAID_YOUNG_UC = 10_000n
/** across all sessions: one credit at risk at a time */
export const DEFAULT_MAX_UNPAID_TOTAL_UC = 1_000_000n
/** fewer records than this in the seller's view: a young account */
export const DEFAULT_YOUNG_RECORDS = 8

/** what the seller's ledger says of a buyer */
export interface BuyerView {
  flagged: boolean
  /** what the buyer's next record may spend (own funds + credit line + unacked income) */
  spendableUc: bigint
  /** the buyer's own funds: balance − locks, no credit line or grant counted (may be negative) */
  ownFundsUc: bigint
  /** records of this account in the seller's view */
  records: number
  /** whether the account ever settled a session as a seller (earned) */
  earned: boolean
  /** the lines granted to the buyer that its spendableUc counts (acked or incoming): grantor (hex key) and outstanding amount */
  lines?: GrantedLine[]
}

/** a credit line another account granted the buyer, as far as it counts in the buyer's spendable balance */
export interface GrantedLine {
  /** the grantor's public key, hex */
  grantor: string
  /** the grant less the revokes the buyer gave back (µc) */
  amountUc: bigint
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/**
 * What the buyer can spend without lines from grantors outside `trusted` (negotiate.md § Quote
 * terms, trusted_grantors): its spendable balance less every untrusted line's whole amount. The
 * used part of an untrusted line is debt the buyer's own funds already carry, so taking the whole
 * line off leaves exactly its own funds, the network's credit line and the trusted lines.
 * `trusted` empty: every grantor is trusted.
 */
export function spendableTrusting (spendableUc: bigint, lines: readonly GrantedLine[], trusted: readonly Uint8Array[]): bigint {
  if (trusted.length === 0) return spendableUc
  const ok = new Set(trusted.map(hex))
  let untrusted = 0n
  for (const l of lines) if (!ok.has(l.grantor)) untrusted += l.amountUc
  return spendableUc - untrusted
}

/** the verdict for one request; `maxUnpaidTotalUc` is the negotiator's (NegotiateInit) */
export function evaluateBuyer (view: BuyerView, request: BuyerRequest, policy: SellerRiskPolicy = {}): BuyerVerdict {
  if (view.flagged) return { ok: false, reason: RefusalReason.BUYER_FLAGGED, message: 'the buyer is flagged (fraud proof)' }
  const minSpendable = policy.minBuyerSpendableUc ?? 0n
  const lock = request.maxSpendUc > 0n ? request.maxSpendUc : 1n
  const need = lock > minSpendable ? lock : minSpendable
  if (view.spendableUc < need) {
    return { ok: false, reason: RefusalReason.INSUFFICIENT_CREDIT, message: `the buyer can spend ${view.spendableUc} µc, ${need} µc needed` }
  }
  if (policy.serveOnCredit === false && view.ownFundsUc < lock) {
    return { ok: false, reason: RefusalReason.BUYER_NOT_TRUSTED, message: `this seller serves no buyer on credit: own funds ${view.ownFundsUc} µc, lock ${lock} µc` }
  }
  const trusted = policy.trustedGrantors ?? []
  if (trusted.length > 0 && policy.serveOnCredit !== false) {
    const covered = spendableTrusting(view.spendableUc, view.lines ?? [], trusted)
    if (covered < lock) {
      return { ok: false, reason: RefusalReason.BUYER_NOT_TRUSTED, message: `the lock rests on lines from grantors this seller does not trust: ${covered} µc spendable without them, lock ${lock} µc` }
    }
  }
  const young = view.records < (policy.youngRecords ?? DEFAULT_YOUNG_RECORDS) || !view.earned
  const maxUnpaidUc = young ? policy.maxUnpaidYoungUc ?? DEFAULT_MAX_UNPAID_YOUNG_UC : policy.maxUnpaidPerBuyerUc ?? DEFAULT_MAX_UNPAID_PER_BUYER_UC
  return { ok: true, maxUnpaidUc, minBuyerSpendableUc: minSpendable, trustedGrantors: policy.serveOnCredit === false ? [] : trusted }
}

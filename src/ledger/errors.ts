/** Typed ledger errors, each with a stable `name` and code; rejection reasons are stable codes. */
import { ErrorCode, InsufficientCreditError, TallyError } from '../errors/index.js'

/** the local account cannot afford what it was asked to sign (one class, shared with the router) */
export { InsufficientCreditError }

/** why a record was rejected; stable strings, listed in protocols/ledger.md */
export type RejectReason =
  | 'malformed' | 'too-large' | 'wrong-domain' | 'bad-signature' | 'wrong-net' | 'wrong-author'
  | 'bad-field' | 'bad-chain' | 'bad-ack' | 'double-ack' | 'bad-amount' | 'overspend'
  | 'not-issuer' | 'over-cap' | 'lock-too-large' | 'bad-settle' | 'double-settle' | 'bad-voucher'
  | 'invalid-ancestor' | 'double-release' | 'bad-release' | 'release-too-early'
  | 'grant-unbacked' | 'bad-revoke'

export class LedgerError extends TallyError {
  override name = 'LedgerError'
  override readonly code: ErrorCode = ErrorCode.invalidArgument
}

/** a record that breaks a validity rule; `reason` is the stable code */
export class InvalidRecordError extends LedgerError {
  override name = 'InvalidRecordError'
  override readonly code: ErrorCode = ErrorCode.invalidRecord
  constructor (readonly reason: RejectReason, message: string) {
    super(`${reason}: ${message}`)
  }
}

/** a local request that names something unknown or out of range (bad account id, unknown open, ...) */
export class LedgerArgumentError extends LedgerError {
  override name = 'LedgerArgumentError'
  override readonly code: ErrorCode = ErrorCode.invalidArgument
}

/** the ledger has no signer, no store, or is not started */
export class LedgerStateError extends LedgerError {
  override name = 'LedgerStateError'
  override readonly code: ErrorCode = ErrorCode.ledgerUnavailable
}

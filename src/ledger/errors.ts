/** Typed ledger errors, each with a stable `name`; rejection reasons are stable codes. */

/** why a record was rejected; stable strings, listed in protocols/ledger.md */
export type RejectReason =
  | 'malformed' | 'too-large' | 'wrong-domain' | 'bad-signature' | 'wrong-net' | 'wrong-author'
  | 'bad-field' | 'bad-chain' | 'bad-ack' | 'double-ack' | 'bad-amount' | 'overspend'
  | 'not-issuer' | 'over-cap' | 'lock-too-large' | 'bad-settle' | 'double-settle' | 'bad-voucher'
  | 'invalid-ancestor'

export class LedgerError extends Error {
  override name = 'LedgerError'
}

/** a record that breaks a validity rule; `reason` is the stable code */
export class InvalidRecordError extends LedgerError {
  override name = 'InvalidRecordError'
  constructor (readonly reason: RejectReason, message: string) {
    super(`${reason}: ${message}`)
  }
}

/** the local account cannot afford what it was asked to sign */
export class InsufficientCreditError extends LedgerError {
  override name = 'InsufficientCreditError'
}

/** a local request that names something unknown or out of range (bad account id, unknown open, ...) */
export class LedgerArgumentError extends LedgerError {
  override name = 'LedgerArgumentError'
}

/** the ledger has no signer, no store, or is not started */
export class LedgerStateError extends LedgerError {
  override name = 'LedgerStateError'
}

/** Typed errors of the infer protocol and its sessions. Each has a stable `name`; remote failures carry a `code`. */

export class InferError extends Error {
  override name = 'InferError'
}
export class InvalidTermsError extends InferError {
  override name = 'InvalidTermsError'
}
/** a request that is not a valid OpenAI-shaped chat request within the protocol's limits */
export class InvalidRequestError extends InferError {
  override name = 'InvalidRequestError'
}
export class UnknownSessionError extends InferError {
  override name = 'UnknownSessionError'
}
export class SessionExpiredError extends InferError {
  override name = 'SessionExpiredError'
}
export class SessionClosedError extends InferError {
  override name = 'SessionClosedError'
}
/** one session carries requests one after another, never two at once */
export class SessionBusyError extends InferError {
  override name = 'SessionBusyError'
}
/** the stream's remote peer is not the contract's buyer */
export class WrongBuyerError extends InferError {
  override name = 'WrongBuyerError'
}
/** the peer dialed is not the contract's seller */
export class WrongSellerError extends InferError {
  override name = 'WrongSellerError'
}
/** the session has billed its max spend */
export class BudgetExhaustedError extends InferError {
  override name = 'BudgetExhaustedError'
}
/** the seller claimed tokens or an amount the buyer cannot account for; no voucher was signed */
export class SellerOverclaimError extends InferError {
  override name = 'SellerOverclaimError'
}
/** the seller broke the frame order or sent inconsistent totals */
export class ProtocolViolationError extends InferError {
  override name = 'ProtocolViolationError'
}
/** no first chunk within firstTokenTimeoutMs: the seller is abandoned */
export class FirstTokenTimeoutError extends InferError {
  override name = 'FirstTokenTimeoutError'
}
/** the seller went quiet between chunks for longer than idleTimeoutMs */
export class StreamIdleTimeoutError extends InferError {
  override name = 'StreamIdleTimeoutError'
}
/** the buyer did not send the voucher the seller waits for in time */
export class VoucherTimeoutError extends InferError {
  override name = 'VoucherTimeoutError'
}
/** the caller aborted the request */
export class InferAbortedError extends InferError {
  override name = 'InferAbortedError'
}

/** Failure codes on the wire (InferFailure.code). */
export const FailureCode = {
  badRequest: 'bad-request',
  unknownContract: 'unknown-contract',
  wrongBuyer: 'wrong-buyer',
  expired: 'expired',
  closed: 'closed',
  busy: 'busy',
  budget: 'budget',
  badVoucher: 'bad-voucher',
  voucherTimeout: 'voucher-timeout',
  backend: 'backend-error',
  shuttingDown: 'shutting-down'
} as const
export type FailureCodeName = typeof FailureCode[keyof typeof FailureCode]

/** the seller refused or ended the request with a failure frame */
export class RemoteInferError extends InferError {
  override name = 'RemoteInferError'
  constructor (readonly code: string, message: string) {
    super(`seller failed the request (${code}): ${message}`)
  }
}

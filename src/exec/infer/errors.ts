/**
 * Typed errors of the infer protocol and its sessions, each with a stable `name` and code, and
 * the two-way mapping between error codes and the wire's failure codes (InferFailure.code).
 */
import { ErrorCode, TallyError } from '../../errors/index.js'

export class InferError extends TallyError {
  override name = 'InferError'
  override readonly code: ErrorCode = ErrorCode.inferFailed
}
export class InvalidTermsError extends InferError {
  override name = 'InvalidTermsError'
  override readonly code: ErrorCode = ErrorCode.invalidTerms
}
/** a request that is not a valid OpenAI-shaped chat request within the protocol's limits */
export class InvalidRequestError extends InferError {
  override name = 'InvalidRequestError'
  override readonly code: ErrorCode = ErrorCode.invalidRequest
}
export class UnknownSessionError extends InferError {
  override name = 'UnknownSessionError'
  override readonly code: ErrorCode = ErrorCode.sessionUnknown
}
export class SessionExpiredError extends InferError {
  override name = 'SessionExpiredError'
  override readonly code: ErrorCode = ErrorCode.sessionExpired
}
export class SessionClosedError extends InferError {
  override name = 'SessionClosedError'
  override readonly code: ErrorCode = ErrorCode.sessionClosed
}
/** one session carries requests one after another, never two at once */
export class SessionBusyError extends InferError {
  override name = 'SessionBusyError'
  override readonly code: ErrorCode = ErrorCode.sessionBusy
}
/** the stream's remote peer is not the contract's buyer */
export class WrongBuyerError extends InferError {
  override name = 'WrongBuyerError'
  override readonly code: ErrorCode = ErrorCode.wrongBuyer
}
/** the peer dialed is not the contract's seller */
export class WrongSellerError extends InferError {
  override name = 'WrongSellerError'
  override readonly code: ErrorCode = ErrorCode.wrongSeller
}
/** the session has billed its max spend */
export class BudgetExhaustedError extends InferError {
  override name = 'BudgetExhaustedError'
  override readonly code: ErrorCode = ErrorCode.budgetExhausted
}
/** the seller claimed tokens or an amount the buyer cannot account for; no voucher was signed */
export class SellerOverclaimError extends InferError {
  override name = 'SellerOverclaimError'
  override readonly code: ErrorCode = ErrorCode.sellerOverclaim
}
/** the seller broke the frame order or sent inconsistent totals */
export class ProtocolViolationError extends InferError {
  override name = 'ProtocolViolationError'
  override readonly code: ErrorCode = ErrorCode.protocolViolation
}
/** no first chunk within firstTokenTimeoutMs: the seller is abandoned */
export class FirstTokenTimeoutError extends InferError {
  override name = 'FirstTokenTimeoutError'
  override readonly code: ErrorCode = ErrorCode.firstTokenTimeout
}
/** the seller went quiet between chunks for longer than idleTimeoutMs */
export class StreamIdleTimeoutError extends InferError {
  override name = 'StreamIdleTimeoutError'
  override readonly code: ErrorCode = ErrorCode.streamIdleTimeout
}
/** the buyer did not send the voucher the seller waits for in time */
export class VoucherTimeoutError extends InferError {
  override name = 'VoucherTimeoutError'
  override readonly code: ErrorCode = ErrorCode.voucherTimeout
}
/** the caller aborted the request */
export class InferAbortedError extends InferError {
  override name = 'InferAbortedError'
  override readonly code: ErrorCode = ErrorCode.aborted
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

/** wire failure code → what it means to the buyer */
const CODE_OF_FAILURE: Record<FailureCodeName, ErrorCode> = {
  [FailureCode.badRequest]: ErrorCode.invalidRequest,
  [FailureCode.unknownContract]: ErrorCode.sessionUnknown,
  [FailureCode.wrongBuyer]: ErrorCode.wrongBuyer,
  [FailureCode.expired]: ErrorCode.sessionExpired,
  [FailureCode.closed]: ErrorCode.sessionClosed,
  [FailureCode.busy]: ErrorCode.sessionBusy,
  [FailureCode.budget]: ErrorCode.budgetExhausted,
  [FailureCode.badVoucher]: ErrorCode.invalidVoucher,
  [FailureCode.voucherTimeout]: ErrorCode.voucherTimeout,
  [FailureCode.backend]: ErrorCode.backendError,
  [FailureCode.shuttingDown]: ErrorCode.sellerShuttingDown
}

/** error code → the failure code a seller sends; what is not listed is a `backend-error` */
const FAILURE_OF_CODE: Partial<Record<ErrorCode, FailureCodeName>> = {
  [ErrorCode.sessionUnknown]: FailureCode.unknownContract,
  [ErrorCode.wrongBuyer]: FailureCode.wrongBuyer,
  [ErrorCode.sessionExpired]: FailureCode.expired,
  [ErrorCode.sessionClosed]: FailureCode.closed,
  [ErrorCode.sessionBusy]: FailureCode.busy,
  [ErrorCode.backendBusy]: FailureCode.busy,
  [ErrorCode.budgetExhausted]: FailureCode.budget,
  [ErrorCode.invalidRequest]: FailureCode.badRequest,
  // anything wrong in the bytes the buyer sent
  [ErrorCode.malformedMessage]: FailureCode.badRequest,
  [ErrorCode.messageTooLarge]: FailureCode.badRequest,
  [ErrorCode.invalidSignature]: FailureCode.badRequest,
  [ErrorCode.wrongDomain]: FailureCode.badRequest,
  [ErrorCode.fieldOutOfRange]: FailureCode.badRequest,
  [ErrorCode.expired]: FailureCode.badRequest,
  [ErrorCode.expiryTooFar]: FailureCode.badRequest,
  [ErrorCode.invalidPrice]: FailureCode.badRequest,
  [ErrorCode.invalidStringField]: FailureCode.badRequest,
  [ErrorCode.quoteExpired]: FailureCode.badRequest,
  [ErrorCode.contractMismatch]: FailureCode.badRequest,
  [ErrorCode.protocolViolation]: FailureCode.badRequest,
  [ErrorCode.invalidVoucher]: FailureCode.badVoucher,
  [ErrorCode.voucherWrongSession]: FailureCode.badVoucher,
  [ErrorCode.voucherStale]: FailureCode.badVoucher,
  [ErrorCode.voucherRegression]: FailureCode.badVoucher,
  [ErrorCode.voucherAmount]: FailureCode.badVoucher,
  [ErrorCode.voucherOverspend]: FailureCode.badVoucher,
  [ErrorCode.voucherTimeout]: FailureCode.voucherTimeout,
  [ErrorCode.sellerShuttingDown]: FailureCode.shuttingDown
}

/** the failure code a seller answers for an error code */
export function failureCodeOf (code: ErrorCode): FailureCodeName {
  return FAILURE_OF_CODE[code] ?? FailureCode.backend
}

/** the error code a buyer sees for a wire failure code; an unknown one is a `remote-failure` */
export function codeOfFailure (failure: string): ErrorCode {
  return Object.hasOwn(CODE_OF_FAILURE, failure) ? CODE_OF_FAILURE[failure as FailureCodeName] : ErrorCode.remoteFailure
}

/** the seller refused or ended the request with a failure frame; `failure` is the wire code */
export class RemoteInferError extends InferError {
  override name = 'RemoteInferError'
  override readonly code: ErrorCode
  constructor (readonly failure: string, message: string) {
    super(`seller failed the request (${failure}): ${message}`)
    this.code = codeOfFailure(failure)
  }
}

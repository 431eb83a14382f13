/** Typed errors for anything that crosses the wire. Each has a stable `name`. */
import { ErrorCode, TallyError } from '../errors/index.js'

export class WireError extends TallyError {
  override name = 'WireError'
  override readonly code: ErrorCode = ErrorCode.malformedMessage
}
/** bytes that do not decode as the expected message */
export class MalformedMessageError extends WireError {
  override name = 'MalformedMessageError'
  override readonly code: ErrorCode = ErrorCode.malformedMessage
}
/** input larger than the decoder's maximum */
export class MessageTooLargeError extends WireError {
  override name = 'MessageTooLargeError'
  override readonly code: ErrorCode = ErrorCode.messageTooLarge
}
/** a signature that does not verify under the pinned ed25519 rule */
export class InvalidSignatureError extends WireError {
  override name = 'InvalidSignatureError'
  override readonly code: ErrorCode = ErrorCode.invalidSignature
}
/** an envelope signed for another domain than the one expected */
export class WrongDomainError extends WireError {
  override name = 'WrongDomainError'
  override readonly code: ErrorCode = ErrorCode.wrongDomain
}
/** a field outside its allowed range */
export class FieldRangeError extends WireError {
  override name = 'FieldRangeError'
  override readonly code: ErrorCode = ErrorCode.fieldOutOfRange
}
/** a signed offer, bid or quote whose expiry is in the past (per the caller's clock) */
export class ExpiredError extends WireError {
  override name = 'ExpiredError'
  override readonly code: ErrorCode = ErrorCode.expired
}
/** an offer or bid that expires further ahead than allowed */
export class ExpiryTooFarError extends WireError {
  override name = 'ExpiryTooFarError'
  override readonly code: ErrorCode = ErrorCode.expiryTooFar
}
/** a price that is zero or beyond the allowed ceiling */
export class InvalidPriceError extends WireError {
  override name = 'InvalidPriceError'
  override readonly code: ErrorCode = ErrorCode.invalidPrice
}
/** a string field that is empty where required, too long, or not printable */
export class InvalidStringFieldError extends WireError {
  override name = 'InvalidStringFieldError'
  override readonly code: ErrorCode = ErrorCode.invalidStringField
}

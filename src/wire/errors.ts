/** Typed errors for anything that crosses the wire. Each has a stable `name`. */
export class WireError extends Error {
  override name = 'WireError'
}
/** bytes that do not decode as the expected message */
export class MalformedMessageError extends WireError {
  override name = 'MalformedMessageError'
}
/** input larger than the decoder's maximum */
export class MessageTooLargeError extends WireError {
  override name = 'MessageTooLargeError'
}
/** a signature that does not verify under the pinned ed25519 rule */
export class InvalidSignatureError extends WireError {
  override name = 'InvalidSignatureError'
}
/** an envelope signed for another domain than the one expected */
export class WrongDomainError extends WireError {
  override name = 'WrongDomainError'
}
/** a field outside its allowed range */
export class FieldRangeError extends WireError {
  override name = 'FieldRangeError'
}

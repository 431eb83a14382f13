/** Typed errors of the negotiation protocol and of contract verification. */
import { WireError } from '../wire/errors.js'
import { RefusalReason } from '../wire/pb/negotiate.js'

export { RefusalReason }

/** the seller refused; `reason` is the wire reason code */
export class NegotiationRefusedError extends Error {
  override name = 'NegotiationRefusedError'
  constructor (readonly reason: RefusalReason, message: string) {
    super(`seller refused (${reason}): ${message}`)
  }
}
/** a quote whose validity ended before it was accepted */
export class QuoteExpiredError extends WireError {
  override name = 'QuoteExpiredError'
}
/** a quote, accept or contract whose parts do not agree with each other or with what was asked */
export class ContractMismatchError extends WireError {
  override name = 'ContractMismatchError'
}
/** the peer broke the frame sequence of /tally/negotiate (wrong or missing frame) */
export class ProtocolViolationError extends WireError {
  override name = 'ProtocolViolationError'
}
/** more concurrent negotiations than the node allows */
export class TooManyNegotiationsError extends Error {
  override name = 'TooManyNegotiationsError'
}

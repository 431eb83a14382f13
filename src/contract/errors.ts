/** Typed errors of the negotiation protocol and of contract verification, each with its code. */
import { ErrorCode, TallyError } from '../errors/index.js'
import { WireError } from '../wire/errors.js'
import { RefusalReason } from '../wire/pb/negotiate.js'

export { RefusalReason }

/** what a refusal means to the buyer: busy and repriced sellers are skipped, not blamed; no credit stops the request */
const CODE_OF_REFUSAL: Partial<Record<RefusalReason, ErrorCode>> = {
  [RefusalReason.NO_CAPACITY]: ErrorCode.sellerBusy,
  [RefusalReason.PRICE_CHANGED]: ErrorCode.priceChanged,
  [RefusalReason.INSUFFICIENT_CREDIT]: ErrorCode.insufficientCredit,
  [RefusalReason.UNKNOWN_MODEL]: ErrorCode.unknownModel,
  [RefusalReason.QUOTE_EXPIRED]: ErrorCode.quoteExpired,
  [RefusalReason.BUYER_NOT_TRUSTED]: ErrorCode.buyerNotTrusted,
  [RefusalReason.RESERVATIONS_LAPSED]: ErrorCode.reservationsLapsed,
  [RefusalReason.BID_QUOTE_INVALID]: ErrorCode.bidQuoteInvalid,
  [RefusalReason.BID_QUOTE_EXPIRED]: ErrorCode.bidQuoteExpired,
  [RefusalReason.BID_VOLUME_EXHAUSTED]: ErrorCode.bidVolumeExhausted
}

/** the seller refused; `reason` is the wire reason code, `code` what it means here, `retryAfterMs` when it will quote again (0 = not said) */
export class NegotiationRefusedError extends TallyError {
  override name = 'NegotiationRefusedError'
  override readonly code: ErrorCode
  constructor (readonly reason: RefusalReason, message: string, readonly retryAfterMs = 0) {
    super(`seller refused (${reason}): ${message}`)
    this.code = CODE_OF_REFUSAL[reason] ?? ErrorCode.negotiationRefused
  }
}
/** a quote whose validity ended before it was accepted */
export class QuoteExpiredError extends WireError {
  override name = 'QuoteExpiredError'
  override readonly code: ErrorCode = ErrorCode.quoteExpired
}
/** a quote, accept or contract whose parts do not agree with each other or with what was asked */
export class ContractMismatchError extends WireError {
  override name = 'ContractMismatchError'
  override readonly code: ErrorCode = ErrorCode.contractMismatch
}
/** the peer broke the frame sequence of /tally/negotiate (wrong or missing frame) */
export class NegotiationProtocolError extends WireError {
  override name = 'NegotiationProtocolError'
  override readonly code: ErrorCode = ErrorCode.protocolViolation
}
/** more concurrent negotiations than the node allows */
export class TooManyNegotiationsError extends TallyError {
  override name = 'TooManyNegotiationsError'
  override readonly code: ErrorCode = ErrorCode.tooManyNegotiations
}
/** the buyer cannot meet a term of the seller's quote (it signs no accept) */
export class QuoteTermsUnmetError extends TallyError {
  override name = 'QuoteTermsUnmetError'
  override readonly code: ErrorCode = ErrorCode.quoteTermsUnmet
}

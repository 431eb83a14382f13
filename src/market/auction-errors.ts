/** Typed errors of the reverse auction (protocols/auction.md § Refusal codes): each code is also an Ack code. */
import { ErrorCode, TallyError } from '../errors/index.js'

/** a BidQuote naming a bid this node did not post or no longer collects for */
export class UnknownBidError extends TallyError {
  override name = 'UnknownBidError'
  override readonly code: ErrorCode = ErrorCode.unknownBid
}
/** a BidQuote that arrived after the bid's window (plus clock skew) */
export class AuctionClosedError extends TallyError {
  override name = 'AuctionClosedError'
  override readonly code: ErrorCode = ErrorCode.auctionClosed
}
/** a BidQuote that does not match the bid it answers; it is refused and never used */
export class BidQuoteMismatchError extends TallyError {
  override name = 'BidQuoteMismatchError'
  override readonly code: ErrorCode = ErrorCode.bidQuoteMismatch
}
/** a second BidQuote of one seller for one bid */
export class DuplicateBidQuoteError extends TallyError {
  override name = 'DuplicateBidQuoteError'
  override readonly code: ErrorCode = ErrorCode.duplicateBidQuote
}
/** the bid holds its cap of quotes */
export class TooManyBidQuotesError extends TallyError {
  override name = 'TooManyBidQuotesError'
  override readonly code: ErrorCode = ErrorCode.tooManyBidQuotes
}

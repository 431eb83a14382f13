/** Typed market errors (offers, bids, order book). Wire-level errors come from src/wire/errors. */
/**
 * The field checks moved down to src/wire/fields.ts (contracts use them too), and their errors
 * with them; re-exported so market callers keep one import.
 */
import { ErrorCode, TallyError } from '../errors/index.js'

export { ExpiredError, ExpiryTooFarError, InvalidPriceError, InvalidStringFieldError } from '../wire/errors.js'

/** an offer address whose target peer (its last /p2p/ component) is not the seller that signed it */
export class ForeignAddressError extends TallyError {
  override name = 'ForeignAddressError'
  override readonly code: ErrorCode = ErrorCode.foreignAddress
}

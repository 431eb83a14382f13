/** Typed market errors (offers, bids, order book). Wire-level errors come from src/wire/errors. */
/**
 * The field checks moved down to src/wire/fields.ts (contracts use them too), and their errors
 * with them; re-exported so market callers keep one import.
 */
export { ExpiredError, ExpiryTooFarError, InvalidPriceError, InvalidStringFieldError } from '../wire/errors.js'

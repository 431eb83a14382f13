/** Typed market errors (offers, bids, order book). Wire-level errors come from src/wire/errors. */
import { WireError } from '../wire/errors.js'

/** an offer or bid whose expiry is in the past (per the caller's clock) */
export class ExpiredError extends WireError {
  override name = 'ExpiredError'
}
/** an offer or bid that expires further ahead than allowed */
export class ExpiryTooFarError extends WireError {
  override name = 'ExpiryTooFarError'
}
/** a price that is zero or beyond the allowed ceiling */
export class InvalidPriceError extends WireError {
  override name = 'InvalidPriceError'
}
/** a string field that is empty where required, too long, or not printable */
export class InvalidStringFieldError extends WireError {
  override name = 'InvalidStringFieldError'
}

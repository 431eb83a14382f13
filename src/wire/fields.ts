/** Range checks for signed payload fields (offers, bids, quotes, contracts): strings, prices, expiries. Pure. */
import { ExpiredError, ExpiryTooFarError, FieldRangeError, InvalidPriceError, InvalidStringFieldError } from './errors.js'
import { MAX_CLOCK_SKEW_MS, MAX_PRICE_PER_MTOK_UC } from './limits.js'

/** printable, no control characters */
const PRINTABLE = /^[^\p{Cc}\p{Cs}]*$/u

export function checkString (field: string, value: string, maxChars: number, required: boolean): void {
  if (required && value.length === 0) throw new InvalidStringFieldError(`${field} must not be empty`)
  if (value.length > maxChars) throw new InvalidStringFieldError(`${field} is ${value.length} chars, limit ${maxChars}`)
  if (!PRINTABLE.test(value)) throw new InvalidStringFieldError(`${field} contains control characters`)
}

export function checkPrice (field: string, value: bigint, allowZero = false): void {
  if (value === 0n && allowZero) return
  if (value <= 0n) throw new InvalidPriceError(`${field} must be > 0 µc per 1M tokens, got ${value}`)
  if (value > MAX_PRICE_PER_MTOK_UC) throw new InvalidPriceError(`${field} is ${value} µc per 1M tokens, limit ${MAX_PRICE_PER_MTOK_UC}`)
}

export function checkRange (field: string, value: bigint | number, min: bigint | number, max: bigint | number): void {
  if (value < min || value > max) throw new FieldRangeError(`${field} must be in ${min}..${max}, got ${value}`)
}

/** expiry must be after nowMs and at most maxTtlMs (plus clock skew) ahead of it */
export function checkExpiry (field: string, expiresAtMs: bigint, nowMs: number, maxTtlMs: number): void {
  const now = BigInt(Math.floor(nowMs))
  if (expiresAtMs <= now) throw new ExpiredError(`${field} ${expiresAtMs} is not after now ${now}`)
  const limit = now + BigInt(maxTtlMs + MAX_CLOCK_SKEW_MS)
  if (expiresAtMs > limit) throw new ExpiryTooFarError(`${field} ${expiresAtMs} is more than ${maxTtlMs} ms ahead of now ${now}`)
}

/**
 * Pricing of inference (pure): the one integer rounding rule that turns cumulative token counts
 * into micro-credits, and exact Bpt (billion-parameter tokens). Rule and rationale: protocols/infer.md.
 */
import { ErrorCode, TallyError } from '../errors/index.js'

/** micro-credits in one credit, and tokens in the "per million tokens" of a quote */
export const PER_MTOK = 1_000_000n
/** a Bpt is one token through 1e9 parameters; tokens × params is therefore an exact nano-Bpt count */
export const PARAMS_PER_BPT = 1_000_000_000n

export class PricingRangeError extends TallyError {
  override name = 'PricingRangeError'
  override readonly code: ErrorCode = ErrorCode.invalidArgument
}

function nonNegative (name: string, v: bigint): void {
  if (v < 0n) throw new PricingRangeError(`${name} must be ≥ 0, got ${v}`)
}

/**
 * amount = ceil((in × pIn + out × pOut) / 1 000 000), in µc. Always called with CUMULATIVE session
 * totals, never summed per chunk, so rounding never accumulates.
 */
export function amountUc (inputTokens: bigint, outputTokens: bigint, priceInPerMTokUc: bigint, priceOutPerMTokUc: bigint): bigint {
  nonNegative('inputTokens', inputTokens)
  nonNegative('outputTokens', outputTokens)
  nonNegative('priceInPerMTokUc', priceInPerMTokUc)
  nonNegative('priceOutPerMTokUc', priceOutPerMTokUc)
  const micro = inputTokens * priceInPerMTokUc + outputTokens * priceOutPerMTokUc
  return (micro + PER_MTOK - 1n) / PER_MTOK
}

/** What a session's voucher must carry: the rule above, capped at the contract's max spend. */
export function sessionAmountUc (inputTokens: bigint, outputTokens: bigint, terms: { priceInPerMTokUc: bigint, priceOutPerMTokUc: bigint, maxSpendUc: bigint }): bigint {
  const a = amountUc(inputTokens, outputTokens, terms.priceInPerMTokUc, terms.priceOutPerMTokUc)
  return a < terms.maxSpendUc ? a : terms.maxSpendUc
}

/** tokens × params, an exact count of nano-Bpt */
export function nanoBpt (tokens: bigint | number, params: bigint | number): bigint {
  const t = BigInt(tokens)
  const p = BigInt(params)
  nonNegative('tokens', t)
  nonNegative('params', p)
  return t * p
}

/**
 * Bpt = tokens × params / 1e9 as an exact decimal string (at most 9 fraction digits, no trailing
 * zeros): "3.2", "0.000000135", "7".
 */
export function bpt (tokens: bigint | number, params: bigint | number): string {
  return formatNanoBpt(nanoBpt(tokens, params))
}

/** Bpt as an exact decimal string from nano-Bpt (tokens × params) */
export function formatNanoBpt (n: bigint): string {
  const whole = n / PARAMS_PER_BPT
  const frac = n % PARAMS_PER_BPT
  if (frac === 0n) return whole.toString()
  return `${whole}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`
}

/** normalized price in µc per Bpt for one side of a quote, as an exact decimal string (1 = par) */
export function ucPerBpt (pricePerMTokUc: bigint, params: bigint | number): string {
  // µc per token = price / 1e6; per Bpt = that / (params / 1e9) = price × 1000 / params
  const p = BigInt(params)
  if (p <= 0n) throw new PricingRangeError(`params must be > 0, got ${p}`)
  const scaled = (pricePerMTokUc * 1000n * PARAMS_PER_BPT) / p
  const whole = scaled / PARAMS_PER_BPT
  const frac = scaled % PARAMS_PER_BPT
  if (frac === 0n) return whole.toString()
  return `${whole}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`
}

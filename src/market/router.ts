/**
 * The buyer's arbitrage engine, pure part: which sellers to try, in what order, for one request.
 * Price first (effective price for the expected token mix), then measured quality, then seller
 * id for determinism. Time is passed in; nothing here reads a clock.
 */
import type { RouteConstraints } from './router-types.js'
import { offerServes } from './offer.js'
import { DEFAULT_EXPECTED_INPUT_TOKENS, DEFAULT_EXPECTED_OUTPUT_TOKENS } from './order-book.js'

export interface RoutableOffer {
  seller: string
  modelId: string
  params: number
  quantization: string
  fingerprint: string
  fingerprintVerified: boolean
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  /** the offer's capabilities (market.md § Capabilities); absent or empty = ['chat'] */
  capabilities?: string[]
  /** every slot of the seller runs a request now (market.md § Capacity): tried after free sellers */
  busy?: boolean
}

/** consecutive failures that put a seller in cooldown */
export const FAILURES_BEFORE_COOLDOWN = 2
/** how long a failing seller is skipped */
export const COOLDOWN_MS = 30_000
/** weight of the newest sample in the moving averages */
const EWMA_ALPHA = 0.3

interface SellerStats {
  ttftMs?: number
  tokensPerSec?: number
  successes: number
  failures: number
  consecutiveFailures: number
  cooldownUntilMs: number
}

/** Per-seller quality history: TTFT and throughput moving averages, failures, cooldown. */
export class QualityTracker {
  private readonly stats = new Map<string, SellerStats>()
  constructor (private readonly maxSellers = 10_000) {}

  private get (seller: string): SellerStats {
    let s = this.stats.get(seller)
    if (s == null) {
      if (this.stats.size >= this.maxSellers) this.stats.delete(this.stats.keys().next().value as string)
      s = { successes: 0, failures: 0, consecutiveFailures: 0, cooldownUntilMs: 0 }
      this.stats.set(seller, s)
    }
    return s
  }

  success (seller: string, ttftMs: number, tokensPerSec: number): void {
    const s = this.get(seller)
    s.successes++
    s.consecutiveFailures = 0
    s.ttftMs = s.ttftMs === undefined ? ttftMs : s.ttftMs + EWMA_ALPHA * (ttftMs - s.ttftMs)
    if (Number.isFinite(tokensPerSec) && tokensPerSec > 0) s.tokensPerSec = s.tokensPerSec === undefined ? tokensPerSec : s.tokensPerSec + EWMA_ALPHA * (tokensPerSec - s.tokensPerSec)
  }

  failure (seller: string, nowMs: number): void {
    const s = this.get(seller)
    s.failures++
    s.consecutiveFailures++
    if (s.consecutiveFailures >= FAILURES_BEFORE_COOLDOWN) s.cooldownUntilMs = nowMs + COOLDOWN_MS
  }

  inCooldown (seller: string, nowMs: number): boolean {
    return (this.stats.get(seller)?.cooldownUntilMs ?? 0) > nowMs
  }

  ttftMs (seller: string): number | undefined {
    return this.stats.get(seller)?.ttftMs
  }

  /** 0 (bad) .. 1 (good): success ratio with a prior of one success, so new sellers are not shunned */
  reliability (seller: string): number {
    const s = this.stats.get(seller)
    if (s == null) return 1
    return (s.successes + 1) / (s.successes + s.failures + 1)
  }

  snapshot (seller: string): Readonly<SellerStats> | undefined {
    return this.stats.get(seller)
  }
}

export interface RankOptions {
  expectedInputTokens?: number
  expectedOutputTokens?: number
  nowMs: number
}

/** µc for the expected token mix, scaled by 1e6 (exact integer) */
export function effectivePrice (o: RoutableOffer, expectedIn: number, expectedOut: number): bigint {
  return o.priceInPerMTokUc * BigInt(expectedIn) + o.priceOutPerMTokUc * BigInt(expectedOut)
}

export function meetsConstraints (o: RoutableOffer, c: RouteConstraints, quality: QualityTracker | undefined): boolean {
  if (c.maxPriceOutPerMTokUc !== undefined && o.priceOutPerMTokUc > c.maxPriceOutPerMTokUc) return false
  if (c.maxPriceInPerMTokUc !== undefined && o.priceInPerMTokUc > c.maxPriceInPerMTokUc) return false
  if (c.minParams !== undefined && o.params < c.minParams) return false
  if (c.quantizations !== undefined && c.quantizations.length > 0 && !c.quantizations.includes(o.quantization)) return false
  if (c.verifiedOnly === true && !o.fingerprintVerified) return false
  if (c.excludeSellers?.includes(o.seller) === true) return false
  if (c.capabilities !== undefined && c.capabilities.length > 0 && !offerServes(o, c.capabilities)) return false
  if (c.maxTtftMs !== undefined) {
    const t = quality?.ttftMs(o.seller)
    if (t !== undefined && t > c.maxTtftMs) return false
  }
  return true
}

/**
 * The order in which to try sellers. Offers in cooldown go last (still tried if nothing else
 * is left), busy ones just before them (market.md § Capacity). Reliability below one half doubles the effective price for ranking.
 */
export function rankOffers<T extends RoutableOffer> (offers: T[], c: RouteConstraints, quality: QualityTracker | undefined, opts: RankOptions): T[] {
  const expIn = opts.expectedInputTokens ?? Number(DEFAULT_EXPECTED_INPUT_TOKENS)
  const expOut = opts.expectedOutputTokens ?? Number(DEFAULT_EXPECTED_OUTPUT_TOKENS)
  const scored = offers.filter(o => meetsConstraints(o, c, quality)).map(o => {
    let price = effectivePrice(o, expIn, expOut)
    if (quality != null && quality.reliability(o.seller) < 0.5) price *= 2n
    return { o, price, busy: o.busy === true, cooldown: quality?.inCooldown(o.seller, opts.nowMs) === true, ttft: quality?.ttftMs(o.seller) ?? Number.POSITIVE_INFINITY }
  })
  scored.sort((a, b) => {
    if (a.cooldown !== b.cooldown) return a.cooldown ? 1 : -1
    if (a.busy !== b.busy) return a.busy ? 1 : -1
    if (a.price !== b.price) return a.price < b.price ? -1 : 1
    if (a.ttft !== b.ttft) return a.ttft < b.ttft ? -1 : 1
    return a.o.seller < b.o.seller ? -1 : a.o.seller > b.o.seller ? 1 : 0
  })
  // one entry per seller: the cheapest of its offers for this model
  const seen = new Set<string>()
  return scored.filter(s => (seen.has(s.o.seller) ? false : (seen.add(s.o.seller), true))).map(s => s.o)
}

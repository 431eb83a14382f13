/**
 * The reverse auction's pure rules (protocols/auction.md): the seller's price and volume for a
 * bid, and the buyer's pick of quotes after the window. No clock, no I/O: times are passed in.
 */

/** a seller's auction pricing policy (auction.md § Seller policy); percentages 0..100 */
export interface AuctionPricing {
  /** off posted prices for deferred work (deadline ≥ batchMinDeferMs ahead) */
  batchDiscountPct: number
  /** off posted prices when every slot is free, scaled by the share of free slots */
  idleDiscountPct: number
  /** a deadline this far ahead makes the work batchable */
  batchMinDeferMs: number
}

/** OpenAI's Batch API is half price; a seller in a market undercuts posted prices by less by default */
export const DEFAULT_BATCH_DISCOUNT_PCT = 30
/** an idle seller earns nothing: up to a fifth off to fill free slots */
export const DEFAULT_IDLE_DISCOUNT_PCT = 20
/** work due 10 min or more ahead can wait for a free slot: batchable */
export const DEFAULT_BATCH_MIN_DEFER_MS = 10 * 60_000
/** when the offer does not state its speed: a slow CPU slot (tokens per second) */
export const DEFAULT_TOKENS_PER_SEC_PER_SLOT = 10

/**
 * price = posted × (100 − batch − idle × freeSlots / slots) / 100, exactly as a fraction and
 * floored, at least 1 µc. `batch` applies only to deferred work.
 */
export function auctionPrice (postedUc: bigint, p: AuctionPricing, s: { freeSlots: number, slots: number, deferMs: number }): bigint {
  const slots = BigInt(Math.max(1, Math.floor(s.slots)))
  const free = BigInt(Math.min(Math.max(0, Math.floor(s.freeSlots)), Number(slots)))
  const batch = s.deferMs >= p.batchMinDeferMs ? BigInt(p.batchDiscountPct) : 0n
  const idle = BigInt(p.idleDiscountPct)
  const num = 100n * slots - batch * slots - idle * free
  const price = num <= 0n ? 0n : postedUc * num / (100n * slots)
  return price < 1n ? 1n : price
}

/**
 * Output tokens a seller commits to a bid: the bid's volume, at most what its slots produce
 * before the deadline less what its other held quotes already committed. 0 = out of reach.
 */
export function auctionVolume (v: { bidVolume: bigint, tokensPerSecPerSlot: number, slots: number, msToDeadline: number, heldVolume: bigint }): bigint {
  if (v.msToDeadline <= 0) return 0n
  const perSec = BigInt(Math.max(0, Math.floor(v.tokensPerSecPerSlot))) * BigInt(Math.max(1, Math.floor(v.slots)))
  const reach = perSec * BigInt(Math.floor(v.msToDeadline)) / 1000n - v.heldVolume
  if (reach <= 0n) return 0n
  return reach < v.bidVolume ? reach : v.bidVolume
}

/** what pickQuotes reads of a quote */
export interface PickableQuote {
  sellerId: string
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  maxOutputTokens: bigint
}

export interface QuoteAssignment<Q> {
  quote: Q
  /** output tokens given to this quote (≤ its maxOutputTokens, > 0) */
  outputTokens: bigint
}

/**
 * The buyer's pick: cheapest first (output price, then input price), ties by the seller's record
 * (higher first: e.g. completed purchases from it minus failures), then seller id; the volume is
 * split greedily over the quotes' committed volumes. Quotes given nothing are left out.
 */
export function pickQuotes<Q extends PickableQuote> (quotes: readonly Q[], volumeOut: bigint, record: (sellerId: string) => number): Array<QuoteAssignment<Q>> {
  const ranked = quotes.map(q => ({ q, r: record(q.sellerId) })).sort((a, b) => {
    if (a.q.priceOutPerMTokUc !== b.q.priceOutPerMTokUc) return a.q.priceOutPerMTokUc < b.q.priceOutPerMTokUc ? -1 : 1
    if (a.q.priceInPerMTokUc !== b.q.priceInPerMTokUc) return a.q.priceInPerMTokUc < b.q.priceInPerMTokUc ? -1 : 1
    if (a.r !== b.r) return b.r - a.r
    return a.q.sellerId < b.q.sellerId ? -1 : a.q.sellerId > b.q.sellerId ? 1 : 0
  })
  const out: Array<QuoteAssignment<Q>> = []
  let left = volumeOut
  for (const { q } of ranked) {
    if (left <= 0n) break
    const take = q.maxOutputTokens < left ? q.maxOutputTokens : left
    if (take <= 0n) continue
    out.push({ quote: q, outputTokens: take })
    left -= take
  }
  return out
}

/** The reverse auction's node-level types (protocols/auction.md): what A2's negotiation and batch runner and the simulator read. */
import type { Bid } from '../../market/bid.js'
import type { BidQuote } from '../../market/bid-quote.js'
import type { ErrorCode } from '../../errors/index.js'

/** what a buyer asks for (tally.auction.postBid) */
export interface BidSpec {
  modelId: string
  /** default 0: any size */
  minParams?: bigint
  /** default []: any quantization */
  quantizations?: string[]
  /** only sellers that hashed their weights; default false */
  verifiedOnly?: boolean
  /** µc per 1M tokens, the most the buyer pays */
  maxPriceInPerMTokUc: bigint
  maxPriceOutPerMTokUc: bigint
  /** default 0 */
  expectedInputTokens?: bigint
  /** the volume: output tokens wanted, 1 .. 10^8 */
  expectedOutputTokens: bigint
  /** unix ms the work must be done by: after the window, at most 7 days ahead */
  deadlineMs: number
  /** how long sellers may answer, ms (default DEFAULT_AUCTION_WINDOW_MS, at most MAX_AUCTION_WINDOW_MS) */
  windowMs?: number
  /** ends the collection early: the result holds what came so far */
  signal?: AbortSignal
}

/** a verified quote the bidder accepted (its envelope bytes kept in `bytes`) */
export interface ReceivedBidQuote extends BidQuote {
  receivedAtMs: number
}

export interface RefusedBidQuote {
  /** the seller's peer id */
  seller: string
  code: ErrorCode
}

export interface AuctionResult {
  bidId: Uint8Array
  /** the signed bid (its bytes kept) */
  bid: Bid
  /** verified and accepted quotes, in arrival order */
  quotes: ReceivedBidQuote[]
  /** quotes for this bid that were refused, with the Ack code sent */
  refused: RefusedBidQuote[]
}

/** what a seller keeps of a quote it gave and the bidder accepted (auction.md § Exchange 3) */
export interface HeldBidQuote {
  quoteId: Uint8Array
  bidId: Uint8Array
  /** the bidder's public key and peer id */
  buyer: Uint8Array
  buyerId: string
  modelId: string
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  /** the volume committed */
  maxOutputTokens: bigint
  /** what is left of it after consumeVolume calls */
  volumeLeftTokens: bigint
  validUntilMs: bigint
  /** the signed BidQuote envelope */
  bytes: Uint8Array
}

/** the seller's held quotes, as negotiation reads them */
export interface HeldBidQuotes {
  /** a live (not past valid_until) held quote, or undefined */
  lookupBidQuote: (quoteId: Uint8Array | string) => HeldBidQuote | undefined
  /** takes up to `tokens` off the quote's volume; returns what is left, undefined when not held */
  consumeVolume: (quoteId: Uint8Array | string, tokens: bigint) => bigint | undefined
}

/** the seller's auction settings (tally start --batch-discount/--idle-discount/--no-auction) */
export interface AuctionSellInit {
  /** answer no bid; default false */
  disabled?: boolean
  /** % off posted prices for work due ≥ batchMinDeferMs ahead; default 30 */
  batchDiscountPct?: number
  /** % off posted prices when all slots are free (scaled by the free share); default 20 */
  idleDiscountPct?: number
  /** default 10 min */
  batchMinDeferMs?: number
  /** the speed the volume estimate assumes when the offer states none; default 10 */
  tokensPerSecPerSlot?: number
}

/** tally.auction: the SDK surface */
export interface TallyAuction extends HeldBidQuotes {
  /** publish a request for quotes and collect verified quotes until its window ends */
  postBid: (spec: BidSpec) => Promise<AuctionResult>
  /** the seller's record as this buyer saw it (requests served minus failed; 0 = unknown): pickQuotes' `record` */
  sellerRecord: (sellerId: string) => number
}

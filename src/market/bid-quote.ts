/**
 * BidQuotes: a seller's signed answer to a bid in a reverse auction (payload `BidQuote` in
 * protocols/auction.proto, envelope domain tally/bid-quote/1). Owns sign/open, the range rules
 * and the bidder's match check (protocols/auction.md § Verification). Pure: the clock is passed in.
 */
import '../wire/protons-uint64-fix.js'
import { BidQuote as BidQuotePb } from '../wire/pb/auction.js'
import { Domain } from '../wire/domains.js'
import { openEnvelope, sealEnvelope } from '../wire/envelope.js'
import { MalformedMessageError } from '../wire/errors.js'
import type { Ed25519Signer } from '../identity/ed25519.js'
import { checkPrice, checkRange, checkString } from '../wire/fields.js'
import {
  MAX_EXPECTED_TOKENS, MAX_FINGERPRINT_CHARS, MAX_MODEL_ID_CHARS, MAX_MULTIADDR_CHARS, MAX_MULTIADDRS, MAX_PARAMS,
  MAX_QUANTIZATION_CHARS
} from '../wire/limits.js'
import { checkOfferAddresses, sellerIdOf } from './offer.js'
import type { Bid } from './bid.js'
import { AuctionClosedError, BidQuoteMismatchError } from './auction-errors.js'

/** one signed BidQuote on the wire; multiaddrs dominate, as in an offer */
export const MAX_BID_QUOTE_BYTES = 4096
/** clocks of seller and bidder may disagree this much at the window's end */
export const AUCTION_SKEW_MS = 5_000

export interface BidQuoteTerms {
  /** the bid envelope's id (32 bytes) */
  bidId: Uint8Array
  /** the bidder's public key (32 bytes) */
  buyer: Uint8Array
  modelId: string
  fingerprint: string
  fingerprintVerified: boolean
  params: bigint
  /** '' = not said */
  quantization: string
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  /** the output volume committed at this price */
  maxOutputTokens: bigint
  /** the price holds in negotiation until then (unix ms) */
  validUntilMs: bigint
  /** the posted output price when quoted; 0 = not said */
  postedPriceOutPerMTokUc: bigint
  multiaddrs: string[]
  /** 16 random bytes */
  quoteId: Uint8Array
}

export interface BidQuote extends BidQuoteTerms {
  seller: Uint8Array
  sellerId: string
  /** the envelope id (not the quote's name: that is quoteId) */
  id: Uint8Array
  /** the envelope bytes exactly as signed */
  bytes: Uint8Array
}

/** the range rules of auction.md § BidQuote */
export function checkBidQuoteTerms (q: BidQuoteTerms): void {
  checkRange('bidId length', q.bidId.length, 32, 32)
  checkRange('buyer length', q.buyer.length, 32, 32)
  checkRange('quoteId length', q.quoteId.length, 16, 16)
  checkString('modelId', q.modelId, MAX_MODEL_ID_CHARS, true)
  checkString('fingerprint', q.fingerprint, MAX_FINGERPRINT_CHARS, true)
  checkString('quantization', q.quantization, MAX_QUANTIZATION_CHARS, false)
  checkRange('params', q.params, 1n, MAX_PARAMS)
  checkPrice('priceInPerMTokUc', q.priceInPerMTokUc)
  checkPrice('priceOutPerMTokUc', q.priceOutPerMTokUc)
  checkPrice('postedPriceOutPerMTokUc', q.postedPriceOutPerMTokUc, true)
  checkRange('maxOutputTokens', q.maxOutputTokens, 1n, MAX_EXPECTED_TOKENS)
  checkRange('validUntilMs', q.validUntilMs, 1n, 2n ** 63n - 1n)
  checkRange('multiaddrs count', q.multiaddrs.length, 0, MAX_MULTIADDRS)
  for (const ma of q.multiaddrs) checkString('multiaddr', ma, MAX_MULTIADDR_CHARS, true)
}

export function signBidQuote (signer: Ed25519Signer, net: Uint8Array, terms: BidQuoteTerms): BidQuote {
  checkBidQuoteTerms(terms)
  const sellerId = sellerIdOf(signer.publicKey)
  checkOfferAddresses(terms.multiaddrs, sellerId)
  const env = sealEnvelope(signer, Domain.bidQuote, net, BidQuotePb.encode({
    bidId: terms.bidId as Uint8Array<ArrayBuffer>,
    buyer: terms.buyer as Uint8Array<ArrayBuffer>,
    modelId: terms.modelId,
    fingerprint: terms.fingerprint,
    fingerprintVerified: terms.fingerprintVerified,
    params: terms.params,
    priceInPerMtokUc: terms.priceInPerMTokUc,
    priceOutPerMtokUc: terms.priceOutPerMTokUc,
    maxOutputTokens: terms.maxOutputTokens,
    validUntilMs: terms.validUntilMs,
    postedPriceOutPerMtokUc: terms.postedPriceOutPerMTokUc,
    multiaddrs: terms.multiaddrs,
    quoteId: terms.quoteId as Uint8Array<ArrayBuffer>,
    quantization: terms.quantization
  }))
  return { ...terms, multiaddrs: [...terms.multiaddrs], seller: env.publicKey, sellerId, id: env.id, bytes: env.bytes }
}

/** Verify and range-check received BidQuote bytes. Typed errors (their codes are the Ack codes). */
export function openBidQuote (bytes: Uint8Array, net: Uint8Array): BidQuote {
  const env = openEnvelope(bytes, { domain: Domain.bidQuote, net, maxBytes: MAX_BID_QUOTE_BYTES })
  let pb: BidQuotePb
  try {
    pb = BidQuotePb.decode(env.payload, { limits: { multiaddrs: MAX_MULTIADDRS + 1 } })
  } catch (err: any) {
    throw new MalformedMessageError(`bid quote payload does not decode: ${err?.message ?? err}`)
  }
  const q: BidQuote = {
    bidId: pb.bidId,
    buyer: pb.buyer,
    modelId: pb.modelId,
    fingerprint: pb.fingerprint,
    fingerprintVerified: pb.fingerprintVerified,
    params: pb.params,
    quantization: pb.quantization,
    priceInPerMTokUc: pb.priceInPerMtokUc,
    priceOutPerMTokUc: pb.priceOutPerMtokUc,
    maxOutputTokens: pb.maxOutputTokens,
    validUntilMs: pb.validUntilMs,
    postedPriceOutPerMTokUc: pb.postedPriceOutPerMtokUc,
    multiaddrs: pb.multiaddrs,
    quoteId: pb.quoteId,
    seller: env.publicKey,
    sellerId: sellerIdOf(env.publicKey),
    id: env.id,
    bytes
  }
  checkBidQuoteTerms(q)
  checkOfferAddresses(q.multiaddrs, q.sellerId)
  return q
}

/** does a seller's offer satisfy a bid's constraints (the seller's side of § Seller policy, and half of § Verification 4) */
export function servesBid (bid: Pick<Bid, 'modelId' | 'minParams' | 'quantizations' | 'verifiedOnly'>, s: { modelId: string, params: bigint, quantization: string, fingerprintVerified: boolean }): string | undefined {
  if (s.modelId !== bid.modelId) return `model ${JSON.stringify(s.modelId)} is not the bid's ${JSON.stringify(bid.modelId)}`
  if (s.params < bid.minParams) return `params ${s.params} below the bid's minimum ${bid.minParams}`
  if (bid.quantizations.length > 0 && !bid.quantizations.includes(s.quantization)) return `quantization ${JSON.stringify(s.quantization)} is not one of the bid's ${bid.quantizations.join(', ')}`
  if (bid.verifiedOnly && !s.fingerprintVerified) return 'the bid is verified-only and the fingerprint is not verified'
  return undefined
}

/**
 * The bidder's match check (auction.md § Verification 3-4, the window and the bid's terms);
 * throws AuctionClosedError or BidQuoteMismatchError.
 */
export function checkBidQuoteMatches (q: BidQuote, bid: Bid, nowMs: number): void {
  if (BigInt(Math.floor(nowMs)) > bid.auctionEndsAtMs + BigInt(AUCTION_SKEW_MS)) throw new AuctionClosedError(`the auction window of bid ${Buffer.from(bid.id).toString('hex').slice(0, 16)} ended at ${bid.auctionEndsAtMs}`)
  const mismatch = (why: string): never => { throw new BidQuoteMismatchError(`bid quote ${Buffer.from(q.quoteId).toString('hex')} does not match the bid: ${why}`) }
  if (Buffer.compare(q.bidId, bid.id) !== 0) mismatch('it names another bid')
  if (Buffer.compare(q.buyer, bid.buyer) !== 0) mismatch('it names another buyer')
  const off = servesBid(bid, q)
  if (off != null) mismatch(off)
  if (q.priceInPerMTokUc > bid.maxPriceInPerMTokUc) mismatch(`input price ${q.priceInPerMTokUc} above the bid's maximum ${bid.maxPriceInPerMTokUc}`)
  if (q.priceOutPerMTokUc > bid.maxPriceOutPerMTokUc) mismatch(`output price ${q.priceOutPerMTokUc} above the bid's maximum ${bid.maxPriceOutPerMTokUc}`)
  if (q.maxOutputTokens > bid.expectedOutputTokens) mismatch(`volume ${q.maxOutputTokens} above the bid's ${bid.expectedOutputTokens}`)
  if (q.validUntilMs < bid.auctionEndsAtMs) mismatch(`valid until ${q.validUntilMs}, before the window's end ${bid.auctionEndsAtMs}`)
  if (bid.deadlineMs > 0n && q.validUntilMs > bid.deadlineMs) mismatch(`valid until ${q.validUntilMs}, after the bid's deadline ${bid.deadlineMs}`)
}

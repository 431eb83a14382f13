/**
 * Bids: a buyer's signed, gossiped request for compute (payload `Bid` in protocols/market.proto,
 * envelope domain tally/bid/1). Sellers may answer one with a quote; one with an auction window
 * is a request for quotes (protocols/auction.md). Owns build/sign/open/checks.
 */
import '../wire/protons-uint64-fix.js'
import { Bid as BidPb } from '../wire/pb/market.js'
import { Domain } from '../wire/domains.js'
import { openEnvelope, sealEnvelope } from '../wire/envelope.js'
import { MalformedMessageError } from '../wire/errors.js'
import { accountIdFromPublicKey } from '../identity/account.js'
import type { Ed25519Signer } from '../identity/ed25519.js'
import { checkExpiry, checkPrice, checkRange, checkString } from '../wire/fields.js'
import { ExpiredError, ExpiryTooFarError, FieldRangeError } from '../wire/errors.js'
import {
  MAX_BID_BYTES, MAX_BID_TTL_MS, MAX_CLOCK_SKEW_MS, MAX_EXPECTED_TOKENS, MAX_MODEL_ID_CHARS, MAX_MULTIADDR_CHARS, MAX_MULTIADDRS,
  MAX_PARAMS, MAX_QUANTIZATION_CHARS, MAX_QUANTIZATIONS
} from '../wire/limits.js'
import { ForeignAddressError } from './errors.js'
import { checkOfferAddresses, sellerIdOf } from './offer.js'

/** a bid's work may be due this far ahead at most (market.md § Bid): a week covers any batch */
export const MAX_BID_DEADLINE_AHEAD_MS = 7 * 24 * 3_600_000

export interface BidTerms {
  modelId: string
  minParams: bigint
  /** empty = any */
  quantizations: string[]
  maxPriceInPerMTokUc: bigint
  maxPriceOutPerMTokUc: bigint
  expectedInputTokens: bigint
  expectedOutputTokens: bigint
  /** unix ms the work must be done by; 0 / absent = not said (reverse auction, auction.md) */
  deadlineMs?: bigint
  /** unix ms the auction window ends; > 0 = a request for quotes */
  auctionEndsAtMs?: bigint
  /** where sellers dial the bidder (market.md § Addresses rules) */
  multiaddrs?: string[]
  /** only sellers that hashed their weights may answer */
  verifiedOnly?: boolean
}

export interface Bid extends BidTerms {
  deadlineMs: bigint
  auctionEndsAtMs: bigint
  multiaddrs: string[]
  verifiedOnly: boolean
  buyer: Uint8Array
  buyerId: string
  seq: bigint
  expiresAtMs: bigint
  id: Uint8Array
  bytes: Uint8Array
}

export function checkBidTerms (b: BidTerms): void {
  checkString('modelId', b.modelId, MAX_MODEL_ID_CHARS, true)
  checkRange('minParams', b.minParams, 0n, MAX_PARAMS)
  checkRange('quantizations count', b.quantizations.length, 0, MAX_QUANTIZATIONS)
  for (const q of b.quantizations) checkString('quantization', q, MAX_QUANTIZATION_CHARS, true)
  checkPrice('maxPriceInPerMTokUc', b.maxPriceInPerMTokUc)
  checkPrice('maxPriceOutPerMTokUc', b.maxPriceOutPerMTokUc)
  checkRange('expectedInputTokens', b.expectedInputTokens, 0n, MAX_EXPECTED_TOKENS)
  checkRange('expectedOutputTokens', b.expectedOutputTokens, 0n, MAX_EXPECTED_TOKENS)
  const addrs = b.multiaddrs ?? []
  checkRange('multiaddrs count', addrs.length, 0, MAX_MULTIADDRS)
  for (const ma of addrs) checkString('multiaddr', ma, MAX_MULTIADDR_CHARS, true)
  const deadline = b.deadlineMs ?? 0n
  const ends = b.auctionEndsAtMs ?? 0n
  checkRange('deadlineMs', deadline, 0n, 2n ** 63n - 1n)
  checkRange('auctionEndsAtMs', ends, 0n, 2n ** 63n - 1n)
  if (ends > 0n) {
    // a request for quotes names when the work is due and how much of it there is
    if (deadline === 0n) throw new FieldRangeError('an auction bid (auctionEndsAtMs set) needs deadlineMs')
    if (ends > deadline) throw new FieldRangeError(`auctionEndsAtMs ${ends} is after deadlineMs ${deadline}`)
    checkRange('expectedOutputTokens of an auction bid', b.expectedOutputTokens, 1n, MAX_EXPECTED_TOKENS)
  }
}

/** the auction fields against the validator's clock and the bid's own expiry (market.md § Bid) */
export function checkBidTiming (b: Pick<Bid, 'deadlineMs' | 'auctionEndsAtMs' | 'expiresAtMs'>, nowMs: number): void {
  const now = BigInt(Math.floor(nowMs))
  if (b.auctionEndsAtMs > b.expiresAtMs) throw new FieldRangeError(`auctionEndsAtMs ${b.auctionEndsAtMs} is after expiresAtMs ${b.expiresAtMs}`)
  if (b.deadlineMs === 0n) return
  if (b.deadlineMs <= now) throw new ExpiredError(`deadlineMs ${b.deadlineMs} is not after now ${now}`)
  if (b.deadlineMs > now + BigInt(MAX_BID_DEADLINE_AHEAD_MS + MAX_CLOCK_SKEW_MS)) throw new ExpiryTooFarError(`deadlineMs ${b.deadlineMs} is more than 7 days ahead of now ${now}`)
}

/** every address of a bid reaches its bidder (as an offer's its seller) */
export function checkBidAddresses (multiaddrs: readonly string[], buyerId: string): void {
  try {
    checkOfferAddresses(multiaddrs, buyerId)
  } catch (err: any) {
    throw new ForeignAddressError(`bid ${String(err?.message ?? err).replace(/^offer /, '').replace(/the seller/, 'the bidder')}`)
  }
}

export function signBid (signer: Ed25519Signer, net: Uint8Array, terms: BidTerms, opts: { seq: bigint, expiresAtMs: bigint }): Bid {
  checkBidTerms(terms)
  const auction = { deadlineMs: terms.deadlineMs ?? 0n, auctionEndsAtMs: terms.auctionEndsAtMs ?? 0n, multiaddrs: [...(terms.multiaddrs ?? [])], verifiedOnly: terms.verifiedOnly ?? false }
  if (auction.auctionEndsAtMs > opts.expiresAtMs) throw new FieldRangeError(`auctionEndsAtMs ${auction.auctionEndsAtMs} is after expiresAtMs ${opts.expiresAtMs}`)
  checkBidAddresses(auction.multiaddrs, sellerIdOf(signer.publicKey))
  const env = sealEnvelope(signer, Domain.bid, net, BidPb.encode({
    seq: opts.seq,
    modelId: terms.modelId,
    minParams: terms.minParams,
    quantizations: terms.quantizations,
    maxPriceInPerMtokUc: terms.maxPriceInPerMTokUc,
    maxPriceOutPerMtokUc: terms.maxPriceOutPerMTokUc,
    expectedInputTokens: terms.expectedInputTokens,
    expectedOutputTokens: terms.expectedOutputTokens,
    expiresAtMs: opts.expiresAtMs,
    ...auction
  }))
  return {
    ...terms,
    ...auction,
    quantizations: [...terms.quantizations],
    buyer: env.publicKey,
    buyerId: accountIdFromPublicKey(env.publicKey),
    seq: opts.seq,
    expiresAtMs: opts.expiresAtMs,
    id: env.id,
    bytes: env.bytes
  }
}

/** Verify and range-check received bid bytes against the validator's clock. Typed errors as openOffer. */
export function openBid (bytes: Uint8Array, net: Uint8Array, nowMs: number): Bid {
  const env = openEnvelope(bytes, { domain: Domain.bid, net, maxBytes: MAX_BID_BYTES })
  let pb: BidPb
  try {
    pb = BidPb.decode(env.payload, { limits: { quantizations: MAX_QUANTIZATIONS + 1, multiaddrs: MAX_MULTIADDRS + 1 } })
  } catch (err: any) {
    throw new MalformedMessageError(`bid payload does not decode: ${err?.message ?? err}`)
  }
  const bid: Bid = {
    modelId: pb.modelId,
    minParams: pb.minParams,
    quantizations: pb.quantizations,
    maxPriceInPerMTokUc: pb.maxPriceInPerMtokUc,
    maxPriceOutPerMTokUc: pb.maxPriceOutPerMtokUc,
    expectedInputTokens: pb.expectedInputTokens,
    expectedOutputTokens: pb.expectedOutputTokens,
    deadlineMs: pb.deadlineMs,
    auctionEndsAtMs: pb.auctionEndsAtMs,
    multiaddrs: pb.multiaddrs,
    verifiedOnly: pb.verifiedOnly,
    buyer: env.publicKey,
    buyerId: accountIdFromPublicKey(env.publicKey),
    seq: pb.seq,
    expiresAtMs: pb.expiresAtMs,
    id: env.id,
    bytes
  }
  checkRange('seq', bid.seq, 1n, 2n ** 63n - 1n)
  checkBidTerms(bid)
  checkExpiry('expiresAtMs', bid.expiresAtMs, nowMs, MAX_BID_TTL_MS)
  checkBidTiming(bid, nowMs)
  checkBidAddresses(bid.multiaddrs, sellerIdOf(bid.buyer))
  return bid
}

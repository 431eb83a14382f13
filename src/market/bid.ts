/**
 * Bids: a buyer's signed, gossiped request for compute (payload `Bid` in protocols/market.proto,
 * envelope domain tally/bid/1). Sellers may answer one with a quote. Owns build/sign/open/checks.
 */
import '../wire/protons-uint64-fix.js'
import { Bid as BidPb } from '../wire/pb/market.js'
import { Domain } from '../wire/domains.js'
import { openEnvelope, sealEnvelope } from '../wire/envelope.js'
import { MalformedMessageError } from '../wire/errors.js'
import { accountIdFromPublicKey } from '../identity/account.js'
import type { Ed25519Signer } from '../identity/ed25519.js'
import { checkExpiry, checkPrice, checkRange, checkString } from '../wire/fields.js'
import {
  MAX_BID_BYTES, MAX_BID_TTL_MS, MAX_EXPECTED_TOKENS, MAX_MODEL_ID_CHARS, MAX_PARAMS, MAX_QUANTIZATION_CHARS,
  MAX_QUANTIZATIONS
} from '../wire/limits.js'

export interface BidTerms {
  modelId: string
  minParams: bigint
  /** empty = any */
  quantizations: string[]
  maxPriceInPerMTokUc: bigint
  maxPriceOutPerMTokUc: bigint
  expectedInputTokens: bigint
  expectedOutputTokens: bigint
}

export interface Bid extends BidTerms {
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
}

export function signBid (signer: Ed25519Signer, net: Uint8Array, terms: BidTerms, opts: { seq: bigint, expiresAtMs: bigint }): Bid {
  checkBidTerms(terms)
  const env = sealEnvelope(signer, Domain.bid, net, BidPb.encode({
    seq: opts.seq,
    modelId: terms.modelId,
    minParams: terms.minParams,
    quantizations: terms.quantizations,
    maxPriceInPerMtokUc: terms.maxPriceInPerMTokUc,
    maxPriceOutPerMtokUc: terms.maxPriceOutPerMTokUc,
    expectedInputTokens: terms.expectedInputTokens,
    expectedOutputTokens: terms.expectedOutputTokens,
    expiresAtMs: opts.expiresAtMs
  }))
  return {
    ...terms,
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
    pb = BidPb.decode(env.payload, { limits: { quantizations: MAX_QUANTIZATIONS + 1 } })
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
  return bid
}

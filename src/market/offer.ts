/**
 * Offers: a seller's signed, gossiped statement of what it serves and at what price
 * (payload `Offer` in protocols/market.proto, envelope domain tally/offer/1). This module owns
 * building, signing, opening and range-checking offers, and the derived normalized price.
 */
import '../wire/protons-uint64-fix.js'
import { Offer as OfferPb } from '../wire/pb/market.js'
import { Domain } from '../wire/domains.js'
import { openEnvelope, sealEnvelope } from '../wire/envelope.js'
import { MalformedMessageError } from '../wire/errors.js'
import { accountIdFromPublicKey } from '../identity/account.js'
import type { Ed25519Signer } from '../identity/ed25519.js'
import { checkExpiry, checkPrice, checkRange, checkString } from '../wire/fields.js'
import {
  MAX_CONTEXT_LENGTH, MAX_FINGERPRINT_CHARS, MAX_MODEL_ID_CHARS, MAX_MULTIADDR_CHARS, MAX_MULTIADDRS,
  MAX_OFFER_BYTES, MAX_OFFER_TTL_MS, MAX_PARAMS, MAX_QUANTIZATION_CHARS, MAX_REGION_CHARS, MAX_SESSIONS,
  MAX_TOKENS_PER_SEC, MAX_CAPABILITIES, MAX_CAPABILITY_CHARS
} from '../wire/limits.js'
import { FieldRangeError } from '../wire/errors.js'
import { ForeignAddressError } from './errors.js'

/** the capability names of market.md § Capabilities; receivers keep names they do not know */
export const CAPABILITIES = ['chat', 'tools', 'json_schema', 'embeddings', 'logprobs', 'completions'] as const
export type Capability = typeof CAPABILITIES[number]
const CAPABILITY_NAME = /^[a-z0-9_]+$/

/** what an offer serves: its list, or ["chat"] when it lists none (offers from before the field) */
export function offerCapabilities (o: Pick<OfferTerms, 'capabilities'>): string[] {
  return o.capabilities == null || o.capabilities.length === 0 ? ['chat'] : o.capabilities
}

/** true when the offer lists every capability in `needed` */
export function offerServes (o: Pick<OfferTerms, 'capabilities'>, needed: readonly string[]): boolean {
  const have = offerCapabilities(o)
  return needed.every(c => have.includes(c))
}

/** seller ids by public key (hex): deriving a PeerId string costs more than verifying */
const sellerIds = new Map<string, string>()
const SELLER_ID_CACHE_MAX = 10_000

export function sellerIdOf (publicKey: Uint8Array): string {
  const hex = Buffer.from(publicKey).toString('hex')
  let id = sellerIds.get(hex)
  if (id === undefined) {
    id = accountIdFromPublicKey(publicKey)
    if (sellerIds.size >= SELLER_ID_CACHE_MAX) sellerIds.delete(sellerIds.keys().next().value as string)
    sellerIds.set(hex, id)
  }
  return id
}

/** The fields a seller chooses; seq and expiry are set when it is signed. */
export interface OfferTerms {
  modelId: string
  fingerprint: string
  fingerprintVerified: boolean
  params: bigint
  quantization: string
  contextLength: number
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  maxSessions: number
  tokensPerSec: number
  region: string
  multiaddrs: string[]
  /** market.md § Capabilities; absent or empty = ["chat"] */
  capabilities?: string[]
}

/** A verified offer, decoded. */
export interface Offer extends OfferTerms {
  /** seller ed25519 public key (the envelope signer) */
  seller: Uint8Array
  /** seller account id (PeerId string) */
  sellerId: string
  seq: bigint
  expiresAtMs: bigint
  withdrawn: boolean
  /** every slot runs a request now (market.md § Capacity): the offer stands, buyers prefer free sellers */
  busy: boolean
  /** envelope id (SHA-256 of the signing input) */
  id: Uint8Array
  /** the exact signed bytes, forwarded as they are */
  bytes: Uint8Array
}

export interface SignOfferOptions {
  seq: bigint
  expiresAtMs: bigint
  withdrawn?: boolean
  /** market.md § Capacity: all slots running */
  busy?: boolean
}

function toPb (terms: OfferTerms, opts: SignOfferOptions): OfferPb {
  return {
    seq: opts.seq,
    modelId: terms.modelId,
    fingerprint: terms.fingerprint,
    fingerprintVerified: terms.fingerprintVerified,
    params: terms.params,
    quantization: terms.quantization,
    contextLength: terms.contextLength,
    priceInPerMtokUc: terms.priceInPerMTokUc,
    priceOutPerMtokUc: terms.priceOutPerMTokUc,
    maxSessions: terms.maxSessions,
    tokensPerSec: terms.tokensPerSec,
    region: terms.region,
    multiaddrs: terms.multiaddrs,
    capabilities: terms.capabilities ?? [],
    expiresAtMs: opts.expiresAtMs,
    withdrawn: opts.withdrawn ?? false,
    busy: opts.busy ?? false
  }
}

/** Range checks that hold for every offer, whatever the clock. */
export function checkOfferTerms (o: OfferTerms, withdrawn = false): void {
  checkString('modelId', o.modelId, MAX_MODEL_ID_CHARS, true)
  if (withdrawn) return
  checkString('fingerprint', o.fingerprint, MAX_FINGERPRINT_CHARS, true)
  checkString('quantization', o.quantization, MAX_QUANTIZATION_CHARS, false)
  checkString('region', o.region, MAX_REGION_CHARS, false)
  checkRange('params', o.params, 1n, MAX_PARAMS)
  checkRange('contextLength', o.contextLength, 1, MAX_CONTEXT_LENGTH)
  checkPrice('priceInPerMTokUc', o.priceInPerMTokUc)
  checkPrice('priceOutPerMTokUc', o.priceOutPerMTokUc)
  checkRange('maxSessions', o.maxSessions, 1, MAX_SESSIONS)
  checkRange('tokensPerSec', o.tokensPerSec, 0, MAX_TOKENS_PER_SEC)
  checkRange('multiaddrs count', o.multiaddrs.length, 0, MAX_MULTIADDRS)
  for (const ma of o.multiaddrs) checkString('multiaddr', ma, MAX_MULTIADDR_CHARS, true)
  const caps = o.capabilities ?? []
  checkRange('capabilities count', caps.length, 0, MAX_CAPABILITIES)
  for (const c of caps) {
    if (c.length < 1 || c.length > MAX_CAPABILITY_CHARS || !CAPABILITY_NAME.test(c)) throw new FieldRangeError(`capability ${JSON.stringify(c.slice(0, 40))} must be 1..${MAX_CAPABILITY_CHARS} chars of a-z, 0-9, _`)
  }
}

/**
 * The peer an address reaches: its last /p2p/ component, unless that is a relay's (followed by
 * /p2p-circuit, the target then being implicit); undefined when the address names none.
 */
function targetPeerOf (ma: string): string | undefined {
  const parts = ma.split('/')
  let target: string | undefined
  for (let i = 1; i < parts.length; i++) {
    if ((parts[i] === 'p2p' || parts[i] === 'ipfs') && i + 1 < parts.length) target = parts[++i]
    else if (parts[i] === 'p2p-circuit') target = undefined
  }
  return target
}

/**
 * Every address of an offer reaches its seller (protocols/market.md § Addresses): one naming
 * another peer would send buyers to whoever that is, with the seller's prices on it.
 */
export function checkOfferAddresses (multiaddrs: readonly string[], sellerId: string): void {
  for (const ma of multiaddrs) {
    const target = targetPeerOf(ma)
    if (target != null && target !== sellerId) throw new ForeignAddressError(`offer address ${JSON.stringify(ma.slice(0, 120))} reaches peer ${target.slice(0, 60)}, not the seller ${sellerId}`)
  }
}

/** Sign an offer (or, with `withdrawn`, its withdrawal). Throws on out-of-range terms. */
export function signOffer (signer: Ed25519Signer, net: Uint8Array, terms: OfferTerms, opts: SignOfferOptions): Offer {
  checkOfferTerms(terms, opts.withdrawn)
  const env = sealEnvelope(signer, Domain.offer, net, OfferPb.encode(toPb(terms, opts)))
  checkOfferAddresses(terms.multiaddrs, sellerIdOf(env.publicKey))
  return {
    ...terms,
    multiaddrs: [...terms.multiaddrs],
    capabilities: [...(terms.capabilities ?? [])],
    seller: env.publicKey,
    sellerId: sellerIdOf(env.publicKey),
    seq: opts.seq,
    expiresAtMs: opts.expiresAtMs,
    withdrawn: opts.withdrawn ?? false,
    busy: opts.busy ?? false,
    id: env.id,
    bytes: env.bytes
  }
}

/**
 * Verify and range-check received offer bytes against the validator's clock `nowMs`.
 * Throws a typed error (MessageTooLargeError, MalformedMessageError, WrongDomainError,
 * InvalidSignatureError, FieldRangeError, InvalidPriceError, InvalidStringFieldError,
 * ExpiredError, ExpiryTooFarError).
 */
export function openOffer (bytes: Uint8Array, net: Uint8Array, nowMs: number): Offer {
  const env = openEnvelope(bytes, { domain: Domain.offer, net, maxBytes: MAX_OFFER_BYTES })
  let pb: OfferPb
  try {
    pb = OfferPb.decode(env.payload, { limits: { multiaddrs: MAX_MULTIADDRS + 1, capabilities: MAX_CAPABILITIES + 1 } })
  } catch (err: any) {
    throw new MalformedMessageError(`offer payload does not decode: ${err?.message ?? err}`)
  }
  const offer: Offer = {
    modelId: pb.modelId,
    fingerprint: pb.fingerprint,
    fingerprintVerified: pb.fingerprintVerified,
    params: pb.params,
    quantization: pb.quantization,
    contextLength: pb.contextLength,
    priceInPerMTokUc: pb.priceInPerMtokUc,
    priceOutPerMTokUc: pb.priceOutPerMtokUc,
    maxSessions: pb.maxSessions,
    tokensPerSec: pb.tokensPerSec,
    region: pb.region,
    multiaddrs: pb.multiaddrs,
    capabilities: pb.capabilities,
    seller: env.publicKey,
    sellerId: sellerIdOf(env.publicKey),
    seq: pb.seq,
    expiresAtMs: pb.expiresAtMs,
    withdrawn: pb.withdrawn,
    busy: pb.busy,
    id: env.id,
    bytes
  }
  checkRange('seq', offer.seq, 1n, 2n ** 63n - 1n)
  checkOfferTerms(offer, offer.withdrawn)
  checkOfferAddresses(offer.multiaddrs, offer.sellerId)
  checkExpiry('expiresAtMs', offer.expiresAtMs, nowMs, MAX_OFFER_TTL_MS)
  return offer
}

/**
 * Normalized price in µc per Bpt as an exact fraction: priceOut per 1M tokens over
 * (params / 1e9) Bpt per token, i.e. priceOut·1e9 / (params·1e6) = priceOut·1000 / params.
 * 1/1 is par.
 */
export function pricePerBpt (priceOutPerMTokUc: bigint, params: bigint): { num: bigint, den: bigint } {
  return { num: priceOutPerMTokUc * 1000n, den: params }
}

/** the same, as a float for display only */
export function pricePerBptForDisplay (priceOutPerMTokUc: bigint, params: bigint): number {
  const { num, den } = pricePerBpt(priceOutPerMTokUc, params)
  return Number(num * 1_000_000n / den) / 1_000_000
}

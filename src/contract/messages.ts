/**
 * The signed objects of a negotiation: Quote (seller, tally/quote/1), Accept (buyer,
 * tally/accept/1) and the two-signed Contract (seller countersigns the buyer's accept,
 * tally/contract/1). Build, open and the pure `verifyContract(bytes, net)`; no clock here.
 */
import '../wire/protons-uint64-fix.js'
import { Accept as AcceptPb, Contract as ContractPb, Quote as QuotePb } from '../wire/pb/negotiate.js'
import { Domain } from '../wire/domains.js'
import { openEnvelope, sealEnvelope, type SignedEnvelope } from '../wire/envelope.js'
import { MalformedMessageError } from '../wire/errors.js'
import { accountIdFromPublicKey } from '../identity/account.js'
import type { Ed25519Signer } from '../identity/ed25519.js'
import { checkPrice, checkRange, checkString } from '../wire/fields.js'
import { MAX_FINGERPRINT_CHARS, MAX_MODEL_ID_CHARS, MAX_PARAMS } from '../wire/limits.js'
import { ContractMismatchError } from './errors.js'

/** a quote is firm at most this long */
export const MAX_QUOTE_TTL_MS = 10_000
export const QUOTE_ID_LENGTH = 16
export const NONCE_LENGTH = 16
export const MAX_QUOTE_BYTES = 2048
export const MAX_ACCEPT_BYTES = 4096
export const MAX_CONTRACT_BYTES = 8192
/** quote term trusted_grantors: at most this many accounts (a seller trusting more trusts grants as such) */
export const MAX_TRUSTED_GRANTORS = 16

export interface QuoteTerms {
  quoteId: Uint8Array
  buyer: Uint8Array
  requestNonce: Uint8Array
  modelId: string
  fingerprint: string
  fingerprintVerified: boolean
  params: bigint
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  validUntilMs: bigint
  /**
   * Quote term (0 or absent = none): a session locking more than this many µc is served only
   * once a peer other than the buyer and the seller holds the buyer's `open` (negotiate.md).
   */
  secondPeerAboveUc?: bigint
  /** quote term (0/absent = not stated): the exact lock; the accept's max spend and the buyer's open must equal it */
  maxSpendUc?: bigint
  /** quote term (0/absent = not stated): the session end (unix ms) the accept must carry */
  sessionExpiresAtMs?: bigint
  /** quote term (0/absent = not stated): the buyer's open must reach the seller this long after the contract */
  openWithinMs?: bigint
  /** quote term (0/absent = none): the buyer's spendable balance the seller requires */
  minBuyerSpendableUc?: bigint
  /** quote term (0/absent = not stated): the most the seller serves ahead of the buyer's highest voucher */
  maxUnpaidUc?: bigint
  /** quote term (empty/absent = any grantor): the lock beyond own funds and the network's credit line must rest on lines from these accounts (32-byte keys) */
  trustedGrantors?: Uint8Array[]
}

export interface Quote extends QuoteTerms {
  seller: Uint8Array
  id: Uint8Array
  bytes: Uint8Array
}

export interface Accept {
  buyer: Uint8Array
  quote: Quote
  maxSpendUc: bigint
  sessionExpiresAtMs: bigint
  id: Uint8Array
  bytes: Uint8Array
}

/** A verified two-signed contract, decoded. */
export interface Contract {
  /** envelope id of the contract: what vouchers and ledger records name */
  contractId: Uint8Array
  buyer: Uint8Array
  seller: Uint8Array
  buyerId: string
  sellerId: string
  modelId: string
  fingerprint: string
  fingerprintVerified: boolean
  params: bigint
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  maxSpendUc: bigint
  expiresAtMs: bigint
  acceptId: Uint8Array
  quoteId: Uint8Array
  /** the quote's term: above this lock (µc) the seller serves only once a second peer holds the open; 0 = none */
  secondPeerAboveUc: bigint
  /** the quote's term: the buyer's open must reach the seller this long (ms) after the contract; 0 = not stated */
  openWithinMs: bigint
  /** the quote's term: the buyer's spendable balance the seller requires (µc); 0 = none */
  minBuyerSpendableUc: bigint
  /** the quote's term: the most the seller serves ahead of the buyer's highest voucher (µc); 0 = not stated */
  maxUnpaidUc: bigint
  /** the quote's term: grantors whose lines may carry the lock beyond own funds (32-byte keys); empty = any */
  trustedGrantors: Uint8Array[]
  /** the exact contract envelope bytes both parties hold */
  bytes: Uint8Array
}

function eq (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

function decode<T> (what: string, fn: () => T): T {
  try {
    return fn()
  } catch (err: any) {
    throw new MalformedMessageError(`${what} payload does not decode: ${err?.message ?? err}`)
  }
}

function checkQuoteTerms (q: QuoteTerms): void {
  if (q.quoteId.length !== QUOTE_ID_LENGTH) throw new MalformedMessageError(`quote id must be ${QUOTE_ID_LENGTH} bytes, got ${q.quoteId.length}`)
  if (q.buyer.length !== 32) throw new MalformedMessageError(`quote buyer must be 32 bytes, got ${q.buyer.length}`)
  if (q.requestNonce.length !== NONCE_LENGTH) throw new MalformedMessageError(`quote nonce must be ${NONCE_LENGTH} bytes, got ${q.requestNonce.length}`)
  checkString('modelId', q.modelId, MAX_MODEL_ID_CHARS, true)
  checkString('fingerprint', q.fingerprint, MAX_FINGERPRINT_CHARS, true)
  checkRange('params', q.params, 1n, MAX_PARAMS)
  checkPrice('priceInPerMTokUc', q.priceInPerMTokUc)
  checkPrice('priceOutPerMTokUc', q.priceOutPerMTokUc)
  checkRange('validUntilMs', q.validUntilMs, 1n, 2n ** 63n - 1n)
  for (const k of ['secondPeerAboveUc', 'maxSpendUc', 'sessionExpiresAtMs', 'openWithinMs', 'minBuyerSpendableUc', 'maxUnpaidUc'] as const) {
    checkRange(k, q[k] ?? 0n, 0n, 2n ** 64n - 1n)
  }
  checkGrantors(q.trustedGrantors ?? [])
}

function checkGrantors (keys: Uint8Array[]): void {
  if (keys.length > MAX_TRUSTED_GRANTORS) throw new MalformedMessageError(`trustedGrantors: at most ${MAX_TRUSTED_GRANTORS} accounts, got ${keys.length}`)
  keys.forEach((k, i) => {
    if (k.length !== 32) throw new MalformedMessageError(`trustedGrantors[${i}] must be a 32-byte ed25519 key, got ${k.length} bytes`)
    if (keys.findIndex(x => eq(x, k)) !== i) throw new MalformedMessageError(`trustedGrantors[${i}] names an account twice`)
  })
}

function sameKeys (a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((k, i) => eq(k, b[i]))
}

/** every term with its default (0 = not stated) */
function withTerms (t: QuoteTerms): Required<QuoteTerms> {
  return {
    ...t,
    secondPeerAboveUc: t.secondPeerAboveUc ?? 0n,
    maxSpendUc: t.maxSpendUc ?? 0n,
    sessionExpiresAtMs: t.sessionExpiresAtMs ?? 0n,
    openWithinMs: t.openWithinMs ?? 0n,
    minBuyerSpendableUc: t.minBuyerSpendableUc ?? 0n,
    maxUnpaidUc: t.maxUnpaidUc ?? 0n,
    trustedGrantors: t.trustedGrantors ?? []
  }
}

export function signQuote (signer: Ed25519Signer, net: Uint8Array, terms: QuoteTerms): Quote {
  checkQuoteTerms(terms)
  const t = withTerms(terms)
  const env = sealEnvelope(signer, Domain.quote, net, QuotePb.encode({
    quoteId: terms.quoteId as Uint8Array<ArrayBuffer>,
    buyer: terms.buyer as Uint8Array<ArrayBuffer>,
    requestNonce: terms.requestNonce as Uint8Array<ArrayBuffer>,
    modelId: terms.modelId,
    fingerprint: terms.fingerprint,
    fingerprintVerified: terms.fingerprintVerified,
    params: terms.params,
    priceInPerMtokUc: terms.priceInPerMTokUc,
    priceOutPerMtokUc: terms.priceOutPerMTokUc,
    validUntilMs: terms.validUntilMs,
    secondPeerAboveUc: t.secondPeerAboveUc,
    maxSpendUc: t.maxSpendUc,
    sessionExpiresAtMs: t.sessionExpiresAtMs,
    openWithinMs: t.openWithinMs,
    minBuyerSpendableUc: t.minBuyerSpendableUc,
    maxUnpaidUc: t.maxUnpaidUc,
    trustedGrantors: t.trustedGrantors as Array<Uint8Array<ArrayBuffer>>
  }))
  return { ...t, seller: env.publicKey, id: env.id, bytes: env.bytes }
}

/** Verify a quote's signature and shape (not its time: the caller compares validUntilMs to its clock). */
export function openQuote (bytes: Uint8Array, net: Uint8Array): Quote {
  const env = openEnvelope(bytes, { domain: Domain.quote, net, maxBytes: MAX_QUOTE_BYTES })
  const pb = decode('quote', () => QuotePb.decode(env.payload, { limits: { trustedGrantors: MAX_TRUSTED_GRANTORS } }))
  const terms: QuoteTerms = {
    quoteId: pb.quoteId,
    buyer: pb.buyer,
    requestNonce: pb.requestNonce,
    modelId: pb.modelId,
    fingerprint: pb.fingerprint,
    fingerprintVerified: pb.fingerprintVerified,
    params: pb.params,
    priceInPerMTokUc: pb.priceInPerMtokUc,
    priceOutPerMTokUc: pb.priceOutPerMtokUc,
    validUntilMs: pb.validUntilMs,
    secondPeerAboveUc: pb.secondPeerAboveUc,
    maxSpendUc: pb.maxSpendUc,
    sessionExpiresAtMs: pb.sessionExpiresAtMs,
    openWithinMs: pb.openWithinMs,
    minBuyerSpendableUc: pb.minBuyerSpendableUc,
    maxUnpaidUc: pb.maxUnpaidUc,
    trustedGrantors: pb.trustedGrantors
  }
  checkQuoteTerms(terms)
  return { ...terms, seller: env.publicKey, id: env.id, bytes }
}

/** An accept must meet the quote's lock and session end when the quote states them (pure; both sides check). */
export function checkAcceptMeetsQuote (quote: QuoteTerms, maxSpendUc: bigint, sessionExpiresAtMs: bigint): void {
  const lock = quote.maxSpendUc ?? 0n
  if (lock > 0n && maxSpendUc !== lock) throw new ContractMismatchError(`accept maxSpendUc ${maxSpendUc} is not the quote's lock ${lock}`)
  const end = quote.sessionExpiresAtMs ?? 0n
  if (end > 0n && sessionExpiresAtMs !== end) throw new ContractMismatchError(`accept sessionExpiresAtMs ${sessionExpiresAtMs} is not the quote's session end ${end}`)
}

export function signAccept (signer: Ed25519Signer, net: Uint8Array, quote: Quote, maxSpendUc: bigint, sessionExpiresAtMs: bigint): Accept {
  const env = sealEnvelope(signer, Domain.accept, net, AcceptPb.encode({ quote: quote.bytes as Uint8Array<ArrayBuffer>, maxSpendUc, sessionExpiresAtMs }))
  return { buyer: env.publicKey, quote, maxSpendUc, sessionExpiresAtMs, id: env.id, bytes: env.bytes }
}

/**
 * Verify an accept and the quote inside it; the accept must be signed by the buyer the quote
 * names. `trusted` is a quote the caller already verified (a seller's own open quote): when the
 * embedded quote bytes are identical to it, its signature is not checked again.
 */
export function openAccept (bytes: Uint8Array, net: Uint8Array, trusted?: Quote): Accept {
  const env = openEnvelope(bytes, { domain: Domain.accept, net, maxBytes: MAX_ACCEPT_BYTES })
  const pb = decode('accept', () => AcceptPb.decode(env.payload))
  const quote = trusted != null && eq(trusted.bytes, pb.quote) ? trusted : openQuote(pb.quote, net)
  if (!eq(env.publicKey, quote.buyer)) throw new ContractMismatchError('accept is not signed by the buyer the quote was issued to')
  if (pb.maxSpendUc <= 0n) throw new ContractMismatchError('accept maxSpendUc must be > 0')
  if (pb.sessionExpiresAtMs <= 0n) throw new ContractMismatchError('accept sessionExpiresAtMs must be > 0')
  checkAcceptMeetsQuote(quote, pb.maxSpendUc, pb.sessionExpiresAtMs)
  return { buyer: env.publicKey, quote, maxSpendUc: pb.maxSpendUc, sessionExpiresAtMs: pb.sessionExpiresAtMs, id: env.id, bytes }
}

function toContract (env: SignedEnvelope, pb: ContractPb): Contract {
  return {
    contractId: env.id,
    buyer: pb.buyer,
    seller: pb.seller,
    buyerId: accountIdFromPublicKey(pb.buyer),
    sellerId: accountIdFromPublicKey(pb.seller),
    modelId: pb.modelId,
    fingerprint: pb.fingerprint,
    fingerprintVerified: pb.fingerprintVerified,
    params: pb.params,
    priceInPerMTokUc: pb.priceInPerMtokUc,
    priceOutPerMTokUc: pb.priceOutPerMtokUc,
    maxSpendUc: pb.maxSpendUc,
    expiresAtMs: pb.expiresAtMs,
    acceptId: pb.acceptId,
    quoteId: pb.quoteId,
    secondPeerAboveUc: pb.secondPeerAboveUc,
    openWithinMs: pb.openWithinMs,
    minBuyerSpendableUc: pb.minBuyerSpendableUc,
    maxUnpaidUc: pb.maxUnpaidUc,
    trustedGrantors: pb.trustedGrantors,
    bytes: env.bytes
  }
}

/** The seller countersigns a verified accept. The seller must be the quote's signer. */
export function signContract (signer: Ed25519Signer, net: Uint8Array, accept: Accept): Contract {
  const q = accept.quote
  if (!eq(signer.publicKey, q.seller)) throw new ContractMismatchError('only the seller that signed the quote can countersign it')
  const pb: ContractPb = {
    accept: accept.bytes as Uint8Array<ArrayBuffer>,
    buyer: accept.buyer as Uint8Array<ArrayBuffer>,
    seller: q.seller as Uint8Array<ArrayBuffer>,
    modelId: q.modelId,
    fingerprint: q.fingerprint,
    fingerprintVerified: q.fingerprintVerified,
    params: q.params,
    priceInPerMtokUc: q.priceInPerMTokUc,
    priceOutPerMtokUc: q.priceOutPerMTokUc,
    maxSpendUc: accept.maxSpendUc,
    expiresAtMs: accept.sessionExpiresAtMs,
    acceptId: accept.id as Uint8Array<ArrayBuffer>,
    quoteId: q.quoteId as Uint8Array<ArrayBuffer>,
    secondPeerAboveUc: q.secondPeerAboveUc ?? 0n,
    openWithinMs: q.openWithinMs ?? 0n,
    minBuyerSpendableUc: q.minBuyerSpendableUc ?? 0n,
    maxUnpaidUc: q.maxUnpaidUc ?? 0n,
    trustedGrantors: (q.trustedGrantors ?? []) as Array<Uint8Array<ArrayBuffer>>
  }
  const env = sealEnvelope(signer, Domain.contract, net, ContractPb.encode(pb))
  return toContract(env, pb)
}

/**
 * Verify a contract from its bytes alone: the seller's signature on the contract, the buyer's
 * signature on the accept inside it, the seller's signature on the quote inside that, and that
 * every repeated term agrees. Pure and clock-free, so every node reaches the same answer.
 * Throws MessageTooLargeError, MalformedMessageError, WrongDomainError, InvalidSignatureError,
 * ContractMismatchError or a field range error. `trusted`: an accept the caller signed or
 * verified itself; when the contract embeds exactly its bytes, its signatures are not re-checked.
 */
export function verifyContract (bytes: Uint8Array, net: Uint8Array, trusted?: Accept): Contract {
  const env = openEnvelope(bytes, { domain: Domain.contract, net, maxBytes: MAX_CONTRACT_BYTES })
  const pb = decode('contract', () => ContractPb.decode(env.payload, { limits: { trustedGrantors: MAX_TRUSTED_GRANTORS } }))
  // the buyer already holds its own accept (and the quote it verified): no need to re-verify them
  const accept = trusted != null && eq(trusted.bytes, pb.accept) ? trusted : openAccept(pb.accept, net)
  const q = accept.quote
  const mismatch = (what: string): never => { throw new ContractMismatchError(`contract ${what} does not match the signed quote/accept`) }
  if (!eq(pb.seller, env.publicKey) || !eq(q.seller, env.publicKey)) mismatch('seller')
  if (!eq(pb.buyer, accept.buyer)) mismatch('buyer')
  if (pb.modelId !== q.modelId) mismatch('modelId')
  if (pb.fingerprint !== q.fingerprint || pb.fingerprintVerified !== q.fingerprintVerified) mismatch('fingerprint')
  if (pb.params !== q.params) mismatch('params')
  if (pb.priceInPerMtokUc !== q.priceInPerMTokUc || pb.priceOutPerMtokUc !== q.priceOutPerMTokUc) mismatch('prices')
  if (pb.maxSpendUc !== accept.maxSpendUc) mismatch('maxSpendUc')
  if (pb.expiresAtMs !== accept.sessionExpiresAtMs) mismatch('expiresAtMs')
  if (!eq(pb.acceptId, accept.id)) mismatch('acceptId')
  if (!eq(pb.quoteId, q.quoteId)) mismatch('quoteId')
  if (pb.secondPeerAboveUc !== (q.secondPeerAboveUc ?? 0n)) mismatch('secondPeerAboveUc')
  if (pb.openWithinMs !== (q.openWithinMs ?? 0n)) mismatch('openWithinMs')
  if (pb.minBuyerSpendableUc !== (q.minBuyerSpendableUc ?? 0n)) mismatch('minBuyerSpendableUc')
  if (pb.maxUnpaidUc !== (q.maxUnpaidUc ?? 0n)) mismatch('maxUnpaidUc')
  if (!sameKeys(pb.trustedGrantors, q.trustedGrantors ?? [])) mismatch('trustedGrantors')
  // the quote's lock and session end: openAccept checked the accept meets them, and the
  // contract's copies equal the accept's (above)
  return toContract(env, pb)
}

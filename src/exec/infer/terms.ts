/**
 * The session terms the infer protocol runs under. They come from the two-signed contract; the
 * node maps its Contract onto this shape so that exec does not depend on the contract module.
 */
import { PUBLIC_KEY_LENGTH } from '../../identity/ed25519.js'
import { InvalidTermsError } from './errors.js'

export const CONTRACT_ID_LENGTH = 32
/** longest model id accepted in terms */
export const MAX_MODEL_ID_BYTES = 256

export interface SessionTerms {
  /** id of the two-signed contract (32 bytes) */
  contractId: Uint8Array
  /** buyer's ed25519 public key (32 bytes): signs vouchers, must be the stream's remote peer */
  buyer: Uint8Array
  /** seller's ed25519 public key (32 bytes) */
  seller: Uint8Array
  modelId: string
  /** parameter count of the model, for Bpt */
  params: number
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  /** the session never bills beyond this (the buyer's ledger lock) */
  maxSpendUc: bigint
  /** unix ms after which no new request starts */
  expiresAtMs: number
  /** the contract's max_unpaid_uc: the most served ahead of the highest voucher (absent or 0 = not stated) */
  maxUnpaidUc?: bigint
}

/** Range-check terms once at the boundary; throws InvalidTermsError. */
export function validateTerms (t: SessionTerms): SessionTerms {
  if (!(t.contractId instanceof Uint8Array) || t.contractId.length !== CONTRACT_ID_LENGTH) throw new InvalidTermsError(`contractId must be ${CONTRACT_ID_LENGTH} bytes`)
  if (!(t.buyer instanceof Uint8Array) || t.buyer.length !== PUBLIC_KEY_LENGTH) throw new InvalidTermsError(`buyer must be a ${PUBLIC_KEY_LENGTH}-byte public key`)
  if (!(t.seller instanceof Uint8Array) || t.seller.length !== PUBLIC_KEY_LENGTH) throw new InvalidTermsError(`seller must be a ${PUBLIC_KEY_LENGTH}-byte public key`)
  if (typeof t.modelId !== 'string' || t.modelId.length === 0 || Buffer.byteLength(t.modelId) > MAX_MODEL_ID_BYTES) throw new InvalidTermsError(`modelId must be 1..${MAX_MODEL_ID_BYTES} bytes`)
  if (!Number.isSafeInteger(t.params) || t.params <= 0) throw new InvalidTermsError(`params must be a positive integer, got ${t.params}`)
  if (t.priceInPerMTokUc < 0n || t.priceOutPerMTokUc <= 0n) throw new InvalidTermsError('prices must be ≥ 0 (input) and > 0 (output)')
  if (t.maxSpendUc <= 0n) throw new InvalidTermsError(`maxSpendUc must be > 0, got ${t.maxSpendUc}`)
  if (!Number.isSafeInteger(t.expiresAtMs) || t.expiresAtMs <= 0) throw new InvalidTermsError(`expiresAtMs must be a positive integer, got ${t.expiresAtMs}`)
  return t
}

export function contractKey (contractId: Uint8Array): string {
  return Buffer.from(contractId).toString('hex')
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
}

/**
 * Vouchers: the buyer's signed, cumulative receipt for one session (domain tally/voucher/1).
 * Making, opening and checking them against the session terms and the previous voucher.
 */
import { Voucher as VoucherPb } from '../wire/pb/voucher.js'
import { Domain } from '../wire/domains.js'
import { MalformedMessageError } from '../wire/errors.js'
import { openEnvelope, sealEnvelope, type SignedEnvelope } from '../wire/envelope.js'
import type { Ed25519Path, Ed25519Signer } from '../identity/ed25519.js'
import { sessionAmountUc } from './pricing.js'
import { bytesEqual, CONTRACT_ID_LENGTH, type SessionTerms } from './infer/terms.js'
import { ErrorCode, TallyError } from '../errors/index.js'

/** an encoded voucher envelope is ~190 bytes; anything far larger is not a voucher */
export const MAX_VOUCHER_BYTES = 512
const MAX_U64 = (1n << 64n) - 1n

export interface VoucherFields {
  contractId: Uint8Array
  nonce: bigint
  inputTokens: bigint
  outputTokens: bigint
  amountUc: bigint
}

/** A voucher with the envelope it came in (kept as exact bytes for settlement). */
export interface SignedVoucher extends VoucherFields {
  /** the buyer's public key that signed it */
  signer: Uint8Array
  envelope: SignedEnvelope
  /** the exact envelope bytes: what the seller settles with */
  bytes: Uint8Array
}

export class VoucherError extends TallyError {
  override name = 'VoucherError'
  override readonly code: ErrorCode = ErrorCode.invalidVoucher
}
/** signed for another contract, or by someone other than the contract's buyer */
export class WrongSessionVoucherError extends VoucherError {
  override name = 'WrongSessionVoucherError'
  override readonly code: ErrorCode = ErrorCode.voucherWrongSession
}
/** nonce not strictly above the highest voucher seen */
export class StaleVoucherError extends VoucherError {
  override name = 'StaleVoucherError'
  override readonly code: ErrorCode = ErrorCode.voucherStale
}
/** a cumulative counter or the amount went down */
export class VoucherRegressionError extends VoucherError {
  override name = 'VoucherRegressionError'
  override readonly code: ErrorCode = ErrorCode.voucherRegression
}
/** amount is not what the pricing rule gives for the cumulative tokens */
export class VoucherAmountError extends VoucherError {
  override name = 'VoucherAmountError'
  override readonly code: ErrorCode = ErrorCode.voucherAmount
}
/** amount above the contract's max spend */
export class VoucherOverSpendError extends VoucherError {
  override name = 'VoucherOverSpendError'
  override readonly code: ErrorCode = ErrorCode.voucherOverspend
}

function checkFields (v: VoucherFields): void {
  if (v.contractId.length !== CONTRACT_ID_LENGTH) throw new MalformedMessageError(`voucher contract id must be ${CONTRACT_ID_LENGTH} bytes, got ${v.contractId.length}`)
  for (const k of ['nonce', 'inputTokens', 'outputTokens', 'amountUc'] as const) {
    if (v[k] < 0n || v[k] > MAX_U64) throw new MalformedMessageError(`voucher ${k} out of uint64 range`)
  }
  if (v.nonce === 0n) throw new MalformedMessageError('voucher nonce starts at 1')
}

export function makeVoucher (signer: Ed25519Signer, net: Uint8Array, fields: VoucherFields): SignedVoucher {
  checkFields(fields)
  const payload = VoucherPb.encode({
    contractId: fields.contractId as Uint8Array<ArrayBuffer>,
    nonce: fields.nonce,
    inputTokens: fields.inputTokens,
    outputTokens: fields.outputTokens,
    amountUc: fields.amountUc
  })
  const envelope = sealEnvelope(signer, Domain.voucher, net, payload)
  return { ...fields, signer: envelope.publicKey, envelope, bytes: envelope.bytes }
}

/** Decode, verify the signature (domain + net), decode the payload. Does not check the session. */
export function openVoucher (bytes: Uint8Array, net: Uint8Array, path?: Ed25519Path): SignedVoucher {
  const envelope = openEnvelope(bytes, { domain: Domain.voucher, net, maxBytes: MAX_VOUCHER_BYTES, path })
  let pb: VoucherPb
  try {
    pb = VoucherPb.decode(envelope.payload)
  } catch (err: any) {
    throw new MalformedMessageError(`voucher payload does not decode: ${err?.message ?? err}`)
  }
  const fields: VoucherFields = { contractId: pb.contractId, nonce: pb.nonce, inputTokens: pb.inputTokens, outputTokens: pb.outputTokens, amountUc: pb.amountUc }
  checkFields(fields)
  return { ...fields, signer: envelope.publicKey, envelope, bytes }
}

export type VoucherTerms = Pick<SessionTerms, 'contractId' | 'buyer' | 'priceInPerMTokUc' | 'priceOutPerMTokUc' | 'maxSpendUc'>

/**
 * The rules a voucher must meet to supersede `previous` (undefined for the first one): same
 * contract, signed by the buyer, nonce strictly increasing, counters and amount never decrease,
 * amount = the pricing rule for its cumulative tokens, amount ≤ max spend.
 */
export function checkVoucher (v: SignedVoucher, terms: VoucherTerms, previous?: VoucherFields): void {
  if (!bytesEqual(v.contractId, terms.contractId)) throw new WrongSessionVoucherError('voucher is for another contract')
  if (!bytesEqual(v.signer, terms.buyer)) throw new WrongSessionVoucherError('voucher is not signed by the contract\'s buyer')
  if (previous != null) {
    if (v.nonce <= previous.nonce) throw new StaleVoucherError(`voucher nonce ${v.nonce} is not above ${previous.nonce}`)
    if (v.inputTokens < previous.inputTokens || v.outputTokens < previous.outputTokens || v.amountUc < previous.amountUc) {
      throw new VoucherRegressionError('voucher counters must never decrease')
    }
  }
  if (v.amountUc > terms.maxSpendUc) throw new VoucherOverSpendError(`voucher amount ${v.amountUc} µc exceeds max spend ${terms.maxSpendUc} µc`)
  const expected = sessionAmountUc(v.inputTokens, v.outputTokens, terms)
  if (v.amountUc !== expected) throw new VoucherAmountError(`voucher amount ${v.amountUc} µc, the rule gives ${expected} µc`)
}

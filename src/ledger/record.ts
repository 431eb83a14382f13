/**
 * Ledger records: decoding a `tally/record/1` envelope into a checked, typed record (every
 * stateless rule of protocols/ledger.md), and encoding new ones. Rules that need other records
 * live in validity.ts.
 */
import { Record as RecordPb } from '../wire/pb/ledger.js'
import { Voucher as VoucherPb } from '../wire/pb/voucher.js'
import { Domain } from '../wire/domains.js'
import { decodeEnvelope, envelopeId, openEnvelope, sealEnvelope, NET_LENGTH } from '../wire/envelope.js'
import { InvalidSignatureError, MessageTooLargeError, WrongDomainError } from '../wire/errors.js'
import { isAcceptablePublicKey, PUBLIC_KEY_LENGTH, type Ed25519Signer } from '../identity/ed25519.js'
import { InvalidRecordError } from './errors.js'

/** one record envelope: room for 64 acks, two 256-byte memos and a voucher */
export const MAX_RECORD_BYTES = 8 * 1024
/** acks per record; more incoming credits are claimed over several records */
export const MAX_ACKS = 64
/** UTF-8 bytes of a record memo and of a transfer memo */
export const MAX_MEMO_BYTES = 256
/** UTF-8 bytes of a transfer tag */
export const MAX_TAG_BYTES = 64
/** a voucher envelope inside a settle */
export const MAX_VOUCHER_BYTES = 1024
export const ID_LENGTH = 32
export const CONTRACT_ID_LENGTH = 32
const MAX_UINT64 = 2n ** 64n - 1n

export type RecordKind =
  | { type: 'ack' }
  | { type: 'transfer', to: string, amountUc: bigint, memo: string, tag: string }
  | { type: 'open', seller: string, contractId: string, maxSpendUc: bigint, endsAtMs: bigint }
  | { type: 'settle', openId: string, amountUc: bigint, voucher?: ParsedVoucher }
  | { type: 'credit', to: string, amountUc: bigint }
  | { type: 'release', openId: string }
  | { type: 'grant', to: string, amountUc: bigint }
  | { type: 'revoke', grantId: string, amountUc: bigint }

export interface ParsedVoucher {
  /** hex public key of the voucher's signer (must be the open's buyer) */
  signer: string
  contractId: string
  nonce: bigint
  inputTokens: bigint
  outputTokens: bigint
  amountUc: bigint
}

/** A record that passed every stateless rule. Keys, ids and contract ids are lowercase hex. */
export interface ParsedRecord {
  id: string
  bytes: Uint8Array
  from: string
  seq: bigint
  /** '' at seq 1 */
  prev: string
  kind: RecordKind
  acks: string[]
  memo: string
  time: bigint
}

/** a Buffer over the same memory (Buffer.from(u8) would copy) */
const view = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)
const hex = (b: Uint8Array): string => view(b).toString('hex')
export const toHex = hex
export function fromHex (s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'))
}

function utf8Len (s: string): number {
  return Buffer.byteLength(s, 'utf8')
}

function bad (reason: ConstructorParameters<typeof InvalidRecordError>[0], msg: string): never {
  throw new InvalidRecordError(reason, msg)
}

function key (b: Uint8Array, what: string, self?: string): string {
  if (b.length !== PUBLIC_KEY_LENGTH || !isAcceptablePublicKey(b)) bad('bad-field', `${what} must be an acceptable ${PUBLIC_KEY_LENGTH}-byte ed25519 key`)
  const h = hex(b)
  if (h === self) bad('bad-field', `${what} must not be the record's author`)
  return h
}

function amount (a: bigint, what: string, allowZero = false): bigint {
  if (a < 0n || a > MAX_UINT64 || (!allowZero && a === 0n)) bad('bad-amount', `${what} must be a positive integer of µc, got ${a}`)
  return a
}

export interface ParseOptions {
  net: Uint8Array
  /** skip the signature check: only for bytes this node verified before (its own store) */
  trusted?: boolean
}

/** gossip topic of ledger records on a net: `tally/<net8>/records/1` (named once, in src/wire/topics) */
export { recordsTopic } from '../wire/topics.js'

/**
 * The record id (= gossip message id) of envelope bytes on `net`, without verifying the
 * signature: SHA-256 of the signing input. Throws InvalidRecordError on bytes that do not decode.
 */
export function recordIdOf (bytes: Uint8Array, net: Uint8Array): Uint8Array {
  let pb
  try {
    pb = decodeEnvelope(bytes, MAX_RECORD_BYTES)
  } catch (err: any) {
    bad(err instanceof MessageTooLargeError ? 'too-large' : 'malformed', err?.message ?? String(err))
  }
  if (pb.domain !== Domain.record) bad('wrong-domain', `expected ${Domain.record}`)
  return envelopeId(pb.domain, net, pb.payload)
}

/** Decode and check a voucher envelope (domain tally/voucher/1) on this net. */
export function parseVoucher (bytes: Uint8Array, net: Uint8Array): ParsedVoucher {
  let env
  try {
    env = openEnvelope(bytes, { domain: Domain.voucher, net, maxBytes: MAX_VOUCHER_BYTES })
  } catch (err: any) {
    bad('bad-voucher', `voucher envelope: ${err?.message ?? err}`)
  }
  let v: VoucherPb
  try {
    v = VoucherPb.decode(env.payload)
  } catch (err: any) {
    bad('bad-voucher', `voucher does not decode: ${err?.message ?? err}`)
  }
  if (v.contractId.length !== CONTRACT_ID_LENGTH) bad('bad-voucher', `voucher contract id must be ${CONTRACT_ID_LENGTH} bytes`)
  if (v.nonce < 1n) bad('bad-voucher', 'voucher nonce must be ≥ 1')
  return { signer: hex(env.publicKey), contractId: hex(v.contractId), nonce: v.nonce, inputTokens: v.inputTokens, outputTokens: v.outputTokens, amountUc: v.amountUc }
}

/** Decode an envelope's bytes into a record, enforcing every rule that needs no other record. */
export function parseRecord (bytes: Uint8Array, opts: ParseOptions): ParsedRecord {
  let env: { payload: Uint8Array, publicKey: Uint8Array, id: Uint8Array }
  try {
    if (opts.trusted === true) {
      const pb = decodeEnvelope(bytes, MAX_RECORD_BYTES)
      if (pb.domain !== Domain.record) throw new WrongDomainError(`expected ${Domain.record}`)
      env = { payload: pb.payload, publicKey: pb.publicKey, id: envelopeId(pb.domain, opts.net, pb.payload) }
    } else {
      env = openEnvelope(bytes, { domain: Domain.record, net: opts.net, maxBytes: MAX_RECORD_BYTES })
    }
  } catch (err: any) {
    if (err instanceof InvalidSignatureError) bad('bad-signature', err.message)
    if (err instanceof MessageTooLargeError) bad('too-large', err.message)
    if (err instanceof WrongDomainError) bad('wrong-domain', err.message)
    bad('malformed', err?.message ?? String(err))
  }
  let r: RecordPb
  try {
    r = RecordPb.decode(env.payload, { limits: { acks: MAX_ACKS } })
  } catch (err: any) {
    bad('malformed', `record does not decode: ${err?.message ?? err}`)
  }
  if (r.net.length !== NET_LENGTH || !view(r.net).equals(view(opts.net))) bad('wrong-net', 'record net is not this network')
  if (r.from.length !== PUBLIC_KEY_LENGTH || !view(r.from).equals(view(env.publicKey))) bad('wrong-author', 'record from must be the envelope signer')
  const from = hex(r.from)
  if (r.seq < 1n) bad('bad-chain', 'seq starts at 1')
  if (r.seq === 1n ? r.prev.length !== 0 : r.prev.length !== ID_LENGTH) bad('bad-chain', r.seq === 1n ? 'prev must be empty at seq 1' : `prev must be a ${ID_LENGTH}-byte record id`)
  if (utf8Len(r.memo) > MAX_MEMO_BYTES) bad('bad-field', `memo is over ${MAX_MEMO_BYTES} bytes`)
  const acks: string[] = []
  const seen = new Set<string>()
  for (const a of r.acks) {
    if (a.length !== ID_LENGTH) bad('bad-ack', `ack must be a ${ID_LENGTH}-byte record id`)
    const h = hex(a)
    if (seen.has(h)) bad('double-ack', 'the same id is acked twice in one record')
    seen.add(h)
    acks.push(h)
  }
  const kinds = [r.transfer, r.open, r.settle, r.credit, r.release, r.grant, r.revoke].filter(k => k != null).length
  if (kinds > 1) bad('malformed', 'a record has at most one kind')
  let kind: RecordKind
  if (r.transfer != null) {
    const t = r.transfer
    if (utf8Len(t.memo) > MAX_MEMO_BYTES) bad('bad-field', `transfer memo is over ${MAX_MEMO_BYTES} bytes`)
    if (utf8Len(t.tag) > MAX_TAG_BYTES) bad('bad-field', `transfer tag is over ${MAX_TAG_BYTES} bytes`)
    kind = { type: 'transfer', to: key(t.to, 'transfer.to', from), amountUc: amount(t.amountUc, 'transfer.amountUc'), memo: t.memo, tag: t.tag }
  } else if (r.open != null) {
    const o = r.open
    if (o.contractId.length !== CONTRACT_ID_LENGTH) bad('bad-field', `open.contractId must be ${CONTRACT_ID_LENGTH} bytes`)
    kind = { type: 'open', seller: key(o.seller, 'open.seller', from), contractId: hex(o.contractId), maxSpendUc: amount(o.maxSpendUc, 'open.maxSpendUc'), endsAtMs: o.endsAtMs }
  } else if (r.settle != null) {
    const s = r.settle
    if (s.openId.length !== ID_LENGTH) bad('bad-settle', `settle.openId must be a ${ID_LENGTH}-byte record id`)
    let voucher: ParsedVoucher | undefined
    if (s.voucher.length === 0) {
      if (s.amountUc !== 0n) bad('bad-settle', 'a settle without a voucher releases the lock and must carry amount 0')
    } else {
      voucher = parseVoucher(s.voucher, opts.net)
      if (voucher.amountUc !== s.amountUc) bad('bad-settle', `settle amount ${s.amountUc} differs from the voucher amount ${voucher.amountUc}`)
    }
    kind = { type: 'settle', openId: hex(s.openId), amountUc: amount(s.amountUc, 'settle.amountUc', true), voucher }
  } else if (r.credit != null) {
    kind = { type: 'credit', to: key(r.credit.to, 'credit.to', from), amountUc: amount(r.credit.amountUc, 'credit.amountUc') }
  } else if (r.release != null) {
    if (r.release.openId.length !== ID_LENGTH) bad('bad-release', `release.openId must be a ${ID_LENGTH}-byte record id`)
    kind = { type: 'release', openId: hex(r.release.openId) }
  } else if (r.grant != null) {
    kind = { type: 'grant', to: key(r.grant.to, 'grant.to', from), amountUc: amount(r.grant.amountUc, 'grant.amountUc') }
  } else if (r.revoke != null) {
    if (r.revoke.grantId.length !== ID_LENGTH) bad('bad-revoke', `revoke.grantId must be a ${ID_LENGTH}-byte record id`)
    kind = { type: 'revoke', grantId: hex(r.revoke.grantId), amountUc: amount(r.revoke.amountUc, 'revoke.amountUc') }
  } else {
    if (acks.length === 0) bad('malformed', 'a record without a kind must ack at least one record')
    kind = { type: 'ack' }
  }
  return { id: hex(env.id), bytes, from, seq: r.seq, prev: r.seq === 1n ? '' : hex(r.prev), kind, acks, memo: r.memo, time: r.time }
}

/** What a new record says, before chain fields are filled in. */
export type RecordKindInput =
  | { type: 'ack' }
  | { type: 'transfer', to: Uint8Array, amountUc: bigint, memo?: string, tag?: string }
  | { type: 'open', seller: Uint8Array, contractId: Uint8Array, maxSpendUc: bigint, endsAtMs?: bigint }
  | { type: 'settle', openId: Uint8Array, voucher?: Uint8Array, amountUc: bigint }
  | { type: 'credit', to: Uint8Array, amountUc: bigint }
  | { type: 'release', openId: Uint8Array }
  | { type: 'grant', to: Uint8Array, amountUc: bigint }
  | { type: 'revoke', grantId: Uint8Array, amountUc: bigint }

export interface RecordInput {
  net: Uint8Array
  seq: bigint
  prev?: Uint8Array
  kind: RecordKindInput
  acks?: Uint8Array[]
  memo?: string
  time?: bigint
}

type B = Uint8Array<ArrayBuffer>
const ab = (b: Uint8Array): B => b as B

/** Encode and sign a record with `signer` (no validity check: the caller's ledger does that). */
export function signRecord (signer: Ed25519Signer, input: RecordInput): { id: string, bytes: Uint8Array } {
  const k = input.kind
  const pb: RecordPb = {
    net: ab(input.net),
    from: ab(signer.publicKey),
    seq: input.seq,
    prev: ab(input.prev ?? new Uint8Array(0)),
    acks: (input.acks ?? []).map(ab),
    memo: input.memo ?? '',
    time: input.time ?? 0n
  }
  if (k.type === 'transfer') pb.transfer = { to: ab(k.to), amountUc: k.amountUc, memo: k.memo ?? '', tag: k.tag ?? '' }
  else if (k.type === 'open') pb.open = { seller: ab(k.seller), contractId: ab(k.contractId), maxSpendUc: k.maxSpendUc, endsAtMs: k.endsAtMs ?? 0n }
  else if (k.type === 'settle') pb.settle = { openId: ab(k.openId), voucher: ab(k.voucher ?? new Uint8Array(0)), amountUc: k.amountUc }
  else if (k.type === 'credit') pb.credit = { to: ab(k.to), amountUc: k.amountUc }
  else if (k.type === 'release') pb.release = { openId: ab(k.openId) }
  else if (k.type === 'grant') pb.grant = { to: ab(k.to), amountUc: k.amountUc }
  else if (k.type === 'revoke') pb.revoke = { grantId: ab(k.grantId), amountUc: k.amountUc }
  const env = sealEnvelope(signer, Domain.record, input.net, RecordPb.encode(pb))
  return { id: hex(env.id), bytes: env.bytes }
}

/** Sign a voucher (the buyer's side; used by tests and the simulator). */
export function signVoucher (signer: Ed25519Signer, net: Uint8Array, v: { contractId: Uint8Array, nonce: bigint, inputTokens?: bigint, outputTokens?: bigint, amountUc: bigint }): Uint8Array {
  return sealEnvelope(signer, Domain.voucher, net, VoucherPb.encode({ contractId: ab(v.contractId), nonce: v.nonce, inputTokens: v.inputTokens ?? 0n, outputTokens: v.outputTokens ?? 0n, amountUc: v.amountUc })).bytes
}

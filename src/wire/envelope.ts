/**
 * Signed envelopes: `{domain, payload, publicKey, signature}` with the signature over
 * `u8 len(domain) ‖ domain ‖ net ‖ payload`. The id of an object is SHA-256 of that same input.
 * Verification works on the exact received bytes; nothing is re-encoded.
 */
import { createHash } from 'node:crypto'
import { Envelope as EnvelopePb } from './pb/envelope.js'
import { MAX_DOMAIN_BYTES } from './domains.js'
import { FieldRangeError, InvalidSignatureError, MalformedMessageError, MessageTooLargeError, WrongDomainError } from './errors.js'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, verify, type Ed25519Path, type Ed25519Signer } from '../identity/ed25519.js'

/** default ceiling for one envelope; protocols pass their own, smaller where they can */
export const MAX_ENVELOPE_BYTES = 64 * 1024
export const NET_LENGTH = 32

export interface SignedEnvelope {
  domain: string
  payload: Uint8Array
  publicKey: Uint8Array
  signature: Uint8Array
  /** SHA-256 of the signing input */
  id: Uint8Array
  /** the exact bytes received or produced, forwarded as they are */
  bytes: Uint8Array
}

export function signingInput (domain: string, net: Uint8Array, payload: Uint8Array): Uint8Array {
  const d = new TextEncoder().encode(domain)
  if (d.length === 0 || d.length > MAX_DOMAIN_BYTES) throw new FieldRangeError(`domain must be 1..${MAX_DOMAIN_BYTES} bytes, got ${d.length}`)
  if (net.length !== NET_LENGTH) throw new FieldRangeError(`net must be ${NET_LENGTH} bytes, got ${net.length}`)
  const out = new Uint8Array(1 + d.length + NET_LENGTH + payload.length)
  out[0] = d.length
  out.set(d, 1)
  out.set(net, 1 + d.length)
  out.set(payload, 1 + d.length + NET_LENGTH)
  return out
}

function sha256 (b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest())
}

/** The id of a signed object: SHA-256 of its signing input (the same for any signer's bytes). */
export function envelopeId (domain: string, net: Uint8Array, payload: Uint8Array): Uint8Array {
  return sha256(signingInput(domain, net, payload))
}

export function sealEnvelope (signer: Ed25519Signer, domain: string, net: Uint8Array, payload: Uint8Array): SignedEnvelope {
  const input = signingInput(domain, net, payload)
  const signature = signer.sign(input)
  const publicKey = signer.publicKey
  const bytes = EnvelopePb.encode({ domain, payload: payload as Uint8Array<ArrayBuffer>, publicKey: publicKey as Uint8Array<ArrayBuffer>, signature: signature as Uint8Array<ArrayBuffer> })
  return { domain, payload, publicKey, signature, id: sha256(input), bytes }
}

export interface OpenOptions {
  /** the domain the caller expects; anything else is WrongDomainError */
  domain: string
  net: Uint8Array
  maxBytes?: number
  path?: Ed25519Path
}

/** Decode without verifying: shape only. */
export function decodeEnvelope (bytes: Uint8Array, maxBytes = MAX_ENVELOPE_BYTES): EnvelopePb {
  if (bytes.length > maxBytes) throw new MessageTooLargeError(`envelope is ${bytes.length} bytes, limit ${maxBytes}`)
  let pb: EnvelopePb
  try {
    pb = EnvelopePb.decode(bytes)
  } catch (err: any) {
    throw new MalformedMessageError(`envelope does not decode: ${err?.message ?? err}`)
  }
  if (pb.publicKey.length !== PUBLIC_KEY_LENGTH) throw new MalformedMessageError(`envelope public key must be ${PUBLIC_KEY_LENGTH} bytes, got ${pb.publicKey.length}`)
  if (pb.signature.length !== SIGNATURE_LENGTH) throw new MalformedMessageError(`envelope signature must be ${SIGNATURE_LENGTH} bytes, got ${pb.signature.length}`)
  // one object, one encoding: protobuf decoders accept reordered, repeated or differently typed
  // fields, so a relay could otherwise change the bytes of a signed object without touching it
  const canonical = EnvelopePb.encode(pb)
  if (canonical.length !== bytes.length || Buffer.compare(canonical, bytes) !== 0) throw new MalformedMessageError('envelope is not in its canonical encoding')
  return pb
}

/** Decode, check domain and net, verify the signature; returns the envelope with its id. */
export function openEnvelope (bytes: Uint8Array, opts: OpenOptions): SignedEnvelope {
  const pb = decodeEnvelope(bytes, opts.maxBytes)
  if (pb.domain !== opts.domain) throw new WrongDomainError(`expected domain ${opts.domain}, got ${JSON.stringify(pb.domain.slice(0, MAX_DOMAIN_BYTES))}`)
  const input = signingInput(pb.domain, opts.net, pb.payload)
  if (!verify(pb.signature, input, pb.publicKey, opts.path)) {
    throw new InvalidSignatureError(`signature does not verify for domain ${pb.domain} on this network`)
  }
  return { domain: pb.domain, payload: pb.payload, publicKey: pb.publicKey, signature: pb.signature, id: sha256(input), bytes }
}

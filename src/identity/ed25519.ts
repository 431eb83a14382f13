/**
 * Ed25519 with one pinned validity rule on two paths: native (node:crypto, cached KeyObjects,
 * the hot path) and portable (@noble/ed25519 points + @noble/hashes, no native code).
 *
 * The rule, enforced identically on both paths (RFC 8032 §5.1.7, strict):
 *  - signature is 64 bytes, public key 32 bytes;
 *  - S is canonical (S < L);
 *  - A and R are canonical encodings (y < p) of curve points;
 *  - A is not of small order;
 *  - the cofactorless equation [S]B = R + [k]A holds.
 * OpenSSL verifies cofactorless and compares R byte-for-byte, so the extra checks above are
 * the only ones the native path needs in front of it.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, randomBytes, type KeyObject } from 'node:crypto'
import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'

ed.hashes.sha512 = sha512

/** group order L */
const L = 2n ** 252n + 27742317777372353535851937790883648493n
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** bounded caches so a flood of distinct keys cannot grow memory without limit */
const KEY_CACHE_MAX = 10_000

export const SEED_LENGTH = 32
export const PUBLIC_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64

export type Ed25519Path = 'native' | 'portable'

function bytesToNumberLE (b: Uint8Array): bigint {
  let n = 0n
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i])
  return n
}

/** S < L, read little-endian from the second half of the signature */
export function isCanonicalS (signature: Uint8Array): boolean {
  return bytesToNumberLE(signature.subarray(32, 64)) < L
}

const publicKeyOk = new Map<string, boolean>()
const publicKeyObjects = new Map<string, KeyObject>()

function remember<V> (map: Map<string, V>, key: string, value: V): V {
  if (map.size >= KEY_CACHE_MAX) map.delete(map.keys().next().value as string)
  map.set(key, value)
  return value
}

/** canonical encoding of a point that is not of small order; cached per key */
export function isAcceptablePublicKey (publicKey: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH) return false
  const hex = Buffer.from(publicKey).toString('hex')
  const known = publicKeyOk.get(hex)
  if (known !== undefined) return known
  let ok: boolean
  try {
    ok = !ed.Point.fromBytes(publicKey, false).isSmallOrder()
  } catch {
    ok = false
  }
  return remember(publicKeyOk, hex, ok)
}

function nativePublicKey (publicKey: Uint8Array): KeyObject {
  const hex = Buffer.from(publicKey).toString('hex')
  const cached = publicKeyObjects.get(hex)
  if (cached !== undefined) return cached
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
  return remember(publicKeyObjects, hex, key)
}

/** A signer holding its private key as a native KeyObject (made once). */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array
}

export function generateSeed (): Uint8Array {
  return new Uint8Array(randomBytes(SEED_LENGTH))
}

export function publicKeyFromSeed (seed: Uint8Array): Uint8Array {
  return ed.getPublicKey(seed)
}

export function createSigner (seed: Uint8Array, path: Ed25519Path = 'native'): Ed25519Signer {
  if (seed.length !== SEED_LENGTH) throw new RangeError(`ed25519 seed must be ${SEED_LENGTH} bytes, got ${seed.length}`)
  const publicKey = publicKeyFromSeed(seed)
  if (path === 'portable') {
    const s = Uint8Array.from(seed)
    return { publicKey, sign: (message) => ed.sign(message, s) }
  }
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  return { publicKey, sign: (message) => new Uint8Array(nodeSign(null, message, key)) }
}

function shapeOk (signature: Uint8Array, publicKey: Uint8Array): boolean {
  return signature.length === SIGNATURE_LENGTH && publicKey.length === PUBLIC_KEY_LENGTH &&
    isCanonicalS(signature) && isAcceptablePublicKey(publicKey)
}

export function verifyNative (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!shapeOk(signature, publicKey)) return false
  try {
    return nodeVerify(null, message, nativePublicKey(publicKey), signature)
  } catch {
    return false
  }
}

export function verifyPortable (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!shapeOk(signature, publicKey)) return false
  try {
    const A = ed.Point.fromBytes(publicKey, false)
    const rBytes = signature.subarray(0, 32)
    const R = ed.Point.fromBytes(rBytes, false)
    const S = bytesToNumberLE(signature.subarray(32, 64))
    const hInput = new Uint8Array(64 + message.length)
    hInput.set(rBytes, 0)
    hInput.set(publicKey, 32)
    hInput.set(message, 64)
    const h = sha512(hInput)
    const k = bytesToNumberLE(h) % L
    const SB = S === 0n ? ed.Point.ZERO : ed.Point.BASE.multiply(S)
    const kA = k === 0n ? ed.Point.ZERO : A.multiply(k)
    return SB.equals(R.add(kA))
  } catch {
    return false
  }
}

export function verify (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, path: Ed25519Path = 'native'): boolean {
  return path === 'native' ? verifyNative(signature, message, publicKey) : verifyPortable(signature, message, publicKey)
}

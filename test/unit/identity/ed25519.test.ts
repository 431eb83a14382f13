import { describe, it, expect } from 'vitest'
import { createPublicKey, verify as nodeVerify } from 'node:crypto'
import * as fc from 'fast-check'
import * as ed from '@noble/ed25519'
import { createSigner, verify, isCanonicalS, isAcceptablePublicKey, publicKeyFromSeed, generateSeed, type Ed25519Path } from '../../../src/identity/ed25519.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const PATHS: Ed25519Path[] = ['native', 'portable']
const L = 2n ** 252n + 27742317777372353535851937790883648493n

/** RFC 8032 §7.1 */
const VECTORS = [
  {
    name: 'TEST 1',
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
  },
  {
    name: 'TEST 2',
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
  },
  {
    name: 'TEST 3',
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pub: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'
  },
  {
    name: 'TEST SHA(abc)',
    seed: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    pub: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    msg: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    sig: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704'
  }
]

/** the eight canonical encodings of small-order points (order 1, 2, 4, 4, 8, 8, 8, 8) */
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85'
]

function numberToLE32 (n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) { out[i] = Number(n & 0xffn); n >>= 8n }
  return out
}
function le32ToNumber (b: Uint8Array): bigint {
  let n = 0n
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i])
  return n
}

describe('ed25519 RFC 8032 vectors', () => {
  for (const v of VECTORS) {
    for (const path of PATHS) {
      it(`${v.name} on the ${path} path: public key, signature, verify`, () => {
        const signer = createSigner(hex(v.seed), path)
        expect(toHex(signer.publicKey)).toBe(v.pub)
        expect(toHex(signer.sign(hex(v.msg)))).toBe(v.sig)
        expect(verify(hex(v.sig), hex(v.msg), hex(v.pub), path)).toBe(true)
        const wrongMsg = Uint8Array.from([...hex(v.msg), 0])
        expect(verify(hex(v.sig), wrongMsg, hex(v.pub), path)).toBe(false)
      })
    }
  }
})

describe('ed25519 pinned rule, both paths agree', () => {
  it('non-canonical S (S + L) is rejected on both paths', () => {
    for (const v of VECTORS) {
      const sig = hex(v.sig)
      const s = le32ToNumber(sig.subarray(32))
      const bad = Uint8Array.from(sig)
      bad.set(numberToLE32(s + L), 32)
      expect(isCanonicalS(bad)).toBe(false)
      for (const path of PATHS) expect(verify(bad, hex(v.msg), hex(v.pub), path)).toBe(false)
    }
  })

  it('the eight small-order public keys are rejected on both paths', () => {
    for (const k of SMALL_ORDER) {
      const pub = hex(k)
      // sanity: each encoding really decodes to a small-order point
      expect(ed.Point.fromBytes(pub, false).isSmallOrder()).toBe(true)
      expect(isAcceptablePublicKey(pub)).toBe(false)
      for (const path of PATHS) expect(verify(hex(VECTORS[0].sig), new Uint8Array(0), pub, path)).toBe(false)
    }
  })

  it('a forged signature under the identity key (valid by the bare equation) is rejected', () => {
    // With A = identity, [S]B = R + [k]A reduces to [S]B = R: any (R = rB, S = r) satisfies it.
    const r = 123456789n
    const R = ed.Point.BASE.multiply(r).toBytes()
    const sig = new Uint8Array([...R, ...numberToLE32(r)])
    const pub = hex(SMALL_ORDER[0])
    for (const path of PATHS) expect(verify(sig, new TextEncoder().encode('pay me'), pub, path)).toBe(false)
  })

  it('mixed-order keys: both paths apply the cofactorless equation (accept iff k ≡ 0 mod 8)', async () => {
    const { sha512 } = await import('@noble/hashes/sha2.js')
    const a = 0x1234567890abcdefn
    const T = ed.Point.fromBytes(hex(SMALL_ORDER[4]), false)
    const pub = ed.Point.BASE.multiply(a).add(T).toBytes()
    const r = 987654321n
    const R = ed.Point.BASE.multiply(r).toBytes()
    const seen = new Set<boolean>()
    for (let i = 0; i < 64 && seen.size < 2; i++) {
      const msg = new Uint8Array([i])
      const k = le32ToNumber(sha512(new Uint8Array([...R, ...pub, ...msg]))) % L
      const sig = new Uint8Array([...R, ...numberToLE32((r + k * a) % L)])
      const expected = k % 8n === 0n
      expect(verify(sig, msg, pub, 'native'), `msg ${i}`).toBe(expected)
      expect(verify(sig, msg, pub, 'portable'), `msg ${i}`).toBe(expected)
      seen.add(expected)
    }
    expect(seen.size).toBe(2)
  })

  it('non-canonical y >= p encodings are rejected on both paths', () => {
    const p = 2n ** 255n - 19n
    for (const y of [p, p + 1n, p + 2n, 2n ** 255n - 1n]) {
      const pub = numberToLE32(y)
      expect(isAcceptablePublicKey(pub)).toBe(false)
      for (const path of PATHS) expect(verify(hex(VECTORS[0].sig), new Uint8Array(0), pub, path)).toBe(false)
    }
  })

  it('wrong lengths are rejected on both paths without throwing', () => {
    const v = VECTORS[1]
    for (const path of PATHS) {
      expect(verify(hex(v.sig).subarray(0, 63), hex(v.msg), hex(v.pub), path)).toBe(false)
      expect(verify(hex(v.sig), hex(v.msg), hex(v.pub).subarray(0, 31), path)).toBe(false)
      expect(verify(new Uint8Array(0), hex(v.msg), new Uint8Array(0), path)).toBe(false)
    }
  })

  it('createSigner refuses a seed of the wrong length', () => {
    expect(() => createSigner(new Uint8Array(31))).toThrow(RangeError)
  })

  it('native and portable sign identically and verify each other (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, msg) => {
      const a = createSigner(seed, 'native')
      const b = createSigner(seed, 'portable')
      expect(toHex(a.publicKey)).toBe(toHex(b.publicKey))
      const sa = a.sign(msg)
      expect(toHex(sa)).toBe(toHex(b.sign(msg)))
      expect(verify(sa, msg, a.publicKey, 'native')).toBe(true)
      expect(verify(sa, msg, a.publicKey, 'portable')).toBe(true)
    }), { numRuns: 40 })
  })

  it('random signatures and keys: both paths give the same verdict (property)', () => {
    const seed = generateSeed()
    const pub = publicKeyFromSeed(seed)
    const good = createSigner(seed).sign(new Uint8Array([1, 2, 3]))
    fc.assert(fc.property(
      fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.constant(good),
        fc.tuple(fc.nat(63), fc.nat(7)).map(([i, bit]) => { const s = Uint8Array.from(good); s[i] ^= 1 << bit; return s })),
      fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constant(pub), fc.constantFrom(...SMALL_ORDER.map(hex))),
      (sig, key) => {
        const msg = new Uint8Array([1, 2, 3])
        expect(verify(sig, msg, key, 'native')).toBe(verify(sig, msg, key, 'portable'))
      }), { numRuns: 60 })
  })

  it('native path agrees with node:crypto on a plain good signature', () => {
    const seed = hex(VECTORS[2].seed)
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), hex(VECTORS[2].pub)])
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' })
    expect(nodeVerify(null, hex(VECTORS[2].msg), key, createSigner(seed).sign(hex(VECTORS[2].msg)))).toBe(true)
  })
})

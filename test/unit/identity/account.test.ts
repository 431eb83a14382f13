import { describe, it, expect } from 'vitest'
import * as fc from 'fast-check'
import { accountIdFromPublicKey, publicKeyFromAccountId } from '../../../src/identity/account.js'
import { InvalidAccountIdError } from '../../../src/identity/errors.js'
import { createSigner } from '../../../src/identity/ed25519.js'

describe('account ids', () => {
  it('round trip public key → "12D3KooW…" → public key (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
      const pub = createSigner(seed).publicKey
      const id = accountIdFromPublicKey(pub)
      expect(id.startsWith('12D3KooW')).toBe(true)
      expect(Buffer.from(publicKeyFromAccountId(id)).equals(Buffer.from(pub))).toBe(true)
    }), { numRuns: 30 })
  })

  it('bad inputs give InvalidAccountIdError', () => {
    expect(() => accountIdFromPublicKey(new Uint8Array(31))).toThrow(InvalidAccountIdError)
    for (const bad of ['', 'x'.repeat(200), 'not-a-peer-id', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N']) {
      expect(() => publicKeyFromAccountId(bad)).toThrow(InvalidAccountIdError)
    }
  })

  it('random strings never throw anything but InvalidAccountIdError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => {
      try { publicKeyFromAccountId(s) } catch (err) { expect(err).toBeInstanceOf(InvalidAccountIdError) }
    }), { numRuns: 200 })
  })
})

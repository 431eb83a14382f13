import { describe, it, expect } from 'vitest'
import * as fc from 'fast-check'
import { createHash } from 'node:crypto'
import { sealEnvelope, openEnvelope, signingInput, decodeEnvelope, MAX_ENVELOPE_BYTES } from '../../../src/wire/envelope.js'
import { Domain } from '../../../src/wire/domains.js'
import { WireError, MalformedMessageError, MessageTooLargeError, WrongDomainError, InvalidSignatureError, FieldRangeError } from '../../../src/wire/errors.js'
import { createSigner, type Ed25519Path } from '../../../src/identity/ed25519.js'
import { Envelope as EnvelopePb } from '../../../src/wire/pb/envelope.js'

const NET = new Uint8Array(32).fill(7)
const OTHER_NET = new Uint8Array(32).fill(8)
const signer = createSigner(new Uint8Array(32).fill(1))
const PATHS: Ed25519Path[] = ['native', 'portable']
const payload = new TextEncoder().encode('an offer')

describe('signed envelopes', () => {
  it('signing input is u8 len ‖ domain ‖ net ‖ payload and id is its SHA-256', () => {
    const input = signingInput('tally/test/1', NET, payload)
    expect(input[0]).toBe(12)
    expect(Buffer.from(input.subarray(1, 13)).toString()).toBe('tally/test/1')
    expect(Buffer.from(input.subarray(13, 45)).equals(Buffer.from(NET))).toBe(true)
    expect(Buffer.from(input.subarray(45)).toString()).toBe('an offer')
    const env = sealEnvelope(signer, Domain.test, NET, payload)
    expect(Buffer.from(env.id).toString('hex')).toBe(createHash('sha256').update(input).digest('hex'))
  })

  for (const path of PATHS) {
    it(`opens what it sealed on the ${path} path, returning the exact bytes`, () => {
      const env = sealEnvelope(signer, Domain.offer, NET, payload)
      const opened = openEnvelope(env.bytes, { domain: Domain.offer, net: NET, path })
      expect(opened.bytes).toBe(env.bytes)
      expect(Buffer.from(opened.payload).equals(Buffer.from(payload))).toBe(true)
      expect(Buffer.from(opened.id).equals(Buffer.from(env.id))).toBe(true)
    })

    it(`wrong domain, wrong net, bad signature → typed errors (${path})`, () => {
      const env = sealEnvelope(signer, Domain.offer, NET, payload)
      expect(() => openEnvelope(env.bytes, { domain: Domain.bid, net: NET, path })).toThrow(WrongDomainError)
      expect(() => openEnvelope(env.bytes, { domain: Domain.offer, net: OTHER_NET, path })).toThrow(InvalidSignatureError)
      const pb = EnvelopePb.decode(env.bytes)
      const tampered = EnvelopePb.encode({ ...pb, payload: new TextEncoder().encode('an offer!') })
      expect(() => openEnvelope(tampered, { domain: Domain.offer, net: NET, path })).toThrow(InvalidSignatureError)
      const otherKey = EnvelopePb.encode({ ...pb, publicKey: createSigner(new Uint8Array(32).fill(2)).publicKey as Uint8Array<ArrayBuffer> })
      expect(() => openEnvelope(otherKey, { domain: Domain.offer, net: NET, path })).toThrow(InvalidSignatureError)
    })
  }

  it('a signature made for one domain does not verify as another even with the domain field swapped', () => {
    const env = sealEnvelope(signer, Domain.quote, NET, payload)
    const pb = EnvelopePb.decode(env.bytes)
    const swapped = EnvelopePb.encode({ ...pb, domain: Domain.contract })
    expect(() => openEnvelope(swapped, { domain: Domain.contract, net: NET })).toThrow(InvalidSignatureError)
  })

  it('a re-encoded envelope (same fields, other bytes) is refused: one object, one encoding', () => {
    const env = sealEnvelope(signer, Domain.offer, NET, payload)
    // field 1 (domain) written twice: protobuf keeps the last, so it decodes to the same envelope
    const domainField = Buffer.concat([Buffer.from([0x0a, env.domain.length]), Buffer.from(env.domain)])
    const doubled = new Uint8Array(Buffer.concat([domainField, Buffer.from(env.bytes)]))
    expect(EnvelopePb.decode(doubled).domain).toBe(env.domain)
    expect(() => openEnvelope(doubled, { domain: Domain.offer, net: NET })).toThrow(MalformedMessageError)
    // fields reordered: signature first
    const reordered = new Uint8Array(Buffer.concat([
      Buffer.from([0x22, 64]), Buffer.from(env.signature),
      Buffer.from(EnvelopePb.encode({ domain: env.domain, payload: env.payload as any, publicKey: env.publicKey as any, signature: new Uint8Array(0) }))
    ]))
    expect(Buffer.from(EnvelopePb.decode(reordered).signature).equals(Buffer.from(env.signature))).toBe(true)
    expect(() => openEnvelope(reordered, { domain: Domain.offer, net: NET })).toThrow(/canonical/)
  })

  it('truncated input → MalformedMessageError', () => {
    const env = sealEnvelope(signer, Domain.offer, NET, payload)
    for (let n = 0; n < env.bytes.length; n += 7) {
      expect(() => openEnvelope(env.bytes.subarray(0, n), { domain: Domain.offer, net: NET })).toThrow(WireError)
    }
    expect(() => openEnvelope(env.bytes.subarray(0, env.bytes.length - 1), { domain: Domain.offer, net: NET })).toThrow(MalformedMessageError)
  })

  it('oversized input → MessageTooLargeError, before decoding', () => {
    const big = sealEnvelope(signer, Domain.offer, NET, new Uint8Array(2000))
    expect(() => openEnvelope(big.bytes, { domain: Domain.offer, net: NET, maxBytes: 1000 })).toThrow(MessageTooLargeError)
    expect(() => decodeEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1))).toThrow(MessageTooLargeError)
  })

  it('wrong key or signature lengths → MalformedMessageError', () => {
    const pb = EnvelopePb.decode(sealEnvelope(signer, Domain.offer, NET, payload).bytes)
    const shortSig = EnvelopePb.encode({ ...pb, signature: pb.signature.subarray(0, 63) })
    const shortKey = EnvelopePb.encode({ ...pb, publicKey: pb.publicKey.subarray(0, 31) })
    expect(() => openEnvelope(shortSig, { domain: Domain.offer, net: NET })).toThrow(MalformedMessageError)
    expect(() => openEnvelope(shortKey, { domain: Domain.offer, net: NET })).toThrow(MalformedMessageError)
  })

  it('bad domain or net on the sealing side → FieldRangeError', () => {
    expect(() => sealEnvelope(signer, '', NET, payload)).toThrow(FieldRangeError)
    expect(() => sealEnvelope(signer, 'x'.repeat(65), NET, payload)).toThrow(FieldRangeError)
    expect(() => sealEnvelope(signer, Domain.offer, NET.subarray(0, 31), payload)).toThrow(FieldRangeError)
  })

  it('garbage bytes → typed errors', () => {
    for (const g of [new Uint8Array([0xff]), new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), new Uint8Array(100).fill(0x80)]) {
      expect(() => openEnvelope(g, { domain: Domain.offer, net: NET })).toThrow(WireError)
    }
  })

  it('seal → open round trips for any domain and payload on both paths (property)', () => {
    fc.assert(fc.property(
      fc.string({ minLength: 1, maxLength: 40 }), fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(...PATHS),
      (domain, body, net, path) => {
        const env = sealEnvelope(signer, domain, net, body)
        const opened = openEnvelope(env.bytes, { domain, net, path })
        expect(Buffer.from(opened.payload).equals(Buffer.from(body))).toBe(true)
        expect(Buffer.from(opened.id).equals(Buffer.from(env.id))).toBe(true)
        expect(opened.domain).toBe(domain)
      }), { numRuns: 60 })
  })

  it('random bytes never throw anything but the typed wire errors (property)', () => {
    const good = sealEnvelope(signer, Domain.record, NET, payload).bytes
    fc.assert(fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 400 }),
        fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const b = Uint8Array.from(good); b[i] ^= x; return b }),
        fc.nat(good.length).map(n => good.subarray(0, n))
      ),
      fc.constantFrom(...PATHS),
      (bytes, path) => {
        try {
          openEnvelope(bytes, { domain: Domain.record, net: NET, path })
        } catch (err) {
          expect(err).toBeInstanceOf(WireError)
        }
      }), { numRuns: 400 })
  })
})

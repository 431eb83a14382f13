import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createSigner } from '../../../src/identity/ed25519.js'
import { netId } from '../../../src/ledger/genesis.js'
import { offerCapabilities, offerServes, openOffer, pricePerBpt, pricePerBptForDisplay, signOffer, type OfferTerms } from '../../../src/market/offer.js'
import { openBid, signBid, type BidTerms } from '../../../src/market/bid.js'
import { Envelope } from '../../../src/wire/pb/envelope.js'
import { Offer as OfferPb } from '../../../src/wire/pb/market.js'
import { sealEnvelope } from '../../../src/wire/envelope.js'
import { Domain } from '../../../src/wire/domains.js'
import { MAX_CAPABILITIES, MAX_MULTIADDRS, MAX_OFFER_TTL_MS, MAX_PRICE_PER_MTOK_UC } from '../../../src/wire/limits.js'

const net = netId({ name: 'unit', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
const other = netId({ name: 'other', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
const signer = createSigner(new Uint8Array(32).fill(7))
const NOW = 1_700_000_000_000

const base: OfferTerms = {
  modelId: 'llama-3-8b',
  fingerprint: 'c'.repeat(64),
  fingerprintVerified: false,
  params: 8_000_000_000n,
  quantization: 'Q4_K_M',
  contextLength: 8192,
  priceInPerMTokUc: 1n,
  priceOutPerMTokUc: 8_000_000n,
  maxSessions: 1,
  tokensPerSec: 0,
  region: '',
  multiaddrs: ['/ip4/127.0.0.1/tcp/4001']
}
const opts = { seq: 5n, expiresAtMs: BigInt(NOW + 60_000) }

const termsArb = fc.record({
  modelId: fc.string({ minLength: 1, maxLength: 128 }).filter(s => !/[\p{Cc}\p{Cs}]/u.test(s)),
  fingerprint: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 1, maxLength: 128 }),
  fingerprintVerified: fc.boolean(),
  params: fc.bigInt(1n, 10_000_000_000_000n),
  quantization: fc.constantFrom('', 'Q4_K_M', 'Q8_0', 'F16'),
  contextLength: fc.integer({ min: 1, max: 1 << 24 }),
  priceInPerMTokUc: fc.bigInt(1n, MAX_PRICE_PER_MTOK_UC),
  priceOutPerMTokUc: fc.bigInt(1n, MAX_PRICE_PER_MTOK_UC),
  maxSessions: fc.integer({ min: 1, max: 100_000 }),
  tokensPerSec: fc.integer({ min: 0, max: 10_000_000 }),
  region: fc.constantFrom('', 'eu', 'us-east'),
  multiaddrs: fc.array(fc.constantFrom('/ip4/1.2.3.4/tcp/1', '/memory/x'), { maxLength: MAX_MULTIADDRS }),
  capabilities: fc.array(fc.constantFrom('chat', 'tools', 'json_schema', 'embeddings', 'future_thing'), { maxLength: MAX_CAPABILITIES })
})

describe('offer codec', () => {
  it('round-trips every in-range offer exactly', () => {
    fc.assert(fc.property(termsArb, fc.bigInt(1n, 2n ** 63n - 1n), fc.integer({ min: 1, max: MAX_OFFER_TTL_MS }), (terms, seq, ttl) => {
      const signed = signOffer(signer, net, terms, { seq, expiresAtMs: BigInt(NOW + ttl) })
      const opened = openOffer(signed.bytes, net, NOW)
      expect(opened).toEqual({ ...signed, bytes: signed.bytes })
      expect(Buffer.from(opened.id)).toEqual(Buffer.from(signed.id))
    }), { numRuns: 200 })
  })

  it('busy (market.md § Capacity) round-trips; an offer without the field (an older seller) reads as not busy', () => {
    fc.assert(fc.property(termsArb, fc.boolean(), (terms, busy) => {
      const signed = signOffer(signer, net, terms, { ...opts, busy })
      expect(openOffer(signed.bytes, net, NOW).busy).toBe(busy)
    }), { numRuns: 50 })
    expect(openOffer(signOffer(signer, net, base, opts).bytes, net, NOW).busy).toBe(false)
  })

  it('rejects arbitrary bytes with a typed error, never anything else', () => {
    const typed = new Set(['MalformedMessageError', 'MessageTooLargeError', 'WrongDomainError', 'InvalidSignatureError', 'FieldRangeError', 'InvalidPriceError', 'InvalidStringFieldError', 'ExpiredError', 'ExpiryTooFarError'])
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), bytes => {
      try {
        openOffer(bytes, net, NOW)
        return false
      } catch (err: any) {
        return typed.has(err.name)
      }
    }), { numRuns: 500 })
  })

  it('a flipped bit anywhere either is rejected or leaves the signed content and id unchanged', () => {
    const signed = signOffer(signer, net, base, opts)
    const good = signed.bytes
    fc.assert(fc.property(fc.integer({ min: 0, max: good.length * 8 - 1 }), bit => {
      const bad = Uint8Array.from(good)
      bad[bit >> 3] ^= 1 << (bit & 7)
      let opened
      try {
        opened = openOffer(bad, net, NOW)
      } catch {
        return
      }
      // protons ignores the wire type of a known field tag, so envelope framing is malleable;
      // the signed payload is not: same id, same terms
      expect(Buffer.from(opened.id)).toEqual(Buffer.from(signed.id))
      expect({ ...opened, bytes: undefined }).toEqual({ ...signed, bytes: undefined })
    }), { numRuns: 300 })
  })

  it('rejects wrong net, bad signature, and each out-of-range field by name', () => {
    const good = signOffer(signer, net, base, opts)
    expect(() => openOffer(good.bytes, other, NOW)).toThrow(expect.objectContaining({ name: 'InvalidSignatureError' }))
    const env = Envelope.decode(Uint8Array.from(good.bytes))
    env.signature[0] ^= 1
    expect(() => openOffer(Envelope.encode(env), net, NOW)).toThrow(expect.objectContaining({ name: 'InvalidSignatureError' }))
    expect(() => openOffer(signBid(signer, net, { modelId: 'm', minParams: 0n, quantizations: [], maxPriceInPerMTokUc: 1n, maxPriceOutPerMTokUc: 1n, expectedInputTokens: 0n, expectedOutputTokens: 0n }, opts).bytes, net, NOW))
      .toThrow(expect.objectContaining({ name: 'WrongDomainError' }))
    expect(() => openOffer(good.bytes, net, NOW + 61_000)).toThrow(expect.objectContaining({ name: 'ExpiredError' }))
    expect(() => openOffer(good.bytes, net, NOW - 70_000)).toThrow(expect.objectContaining({ name: 'ExpiryTooFarError' }))
    expect(() => openOffer(new Uint8Array(5000), net, NOW)).toThrow(expect.objectContaining({ name: 'MessageTooLargeError' }))

    // hand-made payloads bypass signOffer's checks, as a hostile publisher would
    const raw = (over: Record<string, unknown>): Uint8Array => sealEnvelope(signer, Domain.offer, net, OfferPb.encode({
      seq: 1n, modelId: 'm', fingerprint: 'f', fingerprintVerified: false, params: 1n, quantization: '', contextLength: 1,
      priceInPerMtokUc: 1n, priceOutPerMtokUc: 1n, maxSessions: 1, tokensPerSec: 0, region: '', multiaddrs: [],
      expiresAtMs: BigInt(NOW + 1000), withdrawn: false, ...over
    })).bytes
    expect(openOffer(raw({}), net, NOW).modelId).toBe('m')
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ priceOutPerMtokUc: 0n }, 'InvalidPriceError'],
      [{ priceInPerMtokUc: MAX_PRICE_PER_MTOK_UC + 1n }, 'InvalidPriceError'],
      [{ params: 0n }, 'FieldRangeError'],
      [{ contextLength: 0 }, 'FieldRangeError'],
      [{ maxSessions: 0 }, 'FieldRangeError'],
      [{ seq: 0n }, 'FieldRangeError'],
      [{ modelId: '' }, 'InvalidStringFieldError'],
      [{ modelId: 'x'.repeat(129) }, 'InvalidStringFieldError'],
      [{ modelId: 'a\u0000b' }, 'InvalidStringFieldError'],
      [{ fingerprint: '' }, 'InvalidStringFieldError'],
      [{ region: 'r'.repeat(33) }, 'InvalidStringFieldError'],
      [{ multiaddrs: Array(MAX_MULTIADDRS + 1).fill('/memory/a') }, 'FieldRangeError'],
      [{ multiaddrs: Array(100).fill('/m') }, 'MalformedMessageError'],
      [{ multiaddrs: ['x'.repeat(257)] }, 'InvalidStringFieldError'],
      [{ expiresAtMs: 0n }, 'ExpiredError']
    ]
    for (const [over, name] of cases) {
      expect(() => openOffer(raw(over), net, NOW), JSON.stringify(over, (_k, v) => typeof v === 'bigint' ? String(v) : v).slice(0, 80)).toThrow(expect.objectContaining({ name }))
    }
    // a withdrawal needs only the model id
    expect(openOffer(raw({ withdrawn: true, priceOutPerMtokUc: 0n, fingerprint: '' }), net, NOW).withdrawn).toBe(true)
  })

  it('capabilities: absent means chat, unknown names are kept, bad names and too many are refused by name', () => {
    const plain = openOffer(signOffer(signer, net, base, opts).bytes, net, NOW)
    expect(offerCapabilities(plain)).toEqual(['chat'])
    expect(offerServes(plain, ['tools'])).toBe(false)
    const tools = openOffer(signOffer(signer, net, { ...base, capabilities: ['chat', 'tools', 'later_thing'] }, opts).bytes, net, NOW)
    expect(tools.capabilities).toEqual(['chat', 'tools', 'later_thing'])
    expect(offerServes(tools, ['chat', 'tools'])).toBe(true)
    expect(offerServes(tools, ['embeddings'])).toBe(false)
    for (const bad of [['Tools'], [''], ['x'.repeat(33)], Array.from({ length: MAX_CAPABILITIES + 1 }, () => 'chat')]) {
      // signed by hand, past signOffer's own check: a receiver must refuse it too
      const pb = OfferPb.encode({ ...OfferPb.decode(sealEnvelope(signer, Domain.offer, net, new Uint8Array()).payload), seq: 5n, modelId: 'm', fingerprint: 'f', params: 1n, contextLength: 1, priceInPerMtokUc: 1n, priceOutPerMtokUc: 1n, maxSessions: 1, expiresAtMs: BigInt(NOW + 60_000), capabilities: bad })
      expect(() => openOffer(sealEnvelope(signer, Domain.offer, net, pb).bytes, net, NOW)).toThrow(expect.objectContaining({ name: 'FieldRangeError', message: expect.stringMatching(/capabilit/) }))
      expect(() => signOffer(signer, net, { ...base, capabilities: bad }, opts)).toThrow(/capabilit/)
    }
  })

  it('signOffer refuses out-of-range terms', () => {
    expect(() => signOffer(signer, net, { ...base, priceOutPerMTokUc: 0n }, opts)).toThrow(expect.objectContaining({ name: 'InvalidPriceError' }))
    expect(() => signOffer(signer, net, { ...base, multiaddrs: Array(9).fill('/memory/a') }, opts)).toThrow(expect.objectContaining({ name: 'FieldRangeError' }))
  })

  it('normalized price per Bpt: a 7B model at 7 credits per 1M tokens is par', () => {
    expect(pricePerBpt(7_000_000n, 7_000_000_000n)).toEqual({ num: 7_000_000_000n, den: 7_000_000_000n })
    expect(pricePerBptForDisplay(7_000_000n, 7_000_000_000n)).toBe(1)
    expect(pricePerBptForDisplay(35_000_000n, 70_000_000_000n)).toBe(0.5)
  })
})

describe('bid codec', () => {
  const bid: BidTerms = { modelId: 'm', minParams: 7n, quantizations: ['Q4_K_M'], maxPriceInPerMTokUc: 5n, maxPriceOutPerMTokUc: 9n, expectedInputTokens: 10n, expectedOutputTokens: 20n }
  it('round-trips and rejects bad input by name', () => {
    const signed = signBid(signer, net, bid, opts)
    expect(openBid(signed.bytes, net, NOW)).toEqual(signed)
    expect(() => openBid(signed.bytes, other, NOW)).toThrow(expect.objectContaining({ name: 'InvalidSignatureError' }))
    expect(() => openBid(signed.bytes, net, NOW + 60_000)).toThrow(expect.objectContaining({ name: 'ExpiredError' }))
    expect(() => signBid(signer, net, { ...bid, maxPriceOutPerMTokUc: 0n }, opts)).toThrow(expect.objectContaining({ name: 'InvalidPriceError' }))
    expect(() => signBid(signer, net, { ...bid, quantizations: Array(17).fill('q') }, opts)).toThrow(expect.objectContaining({ name: 'FieldRangeError' }))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), bytes => {
      expect(() => openBid(bytes, net, NOW)).toThrow()
    }), { numRuns: 200 })
  })
})

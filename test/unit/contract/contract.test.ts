import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createSigner } from '../../../src/identity/ed25519.js'
import { netId } from '../../../src/ledger/genesis.js'
import { openAccept, openQuote, signAccept, signContract, signQuote, verifyContract, type QuoteTerms } from '../../../src/contract/messages.js'
import { Contract as ContractPb, Quote as QuotePb } from '../../../src/wire/pb/negotiate.js'
import { sealEnvelope } from '../../../src/wire/envelope.js'
import { Domain } from '../../../src/wire/domains.js'
import { Envelope } from '../../../src/wire/pb/envelope.js'

const net = netId({ name: 'contract', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
const other = netId({ name: 'contract-2', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
const seller = createSigner(new Uint8Array(32).fill(1))
const buyer = createSigner(new Uint8Array(32).fill(2))
const mallory = createSigner(new Uint8Array(32).fill(3))

const quoteTerms = (over: Partial<QuoteTerms> = {}): QuoteTerms => ({
  quoteId: new Uint8Array(16).fill(9),
  buyer: buyer.publicKey,
  requestNonce: new Uint8Array(16).fill(4),
  modelId: 'm',
  fingerprint: 'fp',
  fingerprintVerified: true,
  params: 3_000_000_000n,
  priceInPerMTokUc: 2_000_000n,
  priceOutPerMTokUc: 3_000_000n,
  validUntilMs: 1_700_000_010_000n,
  ...over
})

function contractBytes (): Uint8Array {
  const q = signQuote(seller, net, quoteTerms())
  const a = signAccept(buyer, net, q, 5_000n, 1_700_000_600_000n)
  return signContract(seller, net, a).bytes
}

const TYPED = new Set(['MalformedMessageError', 'MessageTooLargeError', 'WrongDomainError', 'InvalidSignatureError', 'FieldRangeError', 'InvalidPriceError', 'InvalidStringFieldError', 'ContractMismatchError', 'InvalidAccountIdError'])

describe('contracts', () => {
  it('round-trip: the verified contract carries the terms of quote and accept', () => {
    fc.assert(fc.property(fc.bigInt(1n, 100_000_000_000n), fc.bigInt(1n, 100_000_000_000n), fc.bigInt(1n, 2n ** 63n - 1n), fc.bigInt(1n, 10_000_000_000_000n), (pIn, pOut, spend, params) => {
      const q = signQuote(seller, net, quoteTerms({ priceInPerMTokUc: pIn, priceOutPerMTokUc: pOut, params }))
      expect(openQuote(q.bytes, net)).toEqual(q)
      const a = signAccept(buyer, net, q, spend, 1_700_000_600_000n)
      expect(openAccept(a.bytes, net).maxSpendUc).toBe(spend)
      const c = signContract(seller, net, a)
      const v = verifyContract(c.bytes, net)
      expect(v).toEqual(c)
      expect(v.priceInPerMTokUc).toBe(pIn)
      expect(v.params).toBe(params)
      expect(v.maxSpendUc).toBe(spend)
    }), { numRuns: 50 })
  })

  it('rejects garbage with typed errors', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 9000 }), bytes => {
      try {
        verifyContract(bytes, net)
        return false
      } catch (err: any) {
        return TYPED.has(err.name)
      }
    }), { numRuns: 300 })
  })

  it('rejects wrong net, a forged countersignature, a stolen quote and edited terms', () => {
    const good = contractBytes()
    expect(() => verifyContract(good, other)).toThrow(expect.objectContaining({ name: 'InvalidSignatureError' }))
    const q = signQuote(seller, net, quoteTerms())
    // a third party signs an accept of a quote issued to the buyer
    expect(() => openAccept(signAccept(mallory, net, q, 1n, 1n).bytes, net)).toThrow(expect.objectContaining({ name: 'ContractMismatchError' }))
    const a = signAccept(buyer, net, q, 5_000n, 1_700_000_600_000n)
    // only the quote's signer may countersign
    expect(() => signContract(mallory, net, a)).toThrow(expect.objectContaining({ name: 'ContractMismatchError' }))
    // a seller-signed contract whose repeated terms differ from the quote/accept
    const honest = ContractPb.decode(Envelope.decode(good).payload)
    const edits: Array<Partial<ContractPb>> = [
      { priceOutPerMtokUc: 1n }, { priceInPerMtokUc: 1n }, { maxSpendUc: 6_000n }, { expiresAtMs: 1n }, { modelId: 'n' },
      { params: 7n }, { fingerprint: 'x' }, { fingerprintVerified: false }, { buyer: mallory.publicKey as Uint8Array<ArrayBuffer> },
      { seller: mallory.publicKey as Uint8Array<ArrayBuffer> }, { acceptId: new Uint8Array(32) }, { quoteId: new Uint8Array(16) }
    ]
    for (const e of edits) {
      const forged = sealEnvelope(seller, Domain.contract, net, ContractPb.encode({ ...honest, ...e })).bytes
      expect(() => verifyContract(forged, net)).toThrow(expect.objectContaining({ name: 'ContractMismatchError' }))
    }
    // mallory wraps the buyer's real accept in her own contract: the quote is not hers
    const byMallory = sealEnvelope(mallory, Domain.contract, net, ContractPb.encode({ ...honest, seller: mallory.publicKey as Uint8Array<ArrayBuffer> })).bytes
    expect(() => verifyContract(byMallory, net)).toThrow(expect.objectContaining({ name: 'ContractMismatchError' }))
  })

  it('a trusted accept or quote skips re-verification only when the bytes are identical', () => {
    const q = signQuote(seller, net, quoteTerms())
    const a = signAccept(buyer, net, q, 5_000n, 1_700_000_600_000n)
    const c = signContract(seller, net, a)
    expect(verifyContract(c.bytes, net, a)).toEqual(c)
    expect(openAccept(a.bytes, net, q).quote).toBe(q)
    // a "trusted" object with other bytes is ignored: the embedded ones are verified in full
    const otherAccept = signAccept(buyer, net, q, 6_000n, 1_700_000_600_000n)
    expect(verifyContract(c.bytes, net, otherAccept).maxSpendUc).toBe(5_000n)
    const forgedQuote = { ...q, bytes: new Uint8Array(10) }
    expect(openAccept(a.bytes, net, forgedQuote).quote).toEqual(openQuote(q.bytes, net))
    expect(() => verifyContract(c.bytes, other, a)).toThrow(expect.objectContaining({ name: 'InvalidSignatureError' }))
  })

  it('the quote terms travel signed into the contract; an accept or contract that departs from them is refused', () => {
    const terms = { secondPeerAboveUc: 2_000_000n, maxSpendUc: 5_000n, sessionExpiresAtMs: 1_700_000_600_000n, openWithinMs: 5_000n, minBuyerSpendableUc: 7_000n, maxUnpaidUc: 1_250n }
    const q = signQuote(seller, net, quoteTerms(terms))
    expect(openQuote(q.bytes, net)).toMatchObject(terms)
    const c = verifyContract(signContract(seller, net, signAccept(buyer, net, q, 5_000n, 1_700_000_600_000n)).bytes, net)
    expect(c).toMatchObject({ maxSpendUc: 5_000n, expiresAtMs: 1_700_000_600_000n, openWithinMs: 5_000n, minBuyerSpendableUc: 7_000n, maxUnpaidUc: 1_250n, secondPeerAboveUc: 2_000_000n })
    // the lock and the session end are exact when the quote states them
    expect(() => openAccept(signAccept(buyer, net, q, 4_999n, 1_700_000_600_000n).bytes, net)).toThrow(expect.objectContaining({ name: 'ContractMismatchError' }))
    expect(() => openAccept(signAccept(buyer, net, q, 5_000n, 1_700_000_600_001n).bytes, net)).toThrow(expect.objectContaining({ name: 'ContractMismatchError' }))
    // a contract that softens or hardens a term it repeats
    const honest = ContractPb.decode(Envelope.decode(c.bytes).payload)
    for (const e of [{ openWithinMs: 60_000n }, { minBuyerSpendableUc: 0n }, { maxUnpaidUc: 1_000_000n }, { secondPeerAboveUc: 0n }] as Array<Partial<ContractPb>>) {
      const forged = sealEnvelope(seller, Domain.contract, net, ContractPb.encode({ ...honest, ...e })).bytes
      expect(() => verifyContract(forged, net)).toThrow(expect.objectContaining({ name: 'ContractMismatchError' }))
    }
  })

  it('the trusted-grantors term travels signed into the contract; a contract that drops, adds or reorders one is refused', () => {
    const g1 = new Uint8Array(32).fill(7)
    const g2 = new Uint8Array(32).fill(8)
    const q = signQuote(seller, net, quoteTerms({ trustedGrantors: [g1, g2] }))
    expect(openQuote(q.bytes, net).trustedGrantors).toEqual([g1, g2])
    const c = verifyContract(signContract(seller, net, signAccept(buyer, net, q, 5_000n, 1_700_000_600_000n)).bytes, net)
    expect(c.trustedGrantors).toEqual([g1, g2])
    const honest = ContractPb.decode(Envelope.decode(c.bytes).payload)
    for (const trustedGrantors of [[], [g1], [g2, g1], [g1, g2, mallory.publicKey]]) {
      const forged = sealEnvelope(seller, Domain.contract, net, ContractPb.encode({ ...honest, trustedGrantors } as ContractPb)).bytes
      expect(() => verifyContract(forged, net)).toThrow(expect.objectContaining({ name: 'ContractMismatchError', message: expect.stringContaining('trustedGrantors') }))
    }
    // an older quote (no term) and a contract that repeats none: any grantor
    expect(verifyContract(contractBytes(), net).trustedGrantors).toEqual([])
  })

  it('trusted grantors are 32-byte keys, distinct, at most 16', () => {
    expect(() => signQuote(seller, net, quoteTerms({ trustedGrantors: [new Uint8Array(31)] }))).toThrow(expect.objectContaining({ name: 'MalformedMessageError' }))
    expect(() => signQuote(seller, net, quoteTerms({ trustedGrantors: [new Uint8Array(32), new Uint8Array(32)] }))).toThrow(expect.objectContaining({ name: 'MalformedMessageError' }))
    const seventeen = Array.from({ length: 17 }, (_, i) => new Uint8Array(32).fill(i + 1))
    expect(() => signQuote(seller, net, quoteTerms({ trustedGrantors: seventeen }))).toThrow(expect.objectContaining({ name: 'MalformedMessageError' }))
    // a seller that signs 17 anyway: the decoder stops at the limit
    const q = signQuote(seller, net, quoteTerms({ trustedGrantors: seventeen.slice(0, 16) }))
    expect(openQuote(q.bytes, net).trustedGrantors).toHaveLength(16)
    const pb = QuotePb.decode(Envelope.decode(q.bytes).payload)
    const forged = sealEnvelope(seller, Domain.quote, net, QuotePb.encode({ ...pb, trustedGrantors: seventeen as Array<Uint8Array<ArrayBuffer>> })).bytes
    expect(() => openQuote(forged, net)).toThrow(expect.objectContaining({ name: 'MalformedMessageError' }))
  })

  it('quotes are range-checked', () => {
    expect(() => signQuote(seller, net, quoteTerms({ quoteId: new Uint8Array(3) }))).toThrow(expect.objectContaining({ name: 'MalformedMessageError' }))
    expect(() => signQuote(seller, net, quoteTerms({ priceOutPerMTokUc: 0n }))).toThrow(expect.objectContaining({ name: 'InvalidPriceError' }))
    expect(() => signQuote(seller, net, quoteTerms({ modelId: '' }))).toThrow(expect.objectContaining({ name: 'InvalidStringFieldError' }))
  })
})

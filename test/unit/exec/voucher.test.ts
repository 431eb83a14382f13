import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { checkVoucher, makeVoucher, openVoucher, StaleVoucherError, VoucherAmountError, VoucherOverSpendError, VoucherRegressionError, WrongSessionVoucherError, type VoucherTerms } from '../../../src/exec/voucher.js'
import { sessionAmountUc } from '../../../src/exec/pricing.js'
import { createSigner, generateSeed } from '../../../src/identity/ed25519.js'
import { InvalidSignatureError, MalformedMessageError, MessageTooLargeError, WrongDomainError } from '../../../src/wire/errors.js'
import { sealEnvelope } from '../../../src/wire/envelope.js'
import { Domain } from '../../../src/wire/domains.js'
import { netId } from '../../../src/ledger/genesis.js'

const net = netId({ name: 'voucher-test', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 0n })
const otherNet = netId({ name: 'voucher-test-2', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 0n })
const buyer = createSigner(generateSeed())
const terms: VoucherTerms = { contractId: new Uint8Array(32).fill(1), buyer: buyer.publicKey, priceInPerMTokUc: 300_000n, priceOutPerMTokUc: 1_200_000n, maxSpendUc: 1_000_000n }

function v (nonce: bigint, i: bigint, o: bigint, amount = sessionAmountUc(i, o, terms)) {
  return makeVoucher(buyer, net, { contractId: terms.contractId, nonce, inputTokens: i, outputTokens: o, amountUc: amount })
}

describe('vouchers', () => {
  it('round-trip through their exact bytes (property)', () => {
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (nonce, i, o, a) => {
      const made = makeVoucher(buyer, net, { contractId: terms.contractId, nonce, inputTokens: i, outputTokens: o, amountUc: a })
      const opened = openVoucher(made.bytes, net)
      return opened.nonce === nonce && opened.inputTokens === i && opened.outputTokens === o && opened.amountUc === a && Buffer.from(opened.signer).equals(Buffer.from(buyer.publicKey))
    }), { numRuns: 50 })
  })

  it('reject garbage with typed errors, never anything else (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), bytes => {
      try {
        openVoucher(bytes, net)
        return false
      } catch (err) {
        return err instanceof MalformedMessageError || err instanceof MessageTooLargeError || err instanceof InvalidSignatureError || err instanceof WrongDomainError
      }
    }))
  })

  it('refuse another network, another domain, a flipped bit and a bad payload', () => {
    const good = v(1n, 10n, 10n)
    expect(() => openVoucher(good.bytes, otherNet)).toThrow(InvalidSignatureError)
    const flipped = good.bytes.slice()
    flipped[flipped.length - 1] ^= 1
    expect(() => openVoucher(flipped, net)).toThrow(InvalidSignatureError)
    const other = sealEnvelope(buyer, Domain.offer, net, good.envelope.payload)
    expect(() => openVoucher(other.bytes, net)).toThrow(WrongDomainError)
    const junk = sealEnvelope(buyer, Domain.voucher, net, new Uint8Array([0xff, 0xff]))
    expect(() => openVoucher(junk.bytes, net)).toThrow(MalformedMessageError)
    const shortId = sealEnvelope(buyer, Domain.voucher, net, new Uint8Array([0x0a, 0x01, 0x01, 0x10, 0x01]))
    expect(() => openVoucher(shortId.bytes, net)).toThrow(MalformedMessageError)
    expect(() => openVoucher(new Uint8Array(513), net)).toThrow(MessageTooLargeError)
    expect(() => makeVoucher(buyer, net, { contractId: terms.contractId, nonce: 0n, inputTokens: 0n, outputTokens: 0n, amountUc: 0n })).toThrow(MalformedMessageError)
  })

  it('accept a first voucher and a strictly newer one', () => {
    const a = openVoucher(v(1n, 10n, 5n).bytes, net)
    checkVoucher(a, terms)
    const b = openVoucher(v(2n, 10n, 9n).bytes, net)
    checkVoucher(b, terms, a)
  })

  it('refuse another contract, another signer, stale nonces, regressions, wrong amounts and over-spend', () => {
    const a = openVoucher(v(5n, 10n, 10n).bytes, net)
    expect(() => checkVoucher(a, { ...terms, contractId: new Uint8Array(32).fill(2) })).toThrow(WrongSessionVoucherError)
    const stranger = createSigner(generateSeed())
    const s = openVoucher(makeVoucher(stranger, net, { contractId: terms.contractId, nonce: 1n, inputTokens: 0n, outputTokens: 0n, amountUc: 0n }).bytes, net)
    expect(() => checkVoucher(s, terms)).toThrow(WrongSessionVoucherError)
    expect(() => checkVoucher(openVoucher(v(5n, 10n, 11n).bytes, net), terms, a)).toThrow(StaleVoucherError)
    expect(() => checkVoucher(openVoucher(v(4n, 10n, 11n).bytes, net), terms, a)).toThrow(StaleVoucherError)
    expect(() => checkVoucher(openVoucher(v(6n, 9n, 11n).bytes, net), terms, a)).toThrow(VoucherRegressionError)
    expect(() => checkVoucher(openVoucher(v(6n, 10n, 9n).bytes, net), terms, a)).toThrow(VoucherRegressionError)
    expect(() => checkVoucher(openVoucher(v(6n, 10n, 20n, 999n).bytes, net), terms, a)).toThrow(VoucherAmountError)
    expect(() => checkVoucher(openVoucher(v(6n, 10n, 10n ** 9n, terms.maxSpendUc + 1n).bytes, net), terms, a)).toThrow(VoucherOverSpendError)
    // at the cap the rule gives exactly max spend
    checkVoucher(openVoucher(v(6n, 10n, 10n ** 9n, terms.maxSpendUc).bytes, net), terms, a)
  })

  it('a sequence of honest cumulative vouchers always passes (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 1000n })), { minLength: 1, maxLength: 20 }), steps => {
      let prev
      let i = 0n
      let o = 0n
      let n = 0n
      for (const [di, dOut] of steps) {
        i += di; o += dOut; n += 1n
        const cur = openVoucher(v(n, i, o).bytes, net)
        checkVoucher(cur, terms, prev)
        prev = cur
      }
      return true
    }), { numRuns: 30 })
  })
})

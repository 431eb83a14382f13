import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createSigner } from '../../../src/identity/ed25519.js'
import { netId } from '../../../src/ledger/genesis.js'
import { signOffer, type Offer } from '../../../src/market/offer.js'
import { OrderBook } from '../../../src/market/order-book.js'
import { rankOffers, type RoutableOffer } from '../../../src/market/router.js'

const net = netId({ name: 'ranking-mix', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
const NOW = 1_700_000_000_000
const signers = Array.from({ length: 6 }, (_, i) => createSigner(new Uint8Array(32).fill(i + 11)))

function offer (i: number, priceInPerMTokUc: bigint, priceOutPerMTokUc: bigint): Offer {
  return signOffer(signers[i], net, {
    modelId: 'm', fingerprint: 'f', fingerprintVerified: true, params: 7_000_000_000n, quantization: 'Q4_K_M', contextLength: 4096,
    priceInPerMTokUc, priceOutPerMTokUc, maxSessions: 1, tokensPerSec: 10, region: '', multiaddrs: []
  }, { seq: 1n, expiresAtMs: BigInt(NOW + 60_000), withdrawn: false })
}

function routable (o: Offer): RoutableOffer {
  return { seller: o.sellerId, modelId: o.modelId, params: Number(o.params), quantization: o.quantization, fingerprint: o.fingerprint, fingerprintVerified: o.fingerprintVerified, priceInPerMTokUc: o.priceInPerMTokUc, priceOutPerMTokUc: o.priceOutPerMTokUc }
}

describe('one expected token mix', () => {
  it('the book and the router rank offers of one model the same way when a request does not say its size', () => {
    const price = fc.bigInt({ min: 1n, max: 50_000_000n })
    fc.assert(fc.property(fc.array(fc.tuple(price, price), { minLength: 2, maxLength: signers.length }), (prices) => {
      const book = new OrderBook()
      const offers = prices.map(([pIn, pOut], i) => offer(i, pIn, pOut))
      for (const o of offers) book.add(o, NOW)
      const fromBook = book.query({ model: 'm' }, NOW).map(r => r.offer.sellerId)
      const fromRouter = rankOffers(offers.map(routable), {}, undefined, { nowMs: NOW }).map(o => o.seller)
      expect(fromRouter).toEqual(fromBook)
    }), { numRuns: 50 })
  })

  it('weighs output 3:1 over input', () => {
    // cheap input, dear output vs the reverse: with 1000 in and 3000 out the second is cheaper
    const inputHeavy = offer(0, 1_000_000n, 9_000_000n) // 1e9 + 27e9
    const outputHeavy = offer(1, 9_000_000n, 2_000_000n) // 9e9 + 6e9
    expect(rankOffers([inputHeavy, outputHeavy].map(routable), {}, undefined, { nowMs: NOW }).map(o => o.seller)).toEqual([outputHeavy.sellerId, inputHeavy.sellerId])
  })
})

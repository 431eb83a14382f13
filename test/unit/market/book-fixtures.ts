/** What the order book tests share: a net, a clock reading and a seller's offer terms. */
import { netId } from '../../../src/ledger/genesis.js'
import type { OfferTerms } from '../../../src/market/offer.js'

export const net = netId({ name: 'book', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
export const NOW = 1_700_000_000_000

/** a 7B model's terms at 1/7 credits per 1M tokens in/out, with `over` applied */
export function terms (over: Partial<OfferTerms> = {}): OfferTerms {
  return {
    modelId: 'm7',
    fingerprint: 'f',
    fingerprintVerified: true,
    params: 7_000_000_000n,
    quantization: 'Q4_K_M',
    contextLength: 4096,
    priceInPerMTokUc: 1_000_000n,
    priceOutPerMTokUc: 7_000_000n,
    maxSessions: 1,
    tokensPerSec: 10,
    region: '',
    multiaddrs: [],
    ...over
  }
}

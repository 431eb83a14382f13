/**
 * Today's quotes for a batch: the posted prices of the offers in the node's order book. The
 * auction of issue 20 § 1 will give a `QuoteSource` of its own (sellers' signed quotes in answer
 * to a bid); the runner reads nothing else.
 */
import type { RouteConstraints } from '../../market/router-types.js'
import type { Quote, QuoteSource } from './runner.js'

/** what the batch reads of an offer */
export interface PostedOffer {
  seller: string
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
}

/** each seller's cheapest posted offer of the model within the constraints' prices */
export function postedPrices (offerList: (model: string) => PostedOffer[]): QuoteSource {
  return {
    quotes (model: string, c: RouteConstraints): Quote[] {
      const best = new Map<string, Quote>()
      const excluded = new Set(c.excludeSellers ?? [])
      for (const o of offerList(model)) {
        if (excluded.has(o.seller)) continue
        if (c.maxPriceOutPerMTokUc != null && o.priceOutPerMTokUc > c.maxPriceOutPerMTokUc) continue
        if (c.maxPriceInPerMTokUc != null && o.priceInPerMTokUc > c.maxPriceInPerMTokUc) continue
        const had = best.get(o.seller)
        if (had == null || o.priceOutPerMTokUc < had.priceOutPerMTokUc) best.set(o.seller, { seller: o.seller, priceInPerMTokUc: o.priceInPerMTokUc, priceOutPerMTokUc: o.priceOutPerMTokUc })
      }
      return [...best.values()]
    }
  }
}

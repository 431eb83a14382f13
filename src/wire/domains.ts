/** Signing domains: a signature made for one kind of object never verifies as another. */
export const Domain = {
  offer: 'tally/offer/1',
  bid: 'tally/bid/1',
  quoteRequest: 'tally/quote-request/1',
  quote: 'tally/quote/1',
  /** a seller's answer to a bid in a reverse auction (protocols/auction.md) */
  bidQuote: 'tally/bid-quote/1',
  accept: 'tally/accept/1',
  contract: 'tally/contract/1',
  voucher: 'tally/voucher/1',
  record: 'tally/record/1',
  test: 'tally/test/1'
} as const

export type DomainName = typeof Domain[keyof typeof Domain]

/** longest domain tag accepted on the wire (its length is one byte in the signing input) */
export const MAX_DOMAIN_BYTES = 64

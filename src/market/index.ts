/** The market: offers, bids, the order book and the gossip service that feeds it. */
export * from './errors.js'
export * from './offer.js'
export * from './bid.js'
export * from './order-book.js'
export * from './bid-book.js'
export * from './gossip-options.js'
export * from './service.js'

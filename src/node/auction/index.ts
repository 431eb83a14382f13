/** The reverse auction on a node (protocols/auction.md): bidder and seller ends of /tally/auction/1.0.0. */
export * from './types.js'
export * from './protocol.js'
export { AuctionBuyer, type AuctionBuyerComponents } from './buyer.js'
export { AuctionSeller, type AuctionSellerComponents } from './seller.js'
export { pickQuotes, auctionPrice, auctionVolume, type QuoteAssignment, type PickableQuote } from '../../market/auction.js'
export type { BidQuote } from '../../market/bid-quote.js'

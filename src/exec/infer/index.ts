/** Public surface of the infer protocol: sessions, buyer and seller services, codecs and errors. */
export * from './terms.js'
export * from './errors.js'
export * from './codec.js'
export * from './sessions.js'
export * from './token-counter.js'
export * from './seller.js'
export * from './buyer.js'

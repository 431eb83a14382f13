/** Contracts: the negotiation protocol and the two-signed contract it produces. */
export * from './errors.js'
export * from './messages.js'
export * from './negotiate.js'
export * from './policy.js'

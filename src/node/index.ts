/** The node: createBaseNode, its config and defaults, the service registry. */
export * from './node.js'
export * from './config.js'
export * from './defaults.js'
export * from './services.js'
export * from './clock.js'
export * from './bootstrap.js'
export * from './tally.js'
export { BuyerRouter, type BuyerRouterInit } from './buyer.js'

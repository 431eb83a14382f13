/** Tally SDK: the package root. */
import './polyfill.js'
export * from './wire/index.js'
export * from './identity/index.js'
export * from './node/index.js'
export { netId, net8, encodeGenesis, type Genesis, type Issuer } from './ledger/genesis.js'
export type { Backend, BackendEvent, ChatRequest, ChatMessage, ModelInfo, Usage } from './exec/backend.js'

/** Tally SDK: the package root. */
import './polyfill.js'
export * from './wire/index.js'
export * from './identity/ed25519.js'
export * from './identity/account.js'
export type { Backend, BackendEvent, ChatRequest, ChatMessage, ModelInfo, Usage } from './exec/backend.js'

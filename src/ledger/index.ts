/** The ledger: signed records, validity, balances, fraud proofs, durable store, service. */
export * from './genesis.js'
export * from './errors.js'
export * from './record.js'
export * from './validity.js'
export * from './store.js'
export * from './ledger.js'
export * from './service.js'
export * from './genesis-exchange.js'

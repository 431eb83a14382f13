/** Identity: ed25519 keys on two paths, account ids, the keystore file. */
export * from './ed25519.js'
export * from './account.js'
export * from './keystore.js'
export * from './errors.js'

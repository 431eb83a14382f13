/**
 * One error type for the whole project: every error Tally throws is a TallyError whose `code`
 * is one of ErrorCode. Layers decide by code, never by class name (the HTTP mapping in
 * api/errors.ts, the router's retry policy in node/buyer.ts, the wire failure codes of
 * /tally/infer). Imports nothing else of the project, so every layer may import it.
 * The codes, their HTTP answers and which of them the router retries: docs/errors.md.
 */

/** stable machine-readable codes: kebab-case, never renamed (clients and logs match on them) */
export const ErrorCode = {
  /** a bug or an unclassified failure */
  internal: 'internal',

  // caller input, any surface
  invalidArgument: 'invalid-argument',
  invalidAccount: 'invalid-account',
  invalidConfig: 'invalid-config',
  invalidUsage: 'invalid-usage',
  invalidRequest: 'invalid-request',

  // wire: bytes from a peer
  malformedMessage: 'malformed-message',
  messageTooLarge: 'message-too-large',
  invalidSignature: 'invalid-signature',
  wrongDomain: 'wrong-domain',
  fieldOutOfRange: 'field-out-of-range',
  expired: 'expired',
  expiryTooFar: 'expiry-too-far',
  invalidPrice: 'invalid-price',
  invalidStringField: 'invalid-string-field',
  /** an offer's address names another peer than its seller (protocols/market.md § Addresses) */
  foreignAddress: 'foreign-address',
  /** a deadline the node owns ran out (src/wire/deadline.ts) */
  deadlineExceeded: 'deadline-exceeded',

  // negotiation
  negotiationRefused: 'negotiation-refused',
  sellerBusy: 'seller-busy',
  priceChanged: 'price-changed',
  quoteExpired: 'quote-expired',
  contractMismatch: 'contract-mismatch',
  protocolViolation: 'protocol-violation',
  tooManyNegotiations: 'too-many-negotiations',
  buyerNotTrusted: 'buyer-not-trusted',
  /** the seller quotes this buyer again only after a cool-down: its contracts lapsed without their open */
  reservationsLapsed: 'reservations-lapsed',
  quoteTermsUnmet: 'quote-terms-unmet',
  /** a request at an auction price whose bid quote is not the seller's own for this buyer and model, or not held (negotiate.md § Auction price) */
  bidQuoteInvalid: 'bid-quote-invalid',
  /** the bid quote's validity ended: its price is no longer honoured */
  bidQuoteExpired: 'bid-quote-expired',
  /** the bid quote's output volume left is less than the contract would take */
  bidVolumeExhausted: 'bid-volume-exhausted',

  // ledger and sync
  insufficientCredit: 'insufficient-credit',
  invalidRecord: 'invalid-record',
  ledgerUnavailable: 'ledger-unavailable',
  syncFailed: 'sync-failed',
  syncMalformed: 'sync-malformed',
  syncUnsupportedVersion: 'sync-unsupported-version',
  syncState: 'sync-state',
  syncFrameTooLarge: 'sync-frame-too-large',
  syncTooManyRounds: 'sync-too-many-rounds',
  syncTooManyIds: 'sync-too-many-ids',
  syncMalformedFetch: 'sync-malformed-fetch',
  syncTimeout: 'sync-timeout',
  syncNoPeer: 'sync-no-peer',
  genesisMismatch: 'genesis-mismatch',
  genesisTimeout: 'genesis-timeout',
  genesisUnsupported: 'genesis-unsupported',

  // the buyer's router
  unknownModel: 'unknown-model',
  noSeller: 'no-seller',
  /** offers of the model exist, but none lists a capability the request needs (tools, json_schema) */
  capabilityUnavailable: 'capability-unavailable',
  routeTimeout: 'route-timeout',
  midStream: 'mid-stream',

  // paid sessions and /tally/infer
  inferFailed: 'infer-failed',
  invalidTerms: 'invalid-terms',
  sessionUnknown: 'session-unknown',
  sessionExpired: 'session-expired',
  sessionClosed: 'session-closed',
  sessionBusy: 'session-busy',
  wrongBuyer: 'wrong-buyer',
  wrongSeller: 'wrong-seller',
  budgetExhausted: 'budget-exhausted',
  sellerOverclaim: 'seller-overclaim',
  firstTokenTimeout: 'first-token-timeout',
  streamIdleTimeout: 'stream-idle-timeout',
  voucherTimeout: 'voucher-timeout',
  aborted: 'aborted',
  sellerShuttingDown: 'seller-shutting-down',
  remoteFailure: 'remote-failure',

  // vouchers
  invalidVoucher: 'invalid-voucher',
  voucherWrongSession: 'voucher-wrong-session',
  voucherStale: 'voucher-stale',
  voucherRegression: 'voucher-regression',
  voucherAmount: 'voucher-amount',
  voucherOverspend: 'voucher-overspend',

  // backends and models
  backendBusy: 'backend-busy',
  backendError: 'backend-error',
  backendTimeout: 'backend-timeout',
  engineCrashed: 'engine-crashed',
  engineStartFailed: 'engine-start-failed',
  invalidModel: 'invalid-model',

  // identity files
  keystore: 'keystore',
  keystoreNotFound: 'keystore-not-found',
  keystoreExists: 'keystore-exists',
  keystorePermission: 'keystore-permission',
  keystorePassphrase: 'keystore-passphrase',
  keystoreFormat: 'keystore-format',

  // node, CLI and simulator
  duplicateService: 'duplicate-service',
  /** the seller's journal of unsettled sessions cannot be written or read (src/node/seller-journal.ts) */
  sellerJournal: 'seller-journal',
  gatewayConfig: 'gateway-config',
  /** an Idempotency-Key came back with a different request (src/api/idempotency.ts) */
  idempotencyKeyReused: 'idempotency-key-reused',
  openFileLimit: 'open-file-limit',
  nodeApi: 'node-api',
  /** a batch request or input file Tally cannot run (src/node/batch) */
  batchInvalid: 'batch-invalid',
  batchNotFound: 'batch-not-found',
  /** a move the batch's status does not allow (cancel a finished batch) */
  batchState: 'batch-state',
  simulation: 'simulation',
  /** a command of the namespace testnet's kernel setup (ip, nft) failed */
  testnetCommand: 'testnet-command',
  // the reverse auction (protocols/auction.md § Refusal codes)
  /** a BidQuote for a bid this node did not post or no longer collects for */
  unknownBid: 'unknown-bid',
  /** a BidQuote that arrived after the bid's auction window */
  auctionClosed: 'auction-closed',
  /** a BidQuote that does not match the bid it answers (model, params, prices, volume, validity) */
  bidQuoteMismatch: 'bid-quote-mismatch',
  /** a second BidQuote of one seller for one bid */
  duplicateBidQuote: 'duplicate-bid-quote',
  /** the bid holds its cap of quotes */
  tooManyBidQuotes: 'too-many-bid-quotes'
} as const

export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode]

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode))

/** every code, in declaration order */
export const ERROR_CODES: readonly ErrorCode[] = Object.values(ErrorCode)

export function isErrorCode (v: unknown): v is ErrorCode {
  return typeof v === 'string' && CODES.has(v)
}

/**
 * The base of every Tally error. Subclasses fix their `code` (a class field) and keep a stable
 * `name`; a class whose code depends on the instance (a refusal reason, a remote failure code)
 * sets it in its constructor.
 */
export class TallyError extends Error {
  override name = 'TallyError'
  readonly code: ErrorCode = ErrorCode.internal
}

/** the code of any thrown value: a TallyError's own, `internal` for anything else */
export function errorCode (err: unknown): ErrorCode {
  return err instanceof TallyError ? err.code : ErrorCode.internal
}

/** a TallyError carrying a code decided at run time (e.g. rebuilt from a child process's message) */
export class CodedError extends TallyError {
  override name = 'CodedError'
  override readonly code: ErrorCode
  constructor (code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/**
 * The buyer's account cannot lock or spend what was asked: refused by the router's balance
 * check, by the buyer's own ledger when it signs (`open`, `transfer`), or by a seller that sees
 * too little headroom at quote time. One class for all three, so every layer recognises it.
 */
export class InsufficientCreditError extends TallyError {
  override name = 'InsufficientCreditError'
  override readonly code: ErrorCode = ErrorCode.insufficientCredit
}

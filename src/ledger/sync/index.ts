/** Ledger sync: Negentropy v1 set reconciliation and the /tally/sync + /tally/fetch protocols. */
export * from './errors.js'
export {
  Negentropy, NegentropyStorageVector, storageFromItems, reconcileInMemory, encodeVarint, decodeVarint,
  PROTOCOL_VERSION, ID_SIZE, FINGERPRINT_SIZE, MAX_TIMESTAMP, MIN_FRAME_SIZE_LIMIT, Mode,
  type Bound, type NegentropyItem, type ReconcileResult
} from './negentropy.js'
export {
  LedgerSync, ledgerSync, SYNC_PROTOCOL, FETCH_PROTOCOL,
  DEFAULT_MAX_FRAME_BYTES, DEFAULT_TIMEOUT_MS, DEFAULT_MAX_ROUNDS, DEFAULT_MAX_IDS_PER_FETCH,
  DEFAULT_MAX_RECORD_BYTES, DEFAULT_FETCH_CONCURRENCY, DEFAULT_MAX_STORAGE_AGE_MS, DEFAULT_MAX_STALE_FRACTION, DEFAULT_INTERVAL_MS, DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MISSING_INTERVAL_MS, DEFAULT_MAX_MISSING_PER_ROUND, DEFAULT_MISSING_ROUNDS,
  type RecordSource, type RecordSink, type LedgerSyncInit, type LedgerSyncComponents, type SyncResult,
  type SyncRegistrar, type SyncConnectionManager
} from './service.js'

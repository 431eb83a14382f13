/** Typed errors of ledger sync: Negentropy reconciliation, /tally/sync and /tally/fetch. Each has a stable `name`. */

export class SyncError extends Error {
  override name = 'SyncError'
}
/** a Negentropy message that does not parse (truncated, bad varint, bad mode, id prefix too long) */
export class NegentropyMalformedError extends SyncError {
  override name = 'NegentropyMalformedError'
}
/** a Negentropy protocol version byte this side cannot speak */
export class UnsupportedProtocolVersionError extends SyncError {
  override name = 'UnsupportedProtocolVersionError'
}
/** misuse of the storage or the reconciler (insert after seal, duplicate item, initiate twice) */
export class NegentropyStateError extends SyncError {
  override name = 'NegentropyStateError'
}
/** a frame larger than the negotiated maximum */
export class FrameTooLargeError extends SyncError {
  override name = 'FrameTooLargeError'
}
/** the reconciliation did not finish within the allowed number of rounds */
export class TooManyRoundsError extends SyncError {
  override name = 'TooManyRoundsError'
}
/** a fetch request asking for more records than allowed in one request */
export class TooManyIdsError extends SyncError {
  override name = 'TooManyIdsError'
}
/** a malformed /tally/fetch request or response */
export class MalformedFetchError extends SyncError {
  override name = 'MalformedFetchError'
}
/** the peer did not answer in time */
export class SyncTimeoutError extends SyncError {
  override name = 'SyncTimeoutError'
}
/** no connected peer to sync with */
export class NoSyncPeerError extends SyncError {
  override name = 'NoSyncPeerError'
}

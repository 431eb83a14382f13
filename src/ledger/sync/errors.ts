/** Typed errors of ledger sync: Negentropy reconciliation, /tally/sync and /tally/fetch. Each has a stable `name`. */
import { ErrorCode, TallyError } from '../../errors/index.js'


export class SyncError extends TallyError {
  override name = 'SyncError'
  override readonly code: ErrorCode = ErrorCode.syncFailed
}
/** a Negentropy message that does not parse (truncated, bad varint, bad mode, id prefix too long) */
export class NegentropyMalformedError extends SyncError {
  override name = 'NegentropyMalformedError'
  override readonly code: ErrorCode = ErrorCode.syncMalformed
}
/** a Negentropy protocol version byte this side cannot speak */
export class UnsupportedProtocolVersionError extends SyncError {
  override name = 'UnsupportedProtocolVersionError'
  override readonly code: ErrorCode = ErrorCode.syncUnsupportedVersion
}
/** misuse of the storage or the reconciler (insert after seal, duplicate item, initiate twice) */
export class NegentropyStateError extends SyncError {
  override name = 'NegentropyStateError'
  override readonly code: ErrorCode = ErrorCode.syncState
}
/** a frame larger than the negotiated maximum */
export class FrameTooLargeError extends SyncError {
  override name = 'FrameTooLargeError'
  override readonly code: ErrorCode = ErrorCode.syncFrameTooLarge
}
/** the reconciliation did not finish within the allowed number of rounds */
export class TooManyRoundsError extends SyncError {
  override name = 'TooManyRoundsError'
  override readonly code: ErrorCode = ErrorCode.syncTooManyRounds
}
/** a fetch request asking for more records than allowed in one request */
export class TooManyIdsError extends SyncError {
  override name = 'TooManyIdsError'
  override readonly code: ErrorCode = ErrorCode.syncTooManyIds
}
/** a malformed /tally/fetch request or response */
export class MalformedFetchError extends SyncError {
  override name = 'MalformedFetchError'
  override readonly code: ErrorCode = ErrorCode.syncMalformedFetch
}
/** the peer did not answer in time */
export class SyncTimeoutError extends SyncError {
  override name = 'SyncTimeoutError'
  override readonly code: ErrorCode = ErrorCode.syncTimeout
}
/** no connected peer to sync with */
export class NoSyncPeerError extends SyncError {
  override name = 'NoSyncPeerError'
  override readonly code: ErrorCode = ErrorCode.syncNoPeer
}

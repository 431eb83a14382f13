/** HTTP errors in the OpenAI error shape, and the mapping from error codes to HTTP answers (docs/errors.md). */
import { ErrorCode, TallyError } from '../errors/index.js'

export class HttpApiError extends Error {
  override name = 'HttpApiError'
  /** when to try again (ms), sent as a Retry-After header; 0 = not said */
  retryAfterMs = 0

  constructor (readonly status: number, readonly type: string, message: string, readonly param: string | null = null, readonly code: string | null = null) {
    super(message)
  }

  toJSON (): { error: { message: string, type: string, param: string | null, code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

export function badRequest (message: string, param: string | null = null): HttpApiError {
  return new HttpApiError(400, 'invalid_request_error', message, param, 'invalid_request')
}

/** [HTTP status, OpenAI error type, OpenAI error code] */
export type HttpMapping = readonly [status: number, type: string, code: string]

const BAD_INPUT = 'invalid_request_error'
const UNAVAILABLE = 'service_unavailable'
const UPSTREAM = 'upstream_error'

/**
 * The HTTP answer for each error code. A code not listed is a fault of this node (its identity
 * file, its configuration, a bug) and answers 500. Failures of sellers and peers only reach the
 * gateway wrapped by the router (no-seller, route-timeout, mid-stream); they are listed so that
 * one that escapes still answers as what it is.
 */
export const HTTP_BY_CODE: Readonly<Partial<Record<ErrorCode, HttpMapping>>> = {
  // the caller's request
  [ErrorCode.invalidArgument]: [400, BAD_INPUT, 'invalid_argument'],
  [ErrorCode.invalidAccount]: [400, BAD_INPUT, 'invalid_account'],
  [ErrorCode.invalidRequest]: [400, BAD_INPUT, 'invalid_request'],
  [ErrorCode.invalidUsage]: [400, BAD_INPUT, 'invalid_usage'],
  [ErrorCode.invalidRecord]: [400, BAD_INPUT, 'invalid_record'],
  [ErrorCode.invalidTerms]: [400, BAD_INPUT, 'invalid_terms'],
  [ErrorCode.unknownModel]: [404, BAD_INPUT, 'model_not_found'],
  [ErrorCode.insufficientCredit]: [402, 'insufficient_quota', 'insufficient_credit'],
  [ErrorCode.buyerNotTrusted]: [402, 'insufficient_quota', 'buyer_not_trusted'],
  [ErrorCode.reservationsLapsed]: [429, 'rate_limit_exceeded', 'reservations_lapsed'],
  [ErrorCode.quoteTermsUnmet]: [503, UNAVAILABLE, 'seller_refused'],
  [ErrorCode.bidQuoteInvalid]: [503, UNAVAILABLE, 'seller_refused'],
  [ErrorCode.bidQuoteExpired]: [503, UNAVAILABLE, 'seller_refused'],
  [ErrorCode.bidVolumeExhausted]: [503, UNAVAILABLE, 'seller_refused'],
  [ErrorCode.aborted]: [499, BAD_INPUT, 'request_aborted'],
  [ErrorCode.capabilityUnavailable]: [400, BAD_INPUT, 'capability_unavailable'],
  [ErrorCode.idempotencyKeyReused]: [422, BAD_INPUT, 'idempotency_key_reused'],
  // the market has no one to serve it now
  [ErrorCode.noSeller]: [503, UNAVAILABLE, 'no_seller'],
  [ErrorCode.sellerBusy]: [503, UNAVAILABLE, 'seller_busy'],
  [ErrorCode.sessionBusy]: [503, UNAVAILABLE, 'seller_busy'],
  [ErrorCode.backendBusy]: [503, UNAVAILABLE, 'seller_busy'],
  [ErrorCode.priceChanged]: [503, UNAVAILABLE, 'price_changed'],
  [ErrorCode.negotiationRefused]: [503, UNAVAILABLE, 'seller_refused'],
  [ErrorCode.tooManyNegotiations]: [503, UNAVAILABLE, 'seller_busy'],
  [ErrorCode.sellerShuttingDown]: [503, UNAVAILABLE, 'seller_shutting_down'],
  [ErrorCode.engineStartFailed]: [503, UNAVAILABLE, 'engine_unavailable'],
  [ErrorCode.ledgerUnavailable]: [503, UNAVAILABLE, 'ledger_unavailable'],
  [ErrorCode.syncNoPeer]: [503, UNAVAILABLE, 'no_peer'],
  // too slow
  [ErrorCode.routeTimeout]: [504, 'timeout', 'timeout'],
  [ErrorCode.firstTokenTimeout]: [504, 'timeout', 'timeout'],
  [ErrorCode.streamIdleTimeout]: [504, 'timeout', 'timeout'],
  [ErrorCode.backendTimeout]: [504, 'timeout', 'timeout'],
  [ErrorCode.syncTimeout]: [504, 'timeout', 'timeout'],
  [ErrorCode.deadlineExceeded]: [504, 'timeout', 'timeout'],
  // a seller or peer misbehaved or failed
  [ErrorCode.midStream]: [502, UPSTREAM, 'mid_stream_failure'],
  [ErrorCode.inferFailed]: [502, UPSTREAM, 'seller_failed'],
  [ErrorCode.remoteFailure]: [502, UPSTREAM, 'seller_failed'],
  [ErrorCode.backendError]: [502, UPSTREAM, 'seller_failed'],
  [ErrorCode.engineCrashed]: [502, UPSTREAM, 'seller_failed'],
  [ErrorCode.sessionUnknown]: [502, UPSTREAM, 'session_failed'],
  [ErrorCode.sessionExpired]: [502, UPSTREAM, 'session_failed'],
  [ErrorCode.sessionClosed]: [502, UPSTREAM, 'session_failed'],
  [ErrorCode.budgetExhausted]: [502, UPSTREAM, 'session_failed'],
  [ErrorCode.voucherTimeout]: [502, UPSTREAM, 'session_failed'],
  [ErrorCode.wrongBuyer]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.wrongSeller]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.sellerOverclaim]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.protocolViolation]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.quoteExpired]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.contractMismatch]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.malformedMessage]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.messageTooLarge]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.invalidSignature]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.wrongDomain]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.fieldOutOfRange]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.expired]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.expiryTooFar]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.invalidPrice]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.invalidStringField]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.invalidVoucher]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.voucherWrongSession]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.voucherStale]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.voucherRegression]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.voucherAmount]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.voucherOverspend]: [502, UPSTREAM, 'protocol_error'],
  [ErrorCode.syncFailed]: [502, UPSTREAM, 'sync_failed'],
  [ErrorCode.syncMalformed]: [502, UPSTREAM, 'sync_failed'],
  [ErrorCode.syncUnsupportedVersion]: [502, UPSTREAM, 'sync_failed'],
  [ErrorCode.syncFrameTooLarge]: [502, UPSTREAM, 'sync_failed'],
  [ErrorCode.syncTooManyRounds]: [502, UPSTREAM, 'sync_failed'],
  [ErrorCode.syncTooManyIds]: [502, UPSTREAM, 'sync_failed'],
  [ErrorCode.syncMalformedFetch]: [502, UPSTREAM, 'sync_failed'],
  [ErrorCode.nodeApi]: [502, UPSTREAM, 'node_api_failed'],
  // batch jobs (src/node/batch, docs/batch.md)
  [ErrorCode.batchInvalid]: [400, BAD_INPUT, 'invalid_request'],
  [ErrorCode.batchNotFound]: [404, BAD_INPUT, 'not_found'],
  [ErrorCode.batchState]: [409, BAD_INPUT, 'invalid_state']
}

export function toHttpError (err: unknown): HttpApiError {
  if (err instanceof HttpApiError) return err
  const mapped = err instanceof TallyError ? HTTP_BY_CODE[err.code] : undefined
  // an error that names the request field it is about (e.g. CapabilityUnavailableError) says so as `param`
  const param = (err as { param?: unknown }).param
  if (mapped != null) {
    const e = new HttpApiError(mapped[0], mapped[1], (err as Error).message, typeof param === 'string' ? param : null, mapped[2])
    // a refusal that says when the seller quotes again (reservations-lapsed) tells the client
    const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs
    if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs > 0) e.retryAfterMs = retryAfterMs
    return e
  }
  const e = err as { message?: string } | undefined
  return new HttpApiError(500, 'server_error', `internal error: ${e?.message ?? String(err)}`, null, 'internal_error')
}

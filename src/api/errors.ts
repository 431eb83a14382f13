/** HTTP errors in the OpenAI error shape, and the mapping from router errors to status codes. */

export class HttpApiError extends Error {
  override name = 'HttpApiError'
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

/** router/ledger errors by name → HTTP status and OpenAI error type */
const BY_NAME: Record<string, [number, string, string]> = {
  UnknownModelError: [404, 'invalid_request_error', 'model_not_found'],
  NoSellerError: [503, 'service_unavailable', 'no_seller'],
  InsufficientCreditError: [402, 'insufficient_quota', 'insufficient_credit'],
  InsufficientFundsError: [402, 'insufficient_quota', 'insufficient_credit'],
  RouteTimeoutError: [504, 'timeout', 'timeout'],
  MidStreamError: [502, 'upstream_error', 'mid_stream_failure'],
  InvalidAccountIdError: [400, 'invalid_request_error', 'invalid_account'],
  LedgerArgumentError: [400, 'invalid_request_error', 'invalid_argument']
}

export function toHttpError (err: unknown): HttpApiError {
  if (err instanceof HttpApiError) return err
  const e = err as { name?: string, message?: string }
  const mapped = e?.name != null ? BY_NAME[e.name] : undefined
  if (mapped != null) return new HttpApiError(mapped[0], mapped[1], e.message ?? e.name ?? 'error', null, mapped[2])
  return new HttpApiError(500, 'server_error', `internal error: ${e?.message ?? String(err)}`, null, 'internal_error')
}

/**
 * Idempotent purchases at the gateway: a retried non-streaming request is answered from the stored
 * result of the first instead of being bought again. The key is the client's `Idempotency-Key`
 * header or, for the official OpenAI SDKs (which send no key but number their retries in
 * `X-Stainless-Retry-Count`), the request itself: a retry (count ≥ 1) of a body this gateway
 * answered or is answering is the same purchase, while a first try (count 0) always buys.
 */
import { createHash } from 'node:crypto'
import { badRequest } from './errors.js'
import { ErrorCode, TallyError } from '../errors/index.js'

/** answers kept for a retry: enough for a client's retries with backoff, small enough to bound memory */
export const DEFAULT_IDEMPOTENCY_MAX_ENTRIES = 1_000
/** an answer is kept this long (OpenAI SDK retries are seconds apart; agents' own retries minutes) */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 10 * 60_000
/** and at most this many bytes of answers (JSON) in all: long completions must not exhaust memory */
export const DEFAULT_IDEMPOTENCY_MAX_BYTES = 64 * 1024 * 1024
/** an Idempotency-Key is at most this long (Stripe's bound) */
export const MAX_IDEMPOTENCY_KEY_CHARS = 255

/** the same Idempotency-Key came with a different request: the first one's answer does not fit it */
export class IdempotencyKeyReusedError extends TallyError {
  override name = 'IdempotencyKeyReusedError'
  override readonly code: ErrorCode = ErrorCode.idempotencyKeyReused
}

export interface StoredAnswer {
  status: number
  body: unknown
}

export interface IdempotencyInit {
  maxEntries?: number
  maxBytes?: number
  ttlMs?: number
  /** the clock, for tests (Date.now by default) */
  now?: () => number
}

interface Entry {
  fingerprint: string
  answer: Promise<StoredAnswer>
  /** set once answered; in-flight entries are never evicted */
  expiresAtMs?: number
  /** the answer's JSON size, once answered */
  bytes: number
}

export type IdempotencyKeyOf =
  /** no idempotency: buy */
  | { kind: 'none' }
  /** key given, or the SDK's retry: answer from the store when there */
  | { kind: 'key', key: string }
  /** the SDK's first try: buy, and keep the answer for its retries */
  | { kind: 'first', key: string }

type Headers = Record<string, string | string[] | undefined>

function header (headers: Headers, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** the request's identity for the store: route and body */
export function requestFingerprint (route: string, body: unknown): string {
  return createHash('sha256').update(route).update('\0').update(JSON.stringify(body) ?? '').digest('hex')
}

/**
 * Which key, if any, a request is stored under. `Idempotency-Key` wins; it must be 1..255
 * printable ASCII chars (else a 400 naming it). A streamed answer cannot be replayed, so a
 * stream with an Idempotency-Key is refused (400) rather than the key ignored.
 */
export function idempotencyKeyOf (headers: Headers, route: string, fingerprint: string, stream: boolean): IdempotencyKeyOf {
  const given = header(headers, 'idempotency-key')
  if (given !== undefined) {
    if (!/^[\x21-\x7e]{1,255}$/.test(given)) throw badRequest(`Idempotency-Key must be 1..${MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters`, 'Idempotency-Key')
    if (stream) throw badRequest('Idempotency-Key is only supported on non-streaming requests (a stream cannot be replayed)', 'Idempotency-Key')
    return { kind: 'key', key: `key:${route}:${given}` }
  }
  const retry = header(headers, 'x-stainless-retry-count')
  if (retry === undefined || stream || !/^[0-9]{1,4}$/.test(retry)) return { kind: 'none' }
  const key = `sdk:${fingerprint}`
  return Number(retry) === 0 ? { kind: 'first', key } : { kind: 'key', key }
}

/** A bounded store of answers (count and TTL), with in-flight requests shared by their duplicates. */
export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>()
  private readonly maxEntries: number
  private readonly maxBytes: number
  private bytes = 0
  private readonly ttlMs: number
  private readonly now: () => number

  constructor (init: IdempotencyInit = {}) {
    this.maxEntries = init.maxEntries ?? DEFAULT_IDEMPOTENCY_MAX_ENTRIES
    this.maxBytes = init.maxBytes ?? DEFAULT_IDEMPOTENCY_MAX_BYTES
    this.ttlMs = init.ttlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS
    this.now = init.now ?? Date.now
  }

  get size (): number {
    return this.entries.size
  }

  /**
   * Answer under `key`: the stored answer when there is one (replayed: true), the in-flight one's
   * when a duplicate is running, else `produce()`'s (kept when it succeeds; a failure is not kept,
   * so a retry buys again: a failed purchase delivered nothing). With `fresh`, nothing is looked
   * up: the SDK's first try of a body identical to another's, stored or still running, is a new
   * purchase (two agents may well send the same prompt at once), and its answer replaces the entry.
   */
  async run (key: string, fingerprint: string, produce: () => Promise<StoredAnswer>, opts: { fresh?: boolean } = {}): Promise<StoredAnswer & { replayed: boolean }> {
    this.sweep()
    const existing = this.entries.get(key)
    if (existing != null && opts.fresh !== true) {
      if (existing.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError('this Idempotency-Key was used with a different request; use a new key for a new request')
      return { ...await existing.answer, replayed: true }
    }
    const entry: Entry = { fingerprint, answer: produce(), bytes: 0 }
    this.remove(key)
    this.entries.set(key, entry)
    try {
      const answer = await entry.answer
      if (this.entries.get(key) === entry) {
        entry.expiresAtMs = this.now() + this.ttlMs
        entry.bytes = JSON.stringify(answer.body, (_k, v) => typeof v === 'bigint' ? v.toString() : v)?.length ?? 0
        this.bytes += entry.bytes
        this.evict()
      }
      return { ...answer, replayed: false }
    } catch (err) {
      if (this.entries.get(key) === entry) this.remove(key)
      throw err
    }
  }

  private remove (key: string): void {
    const e = this.entries.get(key)
    if (e == null) return
    this.bytes -= e.bytes
    this.entries.delete(key)
  }

  private sweep (): void {
    const now = this.now()
    for (const [k, e] of this.entries) if (e.expiresAtMs !== undefined && e.expiresAtMs <= now) this.remove(k)
  }

  /** the oldest answered entries go first; in-flight ones stay (they are bounded by the gateway's connections) */
  private evict (): void {
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) return
      if (e.expiresAtMs !== undefined) this.remove(k)
    }
  }
}

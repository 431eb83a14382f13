/**
 * OpenAI's batch formats as Tally reads and writes them (docs/batch.md): the JSONL input file,
 * split and checked line by line (a bad line is reported on its own, the rest runs), the batch
 * object with its status transitions and request_counts, and the output and error lines. Pure:
 * ids and times are passed in.
 */
import { ErrorCode, TallyError } from '../../errors/index.js'

/** an input file larger than this is refused at upload (OpenAI allows 200 MB; a node buffers it) */
export const MAX_BATCH_FILE_BYTES = 32 * 1024 * 1024
/** lines of one input file (OpenAI's limit too) */
export const MAX_BATCH_LINES = 50_000
/** one input line; a chat body is refused above 1 MiB by the gateway as well */
export const MAX_LINE_BYTES = 1024 * 1024
/** custom_id: OpenAI does not bound it; Tally keeps it to a readable size */
export const MAX_CUSTOM_ID_CHARS = 512
/** files and batches one node keeps (oldest past this are refused, not evicted: say so at upload) */
export const MAX_STORED_FILES = 1_000
export const MAX_STORED_BATCHES = 1_000
/** the errors listed in the batch object itself (all of them are in the error file) */
export const MAX_LISTED_ERRORS = 100
/** metadata: OpenAI's bounds */
export const MAX_METADATA_KEYS = 16
export const MAX_METADATA_KEY_CHARS = 64
export const MAX_METADATA_VALUE_CHARS = 512
/** the completion window: at least this ... */
export const MIN_WINDOW_MS = 5_000
/** ... and at most this (OpenAI accepts only 24h; Tally takes any window up to a week) */
export const MAX_WINDOW_MS = 7 * 24 * 3600_000

/** the only endpoint a Tally batch runs (embeddings may follow) */
export const BATCH_ENDPOINT = '/v1/chat/completions'

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled'

/** statuses a batch never leaves */
export const TERMINAL: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled'])

/** the moves OpenAI's batches make, and only those */
const NEXT: Readonly<Record<BatchStatus, readonly BatchStatus[]>> = {
  validating: ['in_progress', 'failed', 'cancelling'],
  in_progress: ['finalizing', 'expired', 'cancelling'],
  finalizing: ['completed', 'expired'],
  cancelling: ['cancelled'],
  failed: [],
  completed: [],
  expired: [],
  cancelled: []
}

export class BatchError extends TallyError {
  override name = 'BatchError'
  override readonly code: ErrorCode = ErrorCode.batchInvalid
  constructor (message: string, readonly param: string | null = null) { super(message) }
}
export class BatchNotFoundError extends TallyError {
  override name = 'BatchNotFoundError'
  override readonly code: ErrorCode = ErrorCode.batchNotFound
}
/** a move the batch's status does not allow (cancel a completed batch) */
export class BatchStateError extends TallyError {
  override name = 'BatchStateError'
  override readonly code: ErrorCode = ErrorCode.batchState
}

export function canMove (from: BatchStatus, to: BatchStatus): boolean {
  return NEXT[from].includes(to)
}

/** one input line that parsed: its place in the file (1-based), its id and its chat body */
export interface InputLine {
  line: number
  customId: string
  body: Record<string, unknown>
}

/** one input line that did not: reported in the error file under its line number */
export interface BadLine {
  line: number
  customId: string | null
  code: string
  message: string
  param: string | null
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Split an input file into its lines and check each one's envelope ({custom_id, method: "POST",
 * url: the batch's endpoint, body: object}; no other fields). Blank lines are skipped; a
 * custom_id seen before makes the later line bad. The body itself is checked by the caller's
 * parser (the chat route's own).
 */
export function splitInput (text: string, endpoint: string = BATCH_ENDPOINT): { lines: InputLine[], bad: BadLine[] } {
  const lines: InputLine[] = []
  const bad: BadLine[] = []
  const seen = new Set<string>()
  const raw = text.split('\n')
  if (raw.length > MAX_BATCH_LINES + 1) throw new BatchError(`the input file has more than ${MAX_BATCH_LINES} lines`, 'input_file_id')
  raw.forEach((s, i) => {
    const line = i + 1
    if (s.trim() === '') return
    const fail = (code: string, message: string, param: string | null = null, customId: string | null = null): void => { bad.push({ line, customId, code, message, param }) }
    if (Buffer.byteLength(s) > MAX_LINE_BYTES) { fail('line_too_large', `line ${line} exceeds ${MAX_LINE_BYTES} bytes`); return }
    let v: unknown
    try { v = JSON.parse(s) } catch (err) { fail('invalid_json_line', `line ${line} is not valid JSON: ${(err as Error).message.slice(0, 200)}`); return }
    if (!isObject(v)) { fail('invalid_json_line', `line ${line} must be a JSON object`); return }
    const customId = typeof v.custom_id === 'string' && v.custom_id.length > 0 && v.custom_id.length <= MAX_CUSTOM_ID_CHARS ? v.custom_id : null
    if (customId == null) { fail('missing_custom_id', `line ${line}: custom_id must be a string of 1..${MAX_CUSTOM_ID_CHARS} chars`, 'custom_id'); return }
    for (const k of Object.keys(v)) {
      if (k !== 'custom_id' && k !== 'method' && k !== 'url' && k !== 'body') { fail('invalid_request', `line ${line}: unrecognized field ${k.slice(0, 64)}`, k.slice(0, 64), customId); return }
    }
    if (v.method !== 'POST') { fail('invalid_method', `line ${line}: method must be "POST", got ${JSON.stringify(v.method)?.slice(0, 64)}`, 'method', customId); return }
    if (v.url !== endpoint) { fail('invalid_url', `line ${line}: url must be the batch's endpoint ${JSON.stringify(endpoint)}, got ${JSON.stringify(v.url)?.slice(0, 128)}`, 'url', customId); return }
    if (!isObject(v.body)) { fail('invalid_request', `line ${line}: body must be a JSON object`, 'body', customId); return }
    if (seen.has(customId)) { fail('duplicate_custom_id', `line ${line}: custom_id ${JSON.stringify(customId.slice(0, 64))} appears on an earlier line`, 'custom_id', customId); return }
    seen.add(customId)
    lines.push({ line, customId, body: v.body })
  })
  return { lines, bad }
}

/** "24h", "2h", "90m", "3600s", "7d" → ms, within MIN_WINDOW_MS..MAX_WINDOW_MS */
export function parseWindow (v: unknown, param = 'completion_window'): number {
  const m = typeof v === 'string' ? /^([1-9][0-9]{0,6})(s|m|h|d)$/.exec(v) : null
  if (m == null) throw new BatchError(`${param} must be like "24h", "2h" or "90m", got ${JSON.stringify(v)?.slice(0, 64)}`, param)
  const ms = Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's']
  if (ms < MIN_WINDOW_MS || ms > MAX_WINDOW_MS) throw new BatchError(`${param} must be between ${MIN_WINDOW_MS / 1000}s and ${MAX_WINDOW_MS / 86400e3}d, got ${v as string}`, param)
  return ms
}

/** metadata: up to 16 string pairs, as OpenAI bounds them */
export function parseMetadata (v: unknown): Record<string, string> | null {
  if (v === undefined || v === null) return null
  if (!isObject(v)) throw new BatchError('metadata must be an object of strings', 'metadata')
  const keys = Object.keys(v)
  if (keys.length > MAX_METADATA_KEYS) throw new BatchError(`metadata has more than ${MAX_METADATA_KEYS} keys`, 'metadata')
  for (const k of keys) {
    if (k.length > MAX_METADATA_KEY_CHARS) throw new BatchError(`metadata keys must be at most ${MAX_METADATA_KEY_CHARS} chars`, 'metadata')
    const x = v[k]
    if (typeof x !== 'string' || x.length > MAX_METADATA_VALUE_CHARS) throw new BatchError(`metadata.${k.slice(0, 64)} must be a string of at most ${MAX_METADATA_VALUE_CHARS} chars`, 'metadata')
  }
  return v as Record<string, string>
}

/** what the job may spend: prices it accepts (µc per 1M tokens) and a total (µc) */
export interface BatchLimits {
  maxPriceOutPerMTokUc?: bigint
  maxPriceInPerMTokUc?: bigint
  budgetUc?: bigint
  /** lines in flight at one seller at once */
  concurrencyPerSeller: number
}

/** lines one seller runs at once unless the job says otherwise */
export const DEFAULT_CONCURRENCY_PER_SELLER = 2
export const MAX_CONCURRENCY_PER_SELLER = 64

function amount (v: unknown, param: string): bigint | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return BigInt(v)
  if (typeof v === 'string' && /^[1-9][0-9]{0,18}$/.test(v)) return BigInt(v)
  throw new BatchError(`${param} must be a positive integer (µc)`, param)
}

/** the `tally` field of a batch create: {max_price, max_price_in, budget_uc, concurrency_per_seller} */
export function parseLimits (v: unknown): BatchLimits {
  if (v === undefined || v === null) return { concurrencyPerSeller: DEFAULT_CONCURRENCY_PER_SELLER }
  if (!isObject(v)) throw new BatchError('tally must be an object', 'tally')
  for (const k of Object.keys(v)) {
    if (!['max_price', 'max_price_in', 'budget_uc', 'concurrency_per_seller'].includes(k)) throw new BatchError(`Unrecognized request argument supplied: tally.${k.slice(0, 64)}`, `tally.${k.slice(0, 64)}`)
  }
  const c = v.concurrency_per_seller
  if (c !== undefined && c !== null && (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > MAX_CONCURRENCY_PER_SELLER)) throw new BatchError(`tally.concurrency_per_seller must be an integer 1..${MAX_CONCURRENCY_PER_SELLER}`, 'tally.concurrency_per_seller')
  return {
    maxPriceOutPerMTokUc: amount(v.max_price, 'tally.max_price'),
    maxPriceInPerMTokUc: amount(v.max_price_in, 'tally.max_price_in'),
    budgetUc: amount(v.budget_uc, 'tally.budget_uc'),
    concurrencyPerSeller: typeof c === 'number' ? c : DEFAULT_CONCURRENCY_PER_SELLER
  }
}

/** a line's answer or failure, as OpenAI writes it in the output and error files */
export interface OutputLine {
  id: string
  custom_id: string | null
  response: { status_code: number, request_id: string, body: unknown } | null
  error: { code: string, message: string, line?: number } | null
}

export interface RequestCounts { total: number, completed: number, failed: number }

export interface BatchErrorEntry { code: string, message: string, param: string | null, line: number | null }

/** OpenAI's batch object, plus Tally's `tally` field (limits, what was spent) */
export interface BatchObject {
  id: string
  object: 'batch'
  endpoint: string
  errors: { object: 'list', data: BatchErrorEntry[] } | null
  input_file_id: string
  completion_window: string
  status: BatchStatus
  output_file_id: string | null
  error_file_id: string | null
  created_at: number
  in_progress_at: number | null
  expires_at: number
  finalizing_at: number | null
  completed_at: number | null
  failed_at: number | null
  expired_at: number | null
  cancelling_at: number | null
  cancelled_at: number | null
  request_counts: RequestCounts
  metadata: Record<string, string> | null
  tally: { max_price: string | null, max_price_in: string | null, budget_uc: string | null, concurrency_per_seller: number, spent_uc: string, bpt: string, sellers: Record<string, number> }
}

/** OpenAI's file object */
export interface FileObject {
  id: string
  object: 'file'
  bytes: number
  created_at: number
  expires_at: number | null
  filename: string
  purpose: string
  status: 'processed'
  status_details: null
}

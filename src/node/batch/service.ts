/**
 * Batch jobs of a node (docs/batch.md): input files and batches kept on disk (store.ts), each
 * batch moved through OpenAI's statuses and run by a BatchRunner; on start, every batch that was
 * not finished is resumed with the lines not yet written. The chat bodies of the lines are parsed
 * and their answers shaped by a `LineCodec` the API layer gives (the chat route's own).
 */
import { randomBytes } from 'node:crypto'
import { truncateSync } from 'node:fs'
import type { Logger } from '@libp2p/interface'
import type { RouteConstraints, RoutedResult } from '../../market/router-types.js'
import type { ChatRequest } from '../../exec/backend.js'
import { formatNanoBpt } from '../../exec/pricing.js'
import {
  BATCH_ENDPOINT, BatchError, BatchStateError, MAX_BATCH_FILE_BYTES, MAX_LISTED_ERRORS, MAX_STORED_BATCHES, MAX_STORED_FILES, TERMINAL,
  canMove, parseLimits, parseMetadata, parseWindow, splitInput,
  type BadLine, type BatchErrorEntry, type BatchObject, type BatchStatus, type FileObject, type OutputLine
} from './format.js'
import { BatchStore, DurableLog, limitsOf, readLog, type StoredBatch } from './store.js'
import { BatchRunner, type BatchBuyer, type LineFailure, type QuoteSource, type RunnableLine, type RunOutcome } from './runner.js'

/** the chat route's parser and answer shape, given by the API layer */
export interface LineCodec {
  /** a line's body → what to buy; throws a typed error naming the bad field */
  parse: (body: Record<string, unknown>) => { model: string, request: ChatRequest, constraints: RouteConstraints }
  /** the chat completion body of a bought line (with its `tally` field) */
  render: (id: string, createdS: number, r: RoutedResult) => unknown
  /** a failure as OpenAI's error body and the HTTP status the chat route would have answered */
  error: (err: unknown) => { status: number, body: unknown }
}

export interface BatchServiceInit {
  /** `<dataDir>/batch` */
  dir: string
  buyer: BatchBuyer
  quotes: QuoteSource
  codec: LineCodec
  now?: () => number
  log?: Logger
  /** tests: a runner's options (attempts, drop-after) */
  runner?: { maxAttemptsPerLine?: number, sellerFailuresToDrop?: number, noOfferWaitMs?: number }
}

/** the HTTP status a line's failure of the runner's own would have had */
const STATUS_OF: Readonly<Record<string, number>> = { batch_expired: 408, budget_exceeded: 402, no_seller: 503 }
/** when the node stops, lines in flight get this long to finish (and be written) before they are cut */
export const STOP_GRACE_MS = 5_000
/** the batch object is rewritten at most this often while lines finish (counts survive a kill: they are recounted from the files) */
const SAVE_EVERY_MS = 500

interface Live {
  stored: StoredBatch
  runner?: BatchRunner
  output: DurableLog
  errors: DurableLog
  nanoBpt: bigint
  done: Promise<void>
  lastSaveMs: number
}

const hex = (n: number): string => randomBytes(n).toString('hex')

/** Bpt as an exact decimal string → nano-Bpt */
function nanoOf (bpt: string): bigint {
  const [w, f = ''] = bpt.split('.')
  return BigInt(w) * 1_000_000_000n + BigInt((f + '000000000').slice(0, 9))
}

export class BatchService {
  readonly store: BatchStore
  private readonly live = new Map<string, Live>()
  private readonly now: () => number
  private stopped = false

  constructor (private readonly init: BatchServiceInit) {
    this.store = new BatchStore(init.dir)
    this.now = init.now ?? Date.now
  }

  /** resume every batch that was not finished when the node stopped (or was killed) */
  start (): void {
    for (const s of this.store.listBatches()) {
      if (!TERMINAL.has(s.batch.status)) this.launch(s)
    }
  }

  /** end every run: lines in flight get STOP_GRACE_MS to finish; those cut then are not written, so the next start buys them again */
  async stop (): Promise<void> {
    this.stopped = true
    for (const l of this.live.values()) l.runner?.end('stopped', STOP_GRACE_MS)
    await Promise.allSettled([...this.live.values()].map(async l => await l.done))
  }

  // ---- files ----

  createFile (filename: string, purpose: string, data: Buffer): FileObject {
    if (purpose !== 'batch') throw new BatchError(`purpose must be "batch" (the only files this node keeps), got ${JSON.stringify(purpose).slice(0, 64)}`, 'purpose')
    if (data.length === 0) throw new BatchError('the file is empty', 'file')
    if (data.length > MAX_BATCH_FILE_BYTES) throw new BatchError(`the file exceeds ${MAX_BATCH_FILE_BYTES} bytes`, 'file')
    if (this.store.fileCount() >= MAX_STORED_FILES) throw new BatchError(`this node keeps at most ${MAX_STORED_FILES} files`, 'file')
    const f: FileObject = { id: `file-${hex(12)}`, object: 'file', bytes: data.length, created_at: Math.floor(this.now() / 1000), expires_at: null, filename: filename.slice(0, 256), purpose, status: 'processed', status_details: null }
    this.store.putFile(f, data)
    return f
  }

  /** an input file, or a batch's output or error file (`<batch>-output`, `<batch>-errors`) */
  getFile (id: string): FileObject {
    const m = /^file-([0-9a-f]{24})-(output|errors)$/.exec(id)
    if (m == null) return this.store.getFile(id)
    const s = this.store.getBatch(`batch-${m[1]}`)
    const written = m[2] === 'output' ? s.batch.output_file_id : s.batch.error_file_id
    if (written !== id) throw new BatchStateError(`file ${id} is written when its batch finishes (batch status ${s.batch.status})`)
    const path = m[2] === 'output' ? this.store.outputPath(s.batch.id) : this.store.errorsPath(s.batch.id)
    return { id, object: 'file', bytes: this.store.sizeOf(path), created_at: s.batch.finalizing_at ?? s.batch.created_at, expires_at: null, filename: `${s.batch.id}_${m[2]}.jsonl`, purpose: 'batch_output', status: 'processed', status_details: null }
  }

  fileContent (id: string): Buffer {
    const m = /^file-([0-9a-f]{24})-(output|errors)$/.exec(id)
    if (m == null) return this.store.fileData(id)
    this.getFile(id)
    const b = `batch-${m[1]}`
    const path = m[2] === 'output' ? this.store.outputPath(b) : this.store.errorsPath(b)
    const lines = readLog(path)
    return Buffer.from(lines.map(l => JSON.stringify(l) + '\n').join(''))
  }

  // ---- batches ----

  createBatch (body: Record<string, unknown>): BatchObject {
    for (const k of Object.keys(body)) {
      if (!['input_file_id', 'endpoint', 'completion_window', 'metadata', 'output_expires_after', 'tally'].includes(k)) throw new BatchError(`Unrecognized request argument supplied: ${k.slice(0, 64)}`, k.slice(0, 64))
    }
    if (body.endpoint !== BATCH_ENDPOINT) throw new BatchError(`endpoint must be ${JSON.stringify(BATCH_ENDPOINT)} (the only one Tally batches), got ${JSON.stringify(body.endpoint)?.slice(0, 64)}`, 'endpoint')
    if (typeof body.input_file_id !== 'string') throw new BatchError('input_file_id must be a string', 'input_file_id')
    const file = this.store.getFile(body.input_file_id)
    if (file.purpose !== 'batch') throw new BatchError(`file ${file.id} has purpose ${file.purpose}, not batch`, 'input_file_id')
    const windowMs = parseWindow(body.completion_window)
    const metadata = parseMetadata(body.metadata)
    const limits = parseLimits(body.tally)
    if (this.store.batchCount() >= MAX_STORED_BATCHES) throw new BatchError(`this node keeps at most ${MAX_STORED_BATCHES} batches`, 'input_file_id')
    const nowMs = this.now()
    const created = Math.floor(nowMs / 1000)
    const batch: BatchObject = {
      id: `batch-${hex(12)}`,
      object: 'batch',
      endpoint: BATCH_ENDPOINT,
      errors: null,
      input_file_id: file.id,
      completion_window: body.completion_window as string,
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: created,
      in_progress_at: null,
      expires_at: Math.floor((nowMs + windowMs) / 1000),
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata,
      tally: {
        max_price: limits.maxPriceOutPerMTokUc?.toString() ?? null,
        max_price_in: limits.maxPriceInPerMTokUc?.toString() ?? null,
        budget_uc: limits.budgetUc?.toString() ?? null,
        concurrency_per_seller: limits.concurrencyPerSeller,
        spent_uc: '0',
        bpt: '0',
        sellers: {}
      }
    }
    const stored: StoredBatch = {
      batch,
      deadlineAtMs: nowMs + windowMs,
      limits: { maxPriceOutPerMTokUc: limits.maxPriceOutPerMTokUc?.toString(), maxPriceInPerMTokUc: limits.maxPriceInPerMTokUc?.toString(), budgetUc: limits.budgetUc?.toString(), concurrencyPerSeller: limits.concurrencyPerSeller }
    }
    this.store.putBatch(stored)
    this.launch(stored)
    return { ...batch }
  }

  getBatch (id: string): BatchObject {
    return this.live.get(id)?.stored.batch ?? this.store.getBatch(id).batch
  }

  listBatches (opts: { after?: string, limit?: number } = {}): { object: 'list', data: BatchObject[], first_id: string | null, last_id: string | null, has_more: boolean } {
    const limit = opts.limit ?? 20
    let all = this.store.listBatches().map(s => this.live.get(s.batch.id)?.stored.batch ?? s.batch)
    if (opts.after != null) {
      const i = all.findIndex(b => b.id === opts.after)
      all = i < 0 ? [] : all.slice(i + 1)
    }
    const data = all.slice(0, limit)
    return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: all.length > limit }
  }

  cancel (id: string): BatchObject {
    const live = this.live.get(id)
    const stored = live?.stored ?? this.store.getBatch(id)
    if (!canMove(stored.batch.status, 'cancelling')) throw new BatchStateError(`Cannot cancel a batch with status ${stored.batch.status}`)
    this.move(stored, 'cancelling')
    this.store.putBatch(stored)
    live?.runner?.end('cancelled')
    return { ...stored.batch }
  }

  /** resolves when every run this service started has ended (tests, shutdown) */
  async settled (id: string): Promise<void> {
    await this.live.get(id)?.done
  }

  // ---- the run of one batch ----

  private move (s: StoredBatch, to: BatchStatus): void {
    if (!canMove(s.batch.status, to)) throw new BatchStateError(`batch ${s.batch.id}: ${s.batch.status} → ${to} is not a move OpenAI's batches make`)
    s.batch.status = to
    const at = Math.floor(this.now() / 1000)
    const field = `${to}_at` as const
    if (field in s.batch) (s.batch as unknown as Record<string, number>)[field] = at
  }

  private launch (stored: StoredBatch): void {
    const id = stored.batch.id
    const live: Live = {
      stored,
      output: new DurableLog(this.store.outputPath(id)),
      errors: new DurableLog(this.store.errorsPath(id)),
      nanoBpt: 0n,
      done: Promise.resolve(),
      lastSaveMs: 0
    }
    this.live.set(id, live)
    live.done = new Promise<void>(resolve => { setImmediate(resolve) })
      .then(async () => { await this.runBatch(live) })
      .catch(err => {
        this.init.log?.error('batch %s failed: %s', id, (err as Error)?.message)
        this.finish(live, 'failed', [{ code: 'internal_error', message: String((err as Error)?.message ?? err).slice(0, 500), param: null, line: null }])
      })
      .finally(() => {
        live.output.close()
        live.errors.close()
        this.live.delete(id)
      })
  }

  private async runBatch (live: Live): Promise<void> {
    const s = live.stored
    const id = s.batch.id
    if (this.stopped) return
    const input = this.store.fileData(s.batch.input_file_id).toString('utf8')
    // validation starts over on a resume: its error lines are written again from the start
    if (s.batch.status === 'validating' && this.store.sizeOf(this.store.errorsPath(id)) > 0) truncateSync(this.store.errorsPath(id), 0)
    let split: ReturnType<typeof splitInput>
    try {
      split = splitInput(input)
    } catch (err) {
      this.finish(live, 'failed', [{ code: 'invalid_file', message: (err as Error).message, param: 'input_file_id', line: null }])
      return
    }
    const bad: BadLine[] = [...split.bad]
    const runnable: RunnableLine[] = []
    for (const l of split.lines) {
      try {
        runnable.push({ line: l.line, customId: l.customId, ...this.init.codec.parse(l.body) })
      } catch (err) {
        const e = err as { message?: string, param?: string | null }
        bad.push({ line: l.line, customId: l.customId, code: 'invalid_request', message: `line ${l.line}: ${e.message ?? String(err)}`, param: e.param ?? null })
      }
    }
    s.batch.request_counts.total = runnable.length + bad.length
    const listed: BatchErrorEntry[] = bad.slice(0, MAX_LISTED_ERRORS).map(b => ({ code: b.code, message: b.message, param: b.param, line: b.line }))
    if (s.batch.status === 'validating') {
      for (const b of bad) live.errors.append(this.errorLine(b.customId, { code: b.code, message: b.message, line: b.line }, 400, { error: { message: b.message, type: 'invalid_request_error', param: b.param, code: b.code } }))
      if (bad.length > 0) s.batch.errors = { object: 'list', data: listed }
      if (runnable.length === 0) {
        this.finish(live, 'failed', listed.length > 0 ? listed : [{ code: 'empty_file', message: 'the input file holds no request', param: 'input_file_id', line: null }])
        return
      }
      this.move(s, 'in_progress')
      this.store.putBatch(s)
    }
    // resume: what the files hold is done; lines written are never bought again
    const written = new Set<string>()
    let spent = 0n
    const sellers: Record<string, number> = {}
    const outputs = readLog(this.store.outputPath(id))
    for (const o of outputs) {
      if (o.custom_id != null) written.add(o.custom_id)
      const t = (o.response?.body as { tally?: { cost_uc?: number | string, bpt?: string, seller?: string, abandoned_cost_uc?: number } } | undefined)?.tally
      if (t != null) {
        spent += BigInt(t.cost_uc ?? 0) + BigInt(t.abandoned_cost_uc ?? 0)
        live.nanoBpt += nanoOf(t.bpt ?? '0')
        if (t.seller != null) sellers[t.seller] = (sellers[t.seller] ?? 0) + 1
      }
    }
    // a failed line by its line number: a bad line may carry the custom_id of a good one (a duplicate)
    const failedLines = readLog(this.store.errorsPath(id))
    const failedAt = new Set(failedLines.map(e => e.error?.line))
    s.batch.request_counts = { total: runnable.length + bad.length, completed: outputs.length, failed: failedLines.length }
    s.batch.tally.spent_uc = spent.toString()
    s.batch.tally.bpt = formatNanoBpt(live.nanoBpt)
    s.batch.tally.sellers = sellers
    const todo = runnable.filter(l => !written.has(l.customId) && !failedAt.has(l.line))
    if (s.batch.status === 'cancelling') { this.finish(live, 'cancelled'); return }
    if (s.batch.status === 'finalizing') { this.finish(live, 'completed'); return }

    const runner = new BatchRunner(this.init.buyer, this.init.quotes, {
      done: (l, r) => { this.recordDone(live, l, r) },
      failed: (l, f) => { this.recordFailed(live, l, f) }
    }, { limits: limitsOf(s), deadlineAtMs: s.deadlineAtMs, spentUc: spent, tag: `batch:${id}`, now: this.now, ...this.init.runner })
    live.runner = runner
    if (this.stopped) return
    // a cancel that came while the lines were parsed
    if ((s.batch.status as BatchStatus) === 'cancelling') runner.end('cancelled')
    const outcome: RunOutcome = await runner.run(todo)
    if (outcome === 'stopped') { this.store.putBatch(s); return }
    if (outcome === 'cancelled') { this.finish(live, 'cancelled'); return }
    if (outcome === 'expired') { this.finish(live, 'expired'); return }
    this.move(s, 'finalizing')
    this.store.putBatch(s)
    this.finish(live, 'completed')
  }

  private errorLine (customId: string | null, error: OutputLine['error'], status: number, body: unknown): OutputLine {
    return { id: `batch_req_${hex(12)}`, custom_id: customId, response: { status_code: status, request_id: `req_${hex(12)}`, body }, error }
  }

  private recordDone (live: Live, l: RunnableLine, r: RoutedResult): void {
    const body = this.init.codec.render(`chatcmpl-${hex(12)}`, Math.floor(this.now() / 1000), r)
    live.output.append({ id: `batch_req_${hex(12)}`, custom_id: l.customId, response: { status_code: 200, request_id: `req_${hex(12)}`, body }, error: null } satisfies OutputLine)
    const t = live.stored.batch
    t.request_counts.completed++
    t.tally.spent_uc = (BigInt(t.tally.spent_uc) + r.costUc + (r.abandonedCostUc ?? 0n)).toString()
    live.nanoBpt += nanoOf(r.bpt)
    t.tally.bpt = formatNanoBpt(live.nanoBpt)
    t.tally.sellers[r.seller] = (t.tally.sellers[r.seller] ?? 0) + 1
    this.maybeSave(live)
  }

  private recordFailed (live: Live, l: RunnableLine, f: LineFailure): void {
    const e = f.cause != null ? this.init.codec.error(f.cause) : { status: STATUS_OF[f.code] ?? 500, body: { error: { message: f.message, type: f.code === 'no_seller' ? 'service_unavailable' : 'invalid_request_error', param: null, code: f.code } } }
    live.errors.append(this.errorLine(l.customId, { code: f.code, message: f.message, line: l.line }, e.status, e.body))
    live.stored.batch.request_counts.failed++
    this.maybeSave(live)
  }

  private maybeSave (live: Live): void {
    const now = this.now()
    if (now - live.lastSaveMs < SAVE_EVERY_MS) return
    live.lastSaveMs = now
    this.store.putBatch(live.stored)
  }

  /** the end of a batch: its files named, its last status and time */
  private finish (live: Live, to: 'completed' | 'failed' | 'expired' | 'cancelled', errors?: BatchErrorEntry[]): void {
    const s = live.stored
    const id = s.batch.id.slice('batch-'.length)
    if (errors != null) s.batch.errors = { object: 'list', data: errors }
    if (to !== 'failed' || this.store.sizeOf(this.store.outputPath(s.batch.id)) > 0) s.batch.output_file_id = `file-${id}-output`
    if (this.store.sizeOf(this.store.errorsPath(s.batch.id)) > 0) s.batch.error_file_id = `file-${id}-errors`
    // failed: OpenAI's batches fail in validation; a fault of this node (its disk) fails one at any point
    if (to === 'failed') {
      s.batch.status = 'failed'
      s.batch.failed_at = Math.floor(this.now() / 1000)
    } else {
      this.move(s, to)
    }
    this.store.putBatch(s)
  }
}

/**
 * The batch job runner: spreads a job's lines over the sellers quoting its model (today the
 * posted prices of the order book; an auction's quotes plug in at `QuoteSource`), with bounded
 * concurrency per seller, moves a failed line to another seller, stops at the job's budget and
 * honours its deadline. A line's result is handed to the sink (which writes it durably) before
 * the line counts as done; a line still in flight when the runner is stopped is not written, so a
 * resumed job buys it again (docs/batch.md § Resume).
 */
import type { ChatRequest } from '../../exec/backend.js'
import type { RouteConstraints, RoutedResult } from '../../market/router-types.js'
import { ErrorCode, errorCode } from '../../errors/index.js'
import type { BatchLimits } from './format.js'

/** a price a seller will serve a job's lines at: today its posted offer, later an auction's quote */
export interface Quote {
  seller: string
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
}

/** the seam where an auction's quotes plug in (issue 20 § 1): who serves `model` and at what price */
export interface QuoteSource {
  quotes: (model: string, constraints: RouteConstraints) => Quote[]
}

/** what the runner buys with: the node's router, through its public API */
export interface BatchBuyer {
  infer: (model: string, request: ChatRequest, constraints: RouteConstraints, opts: { signal: AbortSignal }) => Promise<RoutedResult>
}

/** a line ready to buy: parsed by the chat route's own parser */
export interface RunnableLine {
  line: number
  customId: string
  model: string
  request: ChatRequest
  constraints: RouteConstraints
}

/** the failure of one line: an OpenAI-style code, and the HTTP status its error would have had */
export interface LineFailure {
  code: string
  message: string
  /** the last seller's error, when a purchase failed */
  cause?: unknown
}

/** where results go: each call returns once the line is on disk */
export interface LineSink {
  done: (line: RunnableLine, result: RoutedResult) => void
  failed: (line: RunnableLine, f: LineFailure) => void
}

export interface RunnerInit {
  limits: BatchLimits
  /** unix ms: lines not done by then fail with batch_expired */
  deadlineAtMs: number
  /** µc already spent by this job (a resumed one) */
  spentUc?: bigint
  /** the cost-report tag of every purchase */
  tag: string
  /** sellers a line is tried at before it fails */
  maxAttemptsPerLine?: number
  /** failures in a row after which a seller gets no more of this job's lines */
  sellerFailuresToDrop?: number
  /** how long lines wait for a first offer of their model (a restarted node's book fills by gossip) */
  noOfferWaitMs?: number
  now?: () => number
}

/** how the run ended */
export type RunOutcome = 'completed' | 'expired' | 'cancelled' | 'stopped'

/** a line is tried at this many sellers before it fails */
export const DEFAULT_MAX_ATTEMPTS_PER_LINE = 3
/** a seller that failed this many lines in a row gets no more of the job */
export const DEFAULT_SELLER_FAILURES_TO_DROP = 3
/** a line whose model has no offer waits this long for one (gossip after a restart) before it fails */
export const DEFAULT_NO_OFFER_WAIT_MS = 60_000
/** how often a line with no offer looks at the book again */
const NO_OFFER_POLL_MS = 250
/** output tokens assumed for a line without max_tokens, for the budget's reservation */
const DEFAULT_OUTPUT_ESTIMATE = 512

/** what a line may cost at a quote: prompt characters bound its tokens (byte-level tokenizers) */
export function lineEstimateUc (request: ChatRequest, q: Quote): bigint {
  let chars = request.prompt?.length ?? 0
  for (const m of request.messages) chars += m.content.length + 16
  const inTok = BigInt(chars + 64)
  const outTok = BigInt(request.maxTokens ?? DEFAULT_OUTPUT_ESTIMATE)
  return (inTok * q.priceInPerMTokUc + outTok * q.priceOutPerMTokUc + 999_999n) / 1_000_000n
}

/** a seller that answered busy gets no line for this long (its line waits, or goes to another seller) */
const BUSY_BACKOFF_MS = 250
/** the seller is full right now: not a failure, the line is tried again */
const BUSY_CODES = new Set<string>([ErrorCode.sellerBusy, ErrorCode.sessionBusy, ErrorCode.backendBusy, ErrorCode.tooManyNegotiations])

/** errors that are the line's own fault: another seller would fail it the same way */
const LINE_FAULTS = new Set<string>([ErrorCode.invalidRequest, ErrorCode.invalidArgument, ErrorCode.capabilityUnavailable, ErrorCode.unknownModel, ErrorCode.insufficientCredit])

interface Pending extends RunnableLine {
  tried: Set<string>
  lastError?: unknown
  firstNoOfferAtMs?: number
}

interface SellerState { busy: number, failuresInRow: number, dropped: boolean, busyUntilMs: number }

/** the OpenAI error code a seller's failure is reported as in the error file */
export function failureCodeOf (err: unknown): string {
  const c = errorCode(err)
  return c.replace(/-/g, '_')
}

export class BatchRunner {
  private readonly sellers = new Map<string, SellerState>()
  private reservedUc = 0n
  private spentUc: bigint
  private readonly maxAttempts: number
  private readonly dropAfter: number
  private readonly noOfferWaitMs: number
  private readonly now: () => number
  private readonly inflight = new Set<Promise<void>>()
  /** why the run is being ended early, once it is */
  private ending?: 'expired' | 'cancelled' | 'stopped'
  private readonly controller = new AbortController()
  private wake?: () => void

  constructor (private readonly buyer: BatchBuyer, private readonly quotes: QuoteSource, private readonly sink: LineSink, private readonly init: RunnerInit) {
    this.spentUc = init.spentUc ?? 0n
    this.maxAttempts = init.maxAttemptsPerLine ?? DEFAULT_MAX_ATTEMPTS_PER_LINE
    this.dropAfter = init.sellerFailuresToDrop ?? DEFAULT_SELLER_FAILURES_TO_DROP
    this.noOfferWaitMs = init.noOfferWaitMs ?? DEFAULT_NO_OFFER_WAIT_MS
    this.now = init.now ?? Date.now
  }

  /** µc this job has spent: what the sellers were paid for its lines (resumed part included) */
  get spent (): bigint { return this.spentUc }

  /**
   * End the run: `cancelled` and `stopped` leave lines not done unwritten, `expired` fails them.
   * `stopped` (the node shuts down) starts no line and gives those in flight `graceMs` to finish
   * and be written before they are aborted: a line aborted there is bought again on resume.
   */
  end (why: 'expired' | 'cancelled' | 'stopped', graceMs = 0): void {
    if (this.ending != null) return
    this.ending = why
    this.wake?.()
    if (graceMs <= 0) { this.controller.abort(new Error(`batch ${why}`)); return }
    const t = setTimeout(() => { this.controller.abort(new Error(`batch ${why}`)) }, graceMs)
    t.unref?.()
  }

  async run (lines: RunnableLine[]): Promise<RunOutcome> {
    const queue: Pending[] = lines.map(l => ({ ...l, tried: new Set() }))
    const untilDeadline = Math.max(0, this.init.deadlineAtMs - this.now())
    const timer = setTimeout(() => { this.end('expired') }, untilDeadline)
    try {
      while ((queue.length > 0 || this.inflight.size > 0) && this.ending == null) {
        // a line in flight may fail and come back to the queue: wait for it
        if (queue.length === 0) { await this.pause(); continue }
        const next = queue[0]
        const pick = this.choose(next)
        if (pick.kind === 'fail') {
          queue.shift()
          this.sink.failed(next, pick.failure)
          continue
        }
        if (pick.kind === 'wait') {
          await this.pause(pick.ms)
          continue
        }
        const estimate = lineEstimateUc(next.request, pick.quote)
        if (this.init.limits.budgetUc != null && this.spentUc + this.reservedUc + estimate > this.init.limits.budgetUc) {
          if (this.inflight.size > 0) { await this.pause(); continue }
          // nothing in flight: what is left cannot fit, the job stops at its budget
          for (const l of queue.splice(0)) this.sink.failed(l, { code: 'budget_exceeded', message: `the batch's budget of ${this.init.limits.budgetUc} µc is spent (${this.spentUc} µc); this line's estimate is ${estimate} µc` })
          break
        }
        queue.shift()
        this.start(next, pick.quote, estimate, queue)
      }
      while (this.inflight.size > 0) await Promise.race(this.inflight)
    } finally {
      clearTimeout(timer)
    }
    if (this.ending === 'expired') {
      for (const l of queue) this.sink.failed(l, { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' })
      return 'expired'
    }
    return this.ending ?? 'completed'
  }

  /** wait until a line in flight ends, `ms` pass, or the run is ended */
  private async pause (ms?: number): Promise<void> {
    const woken = new Promise<void>(resolve => { this.wake = resolve })
    const waits: Array<Promise<unknown>> = [woken, ...this.inflight]
    let t: ReturnType<typeof setTimeout> | undefined
    if (ms != null) waits.push(new Promise<void>(resolve => { t = setTimeout(resolve, ms) }))
    await Promise.race(waits)
    if (t != null) clearTimeout(t)
    this.wake = undefined
  }

  private state (seller: string): SellerState {
    let s = this.sellers.get(seller)
    if (s == null) { s = { busy: 0, failuresInRow: 0, dropped: false, busyUntilMs: 0 }; this.sellers.set(seller, s) }
    return s
  }

  private constraintsOf (l: RunnableLine): RouteConstraints {
    const lim = this.init.limits
    const min = (a?: bigint, b?: bigint): bigint | undefined => a == null ? b : b == null ? a : (a < b ? a : b)
    return { ...l.constraints, maxPriceOutPerMTokUc: min(l.constraints.maxPriceOutPerMTokUc, lim.maxPriceOutPerMTokUc), maxPriceInPerMTokUc: min(l.constraints.maxPriceInPerMTokUc, lim.maxPriceInPerMTokUc) }
  }

  private choose (l: Pending): { kind: 'buy', quote: Quote } | { kind: 'wait', ms?: number } | { kind: 'fail', failure: LineFailure } {
    const all = this.quotes.quotes(l.model, this.constraintsOf(l))
    if (all.length === 0) {
      if (l.tried.size === 0) {
        l.firstNoOfferAtMs ??= this.now()
        if (this.now() - l.firstNoOfferAtMs < this.noOfferWaitMs) return { kind: 'wait', ms: NO_OFFER_POLL_MS }
        return { kind: 'fail', failure: { code: 'no_seller', message: `no seller offers ${JSON.stringify(l.model)} within the batch's prices (waited ${this.noOfferWaitMs} ms)` } }
      }
    }
    const open = all.filter(q => !l.tried.has(q.seller) && !this.state(q.seller).dropped)
    if (open.length === 0) {
      const cause = l.lastError
      return { kind: 'fail', failure: { code: cause != null ? failureCodeOf(cause) : 'no_seller', message: `every seller tried failed this line (${l.tried.size} tried)${cause != null ? `: ${(cause as Error).message ?? String(cause)}` : ''}`, cause } }
    }
    const now = this.now()
    const free = open.filter(q => this.state(q.seller).busy < this.init.limits.concurrencyPerSeller && this.state(q.seller).busyUntilMs <= now)
    if (free.length === 0) return { kind: 'wait', ms: BUSY_BACKOFF_MS }
    free.sort((a, b) => {
      const ea = lineEstimateUc(l.request, a)
      const eb = lineEstimateUc(l.request, b)
      return ea !== eb ? (ea < eb ? -1 : 1) : this.state(a.seller).busy - this.state(b.seller).busy
    })
    return { kind: 'buy', quote: free[0] }
  }

  private start (l: Pending, q: Quote, estimate: bigint, queue: Pending[]): void {
    const s = this.state(q.seller)
    s.busy++
    this.reservedUc += estimate
    l.tried.add(q.seller)
    // the line goes to this seller only: the others are excluded, so the router's own fallback
    // cannot move it, and a failure comes back here to be moved (and counted) by the runner
    const others = this.quotes.quotes(l.model, this.constraintsOf(l)).map(x => x.seller).filter(x => x !== q.seller)
    const constraints: RouteConstraints = { ...this.constraintsOf(l), excludeSellers: [...new Set([...(l.constraints.excludeSellers ?? []), ...others])], tag: this.init.tag }
    const p = (async () => {
      try {
        const r = await this.buyer.infer(l.model, l.request, constraints, { signal: this.controller.signal })
        this.spentUc += r.costUc + (r.abandonedCostUc ?? 0n)
        s.failuresInRow = 0
        this.sink.done(l, r)
      } catch (err) {
        if (this.ending != null) {
          // stopped or cancelled: the line is not written (a resumed job buys it); expired: it fails
          if (this.ending === 'expired') this.sink.failed(l, { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' })
          return
        }
        const code = errorCode(err)
        if (BUSY_CODES.has(code)) {
          // full right now: no mark, and the line may come back to it
          l.tried.delete(q.seller)
          s.busyUntilMs = this.now() + BUSY_BACKOFF_MS
          queue.unshift(l)
          return
        }
        if (LINE_FAULTS.has(code)) { this.sink.failed(l, { code: failureCodeOf(err), message: (err as Error).message, cause: err }); return }
        // the seller failed it: the line moves to another seller, the seller gets a mark
        l.lastError = err
        s.failuresInRow++
        if (s.failuresInRow >= this.dropAfter) s.dropped = true
        if (l.tried.size >= this.maxAttempts) { this.sink.failed(l, { code: failureCodeOf(err), message: `failed at ${l.tried.size} sellers; the last: ${(err as Error).message}`, cause: err }); return }
        queue.unshift(l)
      } finally {
        s.busy--
        this.reservedUc -= estimate
      }
    })()
    const tracked = p.finally(() => { this.inflight.delete(tracked) })
    this.inflight.add(tracked)
  }
}

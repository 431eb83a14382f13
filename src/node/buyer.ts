/**
 * The buyer's router at work: for one request it ranks the market's offers, reuses or opens a
 * paid session with the best seller (negotiate → ledger `open` → /tally/infer), falls back to the
 * next seller when one fails before delivering a token, optionally races several sellers for the
 * first token, and books every request's cost in Bpt and credits.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { ChatRequest, TokenLogprob, ToolCallDelta } from '../exec/backend.js'
import { capabilityField, requiredCapabilities } from '../exec/tools.js'
import type { InferBuyer, InferResult } from '../exec/infer/buyer.js'
import type { EmbedRequest, UsageSource } from '../exec/backend.js'
import type { SessionTerms } from '../exec/infer/terms.js'
import { exactInputCounter, maxEmbedInputTokens } from '../exec/infer/token-counter.js'
import { amountUc } from '../exec/pricing.js'
import type { Negotiator } from '../contract/negotiate.js'
import { ErrorCode, TallyError, errorCode } from '../errors/index.js'
import type { Contract } from '../contract/messages.js'
import type { OrderBook } from '../market/order-book.js'
import { offerServes, type Offer } from '../market/offer.js'
import { rankOffers, type QualityTracker, type RoutableOffer } from '../market/router.js'
import { CapabilityUnavailableError, InsufficientCreditError, MidStreamError, NoSellerError, RouteTimeoutError, UnknownModelError, type RouteConstraints, type RoutedResult } from '../market/router-types.js'
import type { LedgerService } from '../ledger/service.js'
import { spendableTrusting } from '../contract/policy.js'
import { receivedLines } from './credit-lines.js'
import { tokenParams, type CostBook } from './costs.js'
import { termsOf } from './seller.js'
import { buyerContracted, buyerStep, isBuyerLive, type BuyerEvent, type BuyerMachineConfig, type BuyerState } from '../exec/session/buyer-machine.js'

/** a session is reused while it has this long left before it expires */
const SESSION_EXPIRY_MARGIN_MS = 5_000
/** default lifetime of a session the buyer opens */
export const DEFAULT_SESSION_TTL_MS = 10 * 60_000
/** default lock per session, capped by the network's maxSessionLockUc (1 credit) */
export const DEFAULT_SESSION_LOCK_UC = 1_000_000n
/** when every seller is busy a queued request looks again after this without being woken, doubling ... */
const BUSY_BACKOFF_START_MS = 25
/** ... up to this (a session freed here wakes it at once; a seller's slot freed for another buyer does not) */
const BUSY_BACKOFF_MAX_MS = 500
/** default: a request waits in the queue this long in all for a session or a seller's slot */
export const DEFAULT_QUEUE_WAIT_MS = 30_000
/** default: requests waiting at once; one more is answered seller-busy (503) at once */
export const DEFAULT_MAX_QUEUED = 1_024
/**
 * a seller that refused this buyer another session for capacity is not asked again for this long
 * while the buyer holds as many sessions with it (queued requests would each negotiate in vain)
 */
const NO_ROOM_MS = 1_000
/** Retry-After told a caller whose every seller stayed busy through its wait */
const BUSY_RETRY_AFTER_MS = 1_000
/** output tokens assumed for a request that does not set max_tokens */
const DEFAULT_MAX_TOKENS_ESTIMATE = 512
/** prompt tokens per character, upper bound for the estimate (byte-level tokenizers) */
const INPUT_TOKENS_PER_CHAR = 1

export interface BuyerRouterInit {
  sessionLockUc?: bigint
  sessionTtlMs?: number
  firstTokenTimeoutMs?: number
  /** most sellers tried for one request (fallback depth) */
  maxAttempts?: number
  /**
   * a warm session unused this long is closed (its seller settles it): an idle session holds one
   * of the seller's offered sessions that another buyer could use; default 60 s
   */
  idleCloseMs?: number
  /** a request finding every session busy and no room for another waits this long in all (FIFO) before seller-busy; default 30 s */
  queueWaitMs?: number
  /** requests waiting at once; past it a request is answered seller-busy at once; default 1,024 */
  maxQueued?: number
}

/** default idle time after which a warm session is closed */
export const DEFAULT_IDLE_CLOSE_MS = 60_000

export interface BuyerRouterComponents {
  libp2p: Pick<Libp2p, 'peerStore' | 'getConnections'>
  book: OrderBook
  negotiator: Negotiator
  infer: InferBuyer
  ledger: LedgerService
  quality: QualityTracker
  costs: CostBook
  /** the network's cap on one session's lock */
  maxSessionLockUc: bigint
  /** the prompt's exact input tokens for a model this node holds the tokenizer of (undefined: use the bytes bound) */
  countInputTokens?: (fingerprint: string, request: ChatRequest) => Promise<number | undefined>
  /** an embeddings request's exact input tokens, likewise */
  countEmbedTokens?: (fingerprint: string, inputs: string[]) => Promise<number | undefined>
  now: () => number
  log: Logger
}

/**
 * A session as the router uses it: its lifecycle and deadlines are the buyer session machine's
 * state (exec/session/buyer-machine.ts); what it has signed lives in the infer buyer's session
 * record (exec/infer/sessions.ts).
 */
interface RoutedSession {
  key: string
  offer: RoutableMarketOffer
  contract: Contract
  terms: SessionTerms
  peer: PeerId
  state: BuyerState
}

interface RoutableMarketOffer extends RoutableOffer {
  offer: Offer
}

/** what a purchase's result says about the seller that served it: who, which model, at what input price */
function sellerFacts (o: RoutableMarketOffer): Pick<RoutedResult, 'seller' | 'model' | 'fingerprint' | 'fingerprintVerified' | 'params' | 'priceInPerMTokUc'> {
  return { seller: o.seller, model: o.modelId, fingerprint: o.fingerprint, fingerprintVerified: o.fingerprintVerified, params: o.params, priceInPerMTokUc: o.priceInPerMTokUc }
}

/** one embeddings request bought on the market: the vectors and what they cost */
export interface EmbedRoutedResult {
  /** one vector per input, in order */
  vectors: Float32Array[]
  inputTokens: number
  usageSource: UsageSource
  seller: string
  model: string
  fingerprint: string
  fingerprintVerified: boolean
  params: number
  priceInPerMTokUc: bigint
  costUc: bigint
  /** billion-parameter tokens, exact decimal string */
  bpt: string
  /** the bound the buyer held the seller's input-token count to: its own tokenizer's exact count, or the bytes bound */
  inputBound: 'exact' | 'bytes'
  /** sellers tried, this one included */
  attempts: number
}

export interface InferCallOptions {
  signal?: AbortSignal
  /** each piece of the answer as it arrives: text, and the tool-call deltas it carries (OpenAI's streamed shape) */
  onDelta?: (text: string, toolCalls?: ToolCallDelta[], logprobs?: TokenLogprob[]) => void
}

/** one or more attempts (a race) that failed before any token reached the caller: the next seller may be tried */
class NothingDelivered extends Error {
  override name = 'NothingDelivered'
  /** `paidUc`: vouchered for tokens the caller never saw (a non-streaming request's seller died mid-way) */
  constructor (readonly causes: unknown[], readonly paidUc = 0n) { super(causes.map(messageOf).join('; ')) }
}

/** every session this buyer holds with a seller is busy and the seller has no room for another */
export class SellerBusyError extends TallyError {
  override name = 'SellerBusyError'
  override readonly code: ErrorCode = ErrorCode.sellerBusy
  /** when to try again (ms): the gateway's Retry-After */
  retryAfterMs = 0
}

/**
 * The buyer's credit cannot cover one more lock now, but sessions it holds (or is opening) will
 * free or settle: the request waits its turn like a busy seller's (never blamed on the seller).
 * Still waiting at the end of the queue wait, it is a 402.
 */
class CreditWaitError extends SellerBusyError {
  override name = 'CreditWaitError'
}

interface Waiter { ticket: number, wake: () => void }

export class BuyerRouter {
  private readonly sessions = new Map<string, RoutedSession[]>()
  private readonly lockUc: bigint
  /** locks of sessions being negotiated and opened right now (not yet in the ledger) */
  private lockingUc = 0n
  private readonly ttlMs: number
  private readonly firstTokenTimeoutMs?: number
  private readonly maxAttempts: number
  private readonly idleCloseMs: number
  private readonly machine: BuyerMachineConfig
  private idleTimer?: ReturnType<typeof setInterval>
  private readonly queueWaitMs: number
  private readonly maxQueued: number
  /** requests waiting for a session, a slot or credit, oldest ticket first */
  private readonly waiters: Waiter[] = []
  private nextTicket = 0
  /** per seller and model: how many sessions this buyer held when the seller last had no room for one more, and until when that holds */
  private readonly noRoom = new Map<string, { held: number, untilMs: number }>()
  /** per seller and model: sessions being negotiated and opened right now (not in `sessions` yet) */
  private readonly opening = new Map<string, number>()

  constructor (private readonly c: BuyerRouterComponents, init: BuyerRouterInit = {}) {
    this.lockUc = init.sessionLockUc ?? DEFAULT_SESSION_LOCK_UC
    this.ttlMs = init.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS
    this.firstTokenTimeoutMs = init.firstTokenTimeoutMs
    this.maxAttempts = init.maxAttempts ?? 4
    this.idleCloseMs = init.idleCloseMs ?? DEFAULT_IDLE_CLOSE_MS
    this.machine = { idleCloseMs: this.idleCloseMs }
    this.queueWaitMs = init.queueWaitMs ?? DEFAULT_QUEUE_WAIT_MS
    this.maxQueued = init.maxQueued ?? DEFAULT_MAX_QUEUED
  }

  /** requests waiting now for a session, a seller's slot or credit */
  queued (): number {
    return this.waiters.length
  }

  /** the ledger settled a session (a lock may be back): requests queued for credit look again */
  creditChanged (): void {
    this.wakeWaiters()
  }

  /**
   * Wait until a session of this buyer frees or ends, a lock being opened is settled, or `ms`
   * pass. Waiters are woken oldest ticket first, so the oldest retries first and takes a freed
   * session before a younger one (a request keeps its ticket across rounds).
   */
  private async waitTurn (ticket: number, ms: number, signal?: AbortSignal): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        const i = this.waiters.indexOf(w)
        if (i >= 0) this.waiters.splice(i, 1)
        resolve()
      }
      const w: Waiter = { ticket, wake: done }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, { once: true })
      let i = this.waiters.length
      while (i > 0 && this.waiters[i - 1].ticket > ticket) i--
      this.waiters.splice(i, 0, w)
    })
  }

  /** something a waiter may use has freed: wake every waiter, oldest first */
  private wakeWaiters (): void {
    for (const w of [...this.waiters]) w.wake()
  }

  /**
   * Every candidate was busy: wait for a turn (FIFO) unless the queue is full or the request's
   * wait is spent; false = stop waiting. `ticket` is the request's place, kept across rounds.
   */
  private async queueTurn (ticket: { n?: number }, startedAt: number, waitMs: number, signal?: AbortSignal): Promise<boolean> {
    const left = this.queueWaitMs - (this.c.now() - startedAt)
    if (left <= 0 || signal?.aborted === true) return false
    if (ticket.n === undefined) {
      if (this.waiters.length >= this.maxQueued) return false
      ticket.n = this.nextTicket++
    }
    await this.waitTurn(ticket.n, Math.min(waitMs, left), signal)
    // the wait may have ended because the caller gave up
    return !isAborted(signal)
  }

  /** the error for a request whose every seller stayed busy (or whose credit stayed short) through its wait */
  private busyAnswer (model: string, failures: unknown[], waitedMs: number): Error | undefined {
    if (failures.length === 0 || !failures.every(f => failurePolicy(f) === 'skip')) return undefined
    // credit short through the whole wait and no session held to wait for: the buyer cannot pay (402);
    // with sessions held (all busy), it is a busy market like any other (503)
    const credit = failures.findLast(f => f instanceof CreditWaitError)
    if (credit !== undefined && this.openSessions() === 0) return new InsufficientCreditError(`${(credit as Error).message} (waited ${waitedMs} ms for sessions to free)`)
    const e = new SellerBusyError(`every seller of ${model} is busy (waited ${waitedMs} ms): ${[...new Set(failures.map(messageOf))].slice(0, 3).join('; ')}`)
    e.retryAfterMs = BUSY_RETRY_AFTER_MS
    return e
  }

  /** the market's offers for a model as the router sees them, cheapest first */
  candidates (model: string, constraints: RouteConstraints, request?: ChatRequest): RoutableMarketOffer[] {
    const now = this.c.now()
    const ranked = this.c.book.query({ model }, now).map(r => toRoutable(r.offer))
    // a seller that is full withdraws its offer, but the sessions this buyer holds with it stay usable
    const inBook = new Set(ranked.map(o => o.seller))
    for (const s of this.liveSessions(model, now)) {
      if (!inBook.has(s.offer.seller)) { ranked.push(s.offer); inBook.add(s.offer.seller) }
    }
    // what the request itself needs (tools, json_schema) is a constraint whoever routes it
    const needs = request != null ? requiredCapabilities(request) : []
    if (needs.length > 0) constraints = { ...constraints, capabilities: [...new Set([...(constraints.capabilities ?? []), ...needs])] }
    return rankOffers(ranked, constraints, this.c.quality, {
      nowMs: now,
      expectedInputTokens: request != null ? estimateInputTokens(request) : undefined,
      expectedOutputTokens: request?.maxTokens
    })
  }

  async infer (model: string, request: ChatRequest, constraints: RouteConstraints, opts: InferCallOptions = {}): Promise<RoutedResult> {
    const now = this.c.now()
    if (!this.c.book.models(now).includes(model) && this.liveSessions(model, now).length === 0) throw new UnknownModelError(`no offer for model ${JSON.stringify(model)} on the market`)
    const failures: unknown[] = []
    let attempts = 0
    /** paid to sellers that failed mid-way on a non-streamed request before another answered it */
    let abandonedUc = 0n
    // a seller that was only busy (full, or this buyer's quotes/sessions with it all in use) or had
    // changed its price is skipped for the rest of this call: the next round goes on down the price
    // list at once. Only when every seller in the book was busy does the router wait a little and
    // go round again on a fresh read of the book.
    const busySellers = new Set<string>()
    // sellers whose policy refused this buyer (not trusted, terms it cannot meet): not asked again in this call
    const refusedBy = new Set<string>()
    let waitMs = BUSY_BACKOFF_START_MS
    const ticket: { n?: number } = {}
    for (let round = 0; ; round++) {
      const candidates = this.candidates(model, constraints, request).filter(o => !busySellers.has(o.seller) && !refusedBy.has(o.seller)).slice(0, this.maxAttempts)
      if (candidates.length === 0) {
        if (round === 0) throw this.noCandidate(model, constraints, request)
        // every seller was busy: queue for a session, a slot or credit (FIFO), then go round again
        if (busySellers.size === 0 || !(await this.queueTurn(ticket, now, waitMs, opts.signal))) break
        waitMs = Math.min(waitMs * 2, BUSY_BACKOFF_MAX_MS)
        busySellers.clear()
        continue
      }
      const race = Math.max(1, Math.min(constraints.race ?? 1, candidates.length))
      let allBusy = true
      for (let i = 0; i < candidates.length;) {
        const group = candidates.slice(i, i + race)
        i += group.length
        attempts += group.length
        try {
          const r = group.length === 1
            ? await this.attempt(group[0], request, constraints, opts, opts.onDelta, opts.onDelta != null)
            : await this.race(group, request, constraints, opts)
          return { ...r, attempts, ...(abandonedUc > 0n ? { abandonedCostUc: abandonedUc } : {}) }
        } catch (err) {
          if (!(err instanceof NothingDelivered)) throw err
          abandonedUc += err.paidUc
          failures.push(...err.causes)
          if (opts.signal?.aborted === true) throw err.causes[0]
          const stop = err.causes.find(c => failurePolicy(c) === 'stop')
          if (stop !== undefined) throw stop
          if (err.causes.every(c => REFUSED_CODES.has(errorCode(c)))) for (const o of group) refusedBy.add(o.seller)
          else if (err.causes.every(c => failurePolicy(c) === 'skip')) for (const o of group) busySellers.add(o.seller)
          else allBusy = false
        }
      }
      if (!allBusy) break
    }
    // every seller refused this buyer by policy: say why (buyer-not-trusted is a 402), not "no seller"
    const untrusted = failures.find(f => errorCode(f) === ErrorCode.buyerNotTrusted) ?? failures.find(f => errorCode(f) === ErrorCode.reservationsLapsed)
    if (untrusted !== undefined && failures.every(f => REFUSED_CODES.has(errorCode(f)))) throw untrusted
    if (opts.signal?.aborted === true) throw opts.signal.reason
    const busy = this.busyAnswer(model, failures, this.c.now() - now)
    if (busy !== undefined) throw busy
    const msg = `every seller of ${model} failed (${attempts} tried): ${[...new Set(failures.map(messageOf))].slice(0, 4).join('; ')}`
    throw failures.every(f => TIMEOUT_CODES.has(errorCode(f))) ? new RouteTimeoutError(msg) : new NoSellerError(msg)
  }

  /**
   * Buy one embeddings request (protocols/infer.md § Embeddings) from the cheapest seller whose
   * offer lists `embeddings`, on the same sessions as chat: one voucher per request. Falls back to
   * the next seller when one fails (nothing is delivered before the vectors are paid for).
   */
  async embed (model: string, request: EmbedRequest, constraints: RouteConstraints = {}, opts: { signal?: AbortSignal } = {}): Promise<EmbedRoutedResult> {
    const now = this.c.now()
    if (!this.c.book.models(now).includes(model) && this.liveSessions(model, now).length === 0) throw new UnknownModelError(`no offer for model ${JSON.stringify(model)} on the market`)
    const needs: RouteConstraints = { ...constraints, race: undefined, capabilities: [...new Set([...(constraints.capabilities ?? []), 'embeddings'])] }
    const failures: unknown[] = []
    let attempts = 0
    const busySellers = new Set<string>()
    const refusedBy = new Set<string>()
    let waitMs = BUSY_BACKOFF_START_MS
    const ticket: { n?: number } = {}
    for (let round = 0; ; round++) {
      const candidates = this.candidates(model, needs).filter(o => !busySellers.has(o.seller) && !refusedBy.has(o.seller)).slice(0, this.maxAttempts)
      if (candidates.length === 0) {
        if (round === 0) {
          const others = this.candidates(model, { ...constraints, capabilities: undefined })
          if (others.length > 0 && others.every(o => !offerServes(o, ['embeddings']))) throw new CapabilityUnavailableError(`no seller of ${model} serves embeddings`, 'model')
          throw new NoSellerError(`no seller of ${model} that serves embeddings meets the constraints`)
        }
        if (busySellers.size === 0 || !(await this.queueTurn(ticket, now, waitMs, opts.signal))) break
        waitMs = Math.min(waitMs * 2, BUSY_BACKOFF_MAX_MS)
        busySellers.clear()
        continue
      }
      let allBusy = true
      for (const o of candidates) {
        attempts++
        try {
          return { ...(await this.attemptEmbed(o, request, constraints, opts.signal)), attempts }
        } catch (err) {
          failures.push(err)
          if (opts.signal?.aborted === true) throw err
          if (failurePolicy(err) === 'stop') throw err
          if (REFUSED_CODES.has(errorCode(err))) refusedBy.add(o.seller)
          else if (failurePolicy(err) === 'skip') busySellers.add(o.seller)
          else allBusy = false
        }
      }
      if (!allBusy) break
    }
    const untrusted = failures.find(f => errorCode(f) === ErrorCode.buyerNotTrusted)
    if (untrusted !== undefined && failures.every(f => REFUSED_CODES.has(errorCode(f)))) throw untrusted
    if (opts.signal?.aborted === true) throw opts.signal.reason
    const busy = this.busyAnswer(model, failures, this.c.now() - now)
    if (busy !== undefined) throw busy
    const msg = `every seller of ${model} failed (${attempts} tried): ${[...new Set(failures.map(messageOf))].slice(0, 4).join('; ')}`
    throw failures.every(f => TIMEOUT_CODES.has(errorCode(f))) ? new RouteTimeoutError(msg) : new NoSellerError(msg)
  }

  private async attemptEmbed (o: RoutableMarketOffer, request: EmbedRequest, constraints: RouteConstraints, signal?: AbortSignal): Promise<Omit<EmbedRoutedResult, 'attempts'>> {
    let session: RoutedSession | undefined
    let spentBefore = 0n
    let retire = false
    let exactIn: number | undefined
    const startedAt = this.c.now()
    try {
      const estimateUc = amountUc(BigInt(maxEmbedInputTokens(request.inputs)), 0n, o.priceInPerMTokUc, o.priceOutPerMTokUc)
      session = await this.session(o, { estimateUc }, signal)
      spentBefore = this.spentUc(session)
      // only a verified fingerprint says the seller runs exactly the file this node tokenizes with
      exactIn = o.fingerprintVerified ? await this.c.countEmbedTokens?.(o.fingerprint, request.inputs) : undefined
      const r = await this.c.infer.embed(session.peer, session.terms, request, { signal, timeoutMs: constraints.maxTtftMs ?? this.firstTokenTimeoutMs, maxInputTokens: exactIn })
      this.c.quality.success(o.seller, r.meter.ttftMs, 0)
      this.c.book.touch(o.seller, o.modelId, this.c.now())
      this.book(constraints.tag, o, r.usage.inputTokens, 0, r.meter.amountUc, startedAt, session.contract.contractId, 'embeddings')
      return {
        vectors: r.vectors,
        inputTokens: r.usage.inputTokens,
        usageSource: r.usage.source,
        ...sellerFacts(o),
        costUc: r.meter.amountUc,
        bpt: r.meter.bpt,
        inputBound: exactIn != null ? 'exact' : 'bytes'
      }
    } catch (err) {
      if (session != null) {
        // an embeddings request signs nothing before it is whole: anything paid here was for earlier requests
        const paid = (this.c.infer.lastVoucher(session.contract.contractId)?.amountUc ?? 0n) - spentBefore
        if (paid > 0n) this.book(constraints.tag, o, 0, 0, paid, startedAt, session.contract.contractId, 'embeddings')
        if (failurePolicy(err) !== 'skip') retire = true
      }
      if (signal?.aborted !== true && failurePolicy(err) === 'blame') this.c.quality.failure(o.seller, this.c.now())
      throw err
    } finally {
      if (session != null) this.release(session, retire)
    }
  }

  /** why round 0 found no one: a capability no offer lists is the request's fault (400 naming its field), else no seller */
  private noCandidate (model: string, constraints: RouteConstraints, request: ChatRequest): Error {
    const needs = [...new Set([...(constraints.capabilities ?? []), ...requiredCapabilities(request)])]
    const others = this.candidates(model, { ...constraints, capabilities: undefined })
    const lacking = needs.find(c => others.length > 0 && others.every(o => !offerServes(o, [c])))
    if (lacking !== undefined) return new CapabilityUnavailableError(`no seller of ${model} serves ${lacking}`, capabilityField(lacking))
    return new NoSellerError(`no seller of ${model} meets the constraints`)
  }

  /** several sellers start; the first to deliver a token wins, the others are cancelled (and paid what they streamed) */
  private async race (group: RoutableMarketOffer[], request: ChatRequest, constraints: RouteConstraints, opts: InferCallOptions): Promise<Omit<RoutedResult, 'attempts'>> {
    let winner: number | undefined
    const ctrls = group.map(() => new AbortController())
    const onAbort = (): void => { for (const c of ctrls) c.abort(opts.signal?.reason) }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const runs = group.map(async (o, idx) => await this.attempt(o, request, constraints, { signal: ctrls[idx].signal }, (text, toolCalls, logprobs) => {
        if (winner === undefined) {
          winner = idx
          ctrls.forEach((c, j) => { if (j !== idx) c.abort(new Error('lost the race')) })
        }
        if (winner === idx) opts.onDelta?.(text, toolCalls, logprobs)
      }, opts.onDelta != null))
      const settled = await Promise.allSettled(runs)
      if (winner !== undefined) {
        const w = settled[winner]
        if (w.status === 'fulfilled') return w.value
        throw w.reason
      }
      const firstOk = settled.findIndex(s => s.status === 'fulfilled')
      if (firstOk >= 0) return (settled[firstOk] as PromiseFulfilledResult<Omit<RoutedResult, 'attempts'>>).value
      throw new NothingDelivered(settled.flatMap(s => {
        const reason: unknown = (s as PromiseRejectedResult).reason
        return reason instanceof NothingDelivered ? reason.causes : [reason]
      }), settled.reduce((a, s) => a + (s.status === 'rejected' && s.reason instanceof NothingDelivered ? s.reason.paidUc : 0n), 0n))
    } finally {
      opts.signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * One seller, one request. `toCaller`: the caller sees tokens as they come (a stream), so a
   * failure after the first one cannot be retried elsewhere (mid-stream); otherwise the caller has
   * seen nothing and the next seller may answer (what this one was paid stays paid and booked).
   */
  private async attempt (o: RoutableMarketOffer, request: ChatRequest, constraints: RouteConstraints, opts: { signal?: AbortSignal }, onDelta: ((text: string, toolCalls?: ToolCallDelta[], logprobs?: TokenLogprob[]) => void) | undefined, toCaller: boolean): Promise<Omit<RoutedResult, 'attempts'>> {
    let delivered = false
    let paid = 0n
    let session: RoutedSession | undefined
    let outBefore = 0n
    let spentBefore = 0n
    /** the session is not reused after this request */
    let retire = false
    /** the prompt's exact input tokens, when this node holds the model's tokenizer */
    let exactIn: number | undefined
    const startedAt = this.c.now()
    try {
      session = await this.session(o, request, opts.signal)
      outBefore = this.c.infer.lastVoucher(session.contract.contractId)?.outputTokens ?? 0n
      spentBefore = this.spentUc(session)
      // only a verified fingerprint says the seller runs exactly the file this node tokenizes with
      exactIn = o.fingerprintVerified ? await this.c.countInputTokens?.(o.fingerprint, request) : undefined
      const r: InferResult = await this.c.infer.infer(session.peer, session.terms, request, {
        signal: opts.signal,
        tokenCounter: exactIn != null ? exactInputCounter(exactIn) : undefined,
        firstTokenTimeoutMs: constraints.maxTtftMs ?? this.firstTokenTimeoutMs,
        onChunk: (text, toolCalls, logprobs) => { delivered = true; onDelta?.(text, toolCalls, logprobs) }
      })
      if (r.stopReason === 'budget') retire = true
      this.c.quality.success(o.seller, r.ttftMs, r.tokensPerSec)
      // an offer that serves requests is kept through an offer flood (market.md § Order book)
      this.c.book.touch(o.seller, o.modelId, this.c.now())
      this.book(constraints.tag, o, r.usage.inputTokens, r.usage.outputTokens, r.meter.amountUc, startedAt, session.contract.contractId)
      return {
        text: r.text,
        ...(r.toolCalls != null ? { toolCalls: r.toolCalls } : {}),
        ...(r.logprobs != null ? { logprobs: r.logprobs } : {}),
        finishReason: r.finishReason,
        inputTokens: r.usage.inputTokens,
        outputTokens: r.usage.outputTokens,
        usageSource: r.usage.source,
        ...sellerFacts(o),
        priceOutPerMTokUc: o.priceOutPerMTokUc,
        costUc: r.meter.amountUc,
        bpt: r.meter.bpt,
        inputBound: exactIn != null ? 'exact' : 'bytes',
        ttftMs: r.ttftMs
      }
    } catch (err) {
      if (session != null) {
        const last = this.c.infer.lastVoucher(session.contract.contractId)
        paid = (last?.amountUc ?? 0n) - spentBefore
        // what the failed request was paid for stays in the books: the seller will settle it
        if (paid > 0n) this.book(constraints.tag, o, 0, Number((last?.outputTokens ?? outBefore) - outBefore), paid, startedAt, session.contract.contractId)
        // a session whose request broke is not reused (its seller may be in a bad state);
        // one that was only busy stays
        if (failurePolicy(err) !== 'skip') retire = true
      }
      const aborted = opts.signal?.aborted === true
      if (!aborted && failurePolicy(err) === 'blame') this.c.quality.failure(o.seller, this.c.now())
      if (delivered && toCaller) {
        throw new MidStreamError(`seller ${o.seller} failed mid-stream: ${(err as Error)?.message ?? err}`, {
          text: '', finishReason: 'error', inputTokens: 0, outputTokens: 0, usageSource: 'reported', ...sellerFacts(o),
          priceOutPerMTokUc: o.priceOutPerMTokUc, costUc: 0n, bpt: '0', inputBound: exactIn != null ? 'exact' : 'bytes', ttftMs: 0, attempts: 1
        })
      }
      throw new NothingDelivered([err], paid > 0n ? paid : 0n)
    } finally {
      if (session != null) this.release(session, retire)
    }
  }

  /** a request on this session ended: the session is free again (or retired), and a waiter may take it */
  private release (session: RoutedSession, retire: boolean): void {
    void this.feed(session, { type: 'request-ended', retire })
    this.wakeWaiters()
  }

  private book (tag: string | undefined, o: RoutableMarketOffer, inputTokens: number, outputTokens: number, amount: bigint, atMs: number, contractId: Uint8Array, kind: 'inference' | 'embeddings' = 'inference'): void {
    this.c.costs.add({
      atMs,
      kind,
      tag: tag ?? '',
      model: o.modelId,
      counterparty: o.seller,
      inputTokens,
      outputTokens,
      tokenParams: tokenParams(inputTokens, outputTokens, o.params),
      amountUc: amount,
      // the report matches it with the ledger's settle of this contract's open
      contractId: Buffer.from(contractId).toString('hex')
    })
  }

  /** an idle, unexpired session with this seller that can afford the request, or a new one */
  private async session (o: RoutableMarketOffer, request: ChatRequest | { estimateUc: bigint }, signal?: AbortSignal): Promise<RoutedSession> {
    const key = `${o.seller}|${o.modelId}`
    const estimate = 'estimateUc' in request ? request.estimateUc : amountUc(BigInt(estimateInputTokens(request)), BigInt(request.maxTokens ?? DEFAULT_MAX_TOKENS_ESTIMATE), o.priceInPerMTokUc, o.priceOutPerMTokUc)
    const now = this.c.now()
    const list = this.sessions.get(key) ?? []
    for (const s of list) {
      if (s.state.phase !== 'opened') continue
      if (Number(s.contract.expiresAtMs) - SESSION_EXPIRY_MARGIN_MS <= now || s.terms.priceOutPerMTokUc !== o.priceOutPerMTokUc || s.terms.priceInPerMTokUc !== o.priceInPerMTokUc) {
        this.retire(s)
        continue
      }
      if (s.contract.maxSpendUc - this.spentUc(s) < estimate) {
        this.retire(s)
        continue
      }
      void this.feed(s, { type: 'request-began' })
      return s
    }
    // a buyer that cannot cover this request's lock and has nothing to wait for is told so at once (402), whatever the seller's room
    this.refuseIfBroke(estimate)
    const held = (this.sessions.get(key) ?? []).filter(x => isBuyerLive(x.state))
    const opening = this.opening.get(key) ?? 0
    // a seller runs max_sessions requests at once: more sessions with it would only wait there
    if (held.length + opening >= o.offer.maxSessions) throw new SellerBusyError(`all ${held.length} sessions with ${o.seller} are busy (${opening} more being opened)`)
    // a seller marked busy runs other buyers' requests in every slot: wait for the sessions held with it
    if (held.length > 0 && o.offer.busy) throw new SellerBusyError(`${o.seller} is busy and the ${held.length} sessions with it are in use`)
    const full = this.noRoom.get(key)
    if (full != null && held.length >= full.held && now < full.untilMs) throw new SellerBusyError(`${o.seller} had no room for session ${held.length + 1} of this buyer`)
    let s: RoutedSession
    this.opening.set(key, opening + 1)
    try {
      s = await this.open(o, estimate, signal)
    } catch (err) {
      if (errorCode(err) === ErrorCode.sellerBusy && !(err instanceof CreditWaitError)) this.noRoom.set(key, { held: held.length, untilMs: this.c.now() + NO_ROOM_MS })
      throw err
    } finally {
      const left = (this.opening.get(key) ?? 1) - 1
      if (left > 0) this.opening.set(key, left)
      else this.opening.delete(key)
    }
    this.noRoom.delete(key)
    void this.feed(s, { type: 'request-began' })
    this.sessions.set(key, [...(this.sessions.get(key) ?? []).filter(x => isBuyerLive(x.state)), s])
    return s
  }

  /** credit cannot cover `estimate` and no session, open or lock will return any: insufficient-credit */
  private refuseIfBroke (estimate: bigint): void {
    if (this.lockingUc > 0n || this.sessions.size > 0) return
    const balance = this.c.ledger.balance()
    if (balance.spendableUc >= estimate || balance.lockedUc > 0n) return
    throw new InsufficientCreditError(`spendable ${balance.spendableUc} µc cannot lock ${estimate} µc for this request`)
  }

  /** sessions with sellers of this model that are open and unexpired */
  private liveSessions (model: string, now: number): RoutedSession[] {
    return [...this.sessions.values()].flat().filter(s => isBuyerLive(s.state) && s.offer.modelId === model && Number(s.contract.expiresAtMs) - SESSION_EXPIRY_MARGIN_MS > now)
  }

  private async open (o: RoutableMarketOffer, estimate: bigint, signal?: AbortSignal): Promise<RoutedSession> {
    const cap = this.c.maxSessionLockUc
    let lock = this.lockUc > estimate ? this.lockUc : estimate
    if (lock > cap) lock = cap
    // opens still being negotiated count against the balance already, so concurrent requests that
    // together cannot be covered do not each reserve a seller's capacity
    const balance = this.c.ledger.balance()
    const spendable = balance.spendableUc - this.lockingUc
    if (spendable < lock) {
      if (spendable < estimate || spendable <= 0n) {
        const why = `spendable ${spendable} µc (after ${this.lockingUc} µc being locked by requests in flight) cannot lock ${estimate} µc for this request`
        // sessions held, closing or being opened, and locks not settled yet, will free or return
        // their credit: wait for them; with none, credit truly cannot cover one lock (402)
        if (this.lockingUc > 0n || this.sessions.size > 0 || balance.lockedUc > 0n) throw new CreditWaitError(why)
        throw new InsufficientCreditError(why)
      }
      lock = spendable
    }
    this.lockingUc += lock
    try {
      return await this.negotiateAndOpen(o, lock, signal)
    } finally {
      this.lockingUc -= lock
      this.wakeWaiters()
    }
  }

  private async negotiateAndOpen (o: RoutableMarketOffer, lock: bigint, signal?: AbortSignal): Promise<RoutedSession> {
    const peer = peerIdFromString(o.seller)
    if (this.c.libp2p.getConnections(peer).length === 0 && o.offer.multiaddrs.length > 0) {
      const addrs = o.offer.multiaddrs.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      await this.c.libp2p.peerStore.merge(peer, { multiaddrs: addrs })
    }
    const contract = await this.c.negotiator.negotiate(peer, {
      modelId: o.modelId,
      maxPriceInPerMTokUc: o.priceInPerMTokUc,
      maxPriceOutPerMTokUc: o.priceOutPerMTokUc,
      maxSpendUc: lock,
      sessionExpiresAtMs: BigInt(this.c.now() + this.ttlMs),
      // a seller naming the grantors it trusts gets no accept whose lock needs lines from others
      accepts: { spendableTrusting: (grantors) => this.spendableTrusting(grantors) },
      signal
    })
    // the machine's publish-open: this router awaits it in line (a refused open keeps no session)
    const contracted = buyerContracted({ contractId: Buffer.from(contract.contractId).toString('hex'), seller: o.seller, modelId: contract.modelId, maxSpendUc: contract.maxSpendUc, expiresAtMs: Number(contract.expiresAtMs) })
    const open = await this.c.ledger.openSession({ seller: contract.seller, contractId: contract.contractId, maxSpendUc: contract.maxSpendUc, endsAtMs: contract.expiresAtMs })
    const terms = termsOf(contract)
    this.c.log('opened session %s with %s, lock %s µc', open.id.slice(0, 12), o.seller, contract.maxSpendUc)
    const state = buyerStep(contracted, { type: 'open-published', openId: open.id }, this.c.now(), this.machine).state
    return { key: `${o.seller}|${o.modelId}`, offer: o, contract, terms, peer, state }
  }

  /** this buyer's spendable balance without lines from grantors outside `grantors` (negotiate.md § Quote terms) */
  private spendableTrusting (grantors: Uint8Array[]): bigint {
    const own = this.c.ledger.balance()
    const key = this.c.ledger.ledger.keyOf(own.account)
    const lines = receivedLines(this.c.ledger.ledger, key, false).map(l => ({ grantor: l.grantorKey, amountUc: l.amountUc }))
    return spendableTrusting(own.spendableUc, lines, grantors)
  }

  /** what this buyer has signed on a session: its infer session record is the one source */
  private spentUc (s: RoutedSession): bigint {
    return this.c.infer.lastVoucher(s.contract.contractId)?.amountUc ?? 0n
  }

  /** stop using a session and ask its seller to settle it (in the background) */
  private retire (s: RoutedSession): void {
    void this.feed(s, { type: 'retire' })
  }

  /** step a session's machine and carry out its effects; resolves with whether a close it sent was acknowledged */
  private async feed (s: RoutedSession, e: BuyerEvent, signal?: AbortSignal): Promise<boolean> {
    const r = buyerStep(s.state, e, this.c.now(), this.machine)
    s.state = r.state
    let acked = false
    for (const fx of r.effects) {
      if (fx.type === 'forget') this.forget(s)
      if (fx.type === 'send-close') {
        try {
          await this.c.infer.closeSession(s.peer, s.contract.contractId, { signal })
          acked = true
          void this.feed(s, { type: 'close-acked' })
        } catch (err: any) {
          this.c.log('closing session with %s: %s (the seller settles at expiry)', s.peer, err?.message)
          void this.feed(s, { type: 'close-failed', message: String(err?.message ?? err) })
        }
      }
    }
    return acked
  }

  /** the sessions this buyer holds now, with what it has signed on each (the operator API's live sessions) */
  sessionViews (): Array<{ contractId: Uint8Array, seller: string, model: string, outputTokens: bigint, amountUc: bigint }> {
    return [...this.sessions.values()].flat().filter(s => isBuyerLive(s.state)).map(s => {
      const v = this.c.infer.lastVoucher(s.contract.contractId)
      return { contractId: s.contract.contractId, seller: s.contract.sellerId, model: s.contract.modelId, outputTokens: v?.outputTokens ?? 0n, amountUc: v?.amountUc ?? 0n }
    })
  }

  private forget (s: RoutedSession): void {
    const list = (this.sessions.get(s.key) ?? []).filter(x => x !== s)
    if (list.length === 0) this.sessions.delete(s.key)
    else this.sessions.set(s.key, list)
    // its lock is settled (or about to be): credit and the seller's room for a session are back
    this.wakeWaiters()
  }

  /** start closing sessions idle longer than idleCloseMs (checked every half of it) */
  start (): void {
    if (this.idleTimer != null) return
    this.idleTimer = setInterval(() => { this.retireIdle() }, Math.max(50, Math.floor(this.idleCloseMs / 2)))
    this.idleTimer.unref?.()
  }

  stop (): void {
    clearInterval(this.idleTimer)
    this.idleTimer = undefined
  }

  /** tell every session the time: those idle for idleCloseMs (or expired) start closing; returns how many */
  retireIdle (): number {
    let n = 0
    for (const s of [...this.sessions.values()].flat()) {
      const wasOpen = s.state.phase === 'opened'
      void this.feed(s, { type: 'tick' })
      if (wasOpen && s.state.phase === 'closing') n++
    }
    for (const [key, list] of this.sessions) {
      const open = list.filter(s => isBuyerLive(s.state))
      if (open.length === 0) this.sessions.delete(key)
      else if (open.length !== list.length) this.sessions.set(key, open)
    }
    return n
  }

  /** close every session (the sellers settle them); waits for the closes to be acknowledged */
  async closeAll (signal?: AbortSignal): Promise<number> {
    this.stop()
    const open = [...this.sessions.values()].flat().filter(s => isBuyerLive(s.state))
    const acked = await Promise.all(open.map(async s => await this.feed(s, { type: 'stop' }, signal)))
    this.sessions.clear()
    return acked.filter(a => a).length
  }

  openSessions (): number {
    return [...this.sessions.values()].flat().filter(s => isBuyerLive(s.state)).length
  }
}

/**
 * The router's retry policy, by error code (docs/errors.md), for an attempt that delivered nothing:
 * - stop: the buyer cannot pay (its own ledger refused the `open`, or its balance check, or the
 *   seller saw too little headroom); no other seller would serve it: answer at once, blame no one
 * - skip: the seller is full or busy right now, or repriced since its offer reached us (the next
 *   round reads the new offer): try the next seller; not a failure of the seller
 * - blame: anything else: try the next seller and count a failure against this one
 */
const STOP_CODES: ReadonlySet<ErrorCode> = new Set([ErrorCode.insufficientCredit])
const SKIP_CODES: ReadonlySet<ErrorCode> = new Set([ErrorCode.sellerBusy, ErrorCode.priceChanged, ErrorCode.sessionBusy, ErrorCode.backendBusy, ErrorCode.buyerNotTrusted, ErrorCode.quoteTermsUnmet, ErrorCode.reservationsLapsed])
/** a seller's policy refused this buyer: skipped for the rest of the call, neither blamed nor waited for */
const REFUSED_CODES: ReadonlySet<ErrorCode> = new Set([ErrorCode.buyerNotTrusted, ErrorCode.quoteTermsUnmet, ErrorCode.reservationsLapsed])
/** when every attempt failed with one of these, the request timed out (504) rather than found no seller (503) */
const TIMEOUT_CODES: ReadonlySet<ErrorCode> = new Set([ErrorCode.firstTokenTimeout, ErrorCode.streamIdleTimeout, ErrorCode.backendTimeout, ErrorCode.routeTimeout])

export function failurePolicy (err: unknown): 'stop' | 'skip' | 'blame' {
  const code = errorCode(err)
  return STOP_CODES.has(code) ? 'stop' : SKIP_CODES.has(code) ? 'skip' : 'blame'
}

function isAborted (signal?: AbortSignal): boolean {
  return signal?.aborted === true
}

function messageOf (err: unknown): string {
  return (err as Error)?.message ?? String(err)
}

function estimateInputTokens (r: ChatRequest): number {
  let chars = 0
  for (const m of r.messages) chars += m.content.length + 16
  return Math.ceil(chars * INPUT_TOKENS_PER_CHAR) + 64
}

function toRoutable (o: Offer): RoutableMarketOffer {
  return {
    offer: o,
    seller: o.sellerId,
    modelId: o.modelId,
    params: Number(o.params),
    quantization: o.quantization,
    fingerprint: o.fingerprint,
    fingerprintVerified: o.fingerprintVerified,
    priceInPerMTokUc: o.priceInPerMTokUc,
    priceOutPerMTokUc: o.priceOutPerMTokUc,
    capabilities: o.capabilities,
    busy: o.busy
  }
}

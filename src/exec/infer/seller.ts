/**
 * The seller's end of /tally/infer/1.0.0: checks the session, runs the backend, streams chunks
 * within the paid-ahead window (or one chunk ahead of the buyer's vouchers when the contract
 * states none), stops at the max spend, keeps the highest voucher per contract in its
 * SellerSessions, and keeps a stream open for the session's next request when asked.
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { defaultLogger } from '@libp2p/logger'
import type { ComponentLogger, Connection, Logger, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Backend, BackendEvent, ChatRequest, EmbedRequest, FinishReason, Usage } from '../backend.js'
import { amountUc, sessionAmountUc } from '../pricing.js'
import { meterTermsOf, meterRecord, type MeterRecord } from '../metering.js'
import { VoucherError, type SignedVoucher } from '../voucher.js'
import { WireError } from '../../wire/errors.js'
import type { BuyerFrame, InferFailure, InferRequest } from '../../wire/pb/infer.js'
import { decodeBuyerFrame, decodeLaterBuyerFrame, embeddingsFrames, encodeSellerFrame, INFER_PROTOCOL, MAX_CHUNK_TEXT_BYTES, MAX_EMBED_DIMENSIONS, MAX_FAILURE_MESSAGE_BYTES, MAX_REQUEST_FRAME_BYTES, parseEmbedRequest, parseRequest } from './codec.js'
import { BudgetExhaustedError, FailureCode, InferError, InvalidRequestError, UnknownSessionError, VoucherTimeoutError, WrongBuyerError, failureCodeOf, type FailureCodeName } from './errors.js'
import { errorCode } from '../../errors/index.js'
import { requiredCapabilities } from '../tools.js'
import { deadline, endStream } from '../../wire/deadline.js'
import { Notifier, raceSignal } from './notifier.js'
import type { ClosedSession, SellerSession, SellerSessions } from './sessions.js'
import { bytesEqual, contractKey } from './terms.js'
import { covers, nextChunk, paidTotals, requestOutputTokens, syncOnHighest, unpaidLoss, type Billed, type ChunkLimits, type NextChunk, type PendingOutput, type Totals, type UnpaidRoom } from './window.js'

/** how long the seller waits, paused, for the voucher that covers what it sent */
export const DEFAULT_VOUCHER_TIMEOUT_MS = 10_000
/** how long a new stream may take to send its request frame */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
/** most output tokens in one chunk frame: the most a seller risks on an unpaid chunk (window of one chunk) */
export const DEFAULT_MAX_CHUNK_TOKENS = 64
/**
 * most output tokens in one chunk under a paid-ahead window, where the window, not the chunk,
 * bounds the risk: fewer, larger frames for a fast backend (text stays ≤ 32 KiB per chunk)
 */
export const DEFAULT_MAX_WINDOW_CHUNK_TOKENS = 1024
/**
 * after the first chunk, a chunk gathers tokens this long (unless full); 0 (the default): a chunk
 * takes what the backend has ready now (one macrotask) and leaves (infer.md § Flow 5, Chunks)
 */
export const DEFAULT_MIN_CHUNK_INTERVAL_MS = 0
/** how long a kept-open stream waits for the session's next request (infer.md § Stream reuse) */
export const DEFAULT_STREAM_IDLE_MS = 60_000
/** concurrent infer streams per connection */
export const DEFAULT_MAX_INBOUND_STREAMS = 8
/** running requests are aborted at stop() unless given this long to finish (new ones get `shutting-down` meanwhile) */
export const DEFAULT_DRAIN_TIMEOUT_MS = 0

export interface InferSellerInit {
  voucherTimeoutMs?: number
  requestTimeoutMs?: number
  maxChunkTokens?: number
  /** chunk size cap under a paid-ahead window (default DEFAULT_MAX_WINDOW_CHUNK_TOKENS) */
  maxWindowChunkTokens?: number
  minChunkIntervalMs?: number
  maxInboundStreams?: number
  /** how long stop() lets running requests finish before aborting them */
  drainTimeoutMs?: number
  /** how long a kept-open stream waits for the next request (never past the session's expiry) */
  streamIdleMs?: number
  /** honour a request's keep_open (default true; false behaves as a seller that predates it) */
  keepOpen?: boolean
  /** clock for meter records' startedAtMs; default Date.now */
  now?: () => number
}

/** the slice of libp2p's registrar (or a Libp2p node) the seller uses */
export interface InferRegistrar {
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
  unhandle(protocol: string): Promise<void>
}

export interface InferSellerComponents {
  registrar: InferRegistrar
  backend: Backend
  sessions: SellerSessions
  logger?: ComponentLogger
  /** each finished request's record, from the seller's view */
  onMeter?: (record: MeterRecord) => void
  /**
   * Called for a request on a contract this seller has no session for yet: resolves once the
   * session is registered (e.g. the buyer's ledger `open` arrived) or rejects; bounded by the
   * request timeout. Without it, unknown contracts are refused at once.
   */
  awaitSession?: (contractId: Uint8Array, signal: AbortSignal) => Promise<void>
  /** the contract's buyer closed the session: settle it with the highest voucher */
  onSessionClosed?: (closed: ClosedSession) => void
  /**
   * Make an accepted voucher durable (the node's seller journal); resolves once it is. With it,
   * the window counts only durable vouchers: a chunk leaves once a durable voucher covers what
   * was sent before it, so a crash loses at most the window (infer.md § Seller durability).
   */
  persistVoucher?: (contractId: Uint8Array, voucher: SignedVoucher) => Promise<void>
}

function failureFor (err: unknown): { code: FailureCodeName, message: string } {
  const message = err instanceof Error ? err.message : String(err)
  return { code: failureCodeOf(errorCode(err)), message }
}

/** a request that ended without a done frame, with the failure to tell the buyer (if it is still there) */
class RequestFailed extends Error {
  constructor (readonly failure: { code: FailureCodeName, message: string }) { super(failure.message) }
}

/** a request admitted on a session */
interface Admitted {
  session: SellerSession
  request?: ChatRequest
  embed?: EmbedRequest
  /** the buyer asked to keep the stream for the session's next request */
  keepOpen: boolean
}

function admission (session: SellerSession, request: ChatRequest | EmbedRequest, embedding: boolean, pb: InferRequest): Admitted {
  const keepOpen = pb.keepOpen === true
  return embedding ? { session, embed: request as EmbedRequest, keepOpen } : { session, request: request as ChatRequest, keepOpen }
}

/** the seller's counts on a session, as cumulative billed totals */
function billedOf (s: SellerSession): Billed {
  return { inputTokens: s.totalInputTokens, outputTokens: s.totalOutputTokens, amountUc: s.amountUc }
}

function bill (s: SellerSession, b: Billed): void {
  s.totalInputTokens = b.inputTokens
  s.totalOutputTokens = b.outputTokens
  s.amountUc = b.amountUc
}

/**
 * One request's backend output: pulled while fewer than maxChunkTokens tokens wait to be sent,
 * until the backend's done event, an error, or stop().
 */
class BackendOutput {
  readonly pending: PendingOutput[] = []
  pendingTokens = 0
  finished = false
  done?: { usage: Usage, finishReason: FinishReason }
  error: unknown
  /** settles when the backend is done pulling */
  readonly ended: Promise<void>
  private stopping = false
  private readonly ctrl = new AbortController()

  constructor (backend: Backend, request: ChatRequest, private readonly maxChunkTokens: number, private readonly signal: AbortSignal, private readonly changed: Notifier) {
    this.ended = this.pull(backend, request)
  }

  private async pull (backend: Backend, request: ChatRequest): Promise<void> {
    try {
      for await (const ev of backend.stream(request, this.ctrl.signal) as AsyncIterable<BackendEvent>) {
        if (ev.type === 'done') { this.done = ev; break }
        if (this.stopping || (ev.text.length === 0 && ev.outputTokens === 0 && (ev.toolCalls?.length ?? 0) === 0)) continue
        this.pending.push(ev.toolCalls != null && ev.toolCalls.length > 0 ? { text: ev.text, outputTokens: ev.outputTokens, toolCalls: ev.toolCalls } : { text: ev.text, outputTokens: ev.outputTokens })
        // token logprobs (infer.md § Logprobs) travel with the output they describe
        if (ev.logprobs != null && ev.logprobs.length > 0) this.pending[this.pending.length - 1].logprobs = ev.logprobs
        this.pendingTokens += ev.outputTokens
        this.changed.notify()
        while (this.pendingTokens >= this.maxChunkTokens && !this.stopping && !this.signal.aborted) await this.changed.wait()
      }
    } catch (err) {
      this.error = err
    } finally {
      this.finished = true
      this.changed.notify()
    }
  }

  /** the outputs a chunk carries leave the queue */
  take (chunk: NextChunk): void {
    this.pending.splice(0, chunk.count)
    this.pendingTokens -= chunk.outputTokens
  }

  /** abort the backend (the request's stream ended) */
  abort (reason: unknown): void {
    this.ctrl.abort(reason)
    this.changed.notify()
  }

  /** abort the backend and drop whatever it still yields */
  stop (reason: Error): void {
    this.stopping = true
    this.abort(reason)
  }
}

/**
 * Reads a stream's buyer frames after its first request, for the stream's life: each cumulative
 * voucher is accepted and wakes the request; once a done with stream_open has gone out (`between`),
 * the session's next request or a close is kept for the stream's loop.
 */
class FrameReader {
  /** why reading stopped during a request, as the request's failure */
  error: unknown
  /** the buyer ended its side between requests */
  ended = false
  /** a request or close received between requests */
  next?: BuyerFrame
  /** a done with stream_open went out: the next frame may be a request or a close */
  between = false

  constructor (lp: LengthPrefixedStream<Stream>, sessions: SellerSessions, contractId: Uint8Array, signal: AbortSignal, changed: Notifier, onAccepted?: (v: SignedVoucher) => void) {
    void (async () => {
      while (!signal.aborted) {
        const bytes = await lp.read({ signal })
        const frame = decodeLaterBuyerFrame(bytes, this.between && this.next == null)
        if (frame.voucher == null) {
          this.next = frame
          changed.notify()
          continue
        }
        const v = sessions.acceptVoucher(contractId, frame.voucher)
        changed.notify()
        onAccepted?.(v)
      }
    })().catch(err => {
      if (this.between && this.next == null && !(err instanceof VoucherError || err instanceof WireError || err instanceof InferError)) this.ended = true
      else {
        this.error = err instanceof VoucherError || err instanceof WireError || err instanceof InferError
          ? new RequestFailed({ code: FailureCode.badVoucher, message: err.message })
          : err
      }
      changed.notify()
    })
  }
}

export class InferSeller {
  private readonly components: InferSellerComponents
  private readonly voucherTimeoutMs: number
  private readonly requestTimeoutMs: number
  private readonly maxChunkTokens: number
  private readonly maxWindowChunkTokens: number
  private readonly minChunkIntervalMs: number
  private readonly maxInboundStreams: number
  private readonly drainTimeoutMs: number
  private readonly streamIdleMs: number
  private readonly keepOpen: boolean
  /** kept-open streams waiting for their next request: woken by stop() */
  private readonly idle = new Set<Notifier>()
  /** per connection, the streams kept open for a next request (at most half of maxInboundStreams) */
  private readonly keptOn = new Map<string, number>()
  private readonly now: () => number
  private readonly log: Logger
  private readonly inflight = new Set<AbortController>()
  /** every stream being handled, to wait on when draining */
  private readonly handling = new Set<Promise<void>>()
  private started = false
  /** per session, the highest voucher known durable (only with persistVoucher) */
  private readonly durable = new WeakMap<SellerSession, SignedVoucher>()
  /** per session, its running request's notifier (a write may end after the request that sent it) */
  private readonly wake = new WeakMap<SellerSession, Notifier>()
  /** stop() was called: new requests get `shutting-down` */
  private stopping = false

  constructor (components: InferSellerComponents, init: InferSellerInit = {}) {
    this.components = components
    this.voucherTimeoutMs = init.voucherTimeoutMs ?? DEFAULT_VOUCHER_TIMEOUT_MS
    this.requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.maxChunkTokens = Math.max(1, init.maxChunkTokens ?? DEFAULT_MAX_CHUNK_TOKENS)
    this.maxWindowChunkTokens = Math.max(1, init.maxWindowChunkTokens ?? DEFAULT_MAX_WINDOW_CHUNK_TOKENS)
    this.minChunkIntervalMs = Math.max(0, init.minChunkIntervalMs ?? DEFAULT_MIN_CHUNK_INTERVAL_MS)
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
    this.drainTimeoutMs = Math.max(0, init.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS)
    this.streamIdleMs = Math.max(0, init.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS)
    this.keepOpen = init.keepOpen ?? true
    this.now = init.now ?? Date.now
    this.log = (components.logger ?? defaultLogger()).forComponent('tally:infer:seller')
  }

  readonly [Symbol.toStringTag] = 'tally/infer-seller'

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(INFER_PROTOCOL, (stream, connection) => {
      const p = this.handle(stream, connection)
      this.handling.add(p)
      void p.finally(() => this.handling.delete(p))
    }, { maxInboundStreams: this.maxInboundStreams, runOnLimitedConnection: true })
    this.started = true
    this.stopping = false
  }

  /**
   * New requests are refused with `shutting-down` from now on; running ones get up to
   * drainTimeoutMs to finish, then the protocol is unregistered and what still runs is aborted.
   */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.stopping = true
    // kept-open streams waiting for a next request end now
    for (const n of this.idle) n.notify()
    if (this.drainTimeoutMs > 0 && this.handling.size > 0) {
      const drain = deadline(this.drainTimeoutMs)
      await raceSignal(Promise.allSettled([...this.handling]), drain.signal).catch(() => {})
      drain.clear()
    }
    await this.components.registrar.unhandle(INFER_PROTOCOL)
    for (const c of this.inflight) c.abort(new InferError('seller stopping'))
  }

  /** the highest voucher accepted for a contract: what the node settles with */
  highestVoucher (contractId: Uint8Array): ReturnType<SellerSessions['highestVoucher']> {
    return this.components.sessions.highestVoucher(contractId)
  }

  private async handle (stream: Stream, connection: Connection): Promise<void> {
    const ctrl = new AbortController()
    this.inflight.add(ctrl)
    const onClose = (): void => { ctrl.abort(new InferError('stream closed')) }
    stream.addEventListener('close', onClose)
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES })
    let session: SellerSession | undefined
    let unpaid = false
    try {
      let admitted = await this.admit(lp, stream, connection, ctrl.signal)
      if (admitted == null) return
      session = admitted.session
      const changed = new Notifier()
      const reader = new FrameReader(lp, this.components.sessions, session.terms.contractId, ctrl.signal, changed, this.persisting(session))
      this.wake.set(session, changed)
      while (true) {
        // stream reuse (infer.md § Stream reuse): chat requests that ask for it, while the seller is not stopping
        // kept streams hold at most half of the connection's stream limit: the rest stays free for new ones
        const kept = this.keptOn.get(connection.id) ?? 0
        const keep = this.keepOpen && admitted.keepOpen && admitted.embed == null && !this.stopping && kept < Math.floor(this.maxInboundStreams / 2)
        if (keep) this.keptOn.set(connection.id, kept + 1)
        let next: BuyerFrame | undefined
        try {
          if (admitted.embed != null) await this.runEmbed(lp, stream, session, admitted.embed, ctrl.signal, reader, changed)
          else await this.run(lp, stream, session, admitted.request!, ctrl.signal, reader, changed, keep)
          if (!keep) return
          next = await this.awaitNext(session, reader, changed, ctrl.signal)
        } finally {
          if (keep) {
            const n = (this.keptOn.get(connection.id) ?? 1) - 1
            if (n > 0) this.keptOn.set(connection.id, n)
            else this.keptOn.delete(connection.id)
          }
        }
        if (next == null) {
          void endStream(stream, this.requestTimeoutMs, ctrl.signal)
          return
        }
        reader.between = false
        reader.next = undefined
        if (next.close != null) {
          await this.close(lp, stream, next.close.contractId, connection.remotePeer.publicKey?.raw, ctrl.signal)
          return
        }
        admitted = this.admitNext(next.request!, session, connection.remotePeer.publicKey?.raw)
      }
    } catch (err) {
      if (err instanceof RequestFailed && (err.failure.code === FailureCode.voucherTimeout || err.failure.code === FailureCode.badVoucher)) unpaid = true
      if (err instanceof RequestFailed && !ctrl.signal.aborted) {
        this.log('request failed: %s %s', err.failure.code, err.failure.message)
        await this.sendFailure(lp, stream, err.failure)
      } else {
        this.log('stream ended: %s', (err as Error)?.message ?? err)
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    } finally {
      stream.removeEventListener('close', onClose)
      if (session != null) this.components.sessions.endRequest(session)
      this.inflight.delete(ctrl)
    }
    // a buyer that stopped paying (or paid with bad vouchers) gets no more service on this
    // session: close it now, so it is settled with what was vouchered instead of at expiry
    if (session != null && unpaid && !session.closed) {
      const closed = this.components.sessions.closeSession(session.terms.contractId)
      if (closed != null) this.components.onSessionClosed?.(closed)
    }
  }

  /**
   * The stream's first frame: a close (answered here; undefined back) or a request, checked in the
   * order of protocols/infer.md. The buyer is checked right after the contract is found, before
   * the session's state, so a stranger learns nothing about someone else's session (busy,
   * closed, spent). A refusal is thrown as a RequestFailed.
   */
  private async admit (lp: LengthPrefixedStream<Stream>, stream: Stream, connection: Connection, signal: AbortSignal): Promise<Admitted | undefined> {
    const remote = connection.remotePeer.publicKey?.raw
    const firstFrame = deadline(this.requestTimeoutMs, signal)
    try {
      const first = await lp.read({ signal: firstFrame.signal })
      firstFrame.clear()
      const frame = decodeBuyerFrame(first, true)
      if (frame.close != null) {
        await this.close(lp, stream, frame.close.contractId, remote, signal)
        return undefined
      }
      const { contractId, request, embedding } = this.parse(frame.request!)
      const sessions = this.components.sessions
      if (sessions.get(contractId) == null && this.components.awaitSession != null) {
        const late = deadline(this.requestTimeoutMs, signal)
        try {
          await this.components.awaitSession(contractId, late.signal)
        } finally {
          late.clear()
        }
      }
      const session = sessions.beginRequest(contractId, remote)
      return admission(session, request, embedding, frame.request!)
    } catch (err) {
      if (signal.aborted) throw err
      throw err instanceof RequestFailed ? err : new RequestFailed(failureFor(err))
    } finally {
      firstFrame.clear()
    }
  }

  /** a request frame's checks that need no session: decodes, in range, served, not stopping */
  private parse (pb: InferRequest): { contractId: Uint8Array, request: ChatRequest | EmbedRequest, embedding: boolean } {
    // an embeddings request (infer.md § Embeddings) or a chat request
    const embedding = pb.embed != null
    const { contractId, request } = embedding ? parseEmbedRequest(pb) : parseRequest(pb)
    if (embedding && (this.components.backend.embed == null || !(this.components.backend.capabilities ?? []).includes('embeddings'))) throw new InvalidRequestError('this seller does not serve embeddings')
    // a request needing a capability (tools, json_schema) the offer does not list is refused, never served plain
    const lacking = embedding ? undefined : requiredCapabilities(request as ChatRequest).find(c => !(this.components.backend.capabilities ?? ['chat']).includes(c))
    if (lacking !== undefined) throw new InvalidRequestError(`this seller does not serve ${lacking}`)
    if (this.stopping) throw new RequestFailed({ code: FailureCode.shuttingDown, message: 'the seller is shutting down: no new requests' })
    return { contractId, request, embedding }
  }

  /**
   * The session's next request on a kept-open stream: the same checks as a first request (Flow 2),
   * for the same contract only (another contract opens its own stream: `bad-request`).
   */
  private admitNext (pb: InferRequest, session: SellerSession, remote: Uint8Array | undefined): Admitted {
    try {
      const { contractId, request, embedding } = this.parse(pb)
      if (!bytesEqual(contractId, session.terms.contractId)) throw new InvalidRequestError('a kept-open stream carries its own session\'s requests only')
      return admission(this.components.sessions.beginRequest(contractId, remote), request, embedding, pb)
    } catch (err) {
      throw err instanceof RequestFailed ? err : new RequestFailed(failureFor(err))
    }
  }

  /**
   * After a done with stream_open: the session's next request or a close, or undefined when the
   * buyer ends its side, the seller stops, or nothing comes within streamIdleMs (never past the
   * session's expiry).
   */
  private async awaitNext (session: SellerSession, reader: FrameReader, changed: Notifier, signal: AbortSignal): Promise<BuyerFrame | undefined> {
    const left = Math.min(this.streamIdleMs, session.terms.expiresAtMs - this.now())
    if (left <= 0) return undefined
    const idle = deadline(left, signal)
    this.idle.add(changed)
    try {
      while (true) {
        if (reader.next != null) return reader.next
        if (reader.error != null) throw reader.error
        if (reader.ended || this.stopping) return undefined
        if (signal.aborted) throw signal.reason
        try {
          await raceSignal(changed.wait(), idle.signal)
        } catch {
          if (signal.aborted) throw signal.reason
          return undefined
        }
      }
    } finally {
      idle.clear()
      this.idle.delete(changed)
    }
  }

  /** a close from the contract's buyer: no more requests; the caller settles */
  private async close (lp: LengthPrefixedStream<Stream>, stream: Stream, contractId: Uint8Array, remote: Uint8Array | undefined, signal: AbortSignal): Promise<void> {
    const s = this.components.sessions.get(contractId)
    if (s == null) throw new UnknownSessionError(`no session for contract ${contractKey(contractId)}`)
    if (remote == null || !bytesEqual(remote, s.terms.buyer)) throw new WrongBuyerError('only the contract\'s buyer may close its session')
    const closed = this.components.sessions.closeSession(contractId)
    const h = closed?.highestVoucher
    await lp.write(encodeSellerFrame({
      done: {
        inputTokens: 0n,
        outputTokens: 0n,
        totalInputTokens: h?.inputTokens ?? 0n,
        totalOutputTokens: h?.outputTokens ?? 0n,
        amountUc: h?.amountUc ?? 0n,
        finishReason: 'closed',
        usageSource: '',
        stopReason: ''
      }
    }), { signal })
    if (closed != null) this.components.onSessionClosed?.(closed)
    await endStream(stream, this.requestTimeoutMs, signal)
  }

  private async sendFailure (lp: LengthPrefixedStream<Stream>, stream: Stream, f: { code: FailureCodeName, message: string }): Promise<void> {
    const failure: InferFailure = { code: f.code, message: Buffer.from(f.message).subarray(0, MAX_FAILURE_MESSAGE_BYTES).toString() }
    const sending = deadline(this.requestTimeoutMs)
    try {
      await lp.write(encodeSellerFrame({ failure }), { signal: sending.signal })
    } catch (err: any) {
      stream.abort(err)
      return
    } finally {
      sending.clear()
    }
    // not awaited: the request (and its session) is over; only the stream lingers, bounded
    void endStream(stream, this.requestTimeoutMs)
  }

  /**
   * One request: stream the backend's output in chunks, each leaving once the window allows
   * (the paid-ahead window in µc when the contract states max_unpaid_uc, else one chunk: covers),
   * trimmed to the budget (nextChunk); then done (in the last chunk's write), the final voucher and
   * the meter record. A request that ends otherwise is resynchronized on the highest voucher (unpaidLoss).
   * `keep`: the done says stream_open and the stream stays for the session's next request.
   */
  private async run (lp: LengthPrefixedStream<Stream>, stream: Stream, session: SellerSession, request: ChatRequest, signal: AbortSignal, reader: FrameReader, changed: Notifier, keep: boolean): Promise<void> {
    const { terms } = session
    const receivedAt = performance.now()
    const startedAtMs = this.now()
    const start = billedOf(session)
    // a stated max_unpaid_uc: the window bounds the risk, so chunks may be larger, up to half the
    // window's worth of output (the buyer pays one while the seller sends the next)
    const term = terms.maxUnpaidUc ?? 0n
    const halfWindowTokens = term > 0n ? Number(term / 2n * 1_000_000n / terms.priceOutPerMTokUc) : 0
    const chunkTokens = term > 0n ? Math.max(1, Math.min(this.maxWindowChunkTokens, halfWindowTokens)) : this.maxChunkTokens
    const output = new BackendOutput(this.components.backend, request, chunkTokens, signal, changed)
    const onAbort = (): void => { output.abort(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    const limits: ChunkLimits = { maxChunkTokens: chunkTokens, maxChunkTextBytes: MAX_CHUNK_TEXT_BYTES }

    let sentOut = start.outputTokens
    let firstChunkAt: number | undefined
    let lastChunkAt = receivedAt
    let budgetStop = false
    let clean = false
    let windowUc: bigint | undefined
    /** the last chunk, held to leave in one write with done when the backend has finished */
    let held: Uint8Array | undefined
    try {
      while (true) {
        if (reader.error != null) throw reader.error
        if (signal.aborted) throw signal.reason
        // nothing left to send: done follows at once (the final voucher pays for the last chunk too)
        if (output.pending.length === 0 && output.finished) break
        const windowed = this.components.sessions.unpaidRoom(session)?.window === true
        if (!windowed) await this.waitCovered(session, { inputTokens: start.inputTokens, outputTokens: sentOut }, reader, signal, changed)
        if (output.pending.length === 0) {
          if (output.finished) break
          await changed.wait()
          continue
        }
        if (firstChunkAt != null) await this.gather(output, lastChunkAt, reader, signal, changed, chunkTokens)
        const room = this.roomFor(session)
        const sent: Totals = { inputTokens: start.inputTokens, outputTokens: sentOut }
        const chunk = nextChunk(output.pending, sent, terms, limits, room)
        if (chunk.count === 0 && !chunk.budgetStop) {
          // the paid-ahead window is full: wait for the voucher that makes room
          await this.waitRoom(lp, session, sent, reader, signal, changed, room!)
          continue
        }
        output.take(chunk)
        if (chunk.outputTokens > 0 || chunk.text.length > 0 || chunk.toolCalls != null) {
          sentOut += BigInt(chunk.outputTokens)
          bill(session, { inputTokens: session.totalInputTokens, outputTokens: sentOut, amountUc: sessionAmountUc(start.inputTokens, sentOut, terms) })
          windowUc = room?.window === true ? room.roomUc : undefined
          const frame = encodeSellerFrame({
            chunk: { text: chunk.text, outputTokens: chunk.outputTokens, totalInputTokens: start.inputTokens, totalOutputTokens: sentOut, amountUc: session.amountUc, toolCallsJson: chunk.toolCalls != null ? JSON.stringify(chunk.toolCalls) : undefined, logprobsJson: chunk.logprobs != null ? JSON.stringify(chunk.logprobs) : undefined, windowUc }
          })
          if (output.finished && output.pending.length === 0 && output.done != null && !chunk.budgetStop) held = frame
          else await lp.write(frame, { signal })
          firstChunkAt ??= performance.now()
          lastChunkAt = performance.now()
        }
        changed.notify()
        if (chunk.budgetStop) {
          budgetStop = true
          output.stop(new BudgetExhaustedError('max spend reached'))
          break
        }
      }
      await output.ended
      if (signal.aborted) throw signal.reason
      const done = output.done
      if (done == null) {
        if (held != null) await lp.write(held, { signal })
        throw new RequestFailed(failureFor(output.error ?? new Error('backend ended without a done event')))
      }
      const reqOut = requestOutputTokens(sentOut - start.outputTokens, BigInt(done.usage.outputTokens), budgetStop)
      const reqIn = BigInt(done.usage.inputTokens)
      const total: Totals = { inputTokens: start.inputTokens + reqIn, outputTokens: start.outputTokens + reqOut }
      bill(session, { ...total, amountUc: sessionAmountUc(total.inputTokens, total.outputTokens, terms) })
      // from here the buyer may send its next request on this stream (after its final voucher)
      if (keep) reader.between = true
      const doneFrame = encodeSellerFrame({
        done: {
          inputTokens: reqIn,
          outputTokens: reqOut,
          totalInputTokens: total.inputTokens,
          totalOutputTokens: total.outputTokens,
          amountUc: session.amountUc,
          finishReason: budgetStop ? 'length' : done.finishReason,
          usageSource: done.usage.source,
          stopReason: budgetStop ? FailureCode.budget : '',
          streamOpen: keep ? true : undefined
        }
      })
      // the last chunk and done in one write (infer.md § Flow 5, Chunks)
      if (held != null) await lp.writeV([held, doneFrame], { signal })
      else await lp.write(doneFrame, { signal })
      // the final voucher carries the input tokens: the receipt for the whole request (the next
      // request's first chunk waits for it to be durable, not the end of this one)
      await this.waitCovered(session, total, reader, signal, changed, false)
      clean = true
      bill(session, syncOnHighest(billedOf(session), session.highest, terms))
      this.components.onMeter?.(meterRecord({
        // the contract's parties, model and prices
        ...meterTermsOf(terms),
        inputTokens: Number(reqIn),
        outputTokens: Number(reqOut),
        amountBeforeUc: start.amountUc,
        amountAfterUc: session.amountUc,
        ttftMs: (firstChunkAt ?? lastChunkAt) - receivedAt,
        generationMs: lastChunkAt - (firstChunkAt ?? lastChunkAt),
        usageSource: done.usage.source,
        startedAtMs
      }))
      // the session is free before the stream closes, so the buyer's next request never finds it busy
      this.components.sessions.endRequest(session)
      if (!keep) void endStream(stream, this.requestTimeoutMs, signal).then(closed => { if (!closed) this.log('the buyer did not close after the final voucher: stream reset') })
    } finally {
      signal.removeEventListener('abort', onAbort)
      output.stop(new InferError('request ended'))
      if (!clean) {
        // resynchronize on what the buyer has signed: the unpaid work (within the window) is the loss
        const loss = unpaidLoss(billedOf(session), session.highest, terms, this.maxChunkTokens, windowUc)
        if (loss != null) this.components.sessions.recordUnpaid(loss)
        bill(session, paidTotals(session.highest))
      }
      bill(session, syncOnHighest(billedOf(session), session.highest, terms))
    }
  }

  /** the session's unpaid room, counted from the highest durable voucher when the seller journals */
  private roomFor (session: SellerSession): UnpaidRoom | undefined {
    const room = this.components.sessions.unpaidRoom(session)
    if (room?.window !== true || this.components.persistVoucher == null) return room
    return { ...room, paidUc: this.durable.get(session)?.amountUc ?? 0n }
  }

  /**
   * The paid-ahead window is full: wait (at most voucherTimeoutMs) until a voucher makes room. A
   * buyer signs at half the window; if what it has not vouchered is below that (one output larger
   * than the rest of the window), the seller asks with an empty chunk, once (infer.md § Flow 5).
   */
  private async waitRoom (lp: LengthPrefixedStream<Stream>, session: SellerSession, sent: Totals, reader: FrameReader, signal: AbortSignal, changed: Notifier, room: UnpaidRoom): Promise<void> {
    const paidAt = room.paidUc
    const unvouchered = session.amountUc - (session.highest?.amountUc ?? 0n)
    if (unvouchered > 0n && 2n * unvouchered < room.roomUc) {
      await lp.write(encodeSellerFrame({ chunk: { text: '', outputTokens: 0, totalInputTokens: sent.inputTokens, totalOutputTokens: sent.outputTokens, amountUc: session.amountUc, windowUc: room.roomUc } }), { signal })
    }
    await this.waitVoucher(() => {
      const r = this.roomFor(session)
      return !(r?.window === true && r.paidUc <= paidAt && r.roomUc <= room.roomUc)
    }, sent, reader, signal, changed)
  }

  /**
   * One embeddings request (infer.md § Embeddings): once the earlier requests are paid, run the
   * backend on every input, check the amount against the max spend and the unpaid room before
   * anything leaves, send the vectors and done, and wait for the one voucher that pays them.
   */
  private async runEmbed (lp: LengthPrefixedStream<Stream>, stream: Stream, session: SellerSession, request: EmbedRequest, signal: AbortSignal, vouchers: FrameReader, changed: Notifier): Promise<void> {
    const { terms } = session
    const receivedAt = performance.now()
    const startedAtMs = this.now()
    const start = billedOf(session)
    let clean = false
    try {
      await this.waitCovered(session, start, vouchers, signal, changed)
      let result
      try {
        result = await raceSignal(this.components.backend.embed!(request, signal), signal)
      } catch (err) {
        if (signal.aborted) throw signal.reason
        throw new RequestFailed(failureFor(err))
      }
      const { vectors, usage } = result
      const dimensions = vectors[0]?.length ?? 0
      if (vectors.length !== request.inputs.length || dimensions < 1 || dimensions > MAX_EMBED_DIMENSIONS || vectors.some(v => v.length !== dimensions) || (request.dimensions != null && dimensions !== request.dimensions)) {
        throw new RequestFailed({ code: FailureCode.backend, message: `the backend returned ${vectors.length} vectors of ${dimensions} values for ${request.inputs.length} inputs${request.dimensions != null ? ` of ${request.dimensions}` : ''}` })
      }
      const reqIn = BigInt(usage.inputTokens)
      const total: Totals = { inputTokens: start.inputTokens + reqIn, outputTokens: start.outputTokens }
      const amount = amountUc(total.inputTokens, total.outputTokens, terms.priceInPerMTokUc, terms.priceOutPerMTokUc)
      if (amount > terms.maxSpendUc) throw new RequestFailed({ code: FailureCode.budget, message: `${usage.inputTokens} input tokens would bill ${amount} µc, above the session's max spend of ${terms.maxSpendUc} µc` })
      const room = this.components.sessions.unpaidRoom(session)
      if (room != null && amount - room.paidUc > room.roomUc) throw new RequestFailed({ code: FailureCode.budget, message: `${usage.inputTokens} input tokens would bill ${amount - room.paidUc} µc ahead of the last voucher, above the ${room.roomUc} µc this seller serves unpaid` })
      bill(session, { ...total, amountUc: amount })
      for (const frame of embeddingsFrames(vectors, dimensions)) await lp.write(frame, { signal })
      await lp.write(encodeSellerFrame({
        done: {
          inputTokens: reqIn,
          outputTokens: 0n,
          totalInputTokens: total.inputTokens,
          totalOutputTokens: total.outputTokens,
          amountUc: amount,
          finishReason: 'stop',
          usageSource: usage.source,
          stopReason: ''
        }
      }), { signal })
      const sentAt = performance.now()
      await this.waitCovered(session, total, vouchers, signal, changed, false)
      clean = true
      bill(session, syncOnHighest(billedOf(session), session.highest, terms))
      this.components.onMeter?.(meterRecord({
        // the contract's parties, model and prices
        ...meterTermsOf(terms),
        inputTokens: usage.inputTokens,
        outputTokens: 0,
        amountBeforeUc: start.amountUc,
        amountAfterUc: session.amountUc,
        ttftMs: sentAt - receivedAt,
        generationMs: 0,
        usageSource: usage.source,
        startedAtMs
      }))
      this.components.sessions.endRequest(session)
      void endStream(stream, this.requestTimeoutMs, signal).then(closed => { if (!closed) this.log('the buyer did not close after the final voucher: stream reset') })
    } finally {
      if (!clean) {
        // what was sent and not vouchered (at most this request's input, within the room) is the loss
        const loss = unpaidLoss(billedOf(session), session.highest, terms, 0)
        if (loss != null) this.components.sessions.recordUnpaid(loss)
        bill(session, paidTotals(session.highest))
      }
      bill(session, syncOnHighest(billedOf(session), session.highest, terms))
    }
  }

  /** what the window counts as paid: the highest voucher, or with a journal the highest durable one */
  private paidFor (session: SellerSession, durableOnly: boolean): SignedVoucher | undefined {
    return durableOnly && this.components.persistVoucher != null ? this.durable.get(session) : session.highest
  }

  /** each accepted voucher goes to the journal; once durable, the window may move on */
  private persisting (session: SellerSession): ((v: SignedVoucher) => void) | undefined {
    const persist = this.components.persistVoucher
    if (persist == null) return undefined
    return (v) => {
      persist(session.terms.contractId, v).then(() => {
        const d = this.durable.get(session)
        if (d == null || v.nonce > d.nonce) this.durable.set(session, v)
        this.wake.get(session)?.notify()
      }, (err) => { this.log.error('journaling a voucher failed: %s', err?.message ?? err) })
    }
  }

  /** wait until the highest (durable) voucher covers `sent` (window = 1), at most voucherTimeoutMs */
  private async waitCovered (session: SellerSession, sent: Totals, vouchers: FrameReader, signal: AbortSignal, changed: Notifier, durableOnly = true): Promise<void> {
    if (covers(this.paidFor(session, durableOnly), sent)) return
    await this.waitVoucher(() => covers(this.paidFor(session, durableOnly), sent), sent, vouchers, signal, changed)
  }

  /** wait for vouchers until `paid()` holds, at most voucherTimeoutMs (then failure voucher-timeout) */
  private async waitVoucher (paid: () => boolean, sent: Totals, vouchers: FrameReader, signal: AbortSignal, changed: Notifier): Promise<void> {
    const timer = deadline(this.voucherTimeoutMs)
    try {
      while (!paid()) {
        if (vouchers.error != null) throw vouchers.error
        if (signal.aborted) throw signal.reason
        try {
          await raceSignal(changed.wait(), timer.signal)
        } catch {
          throw new RequestFailed(failureFor(new VoucherTimeoutError(`no voucher for ${sent.outputTokens} output tokens within ${this.voucherTimeoutMs} ms`)))
        }
      }
    } finally {
      timer.clear()
    }
  }

  /**
   * After the first chunk, which leaves at once: a chunk takes what the backend has ready, one
   * macrotask (setImmediate) at a time while more keeps arriving, and leaves once a macrotask adds
   * nothing or it is full; with minChunkIntervalMs > 0 it gathers
   * for up to that long instead (fewer, larger chunks for a slow backend).
   */
  private async gather (output: BackendOutput, lastChunkAt: number, vouchers: FrameReader, signal: AbortSignal, changed: Notifier, chunkTokens: number): Promise<void> {
    if (output.pendingTokens >= chunkTokens || output.finished) return
    const left = lastChunkAt + this.minChunkIntervalMs - performance.now()
    if (left > 0) {
      const timer = deadline(Math.ceil(left))
      while (!timer.signal.aborted && output.pendingTokens < chunkTokens && !output.finished && vouchers.error == null && !signal.aborted) {
        await raceSignal(changed.wait(), timer.signal).catch(() => {})
      }
      timer.clear()
    } else {
      // one macrotask at a time, while the backend keeps adding output and the chunk is not full
      let before = -1
      while (output.pendingTokens < chunkTokens && !output.finished && output.pendingTokens !== before && vouchers.error == null && !signal.aborted) {
        before = output.pendingTokens
        await new Promise(resolve => setImmediate(resolve))
      }
    }
  }
}

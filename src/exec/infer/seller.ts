/**
 * The seller's end of /tally/infer/1.0.0: checks the session, runs the backend, streams chunks,
 * pauses while the buyer's voucher lags by more than one chunk, stops at the max spend, and keeps
 * the highest voucher per contract in its SellerSessions.
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { defaultLogger } from '@libp2p/logger'
import type { ComponentLogger, Connection, Logger, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Backend, BackendEvent, ChatRequest, FinishReason, Usage } from '../backend.js'
import { amountUc, sessionAmountUc } from '../pricing.js'
import { meterRecord, type MeterRecord } from '../metering.js'
import { VoucherError } from '../voucher.js'
import { WireError } from '../../wire/errors.js'
import type { InferFailure } from '../../wire/pb/infer.js'
import { decodeBuyerFrame, encodeSellerFrame, INFER_PROTOCOL, MAX_CHUNK_TEXT_BYTES, MAX_FAILURE_MESSAGE_BYTES, MAX_REQUEST_FRAME_BYTES, parseRequest } from './codec.js'
import { BudgetExhaustedError, FailureCode, InferError, InvalidRequestError, SessionBusyError, SessionClosedError, SessionExpiredError, UnknownSessionError, VoucherTimeoutError, WrongBuyerError, type FailureCodeName } from './errors.js'
import { Notifier, raceSignal } from './notifier.js'
import type { ClosedSession, SellerSession, SellerSessions } from './sessions.js'
import { bytesEqual, contractKey } from './terms.js'

/** how long the seller waits, paused, for the voucher that covers what it sent */
export const DEFAULT_VOUCHER_TIMEOUT_MS = 10_000
/** how long a new stream may take to send its request frame */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
/** most output tokens in one chunk frame: the most a seller risks on an unpaid chunk */
export const DEFAULT_MAX_CHUNK_TOKENS = 64
/** after the first chunk, a chunk gathers tokens this long (unless full): bounds vouchers per second */
export const DEFAULT_MIN_CHUNK_INTERVAL_MS = 10
/** concurrent infer streams per connection */
export const DEFAULT_MAX_INBOUND_STREAMS = 8

export interface InferSellerInit {
  voucherTimeoutMs?: number
  requestTimeoutMs?: number
  maxChunkTokens?: number
  minChunkIntervalMs?: number
  maxInboundStreams?: number
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
}

function failureFor (err: unknown): { code: FailureCodeName, message: string } {
  const message = err instanceof Error ? err.message : String(err)
  if (err instanceof UnknownSessionError) return { code: FailureCode.unknownContract, message }
  if (err instanceof WrongBuyerError) return { code: FailureCode.wrongBuyer, message }
  if (err instanceof SessionExpiredError) return { code: FailureCode.expired, message }
  if (err instanceof SessionClosedError) return { code: FailureCode.closed, message }
  if (err instanceof SessionBusyError || (err as Error)?.name === 'BackendBusyError') return { code: FailureCode.busy, message }
  if (err instanceof BudgetExhaustedError) return { code: FailureCode.budget, message }
  if (err instanceof InvalidRequestError || err instanceof WireError) return { code: FailureCode.badRequest, message }
  if (err instanceof VoucherError) return { code: FailureCode.badVoucher, message }
  if (err instanceof VoucherTimeoutError) return { code: FailureCode.voucherTimeout, message }
  return { code: FailureCode.backend, message }
}

/** a request that ended without a done frame, with the failure to tell the buyer (if it is still there) */
class RequestFailed extends Error {
  constructor (readonly failure: { code: FailureCodeName, message: string }) { super(failure.message) }
}

export class InferSeller {
  private readonly components: InferSellerComponents
  private readonly voucherTimeoutMs: number
  private readonly requestTimeoutMs: number
  private readonly maxChunkTokens: number
  private readonly minChunkIntervalMs: number
  private readonly maxInboundStreams: number
  private readonly now: () => number
  private readonly log: Logger
  private readonly inflight = new Set<AbortController>()
  private started = false

  constructor (components: InferSellerComponents, init: InferSellerInit = {}) {
    this.components = components
    this.voucherTimeoutMs = init.voucherTimeoutMs ?? DEFAULT_VOUCHER_TIMEOUT_MS
    this.requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.maxChunkTokens = Math.max(1, init.maxChunkTokens ?? DEFAULT_MAX_CHUNK_TOKENS)
    this.minChunkIntervalMs = Math.max(0, init.minChunkIntervalMs ?? DEFAULT_MIN_CHUNK_INTERVAL_MS)
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
    this.now = init.now ?? Date.now
    this.log = (components.logger ?? defaultLogger()).forComponent('tally:infer:seller')
  }

  readonly [Symbol.toStringTag] = 'tally/infer-seller'

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(INFER_PROTOCOL, (stream, connection) => { void this.handle(stream, connection) }, { maxInboundStreams: this.maxInboundStreams })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
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
      let contractId: Uint8Array
      let request: ChatRequest
      try {
        const first = await lp.read({ signal: AbortSignal.any([ctrl.signal, AbortSignal.timeout(this.requestTimeoutMs)]) })
        const frame = decodeBuyerFrame(first, true)
        if (frame.close != null) {
          await this.close(lp, stream, frame.close.contractId, connection.remotePeer.publicKey?.raw, ctrl.signal)
          return
        }
        ;({ contractId, request } = parseRequest(frame.request!))
        if (this.components.sessions.get(contractId) == null && this.components.awaitSession != null) {
          await this.components.awaitSession(contractId, AbortSignal.any([ctrl.signal, AbortSignal.timeout(this.requestTimeoutMs)]))
        }
        session = this.components.sessions.beginRequest(contractId, connection.remotePeer.publicKey?.raw)
      } catch (err) {
        if (ctrl.signal.aborted) throw err
        throw new RequestFailed(failureFor(err))
      }
      await this.run(lp, stream, session, request, ctrl.signal)
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
    await stream.close({ signal: AbortSignal.any([signal, AbortSignal.timeout(this.requestTimeoutMs)]) })
  }

  private async sendFailure (lp: LengthPrefixedStream<Stream>, stream: Stream, f: { code: FailureCodeName, message: string }): Promise<void> {
    const failure: InferFailure = { code: f.code, message: Buffer.from(f.message).subarray(0, MAX_FAILURE_MESSAGE_BYTES).toString() }
    try {
      const signal = AbortSignal.timeout(this.requestTimeoutMs)
      await lp.write(encodeSellerFrame({ failure }), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
    }
  }

  private async run (lp: LengthPrefixedStream<Stream>, stream: Stream, session: SellerSession, request: ChatRequest, signal: AbortSignal): Promise<void> {
    const { terms } = session
    const sessions = this.components.sessions
    const receivedAt = performance.now()
    const startedAtMs = this.now()
    const startIn = session.totalInputTokens
    const startOut = session.totalOutputTokens
    const startAmount = session.amountUc
    const changed = new Notifier()
    const backendCtrl = new AbortController()
    const onAbort = (): void => { backendCtrl.abort(signal.reason); changed.notify() }
    signal.addEventListener('abort', onAbort, { once: true })

    // voucher reader: every buyer frame after the request is one cumulative voucher
    let readerError: unknown
    void (async () => {
      while (!signal.aborted) {
        const bytes = await lp.read({ signal })
        const frame = decodeBuyerFrame(bytes, false)
        sessions.acceptVoucher(terms.contractId, frame.voucher!)
        changed.notify()
      }
    })().catch(err => {
      readerError = err instanceof VoucherError || err instanceof WireError || err instanceof InferError
        ? new RequestFailed({ code: FailureCode.badVoucher, message: err.message })
        : err
      changed.notify()
    })

    // producer: pulls backend events while fewer than maxChunkTokens are waiting to be sent
    const pending: Array<{ text: string, outputTokens: number }> = []
    let pendingTokens = 0
    let stopping = false
    let done: { usage: Usage, finishReason: FinishReason } | undefined
    let backendError: unknown
    let producerFinished = false
    const producer = (async () => {
      try {
        for await (const ev of this.components.backend.stream(request, backendCtrl.signal) as AsyncIterable<BackendEvent>) {
          if (ev.type === 'done') { done = ev; break }
          if (stopping || (ev.text.length === 0 && ev.outputTokens === 0)) continue
          pending.push({ text: ev.text, outputTokens: ev.outputTokens })
          pendingTokens += ev.outputTokens
          changed.notify()
          while (pendingTokens >= this.maxChunkTokens && !stopping && !signal.aborted) await changed.wait()
        }
      } catch (err) {
        backendError = err
      } finally {
        producerFinished = true
        changed.notify()
      }
    })()

    const covered = (outTokens: bigint, inTokens: bigint): boolean => {
      const h = session.highest
      return outTokens === 0n && inTokens === 0n ? true : h != null && h.outputTokens >= outTokens && h.inputTokens >= inTokens
    }
    const waitCovered = async (outTokens: bigint, inTokens: bigint): Promise<void> => {
      if (covered(outTokens, inTokens)) return
      const timer = AbortSignal.timeout(this.voucherTimeoutMs)
      while (!covered(outTokens, inTokens)) {
        if (readerError != null) throw readerError
        if (signal.aborted) throw signal.reason
        try {
          await raceSignal(changed.wait(), timer)
        } catch {
          throw new RequestFailed(failureFor(new VoucherTimeoutError(`no voucher for ${outTokens} output tokens within ${this.voucherTimeoutMs} ms`)))
        }
      }
    }

    /** a buyer's voucher may run ahead of what this seller counted (never behind, once paid) */
    const syncOnHighest = (): void => {
      const h = session.highest
      if (h == null) return
      if (h.inputTokens > session.totalInputTokens) session.totalInputTokens = h.inputTokens
      if (h.outputTokens > session.totalOutputTokens) session.totalOutputTokens = h.outputTokens
      session.amountUc = sessionAmountUc(session.totalInputTokens, session.totalOutputTokens, terms)
    }

    let sentOut = startOut
    let firstChunkAt: number | undefined
    let lastChunkAt = receivedAt
    let budgetStop = false
    let clean = false
    try {
      while (true) {
        if (readerError != null) throw readerError
        if (signal.aborted) throw signal.reason
        // window = 1: the previous chunk must be paid before the next one leaves
        await waitCovered(sentOut, startIn)
        if (pending.length === 0) {
          if (producerFinished) break
          await changed.wait()
          continue
        }
        if (firstChunkAt != null && pendingTokens < this.maxChunkTokens && !producerFinished) {
          // after the first token goes out at once, later chunks gather tokens for up to
          // minChunkIntervalMs: fewer, larger chunks and vouchers, so signing never competes
          // with the backend for CPU token by token
          const left = lastChunkAt + this.minChunkIntervalMs - performance.now()
          if (left > 0) {
            const timer = AbortSignal.timeout(Math.ceil(left))
            while (!timer.aborted && pendingTokens < this.maxChunkTokens && !producerFinished && readerError == null && !signal.aborted) {
              await raceSignal(changed.wait(), timer).catch(() => {})
            }
          } else {
            await new Promise(resolve => setImmediate(resolve))
          }
        }
        let text = ''
        let tokens = 0
        let textBytes = 0
        while (pending.length > 0) {
          const c = pending[0]
          const bytes = Buffer.byteLength(c.text)
          if (tokens > 0 && (tokens + c.outputTokens > this.maxChunkTokens || textBytes + bytes > MAX_CHUNK_TEXT_BYTES)) break
          if (amountUc(startIn, sentOut + BigInt(tokens + c.outputTokens), terms.priceInPerMTokUc, terms.priceOutPerMTokUc) > terms.maxSpendUc) { budgetStop = true; break }
          pending.shift()
          pendingTokens -= c.outputTokens
          text += c.text
          textBytes += bytes
          tokens += c.outputTokens
        }
        if (tokens > 0 || text.length > 0) {
          sentOut += BigInt(tokens)
          session.totalOutputTokens = sentOut
          session.amountUc = sessionAmountUc(startIn, sentOut, terms)
          await lp.write(encodeSellerFrame({
            chunk: { text, outputTokens: tokens, totalInputTokens: startIn, totalOutputTokens: sentOut, amountUc: session.amountUc }
          }), { signal })
          firstChunkAt ??= performance.now()
          lastChunkAt = performance.now()
        }
        changed.notify()
        if (budgetStop) {
          stopping = true
          backendCtrl.abort(new BudgetExhaustedError('max spend reached'))
          changed.notify()
          break
        }
      }
      await producer
      if (signal.aborted) throw signal.reason
      if (done == null) throw new RequestFailed(failureFor(backendError ?? new Error('backend ended without a done event')))
      const sentThisRequest = sentOut - startOut
      const reported = BigInt(done.usage.outputTokens)
      const reqOut = budgetStop || reported < sentThisRequest ? sentThisRequest : reported
      const reqIn = BigInt(done.usage.inputTokens)
      const totalIn = startIn + reqIn
      const totalOut = startOut + reqOut
      session.totalInputTokens = totalIn
      session.totalOutputTokens = totalOut
      session.amountUc = sessionAmountUc(totalIn, totalOut, terms)
      const finishReason: FinishReason = budgetStop ? 'length' : done.finishReason
      await lp.write(encodeSellerFrame({
        done: {
          inputTokens: reqIn,
          outputTokens: reqOut,
          totalInputTokens: totalIn,
          totalOutputTokens: totalOut,
          amountUc: session.amountUc,
          finishReason,
          usageSource: done.usage.source,
          stopReason: budgetStop ? FailureCode.budget : ''
        }
      }), { signal })
      // the final voucher carries the input tokens: the receipt for the whole request
      await waitCovered(totalOut, totalIn)
      clean = true
      syncOnHighest()
      this.components.onMeter?.(meterRecord({
        contractId: terms.contractId,
        seller: terms.seller,
        buyer: terms.buyer,
        modelId: terms.modelId,
        params: terms.params,
        priceInPerMTokUc: terms.priceInPerMTokUc,
        priceOutPerMTokUc: terms.priceOutPerMTokUc,
        inputTokens: Number(reqIn),
        outputTokens: Number(reqOut),
        amountBeforeUc: startAmount,
        amountAfterUc: session.amountUc,
        ttftMs: (firstChunkAt ?? lastChunkAt) - receivedAt,
        generationMs: lastChunkAt - (firstChunkAt ?? lastChunkAt),
        usageSource: done.usage.source,
        startedAtMs
      }))
      // the session is free before the stream closes, so the buyer's next request never finds it busy
      this.components.sessions.endRequest(session)
      try {
        await stream.close({ signal: AbortSignal.any([signal, AbortSignal.timeout(this.requestTimeoutMs)]) })
      } catch (err: any) {
        this.log('closing after the final voucher: %s', err?.message)
      }
    } finally {
      signal.removeEventListener('abort', onAbort)
      stopping = true
      backendCtrl.abort(new InferError('request ended'))
      changed.notify()
      if (!clean) {
        // resynchronize on what the buyer has signed: the unpaid chunk (at most one) is the loss
        const h = session.highest
        const lostIn = session.totalInputTokens - (h?.inputTokens ?? 0n)
        const lostOut = session.totalOutputTokens - (h?.outputTokens ?? 0n)
        const lostUc = session.amountUc - (h?.amountUc ?? 0n)
        if (lostIn > 0n || lostOut > 0n || lostUc > 0n) {
          const reqIn = lostIn > 0n ? lostIn : 0n
          this.components.sessions.recordUnpaid({
            inputTokens: reqIn,
            outputTokens: lostOut > 0n ? lostOut : 0n,
            amountUc: lostUc > 0n ? lostUc : 0n,
            // +1: the difference of two rounded-up cumulative amounts may exceed the rounded-up difference by 1 µc
            boundUc: amountUc(reqIn, BigInt(this.maxChunkTokens), terms.priceInPerMTokUc, terms.priceOutPerMTokUc) + 1n
          })
        }
        session.totalInputTokens = h?.inputTokens ?? 0n
        session.totalOutputTokens = h?.outputTokens ?? 0n
        session.amountUc = h?.amountUc ?? 0n
      }
      syncOnHighest()
    }
  }
}

export function inferSeller (init: InferSellerInit = {}): (components: InferSellerComponents) => InferSeller {
  return (components) => new InferSeller(components, init)
}

/**
 * The buyer's end of /tally/infer/1.0.0: sends one request on a session, checks every chunk
 * against what it received (never signs for more output tokens than its TokenCounter allows),
 * forwards it, then pays with signed cumulative vouchers (one per half of the seller's paid-ahead
 * window, or per chunk), abandons a seller that stalls, and keeps the session's stream open for
 * its next request when the seller agrees (infer.md § Stream reuse).
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { defaultLogger } from '@libp2p/logger'
import type { AbortOptions, ComponentLogger, Logger, PeerId, Stream } from '@libp2p/interface'
import type { Ed25519Signer } from '../../identity/ed25519.js'
import type { ChatMessage, ChatRequest, EmbedRequest, FinishReason, ToolCall, ToolCallDelta, Usage, UsageSource } from '../backend.js'
import { accumulateToolCalls, toolCallDeltaBytes } from '../tools.js'
import { sessionAmountUc } from '../pricing.js'
import { meterTermsOf, meterRecord, type MeterRecord } from '../metering.js'
import { makeVoucher, type SignedVoucher } from '../voucher.js'
import { checkChatRequest, parseChunkLogprobs, parseChunkToolCalls, decodeSellerFrame, encodeCloseFrame, encodeRequest, encodeVoucherFrame, INFER_PROTOCOL, MAX_SELLER_FRAME_BYTES, checkEmbedRequest, encodeEmbedRequest, unpackVectors } from './codec.js'
import { BudgetExhaustedError, FailureCode, FirstTokenTimeoutError, InferAbortedError, InferError, ProtocolViolationError, RemoteInferError, SellerOverclaimError, SessionBusyError, SessionClosedError, SessionExpiredError, StreamIdleTimeoutError, UnknownSessionError, WrongBuyerError, WrongSellerError } from './errors.js'
import type { BuyerSession, BuyerSessions } from './sessions.js'
import { bytesEqual, contractKey, type SessionTerms } from './terms.js'
import { maxEmbedInputTokens, utf8BoundCounter, type TokenCounter } from './token-counter.js'
import { voucherDue } from './window.js'
import { WireError } from '../../wire/errors.js'
import { deadline } from '../../wire/deadline.js'
import { raceSignal } from './notifier.js'
import type { TokenLogprob } from '../../wire/logprobs.js'

/** a seller that sends no first token in this long is abandoned */
export const DEFAULT_FIRST_TOKEN_TIMEOUT_MS = 30_000
/** a seller silent this long between chunks is abandoned */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000
/** opening the stream (dial + protocol select) */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000

export interface InferBuyerInit {
  firstTokenTimeoutMs?: number
  idleTimeoutMs?: number
  dialTimeoutMs?: number
  /** clock for meter records' startedAtMs; default Date.now */
  now?: () => number
  /** ask the seller to keep each session's stream for its next request (default true) */
  keepOpen?: boolean
}

/** the slice of a Libp2p node (or its connection manager, adapted) the buyer uses */
export interface InferDialer {
  dialProtocol(peer: PeerId, protocol: string, options?: AbortOptions & { runOnLimitedConnection?: boolean }): Promise<Stream>
}

export interface InferBuyerComponents {
  dialer: InferDialer
  /** the buyer's key: must be the contract's buyer and the libp2p identity the seller sees */
  signer: Ed25519Signer
  net: Uint8Array
  sessions: BuyerSessions
  /** exact counter for the model when the buyer has its tokenizer; default the UTF-8 bound */
  tokenCounter?: TokenCounter
  logger?: ComponentLogger
}

export interface InferOptions {
  signal?: AbortSignal
  /** each chunk's text (and tool-call deltas, when it carries any), as soon as it passed the checks (its voucher, when due, follows) */
  onChunk?: (text: string, toolCalls?: ToolCallDelta[], logprobs?: TokenLogprob[]) => void
  firstTokenTimeoutMs?: number
  idleTimeoutMs?: number
  /** overrides the component's counter for this request */
  tokenCounter?: TokenCounter
}

export interface InferResult {
  text: string
  /** the tool calls the chunks carried, complete (finishReason 'tool_calls') */
  toolCalls?: ToolCall[]
  /** the output tokens' logprobs, when the request asked for them (infer.md § Logprobs) */
  logprobs?: TokenLogprob[]
  /** this request's usage as the buyer signed for it */
  usage: Usage
  finishReason: FinishReason
  /** 'budget' when the session's max spend ended the request */
  stopReason?: 'budget'
  /** the receipt: the last voucher signed (cumulative over the session) */
  finalVoucher: SignedVoucher
  ttftMs: number
  tokensPerSec: number
  meter: MeterRecord
}

const FINISH = new Set<FinishReason>(['stop', 'length', 'cancelled', 'error', 'tool_calls'])

/**
 * Template tokens a chat format may add when the request declares tools or a response format
 * (the function-calling preamble, the format instruction), beyond the JSON that declares them:
 * node-llama-cpp's default function-calling preamble is ~850 tokens on a one-byte-per-token model.
 */
export const TOOL_PROMPT_ALLOWANCE_TOKENS = 1024

/**
 * The prompt as the bytes bound counts it: each message's content with its tool calls' JSON, and
 * the tools, tool_choice and response_format JSON with an allowance for the template around them.
 */
export function boundMessages (r: ChatRequest): ChatMessage[] {
  // a text completion's prompt is bounded as one user message (infer.md § Text completion)
  if (r.prompt != null) return [{ role: 'user', content: r.prompt }]
  const messages = r.messages.map(m => m.toolCalls == null && m.toolCallId == null ? m : { role: m.role, content: m.content + JSON.stringify(m.toolCalls ?? null) + (m.toolCallId ?? '') })
  const declared = [r.tools, r.toolChoice, r.responseFormat].filter(x => x != null)
  if (declared.length === 0) return messages
  return [...messages, { role: 'system', content: declared.map(x => JSON.stringify(x)).join('') + ' '.repeat(TOOL_PROMPT_ALLOWANCE_TOKENS) }]
}
/** one embeddings request's outcome (infer.md § Embeddings) */
export interface EmbedOutcome {
  /** one vector per input, in order, all of one length */
  vectors: Float32Array[]
  /** this request's input tokens as the buyer signed for them */
  usage: { inputTokens: number, source: UsageSource }
  /** the receipt: the one voucher signed for the request (cumulative over the session) */
  finalVoucher: SignedVoucher
  meter: MeterRecord
}

const SOURCES = new Set<UsageSource>(['reported', 'tokenized', 'estimated'])

/** a session's /tally/infer stream, kept for its next request */
interface SessionStream {
  stream: Stream
  lp: LengthPrefixedStream<Stream>
  /** the request's voucher writes in flight (settles, never rejects) */
  writing?: Promise<void>
}

/** a kept stream failed before the seller answered anything: the request may go once more on a new stream */
class StaleStreamError extends Error {}

/** the stream still carries requests both ways */
function usable (stream: Stream): boolean {
  return stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable'
}

/** what the buyer's streams did (for tests, benches and metrics) */
export interface InferBuyerStats {
  /** /tally/infer streams opened for requests (closes excluded) */
  streamsOpened: number
  /** requests sent on a stream kept from the session's previous request */
  streamsReused: number
  /** requests resent on a new stream after a kept one failed before any answer */
  resent: number
  /** errors after a request had resolved (the final voucher's write, closing): logged, never thrown */
  tailErrors: number
}

function remoteError (code: string, message: string): Error {
  if (code === FailureCode.budget) return new BudgetExhaustedError(`seller: ${message}`)
  if (code === FailureCode.expired) return new SessionExpiredError(`seller: ${message}`)
  if (code === FailureCode.unknownContract) return new UnknownSessionError(`seller: ${message}`)
  if (code === FailureCode.wrongBuyer) return new WrongBuyerError(`seller: ${message}`)
  if (code === FailureCode.busy) return new SessionBusyError(`seller: ${message}`)
  if (code === FailureCode.closed) return new SessionClosedError(`seller: ${message}`)
  return new RemoteInferError(code, message)
}

export class InferBuyer {
  private readonly components: InferBuyerComponents
  private readonly firstTokenTimeoutMs: number
  private readonly idleTimeoutMs: number
  private readonly dialTimeoutMs: number
  private readonly now: () => number
  private readonly log: Logger
  private readonly counter: TokenCounter
  private readonly inflight = new Set<AbortController>()
  private readonly keepOpen: boolean
  /** per session: its stream kept for the next request */
  private readonly kept = new Map<string, SessionStream>()
  /** per session: the previous request's tail (final voucher on its way, stream closing); never rejects */
  private readonly tails = new Map<string, Promise<void>>()
  readonly stats: InferBuyerStats = { streamsOpened: 0, streamsReused: 0, resent: 0, tailErrors: 0 }

  constructor (components: InferBuyerComponents, init: InferBuyerInit = {}) {
    this.components = components
    this.firstTokenTimeoutMs = init.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
    this.now = init.now ?? Date.now
    this.keepOpen = init.keepOpen ?? true
    this.counter = components.tokenCounter ?? utf8BoundCounter()
    this.log = (components.logger ?? defaultLogger()).forComponent('tally:infer:buyer')
  }

  readonly [Symbol.toStringTag] = 'tally/infer-buyer'

  async start (): Promise<void> {}

  async stop (): Promise<void> {
    for (const c of this.inflight) c.abort(new InferAbortedError('buyer stopping'))
    for (const k of this.kept.values()) k.stream.abort(new InferAbortedError('buyer stopping'))
    this.kept.clear()
  }

  /** the previous request on this session has finished its tail (its final voucher is written) */
  async settled (contractId: Uint8Array): Promise<void> {
    await this.tails.get(contractKey(contractId))
  }

  /** keep a session's stream for its next request, until the seller ends its side (idle, stopping) */
  private keep (key: string, conn: SessionStream): void {
    this.kept.set(key, conn)
    const onRemoteClose = (): void => { if (this.kept.get(key) === conn) this.dropKept(key) }
    conn.stream.addEventListener('remoteCloseWrite', onRemoteClose, { once: true })
    conn.stream.addEventListener('close', () => {
      conn.stream.removeEventListener('remoteCloseWrite', onRemoteClose)
      if (this.kept.get(key) === conn) this.kept.delete(key)
    }, { once: true })
  }

  /** stop keeping a session's stream: closed gracefully (the seller ends its side) */
  private dropKept (key: string): void {
    const k = this.kept.get(key)
    if (k == null) return
    this.kept.delete(key)
    const closing = deadline(this.idleTimeoutMs)
    void k.stream.close({ signal: closing.signal }).catch((err: any) => { k.stream.abort(err) }).finally(() => { closing.clear() })
  }

  /** the last voucher this buyer signed on a contract */
  lastVoucher (contractId: Uint8Array): SignedVoucher | undefined {
    return this.components.sessions.lastVoucher(contractId)
  }

  /**
   * Close a session: no more requests on it; the seller settles with the highest voucher it
   * holds. Returns the seller's view of the session's cumulative totals.
   */
  async closeSession (peer: PeerId, contractId: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<{ totalInputTokens: bigint, totalOutputTokens: bigint, amountUc: bigint }> {
    // the last request's final voucher reaches the seller before the close it settles on
    await this.settled(contractId)
    this.dropKept(contractKey(contractId))
    this.components.sessions.closeSession(contractId)
    const closing = deadline(this.dialTimeoutMs, opts.signal)
    const signal = closing.signal
    let stream: Stream
    try {
      stream = await this.components.dialer.dialProtocol(peer, INFER_PROTOCOL, { signal, runOnLimitedConnection: true })
    } catch (err) {
      closing.clear()
      throw err
    }
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SELLER_FRAME_BYTES })
      await lp.write(encodeCloseFrame(contractId), { signal })
      const frame = decodeSellerFrame(await lp.read({ signal }))
      if (frame.failure != null) throw new RemoteInferError(frame.failure.code, frame.failure.message)
      if (frame.done?.finishReason !== 'closed') throw new ProtocolViolationError('a close must be answered with a closed done frame')
      await stream.close({ signal })
      return { totalInputTokens: frame.done.totalInputTokens, totalOutputTokens: frame.done.totalOutputTokens, amountUc: frame.done.amountUc }
    } catch (err: any) {
      stream.abort(err)
      throw err
    } finally {
      closing.clear()
    }
  }

  /**
   * Run one request on a session. Cumulative counters continue across requests of the same
   * contract; requests on one contract run one after another.
   */
  async infer (peer: PeerId, terms: SessionTerms, request: ChatRequest, opts: InferOptions = {}): Promise<InferResult> {
    checkChatRequest(request)
    const counter = opts.tokenCounter ?? this.counter
    return await this.onSession(peer, terms, opts.signal, async (session, signal) => {
      const key = contractKey(terms.contractId)
      const kept = this.kept.get(key)
      this.kept.delete(key)
      if (kept != null && usable(kept.stream)) {
        this.stats.streamsReused++
        try {
          return await this.exchange(kept, session, request, counter, signal, opts, true)
        } catch (err) {
          if (!(err instanceof StaleStreamError)) throw err
          // the kept stream failed before the seller answered anything: once more, on a new stream
          this.log('kept stream failed before an answer (%s): resending on a new stream', err.message)
          this.stats.resent++
        }
      } else if (kept != null) {
        kept.stream.abort(new InferError('kept stream no longer usable'))
      }
      const stream = await this.dial(peer, signal)
      return await this.exchange({ stream, lp: lpStream(stream, { maxDataLength: MAX_SELLER_FRAME_BYTES }) }, session, request, counter, signal, opts, false)
    })
  }

  /** open a /tally/infer stream within the dial deadline */
  private async dial (peer: PeerId, signal: AbortSignal): Promise<Stream> {
    const dialing = deadline(this.dialTimeoutMs, signal)
    try {
      const stream = await this.components.dialer.dialProtocol(peer, INFER_PROTOCOL, { signal: dialing.signal, runOnLimitedConnection: true })
      this.stats.streamsOpened++
      return stream
    } finally {
      dialing.clear()
    }
  }

  /**
   * Run one embeddings request on a session: the seller sends every input's vector, then done;
   * the buyer checks them (count, dimensions, finite values, input tokens within its bound) and
   * signs one voucher for the request. A seller that breaks a check gets nothing signed.
   */
  async embed (peer: PeerId, terms: SessionTerms, request: EmbedRequest, opts: { signal?: AbortSignal, timeoutMs?: number, maxInputTokens?: number } = {}): Promise<EmbedOutcome> {
    checkEmbedRequest(request)
    return await this.onSession(peer, terms, opts.signal, async (session, signal) => {
      const stream = await this.dial(peer, signal)
      try {
        return await this.embedExchange(stream, session, request, signal, opts.timeoutMs ?? this.firstTokenTimeoutMs, opts.maxInputTokens ?? maxEmbedInputTokens(request.inputs))
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        throw err
      }
    })
  }

  /** close our end after the final voucher and wait (bounded) for the seller's end: it has taken the voucher and freed the session */
  private async closeAfterFinalVoucher (stream: Stream, lp: LengthPrefixedStream<Stream>, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const closing = deadline(timeoutMs, signal)
    try {
      await stream.close({ signal: closing.signal })
      await lp.read({ signal: closing.signal }).catch(() => {})
    } catch (err: any) {
      this.log('closing the stream failed after the final voucher: %s', err?.message)
    } finally {
      closing.clear()
    }
  }

  /**
   * One request on a session: checks the parties, waits for the previous request's tail, takes
   * the session's turn and runs `exchange` (which gets its stream); the caller's abort ends it as
   * InferAbortedError (the exchange resets its stream).
   */
  private async onSession<T> (peer: PeerId, terms: SessionTerms, callerSignal: AbortSignal | undefined, exchange: (session: BuyerSession, signal: AbortSignal) => Promise<T>): Promise<T> {
    const { sessions, signer } = this.components
    if (!bytesEqual(signer.publicKey, terms.buyer)) throw new WrongBuyerError('this node\'s key is not the contract\'s buyer')
    const sellerKey = peer.publicKey?.raw
    if (sellerKey == null || !bytesEqual(sellerKey, terms.seller)) throw new WrongSellerError('the peer is not the contract\'s seller')
    sessions.add(terms)
    // the previous request's final voucher is on its way: it goes first (bounded, never rejects)
    const tail = this.tails.get(contractKey(terms.contractId))
    if (tail != null) await tail
    const session = sessions.beginRequest(terms.contractId)
    const ctrl = new AbortController()
    this.inflight.add(ctrl)
    const onAbort = (): void => { ctrl.abort(callerSignal?.reason) }
    callerSignal?.addEventListener('abort', onAbort, { once: true })
    if (callerSignal?.aborted === true) ctrl.abort(callerSignal.reason)
    try {
      return await exchange(session, ctrl.signal)
    } catch (err: any) {
      if (ctrl.signal.aborted && !(err instanceof InferError)) throw new InferAbortedError('request aborted by the caller')
      throw err
    } finally {
      callerSignal?.removeEventListener('abort', onAbort)
      this.inflight.delete(ctrl)
      sessions.endRequest(session)
    }
  }

  /** `maxInputTokens`: the buyer's bound on the request's input tokens (exact with its own tokenizer, else the bytes bound) */
  private async embedExchange (stream: Stream, session: BuyerSession, request: EmbedRequest, signal: AbortSignal, timeoutMs: number, maxInputTokens: number): Promise<EmbedOutcome> {
    const { terms } = session
    const { sessions, signer, net } = this.components
    const lp = lpStream(stream, { maxDataLength: MAX_SELLER_FRAME_BYTES })
    const startedAtMs = this.now()
    const baseIn = session.totalInputTokens
    const baseOut = session.totalOutputTokens
    const baseAmount = session.amountUc
    await lp.write(encodeEmbedRequest(terms.contractId, request), { signal })
    const sentAt = performance.now()
    const vectors: Float32Array[] = []
    let dimensions = request.dimensions
    let first = true
    while (true) {
      // the seller computes every vector before its first frame: that frame gets the first-token allowance
      const timer = deadline(first ? timeoutMs : this.idleTimeoutMs, signal)
      let bytes
      try {
        bytes = await lp.read({ signal: timer.signal })
      } catch (err) {
        if (timer.expired && !signal.aborted) throw first ? new FirstTokenTimeoutError(`no embeddings within ${timeoutMs} ms`) : new StreamIdleTimeoutError(`no frame for ${this.idleTimeoutMs} ms`)
        throw err
      } finally {
        timer.clear()
      }
      first = false
      const frame = decodeSellerFrame(bytes)
      if (frame.failure != null) throw remoteError(frame.failure.code, frame.failure.message)
      if (frame.chunk != null) throw new ProtocolViolationError('a chat chunk in answer to an embeddings request')
      if (frame.embeddings != null) {
        const e = frame.embeddings
        if (e.firstIndex !== vectors.length) throw new ProtocolViolationError(`embeddings frame starts at input ${e.firstIndex}, expected ${vectors.length}`)
        if (dimensions != null && e.dimensions !== dimensions) throw new ProtocolViolationError(`embeddings of ${e.dimensions} values, expected ${dimensions}`)
        let got: Float32Array[]
        try {
          got = unpackVectors(e.vectors, e.dimensions)
        } catch (err: any) {
          throw err instanceof WireError ? new ProtocolViolationError(err.message) : err
        }
        if (vectors.length + got.length > request.inputs.length) throw new ProtocolViolationError(`seller sent more than ${request.inputs.length} vectors`)
        dimensions = e.dimensions
        vectors.push(...got)
        continue
      }
      const d = frame.done!
      if (d.finishReason !== 'stop' || d.stopReason !== '') throw new ProtocolViolationError(`an embeddings request ends with finish reason "stop", got ${JSON.stringify(d.finishReason.slice(0, 32))}`)
      if (!SOURCES.has(d.usageSource as UsageSource)) throw new ProtocolViolationError(`unknown usage source ${JSON.stringify(d.usageSource.slice(0, 32))}`)
      if (vectors.length !== request.inputs.length) throw new ProtocolViolationError(`seller sent ${vectors.length} vectors for ${request.inputs.length} inputs`)
      if (d.outputTokens !== 0n) throw new SellerOverclaimError(`seller claims ${d.outputTokens} output tokens on an embeddings request`)
      const inBound = BigInt(maxInputTokens)
      if (d.inputTokens > inBound) throw new SellerOverclaimError(`seller claims ${d.inputTokens} input tokens for inputs worth at most ${inBound}`)
      const totalIn = baseIn + d.inputTokens
      if (d.totalInputTokens > totalIn || d.totalOutputTokens > baseOut) throw new SellerOverclaimError('done totals exceed what this buyer received')
      if (d.amountUc > sessionAmountUc(totalIn, baseOut, terms)) throw new SellerOverclaimError('done amount exceeds the pricing rule')
      if (session.lastVoucher == null || session.totalInputTokens !== totalIn) {
        const v = makeVoucher(signer, net, { contractId: terms.contractId, nonce: session.nonce + 1n, inputTokens: totalIn, outputTokens: baseOut, amountUc: sessionAmountUc(totalIn, baseOut, terms) })
        sessions.recordVoucher(session, v)
        await lp.write(encodeVoucherFrame(v.bytes), { signal })
      }
      await this.closeAfterFinalVoucher(stream, lp, this.idleTimeoutMs, signal)
      const finalVoucher = session.lastVoucher!
      const usage = { inputTokens: Number(d.inputTokens), source: d.usageSource as UsageSource }
      const meter = meterRecord({
        // the contract's parties, model and prices
        ...meterTermsOf(terms),
        inputTokens: usage.inputTokens,
        outputTokens: 0,
        amountBeforeUc: baseAmount,
        amountAfterUc: finalVoucher.amountUc,
        ttftMs: performance.now() - sentAt,
        generationMs: 0,
        usageSource: usage.source,
        startedAtMs
      })
      return { vectors, usage, finalVoucher, meter }
    }
  }

  /**
   * One chat request on a stream (new, or kept from the session's previous request: `reused`).
   * Every chunk is checked, forwarded (onChunk), then paid when a voucher is due; vouchers are
   * written behind the stream, never awaited in front of the next chunk. The result resolves once
   * done is checked; the final voucher's write (and, unless the seller keeps the stream, the close)
   * is the session's tail, which the next request waits for. Any failure resets the stream; on a
   * reused stream, one before any seller frame is a StaleStreamError (the caller resends once).
   */
  private async exchange (conn: SessionStream, session: BuyerSession, request: ChatRequest, counter: TokenCounter, signal: AbortSignal, opts: InferOptions, reused: boolean): Promise<InferResult> {
    let answered = false
    try {
      return await this.chat(conn, session, request, counter, signal, opts, () => { answered = true })
    } catch (err: any) {
      // the voucher for what was received goes out first (bounded), then the stream is reset
      const reason = err instanceof Error ? err : new Error(String(err))
      if (conn.writing == null) conn.stream.abort(reason)
      else {
        const bounded = deadline(this.idleTimeoutMs)
        void raceSignal(conn.writing, bounded.signal).catch(() => {}).finally(() => { bounded.clear(); conn.stream.abort(reason) })
      }
      if (reused && !answered && !signal.aborted && !(err instanceof InferError)) throw new StaleStreamError(err?.message ?? String(err))
      throw err
    }
  }

  private async chat (conn: SessionStream, session: BuyerSession, request: ChatRequest, counter: TokenCounter, signal: AbortSignal, opts: InferOptions, onAnswer: () => void): Promise<InferResult> {
    const { stream, lp } = conn
    const { terms } = session
    const key = contractKey(terms.contractId)
    const { sessions, signer, net } = this.components
    const startedAtMs = this.now()
    const baseIn = session.totalInputTokens
    const baseOut = session.totalOutputTokens
    const baseAmount = session.amountUc
    const firstTimeout = opts.firstTokenTimeoutMs ?? this.firstTokenTimeoutMs
    const idleTimeout = opts.idleTimeoutMs ?? this.idleTimeoutMs

    // voucher writes go behind the stream in order; the first failure ends the request at its next frame
    let writing: Promise<void> = Promise.resolve()
    let writeError: unknown
    const sign = (totalIn: bigint, totalOut: bigint): void => {
      const v = makeVoucher(signer, net, {
        contractId: terms.contractId,
        nonce: session.nonce + 1n,
        inputTokens: totalIn,
        outputTokens: totalOut,
        amountUc: sessionAmountUc(totalIn, totalOut, terms)
      })
      sessions.recordVoucher(session, v)
      const bytes = encodeVoucherFrame(v.bytes)
      // no request signal: a voucher for what was received still goes out after the caller aborts (the stream reset that follows bounds it)
      writing = writing.then(async () => { if (writeError == null) await lp.write(bytes) }).catch(err => { writeError ??= err })
      conn.writing = writing
    }
    conn.writing = undefined

    await lp.write(encodeRequest(terms.contractId, request, this.keepOpen), { signal })
    const sentAt = performance.now()
    let text = ''
    /** the chunks' tool calls, and the bytes of their deltas as received (the bound on their tokens) */
    const toolCalls: ToolCall[] = []
    const logprobs: TokenLogprob[] = []
    let toolBytes = 0
    let claimedOut = 0n
    let firstAt: number | undefined
    let lastAt = sentAt
    const loop = async (): Promise<InferResult> => {
      while (true) {
        if (writeError != null) throw writeError
        const timer = deadline(firstAt == null ? firstTimeout : idleTimeout, signal)
        let bytes
        try {
          bytes = await lp.read({ signal: timer.signal })
        } catch (err) {
          if (timer.expired && !signal.aborted) {
            throw firstAt == null
              ? new FirstTokenTimeoutError(`no first token within ${firstTimeout} ms`)
              : new StreamIdleTimeoutError(`no frame for ${idleTimeout} ms`)
          }
          throw err
        } finally {
          timer.clear()
        }
        onAnswer()
        const frame = decodeSellerFrame(bytes)
        if (frame.failure != null) throw remoteError(frame.failure.code, frame.failure.message)
        if (frame.embeddings != null) throw new ProtocolViolationError('an embeddings frame in answer to a chat request')
        if (frame.chunk != null) {
          const c = frame.chunk
          const newText = text + c.text
          const deltas = parseChunkToolCalls(c.toolCallsJson)
          const lps = parseChunkLogprobs(c.logprobsJson)
          if (lps.length > 0 && request.logprobs !== true) throw new ProtocolViolationError('logprobs in a chunk of a request that did not ask for them')
          const newToolBytes = toolBytes + toolCallDeltaBytes(deltas)
          const newClaimed = claimedOut + BigInt(c.outputTokens)
          const bound = BigInt(counter.maxOutputTokens(newText) + newToolBytes)
          if (newClaimed > bound) throw new SellerOverclaimError(`seller claims ${newClaimed} output tokens for text worth at most ${bound}`)
          const totalOut = baseOut + newClaimed
          // the seller may lag the buyer's own totals (a voucher lost in flight), never lead them
          if (c.totalOutputTokens > totalOut || c.totalInputTokens > baseIn) throw new SellerOverclaimError('chunk totals exceed what this buyer received')
          if (c.amountUc > sessionAmountUc(baseIn, totalOut, terms)) throw new SellerOverclaimError('chunk amount exceeds the pricing rule')
          text = newText
          toolBytes = newToolBytes
          accumulateToolCalls(toolCalls, deltas)
          claimedOut = newClaimed
          // an empty chunk is the seller asking for the voucher it waits on (infer.md § Flow 5)
          const asking = c.outputTokens === 0 && c.text.length === 0 && deltas.length === 0 && lps.length === 0
          if (!asking) {
            firstAt ??= performance.now()
            lastAt = performance.now()
            logprobs.push(...lps)
            // forwarded first: the voucher (when due) is signed after the caller has the chunk
            if (lps.length > 0) opts.onChunk?.(c.text, deltas.length > 0 ? deltas : undefined, lps)
            else if (deltas.length > 0) opts.onChunk?.(c.text, deltas)
            else opts.onChunk?.(c.text)
          }
          const unvouchered = sessionAmountUc(baseIn, totalOut, terms) - session.amountUc
          const owed = session.totalOutputTokens !== totalOut || session.totalInputTokens !== baseIn
          if (owed && (asking || voucherDue(unvouchered, c.windowUc))) sign(baseIn, totalOut)
          continue
        }
        const d = frame.done!
        if (!FINISH.has(d.finishReason as FinishReason)) throw new ProtocolViolationError(`unknown finish reason ${JSON.stringify(d.finishReason.slice(0, 32))}`)
        if (!SOURCES.has(d.usageSource as UsageSource)) throw new ProtocolViolationError(`unknown usage source ${JSON.stringify(d.usageSource.slice(0, 32))}`)
        if (d.stopReason !== '' && d.stopReason !== FailureCode.budget) throw new ProtocolViolationError('unknown stop reason')
        if (d.outputTokens < claimedOut) throw new ProtocolViolationError(`done reports ${d.outputTokens} output tokens, chunks carried ${claimedOut}`)
        const outBound = BigInt(counter.maxOutputTokens(text) + toolBytes)
        if (d.outputTokens > outBound) throw new SellerOverclaimError(`seller claims ${d.outputTokens} output tokens for text worth at most ${outBound}`)
        const inBound = BigInt(counter.maxInputTokens(boundMessages(request)))
        if (d.inputTokens > inBound) throw new SellerOverclaimError(`seller claims ${d.inputTokens} input tokens for a prompt worth at most ${inBound}`)
        const totalIn = baseIn + d.inputTokens
        const totalOut = baseOut + d.outputTokens
        if (d.totalInputTokens > totalIn || d.totalOutputTokens > totalOut) throw new SellerOverclaimError('done totals exceed what this buyer received')
        if (d.amountUc > sessionAmountUc(totalIn, totalOut, terms)) throw new SellerOverclaimError('done amount exceeds the pricing rule')
        if (Array.from(toolCalls).some(tc => tc == null || tc.id === '' || tc.function.name === '')) throw new ProtocolViolationError('a tool call arrived without its id or name')
        if (session.lastVoucher == null || session.totalInputTokens !== totalIn || session.totalOutputTokens !== totalOut) sign(totalIn, totalOut)
        // the tail: the final voucher's write, then the stream is kept (the seller agreed) or closed
        const keep = this.keepOpen && d.streamOpen === true
        if (keep) this.keep(key, conn)
        const tail = (async () => {
          const bounded = deadline(idleTimeout)
          try {
            await raceSignal(writing, bounded.signal)
            if (writeError != null) throw writeError
          } finally {
            bounded.clear()
          }
          if (!keep) await this.closeAfterFinalVoucher(stream, lp, idleTimeout, new AbortController().signal)
        })().catch((err: any) => {
          this.stats.tailErrors++
          this.log.error('after the request: %s', err?.message ?? err)
          if (this.kept.get(key) === conn) this.kept.delete(key)
          stream.abort(err instanceof Error ? err : new Error(String(err)))
        })
        this.tails.set(key, tail)
        void tail.finally(() => { if (this.tails.get(key) === tail) this.tails.delete(key) })
        const finalVoucher = session.lastVoucher!
        const usage: Usage = { inputTokens: Number(d.inputTokens), outputTokens: Number(d.outputTokens), source: d.usageSource as UsageSource }
        const ttftMs = (firstAt ?? lastAt) - sentAt
        const meter = meterRecord({
          // the contract's parties, model and prices
          ...meterTermsOf(terms),
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          amountBeforeUc: baseAmount,
          amountAfterUc: finalVoucher.amountUc,
          ttftMs,
          generationMs: lastAt - (firstAt ?? lastAt),
          usageSource: usage.source,
          startedAtMs
        })
        return {
          text,
          ...(toolCalls.length > 0 ? { toolCalls } : {}),
          ...(request.logprobs === true ? { logprobs } : {}),
          usage,
          finishReason: d.finishReason as FinishReason,
          stopReason: d.stopReason === FailureCode.budget ? 'budget' : undefined,
          finalVoucher,
          ttftMs,
          tokensPerSec: meter.tokensPerSec,
          meter
        }
      }
    }
    try {
      return await loop()
    } catch (err) {
      // an honest buyer pays for every chunk it accepted, also when the request ends early (its
      // caller cancelled, the seller failed, or broke a rule on a later frame): the window bounds
      // a seller's loss to a buyer that does not; it is not a discount (infer.md § Cancelling)
      if (session.totalOutputTokens < baseOut + claimedOut) {
        try { sign(baseIn, baseOut + claimedOut) } catch (e: any) { this.log('signing for what was received failed: %s', e?.message) }
      }
      throw err
    }
  }
}

/**
 * The buyer's end of /tally/infer/1.0.0: sends one request on a session, checks every chunk
 * against what it received (never signs for more output tokens than its TokenCounter allows),
 * answers each with a signed cumulative voucher, and abandons a seller that stalls.
 */
import { lpStream } from '@libp2p/utils'
import { defaultLogger } from '@libp2p/logger'
import type { AbortOptions, ComponentLogger, Logger, PeerId, Stream } from '@libp2p/interface'
import type { Ed25519Signer } from '../../identity/ed25519.js'
import type { ChatRequest, FinishReason, Usage, UsageSource } from '../backend.js'
import { sessionAmountUc } from '../pricing.js'
import { meterRecord, type MeterRecord } from '../metering.js'
import { makeVoucher, type SignedVoucher } from '../voucher.js'
import { checkChatRequest, decodeSellerFrame, encodeCloseFrame, encodeRequest, encodeVoucherFrame, INFER_PROTOCOL, MAX_SELLER_FRAME_BYTES } from './codec.js'
import { BudgetExhaustedError, FailureCode, FirstTokenTimeoutError, InferAbortedError, InferError, ProtocolViolationError, RemoteInferError, SellerOverclaimError, SessionBusyError, SessionClosedError, SessionExpiredError, StreamIdleTimeoutError, UnknownSessionError, WrongBuyerError, WrongSellerError } from './errors.js'
import type { BuyerSession, BuyerSessions } from './sessions.js'
import { bytesEqual, type SessionTerms } from './terms.js'
import { utf8BoundCounter, type TokenCounter } from './token-counter.js'
import { deadline } from '../../wire/deadline.js'

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
}

/** the slice of a Libp2p node (or its connection manager, adapted) the buyer uses */
export interface InferDialer {
  dialProtocol(peer: PeerId, protocol: string, options?: AbortOptions): Promise<Stream>
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
  /** each chunk's text, after its voucher is on the way */
  onChunk?: (text: string) => void
  firstTokenTimeoutMs?: number
  idleTimeoutMs?: number
  /** overrides the component's counter for this request */
  tokenCounter?: TokenCounter
}

export interface InferResult {
  text: string
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

const FINISH = new Set<FinishReason>(['stop', 'length', 'cancelled', 'error'])
const SOURCES = new Set<UsageSource>(['reported', 'tokenized', 'estimated'])

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

  constructor (components: InferBuyerComponents, init: InferBuyerInit = {}) {
    this.components = components
    this.firstTokenTimeoutMs = init.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
    this.now = init.now ?? Date.now
    this.counter = components.tokenCounter ?? utf8BoundCounter()
    this.log = (components.logger ?? defaultLogger()).forComponent('tally:infer:buyer')
  }

  readonly [Symbol.toStringTag] = 'tally/infer-buyer'

  async start (): Promise<void> {}

  async stop (): Promise<void> {
    for (const c of this.inflight) c.abort(new InferAbortedError('buyer stopping'))
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
    this.components.sessions.closeSession(contractId)
    const closing = deadline(this.dialTimeoutMs, opts.signal)
    const signal = closing.signal
    let stream: Stream
    try {
      stream = await this.components.dialer.dialProtocol(peer, INFER_PROTOCOL, { signal })
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
    const { sessions, signer } = this.components
    if (!bytesEqual(signer.publicKey, terms.buyer)) throw new WrongBuyerError('this node\'s key is not the contract\'s buyer')
    const sellerKey = peer.publicKey?.raw
    if (sellerKey == null || !bytesEqual(sellerKey, terms.seller)) throw new WrongSellerError('the peer is not the contract\'s seller')
    sessions.add(terms)
    const session = sessions.beginRequest(terms.contractId)
    const counter = opts.tokenCounter ?? this.counter
    const ctrl = new AbortController()
    this.inflight.add(ctrl)
    const onAbort = (): void => { ctrl.abort(opts.signal?.reason) }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    if (opts.signal?.aborted === true) ctrl.abort(opts.signal.reason)
    let stream: Stream | undefined
    try {
      const dialing = deadline(this.dialTimeoutMs, ctrl.signal)
      try {
        stream = await this.components.dialer.dialProtocol(peer, INFER_PROTOCOL, { signal: dialing.signal })
      } finally {
        dialing.clear()
      }
      return await this.exchange(stream, session, request, counter, ctrl.signal, opts)
    } catch (err: any) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      if (ctrl.signal.aborted && !(err instanceof InferError)) throw new InferAbortedError('request aborted by the caller')
      throw err
    } finally {
      opts.signal?.removeEventListener('abort', onAbort)
      this.inflight.delete(ctrl)
      sessions.endRequest(session)
    }
  }

  private async exchange (stream: Stream, session: BuyerSession, request: ChatRequest, counter: TokenCounter, signal: AbortSignal, opts: InferOptions): Promise<InferResult> {
    const { terms } = session
    const { sessions, signer, net } = this.components
    const lp = lpStream(stream, { maxDataLength: MAX_SELLER_FRAME_BYTES })
    const startedAtMs = this.now()
    const baseIn = session.totalInputTokens
    const baseOut = session.totalOutputTokens
    const baseAmount = session.amountUc
    const firstTimeout = opts.firstTokenTimeoutMs ?? this.firstTokenTimeoutMs
    const idleTimeout = opts.idleTimeoutMs ?? this.idleTimeoutMs

    const sign = async (totalIn: bigint, totalOut: bigint): Promise<void> => {
      const v = makeVoucher(signer, net, {
        contractId: terms.contractId,
        nonce: session.nonce + 1n,
        inputTokens: totalIn,
        outputTokens: totalOut,
        amountUc: sessionAmountUc(totalIn, totalOut, terms)
      })
      sessions.recordVoucher(session, v)
      await lp.write(encodeVoucherFrame(v.bytes), { signal })
    }

    await lp.write(encodeRequest(terms.contractId, request), { signal })
    const sentAt = performance.now()
    let text = ''
    let claimedOut = 0n
    let firstAt: number | undefined
    let lastAt = sentAt
    while (true) {
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
      const frame = decodeSellerFrame(bytes)
      if (frame.failure != null) throw remoteError(frame.failure.code, frame.failure.message)
      if (frame.chunk != null) {
        const c = frame.chunk
        const newText = text + c.text
        const newClaimed = claimedOut + BigInt(c.outputTokens)
        const bound = BigInt(counter.maxOutputTokens(newText))
        if (newClaimed > bound) throw new SellerOverclaimError(`seller claims ${newClaimed} output tokens for text worth at most ${bound}`)
        const totalOut = baseOut + newClaimed
        // the seller may lag the buyer's own totals (a voucher lost in flight), never lead them
        if (c.totalOutputTokens > totalOut || c.totalInputTokens > baseIn) throw new SellerOverclaimError('chunk totals exceed what this buyer received')
        if (c.amountUc > sessionAmountUc(baseIn, totalOut, terms)) throw new SellerOverclaimError('chunk amount exceeds the pricing rule')
        text = newText
        claimedOut = newClaimed
        await sign(baseIn, totalOut)
        firstAt ??= performance.now()
        lastAt = performance.now()
        opts.onChunk?.(c.text)
        continue
      }
      const d = frame.done!
      if (!FINISH.has(d.finishReason as FinishReason)) throw new ProtocolViolationError(`unknown finish reason ${JSON.stringify(d.finishReason.slice(0, 32))}`)
      if (!SOURCES.has(d.usageSource as UsageSource)) throw new ProtocolViolationError(`unknown usage source ${JSON.stringify(d.usageSource.slice(0, 32))}`)
      if (d.stopReason !== '' && d.stopReason !== FailureCode.budget) throw new ProtocolViolationError('unknown stop reason')
      if (d.outputTokens < claimedOut) throw new ProtocolViolationError(`done reports ${d.outputTokens} output tokens, chunks carried ${claimedOut}`)
      const outBound = BigInt(counter.maxOutputTokens(text))
      if (d.outputTokens > outBound) throw new SellerOverclaimError(`seller claims ${d.outputTokens} output tokens for text worth at most ${outBound}`)
      const inBound = BigInt(counter.maxInputTokens(request.messages))
      if (d.inputTokens > inBound) throw new SellerOverclaimError(`seller claims ${d.inputTokens} input tokens for a prompt worth at most ${inBound}`)
      const totalIn = baseIn + d.inputTokens
      const totalOut = baseOut + d.outputTokens
      if (d.totalInputTokens > totalIn || d.totalOutputTokens > totalOut) throw new SellerOverclaimError('done totals exceed what this buyer received')
      if (d.amountUc > sessionAmountUc(totalIn, totalOut, terms)) throw new SellerOverclaimError('done amount exceeds the pricing rule')
      if (session.lastVoucher == null || session.totalInputTokens !== totalIn || session.totalOutputTokens !== totalOut) await sign(totalIn, totalOut)
      const closing = deadline(idleTimeout, signal)
      try {
        await stream.close({ signal: closing.signal })
        // wait for the seller's end of stream: it has taken the final voucher and freed the session
        await lp.read({ signal: closing.signal }).catch(() => {})
      } catch (err: any) {
        this.log('closing the stream failed after the final voucher: %s', err?.message)
      } finally {
        closing.clear()
      }
      const finalVoucher = session.lastVoucher!
      const usage: Usage = { inputTokens: Number(d.inputTokens), outputTokens: Number(d.outputTokens), source: d.usageSource as UsageSource }
      const ttftMs = (firstAt ?? lastAt) - sentAt
      const meter = meterRecord({
        contractId: terms.contractId,
        seller: terms.seller,
        buyer: terms.buyer,
        modelId: terms.modelId,
        params: terms.params,
        priceInPerMTokUc: terms.priceInPerMTokUc,
        priceOutPerMTokUc: terms.priceOutPerMTokUc,
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
}

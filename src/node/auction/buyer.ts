/**
 * The bidder's end of /tally/auction/1.0.0: posts a bid with an auction window, takes BidQuotes
 * from sellers during it, verifies each against its own bid (protocols/auction.md §
 * Verification), acks or refuses it with a code, and hands the verified ones back after the window.
 */
import { lpStream } from '@libp2p/utils'
import type { Connection, Logger, Stream } from '@libp2p/interface'
import { deadline, endStream } from '../../wire/deadline.js'
import { InvalidSignatureError } from '../../wire/errors.js'
import { MAX_BID_BYTES } from '../../wire/limits.js'
import { CodedError, ErrorCode, errorCode } from '../../errors/index.js'
import { checkBidTiming, signBid, type Bid, type BidTerms } from '../../market/bid.js'
import { createSigner } from '../../identity/ed25519.js'
import { checkBidQuoteMatches, openBidQuote } from '../../market/bid-quote.js'
import { AuctionClosedError, DuplicateBidQuoteError, TooManyBidQuotesError, UnknownBidError } from '../../market/auction-errors.js'
import {
  AUCTION_PROTOCOL, AUCTION_TIMEOUT_MS, DEFAULT_AUCTION_WINDOW_MS, MAX_AUCTION_FRAME_BYTES, MAX_AUCTION_WINDOW_MS,
  MAX_INBOUND_AUCTION_STREAMS, MAX_INBOUND_AUCTION_STREAMS_PER_CONNECTION, MAX_QUOTES_PER_BID, MIN_AUCTION_WINDOW_MS,
  decodeAuctionFrame, encodeAckFrame
} from './protocol.js'
import type { AuctionResult, BidSpec, ReceivedBidQuote, RefusedBidQuote } from './types.js'

/** signs nothing that is sent: sizes a bid before the real one is signed */
const SIZER = createSigner(new Uint8Array(32).fill(7))
/** closed bids remembered so that a late quote is told `auction-closed`, not `unknown-bid` */
const MAX_CLOSED_BIDS = 1_000
/** refusals kept per bid for the result */
const MAX_REFUSED_PER_BID = 64

export interface AuctionBuyerComponents {
  libp2p: {
    handle: (protocol: string, handler: (stream: Stream, connection: Connection) => void, opts?: { maxInboundStreams?: number }) => Promise<void>
    unhandle: (protocol: string) => Promise<void>
  }
  /** signs and gossips the bid (the market service's publishBid) */
  publishBid: (terms: BidTerms) => Promise<Bid>
  /** where sellers can dial this node (market.md § Addresses) */
  addrs: () => string[]
  net: Uint8Array
  now: () => number
  log: Logger
}

interface Collecting {
  bid: Bid
  quotes: Map<string, ReceivedBidQuote>
  refused: RefusedBidQuote[]
}

export class AuctionBuyer {
  private readonly open = new Map<string, Collecting>()
  private readonly closed = new Set<string>()
  /** bids being signed and published: a quote may race its bid's registration */
  private readonly posting = new Set<Promise<unknown>>()
  private inbound = 0
  private readonly stopping = new AbortController()

  constructor (private readonly c: AuctionBuyerComponents) {}

  async start (): Promise<void> {
    await this.c.libp2p.handle(AUCTION_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { maxInboundStreams: MAX_INBOUND_AUCTION_STREAMS_PER_CONNECTION })
  }

  async stop (): Promise<void> {
    this.stopping.abort()
    await this.c.libp2p.unhandle(AUCTION_PROTOCOL)
  }

  /** bids collecting now */
  get collecting (): number { return this.open.size }

  async postBid (spec: BidSpec): Promise<AuctionResult> {
    const now = this.c.now()
    const windowMs = spec.windowMs ?? DEFAULT_AUCTION_WINDOW_MS
    if (!Number.isFinite(windowMs) || windowMs < MIN_AUCTION_WINDOW_MS || windowMs > MAX_AUCTION_WINDOW_MS) throw new CodedError(ErrorCode.invalidArgument, `windowMs must be ${MIN_AUCTION_WINDOW_MS}..${MAX_AUCTION_WINDOW_MS} ms, got ${windowMs}`)
    if (!Number.isSafeInteger(spec.deadlineMs)) throw new CodedError(ErrorCode.invalidArgument, `deadlineMs must be unix ms (an integer), got ${spec.deadlineMs}`)
    const endsAt = BigInt(Math.floor(now + windowMs))
    const deadlineMs = BigInt(spec.deadlineMs)
    if (deadlineMs < endsAt) throw new CodedError(ErrorCode.invalidArgument, `deadlineMs ${deadlineMs} is before the auction window ends (${endsAt})`)
    try {
      checkBidTiming({ deadlineMs, auctionEndsAtMs: 0n, expiresAtMs: 0n }, now)
    } catch (err: any) {
      throw new CodedError(ErrorCode.invalidArgument, `deadlineMs: ${err.message}`)
    }
    const terms: BidTerms = {
      modelId: spec.modelId,
      minParams: spec.minParams ?? 0n,
      quantizations: spec.quantizations ?? [],
      maxPriceInPerMTokUc: spec.maxPriceInPerMTokUc,
      maxPriceOutPerMTokUc: spec.maxPriceOutPerMTokUc,
      expectedInputTokens: spec.expectedInputTokens ?? 0n,
      expectedOutputTokens: spec.expectedOutputTokens,
      deadlineMs,
      auctionEndsAtMs: endsAt,
      // the seller knows whom it dials: the own id at the end is left out (shorter, same meaning)
      multiaddrs: this.c.addrs().map(a => a.replace(/\/p2p\/[^/]+$/, '')).filter(a => a.length > 0).slice(0, 8),
      verifiedOnly: spec.verifiedOnly ?? false
    }
    const posting = this.sign(terms)
    this.posting.add(posting)
    let bid: Bid
    try {
      bid = await posting
    } finally {
      this.posting.delete(posting)
    }
    const key = hex(bid.id)
    const col: Collecting = { bid, quotes: new Map(), refused: [] }
    this.open.set(key, col)
    try {
      await sleepUntil(Number(endsAt) - this.c.now(), [spec.signal, this.stopping.signal])
    } finally {
      this.open.delete(key)
      this.closed.add(key)
      if (this.closed.size > MAX_CLOSED_BIDS) this.closed.delete(this.closed.values().next().value as string)
    }
    return { bidId: bid.id, bid, quotes: [...col.quotes.values()], refused: col.refused }
  }

  /** publish, with as many addresses as fit the bid's envelope limit (market.md § Bid) */
  private async sign (terms: BidTerms): Promise<Bid> {
    const addrs = terms.multiaddrs ?? []
    let n = addrs.length
    // measured with a throwaway key: the size does not depend on whose key signs
    while (n > 0 && signBid(SIZER, this.c.net, { ...terms, multiaddrs: addrs.slice(0, n) }, { seq: 2n ** 63n - 1n, expiresAtMs: 2n ** 63n - 1n }).bytes.length > MAX_BID_BYTES) n--
    return await this.c.publishBid({ ...terms, multiaddrs: addrs.slice(0, n) })
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    if (this.inbound >= MAX_INBOUND_AUCTION_STREAMS) {
      stream.abort(new Error('too many auction streams'))
      return
    }
    this.inbound++
    const limit = deadline(AUCTION_TIMEOUT_MS, this.stopping.signal)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_AUCTION_FRAME_BYTES })
      const frame = decodeAuctionFrame((await lp.read({ signal: limit.signal })).subarray())
      if (frame.kind !== 'bid_quote') throw new CodedError(ErrorCode.protocolViolation, 'the first auction frame must be a bid quote')
      const seller = connection.remotePeer.toString()
      let ack: Uint8Array
      try {
        await this.accept(frame.bytes, seller)
        ack = encodeAckFrame(true)
      } catch (err: any) {
        const code = errorCode(err)
        this.c.log('refused a bid quote from %s: %s %s', seller, code, err?.message)
        ack = encodeAckFrame(false, code, String(err?.message ?? ''))
      }
      await lp.write(ack, { signal: limit.signal })
    } catch (err: any) {
      stream.abort(err)
      return
    } finally {
      limit.clear()
      this.inbound--
    }
    await endStream(stream, AUCTION_TIMEOUT_MS)
  }

  /** § Verification 2-5: throws the error whose code is the Ack's */
  private async accept (bytes: Uint8Array, seller: string): Promise<void> {
    const q = openBidQuote(bytes, this.c.net)
    if (q.sellerId !== seller) throw new InvalidSignatureError(`the bid quote is signed by ${q.sellerId}, not by the peer that sent it (${seller})`)
    const key = hex(q.bidId)
    let col = this.open.get(key)
    if (col == null && this.posting.size > 0) {
      // the bid may be ours and still being registered
      await Promise.allSettled([...this.posting])
      col = this.open.get(key)
    }
    if (col == null) {
      if (this.closed.has(key)) throw new AuctionClosedError(`bid ${key.slice(0, 16)} is no longer collecting`)
      throw new UnknownBidError(`bid ${key.slice(0, 16)} is not an open bid of this node`)
    }
    try {
      checkBidQuoteMatches(q, col.bid, this.c.now())
      if (col.quotes.has(q.sellerId)) throw new DuplicateBidQuoteError(`seller ${q.sellerId} already has a quote for bid ${key.slice(0, 16)}`)
      if (col.quotes.size >= MAX_QUOTES_PER_BID) throw new TooManyBidQuotesError(`bid ${key.slice(0, 16)} holds ${MAX_QUOTES_PER_BID} quotes`)
    } catch (err) {
      if (col.refused.length < MAX_REFUSED_PER_BID) col.refused.push({ seller: q.sellerId, code: errorCode(err) })
      throw err
    }
    col.quotes.set(q.sellerId, { ...q, receivedAtMs: this.c.now() })
  }
}

function hex (b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

/** resolves after ms, or at once when any signal aborts */
async function sleepUntil (ms: number, signals: Array<AbortSignal | undefined>): Promise<void> {
  if (ms <= 0) return
  const d = deadline(ms, signals)
  try {
    await new Promise<void>(resolve => {
      if (d.signal.aborted) { resolve(); return }
      d.signal.addEventListener('abort', () => { resolve() }, { once: true })
    })
  } finally {
    d.clear()
  }
}

/**
 * The seller's end of /tally/auction/1.0.0: answers each matching bid once, by its pricing policy
 * (protocols/auction.md § Seller policy), with a signed BidQuote sent to the bidder, and keeps the
 * quotes the bidder accepted so that negotiation can honour them (HeldBidQuotes).
 */
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import type { Logger, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { deadline } from '../../wire/deadline.js'
import { CodedError, ErrorCode } from '../../errors/index.js'
import type { Ed25519Signer } from '../../identity/ed25519.js'
import type { Bid } from '../../market/bid.js'
import type { OfferTerms } from '../../market/offer.js'
import { servesBid, signBidQuote } from '../../market/bid-quote.js'
import {
  DEFAULT_BATCH_DISCOUNT_PCT, DEFAULT_BATCH_MIN_DEFER_MS, DEFAULT_IDLE_DISCOUNT_PCT, DEFAULT_TOKENS_PER_SEC_PER_SLOT,
  auctionPrice, auctionVolume, type AuctionPricing
} from '../../market/auction.js'
import { AUCTION_PROTOCOL, AUCTION_TIMEOUT_MS, MAX_AUCTION_FRAME_BYTES, decodeAuctionFrame, encodeBidQuoteFrame } from './protocol.js'
import type { AuctionSellInit, HeldBidQuote, HeldBidQuotes } from './types.js'

/** bids answered per buyer per minute: a buyer posting bids in a loop gets a few answers, not a flood of streams */
export const MAX_ANSWERS_PER_BUYER_PER_MIN = 10
const RATE_WINDOW_MS = 60_000
/** quotes kept for negotiation; the one expiring first goes when full */
export const MAX_HELD_BID_QUOTES = 10_000
/** bid ids answered, remembered while their window is open */
const MAX_ANSWERED_BIDS = 10_000
/** buyers whose answer counts are kept */
const MAX_RATE_BUYERS = 10_000
/** quote streams in flight at once; more wait in a queue */
export const MAX_QUOTE_STREAMS = 4
/** answers waiting for a stream; beyond this a bid goes unanswered */
const MAX_QUEUED_ANSWERS = 64

export interface AuctionSellerComponents {
  libp2p: {
    dialProtocol: (peer: PeerId, protocol: string, opts?: { signal?: AbortSignal }) => Promise<Stream>
    peerStore: { merge: (peer: PeerId, data: { multiaddrs: Multiaddr[] }) => Promise<unknown> }
  }
  /** the bids the market service accepted ('bid' events, detail `{ bid }`) */
  bids: EventTarget
  /** the own live offer of a model, or undefined */
  ownTerms: (modelId: string) => OfferTerms | undefined
  /** requests running now for the model (its busy slots) */
  running: (modelId: string) => number
  signer: Ed25519Signer
  net: Uint8Array
  now: () => number
  log: Logger
}

interface Answer { bid: Bid, held: HeldBidQuote, bytes: Uint8Array }

export class AuctionSeller implements HeldBidQuotes {
  private readonly pricing: AuctionPricing
  private readonly disabled: boolean
  private readonly tokensPerSecPerSlot: number
  private readonly held = new Map<string, HeldBidQuote>()
  private readonly answered = new Map<string, bigint>()
  private readonly answersByBuyer = new Map<string, number[]>()
  private readonly queue: Answer[] = []
  private inFlight = 0
  private readonly stopping = new AbortController()
  /** quotes sent and accepted, refused, failed (dial, deadline) */
  readonly stats = { sent: 0, accepted: 0, refused: 0, failed: 0 }

  constructor (private readonly c: AuctionSellerComponents, init: AuctionSellInit = {}) {
    this.pricing = {
      batchDiscountPct: init.batchDiscountPct ?? DEFAULT_BATCH_DISCOUNT_PCT,
      idleDiscountPct: init.idleDiscountPct ?? DEFAULT_IDLE_DISCOUNT_PCT,
      batchMinDeferMs: init.batchMinDeferMs ?? DEFAULT_BATCH_MIN_DEFER_MS
    }
    this.disabled = init.disabled === true
    this.tokensPerSecPerSlot = init.tokensPerSecPerSlot ?? DEFAULT_TOKENS_PER_SEC_PER_SLOT
    checkAuctionSellInit(this.pricing, this.tokensPerSecPerSlot)
  }

  private readonly onBid = (e: Event): void => {
    const bid = (e as CustomEvent<{ bid: Bid }>).detail?.bid
    if (bid == null) return
    try {
      this.consider(bid)
    } catch (err: any) {
      this.c.log.error('answering bid failed: %e', err)
    }
  }

  start (): void {
    if (!this.disabled) this.c.bids.addEventListener('bid', this.onBid)
  }

  stop (): void {
    this.c.bids.removeEventListener('bid', this.onBid)
    this.stopping.abort()
    this.queue.length = 0
  }

  lookupBidQuote (quoteId: Uint8Array | string): HeldBidQuote | undefined {
    const h = this.held.get(typeof quoteId === 'string' ? quoteId : hex(quoteId))
    if (h == null) return undefined
    if (h.validUntilMs < BigInt(Math.floor(this.c.now()))) {
      this.held.delete(hex(h.quoteId))
      return undefined
    }
    return h
  }

  consumeVolume (quoteId: Uint8Array | string, tokens: bigint): bigint | undefined {
    const h = this.lookupBidQuote(quoteId)
    if (h == null) return undefined
    const take = tokens < 0n ? 0n : tokens > h.volumeLeftTokens ? h.volumeLeftTokens : tokens
    h.volumeLeftTokens -= take
    return h.volumeLeftTokens
  }

  /** held quotes (live), for the operator and tests */
  heldQuotes (): HeldBidQuote[] {
    const now = BigInt(Math.floor(this.c.now()))
    return [...this.held.values()].filter(h => h.validUntilMs >= now)
  }

  /** § Seller policy: answer the bid or not, at which price and volume */
  consider (bid: Bid): void {
    const nowMs = this.c.now()
    const now = BigInt(Math.floor(nowMs))
    if (this.disabled || bid.auctionEndsAtMs === 0n || bid.auctionEndsAtMs <= now) return
    const bidKey = hex(bid.id)
    if (this.answered.has(bidKey)) return
    const terms = this.c.ownTerms(bid.modelId)
    if (terms == null) return
    const off = servesBid(bid, terms)
    if (off != null) { this.c.log('not answering bid %s: %s', bidKey.slice(0, 16), off); return }
    const slots = Math.max(1, terms.maxSessions)
    const freeSlots = Math.max(0, slots - this.c.running(bid.modelId))
    const deferMs = Number(bid.deadlineMs - now)
    const priceIn = auctionPrice(terms.priceInPerMTokUc, this.pricing, { freeSlots, slots, deferMs })
    const priceOut = auctionPrice(terms.priceOutPerMTokUc, this.pricing, { freeSlots, slots, deferMs })
    if (priceIn > bid.maxPriceInPerMTokUc || priceOut > bid.maxPriceOutPerMTokUc) { this.c.log('not answering bid %s: price %d/%d above its maximum', bidKey.slice(0, 16), priceIn, priceOut); return }
    const volume = auctionVolume({
      bidVolume: bid.expectedOutputTokens,
      tokensPerSecPerSlot: terms.tokensPerSec > 0 ? terms.tokensPerSec : this.tokensPerSecPerSlot,
      slots,
      msToDeadline: deferMs,
      heldVolume: this.heldVolume(bid.modelId, now)
    })
    if (volume <= 0n) { this.c.log('not answering bid %s: its deadline is out of reach', bidKey.slice(0, 16)); return }
    if (!this.takeRate(bid.buyerId, nowMs)) { this.c.log('not answering bid %s: buyer %s is at %d answers a minute', bidKey.slice(0, 16), bid.buyerId, MAX_ANSWERS_PER_BUYER_PER_MIN); return }
    this.remember(bidKey, bid.auctionEndsAtMs, now)
    const quote = signBidQuote(this.c.signer, this.c.net, {
      bidId: bid.id,
      buyer: bid.buyer,
      modelId: terms.modelId,
      fingerprint: terms.fingerprint,
      fingerprintVerified: terms.fingerprintVerified,
      params: terms.params,
      quantization: terms.quantization,
      priceInPerMTokUc: priceIn,
      priceOutPerMTokUc: priceOut,
      maxOutputTokens: volume,
      validUntilMs: bid.deadlineMs,
      postedPriceOutPerMTokUc: terms.priceOutPerMTokUc,
      multiaddrs: terms.multiaddrs.slice(0, 8),
      quoteId: new Uint8Array(randomBytes(16))
    })
    const held: HeldBidQuote = {
      quoteId: quote.quoteId,
      bidId: bid.id,
      buyer: bid.buyer,
      buyerId: bid.buyerId,
      modelId: terms.modelId,
      priceInPerMTokUc: priceIn,
      priceOutPerMTokUc: priceOut,
      maxOutputTokens: volume,
      volumeLeftTokens: volume,
      validUntilMs: bid.deadlineMs,
      bytes: quote.bytes
    }
    if (this.queue.length >= MAX_QUEUED_ANSWERS) { this.c.log('not answering bid %s: %d answers queued', bidKey.slice(0, 16), this.queue.length); return }
    // held from now, so that the next bid's volume counts this one; dropped if the bidder refuses
    this.hold(held)
    this.queue.push({ bid, held, bytes: quote.bytes })
    this.pump()
  }

  private pump (): void {
    while (this.inFlight < MAX_QUOTE_STREAMS && this.queue.length > 0) {
      const a = this.queue.shift() as Answer
      this.inFlight++
      void this.send(a).finally(() => {
        this.inFlight--
        this.pump()
      })
    }
  }

  private async send (a: Answer): Promise<void> {
    const key = hex(a.held.quoteId)
    const limit = deadline(AUCTION_TIMEOUT_MS, this.stopping.signal)
    let stream: Stream | undefined
    try {
      const peer = peerIdFromString(a.bid.buyerId)
      const addrs = a.bid.multiaddrs.flatMap(s => { try { return [multiaddr(s)] } catch { return [] } })
      if (addrs.length > 0) await this.c.libp2p.peerStore.merge(peer, { multiaddrs: addrs }).catch(() => {})
      stream = await this.c.libp2p.dialProtocol(peer, AUCTION_PROTOCOL, { signal: limit.signal })
      const lp = lpStream(stream, { maxDataLength: MAX_AUCTION_FRAME_BYTES })
      this.stats.sent++
      await lp.write(encodeBidQuoteFrame(a.bytes), { signal: limit.signal })
      const frame = decodeAuctionFrame((await lp.read({ signal: limit.signal })).subarray())
      if (frame.kind !== 'ack') throw new Error('the bidder answered with a bid quote')
      await stream.close({ signal: limit.signal }).catch(() => {})
      if (frame.accepted) {
        this.stats.accepted++
      } else {
        this.stats.refused++
        this.held.delete(key)
        this.c.log('bidder %s refused quote %s: %s %s', a.bid.buyerId, key, frame.code, frame.message)
      }
    } catch (err: any) {
      this.stats.failed++
      this.held.delete(key)
      stream?.abort(err)
      this.c.log('sending quote %s to %s failed: %s', key, a.bid.buyerId, err?.message ?? err)
    } finally {
      limit.clear()
    }
  }

  private heldVolume (modelId: string, now: bigint): bigint {
    let sum = 0n
    for (const h of this.held.values()) if (h.modelId === modelId && h.validUntilMs >= now) sum += h.volumeLeftTokens
    return sum
  }

  private hold (h: HeldBidQuote): void {
    const now = BigInt(Math.floor(this.c.now()))
    if (this.held.size >= MAX_HELD_BID_QUOTES) {
      for (const [k, v] of this.held) if (v.validUntilMs < now) this.held.delete(k)
    }
    if (this.held.size >= MAX_HELD_BID_QUOTES) {
      let first: [string, HeldBidQuote] | undefined
      for (const e of this.held) if (first == null || e[1].validUntilMs < first[1].validUntilMs) first = e
      if (first != null) this.held.delete(first[0])
    }
    this.held.set(hex(h.quoteId), h)
  }

  private remember (bidKey: string, endsAt: bigint, now: bigint): void {
    if (this.answered.size >= MAX_ANSWERED_BIDS) {
      for (const [k, v] of this.answered) if (v <= now) this.answered.delete(k)
      while (this.answered.size >= MAX_ANSWERED_BIDS) this.answered.delete(this.answered.keys().next().value as string)
    }
    this.answered.set(bidKey, endsAt)
  }

  /** one more answer to this buyer within the minute, or false at the cap */
  private takeRate (buyerId: string, nowMs: number): boolean {
    const recent = (this.answersByBuyer.get(buyerId) ?? []).filter(t => t > nowMs - RATE_WINDOW_MS)
    if (recent.length >= MAX_ANSWERS_PER_BUYER_PER_MIN) {
      this.answersByBuyer.set(buyerId, recent)
      return false
    }
    recent.push(nowMs)
    this.answersByBuyer.delete(buyerId)
    this.answersByBuyer.set(buyerId, recent)
    while (this.answersByBuyer.size > MAX_RATE_BUYERS) this.answersByBuyer.delete(this.answersByBuyer.keys().next().value as string)
    return true
  }
}

/** the seller's auction settings are in range, or a ConfigError-like typed error naming the field */
export function checkAuctionSellInit (p: AuctionPricing, tokensPerSecPerSlot: number): void {
  const pct = (field: string, v: number): void => {
    if (!Number.isInteger(v) || v < 0 || v > 100) throw new CodedError(ErrorCode.invalidConfig, `auction.${field} must be an integer 0..100 (%), got ${v}`)
  }
  pct('batchDiscountPct', p.batchDiscountPct)
  pct('idleDiscountPct', p.idleDiscountPct)
  if (p.batchDiscountPct + p.idleDiscountPct > 100) throw new CodedError(ErrorCode.invalidConfig, `auction.batchDiscountPct + idleDiscountPct must be at most 100, got ${p.batchDiscountPct + p.idleDiscountPct}`)
  if (!Number.isSafeInteger(p.batchMinDeferMs) || p.batchMinDeferMs < 0) throw new CodedError(ErrorCode.invalidConfig, `auction.batchMinDeferMs must be an integer >= 0, got ${p.batchMinDeferMs}`)
  if (!Number.isFinite(tokensPerSecPerSlot) || tokensPerSecPerSlot <= 0 || tokensPerSecPerSlot > 10_000_000) throw new CodedError(ErrorCode.invalidConfig, `auction.tokensPerSecPerSlot must be > 0 and at most 10^7, got ${tokensPerSecPerSlot}`)
}

function hex (b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

/**
 * The market service: publishes this node's offers (re-announced, expiring, withdrawn on stop),
 * and keeps the order book and bid book fed from the offers and bids topics through gossipsub
 * topic validators (Reject: bad signature, malformed, wrong net, out of range; Ignore: stale or
 * duplicate seq; Accept otherwise). js-libp2p service shape: `market(init)(components)`.
 */
import { TopicValidatorResult, type GossipSub, type Message, type TopicValidatorFn } from '@libp2p/gossipsub'
import type { ComponentLogger, Logger, PeerId, Startable } from '@libp2p/interface'
import type { Ed25519Signer } from '../identity/ed25519.js'
import { signBid, type Bid, type BidTerms } from './bid.js'
import { BidBook } from './bid-book.js'
import { bidsTopic, offersTopic } from '../wire/topics.js'
import { signOffer, type Offer, type OfferTerms } from './offer.js'
import { OrderBook, type OrderBookInit } from './order-book.js'
import { MAX_BID_TTL_MS, MAX_OFFER_TTL_MS } from '../wire/limits.js'

/** sellers re-announce well within the 2 min expiry, so one lost message does not drop them */
export const DEFAULT_ANNOUNCE_INTERVAL_MS = 30_000
/** an offer lives this long unless re-announced */
export const DEFAULT_OFFER_TTL_MS = MAX_OFFER_TTL_MS
/** a bid lives this long unless re-published */
export const DEFAULT_BID_TTL_MS = 60_000
/**
 * Re-announcing own offers when a peer joins the offers topic is off by default: every such
 * announce floods the whole network (sellers × N × mesh degree deliveries per join window), and a
 * joiner already pulls its neighbours' books over /tally/offers/1.0.0.
 */
export const DEFAULT_JOIN_ANNOUNCE_DELAY_MS: number | false = false
/** an announce that reached no peer is repeated this long after the first peer joins the offers topic */
export const UNHEARD_ANNOUNCE_DELAY_MS = 250
/** expired entries are swept from the books this often */
export const DEFAULT_PRUNE_INTERVAL_MS = 10_000
/** a withdrawal on stop gets this long to leave the node */
export const DEFAULT_STOP_PUBLISH_TIMEOUT_MS = 2_000
/**
 * a change of an offer's busy flag is announced at most this often: a seller at the edge of its
 * capacity flips on every request, and each flip is a gossiped offer (market.md § Capacity)
 */
export const DEFAULT_BUSY_ANNOUNCE_MIN_MS = 1_000

export interface MarketInit {
  announceIntervalMs?: number
  offerTtlMs?: number
  bidTtlMs?: number
  pruneIntervalMs?: number
  /** re-announce own offers this long after a new peer joins the offers topic; false (default) = never */
  joinAnnounceDelayMs?: number | false
  /** order book options (caps, quality, isFlagged) when the service builds its own book */
  book?: OrderBookInit
  /**
   * clock; the node passes its one clock (src/node/clock.ts). The simulator's virtual clock
   * replaces Date process-wide, so the default reads it too.
   */
  now?: () => number
  /** a busy flag change is announced at most this often (default DEFAULT_BUSY_ANNOUNCE_MIN_MS) */
  busyAnnounceMinMs?: number
}

export interface MarketComponents {
  pubsub: GossipSub
  signer: Ed25519Signer
  net: Uint8Array
  logger: ComponentLogger
  /** share a book with the router; otherwise the service builds one */
  orderBook?: OrderBook
}

export interface OfferEventDetail {
  offer: Offer
  status: 'accepted' | 'withdrawn'
  from: PeerId
}

export interface BidEventDetail {
  bid: Bid
  from: PeerId
}

/** Events: 'offer' (CustomEvent<OfferEventDetail>), 'bid' (CustomEvent<BidEventDetail>). */
export interface MarketStats {
  offersAccepted: number
  offersIgnored: number
  offersRejected: number
  bidsAccepted: number
  bidsIgnored: number
  bidsRejected: number
}

export class MarketService extends EventTarget implements Startable {
  readonly book: OrderBook
  /** validation outcomes since start, for metrics and tests */
  readonly stats: MarketStats = { offersAccepted: 0, offersIgnored: 0, offersRejected: 0, bidsAccepted: 0, bidsIgnored: 0, bidsRejected: 0 }
  readonly bids: BidBook
  readonly offersTopic: string
  readonly bidsTopic: string
  private readonly pubsub: GossipSub
  private readonly signer: Ed25519Signer
  private readonly net: Uint8Array
  private readonly log: Logger
  private readonly now: () => number
  private readonly announceIntervalMs: number
  private readonly offerTtlMs: number
  private readonly bidTtlMs: number
  private readonly pruneIntervalMs: number
  private readonly joinAnnounceDelayMs: number | false
  private readonly own = new Map<string, OfferTerms>()
  private readonly ownSigned = new Map<string, Offer>()
  /** models whose every slot is taken (market.md § Capacity): their offer stands, flagged busy */
  private readonly busy = new Set<string>()
  /** a busy change waiting for the announce interval: the newest state goes out when it fires */
  private readonly busyTimers = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly busyAnnouncedAt = new Map<string, number>()
  private readonly busyAnnounceMinMs: number
  private lastSeq = 0n
  private announceTimer?: ReturnType<typeof setInterval>
  private joinTimer?: ReturnType<typeof setTimeout>
  /** the last announce reached no peer (a seller that started alone): repeat it when one joins */
  private unheard = false
  private pruneTimer?: ReturnType<typeof setInterval>
  private started = false

  constructor (components: MarketComponents, init: MarketInit = {}) {
    super()
    this.pubsub = components.pubsub
    this.signer = components.signer
    this.net = components.net
    this.log = components.logger.forComponent('tally:market')
    this.now = init.now ?? (() => Date.now())
    this.announceIntervalMs = init.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS
    this.offerTtlMs = Math.min(init.offerTtlMs ?? DEFAULT_OFFER_TTL_MS, MAX_OFFER_TTL_MS)
    this.bidTtlMs = Math.min(init.bidTtlMs ?? DEFAULT_BID_TTL_MS, MAX_BID_TTL_MS)
    this.pruneIntervalMs = init.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS
    this.joinAnnounceDelayMs = init.joinAnnounceDelayMs ?? DEFAULT_JOIN_ANNOUNCE_DELAY_MS
    this.busyAnnounceMinMs = init.busyAnnounceMinMs ?? DEFAULT_BUSY_ANNOUNCE_MIN_MS
    this.book = components.orderBook ?? new OrderBook(init.book)
    this.bids = new BidBook()
    this.offersTopic = offersTopic(this.net)
    this.bidsTopic = bidsTopic(this.net)
  }

  readonly [Symbol.toStringTag] = 'tally:market'

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) return
    this.pubsub.topicValidators.set(this.offersTopic, this.validateOffer)
    this.pubsub.topicValidators.set(this.bidsTopic, this.validateBid)
    this.pubsub.subscribe(this.offersTopic)
    this.pubsub.subscribe(this.bidsTopic)
    this.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    this.announceTimer = setInterval(() => { void this.announceAll() }, this.announceIntervalMs)
    this.pruneTimer = setInterval(() => { this.book.prune(this.now()) }, this.pruneIntervalMs)
    this.announceTimer.unref?.()
    this.pruneTimer.unref?.()
    this.started = true
  }

  /** withdraws every own offer (best effort, bounded), then unsubscribes */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.announceTimer)
    clearInterval(this.pruneTimer)
    clearTimeout(this.joinTimer)
    for (const t of this.busyTimers.values()) clearTimeout(t)
    this.busyTimers.clear()
    this.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    const models = [...this.own.keys()]
    await Promise.all(models.map(async m => this.withdraw(m, AbortSignal.timeout(DEFAULT_STOP_PUBLISH_TIMEOUT_MS)).catch(() => {})))
    this.pubsub.unsubscribe(this.offersTopic)
    this.pubsub.unsubscribe(this.bidsTopic)
    if (this.pubsub.topicValidators.get(this.offersTopic) === this.validateOffer) this.pubsub.topicValidators.delete(this.offersTopic)
    if (this.pubsub.topicValidators.get(this.bidsTopic) === this.validateBid) this.pubsub.topicValidators.delete(this.bidsTopic)
  }

  private nextSeq (): bigint {
    const t = BigInt(Math.floor(this.now()))
    this.lastSeq = t > this.lastSeq ? t : this.lastSeq + 1n
    return this.lastSeq
  }

  /** the offers this node currently publishes, as last signed */
  ownOffers (): Offer[] {
    return [...this.ownSigned.values()].filter(o => !o.withdrawn)
  }

  /** the terms this node currently offers a model at (what the negotiate service quotes) */
  ownTerms (modelId: string): OfferTerms | undefined {
    return this.own.get(modelId)
  }

  /** Publish (or replace) this node's offer for `terms.modelId`; it is re-announced until withdrawn. */
  async setOffer (terms: OfferTerms): Promise<Offer> {
    const offer = this.sign(terms, false, this.busy.has(terms.modelId))
    this.own.set(terms.modelId, { ...terms, multiaddrs: [...terms.multiaddrs] })
    await this.publish(this.offersTopic, offer)
    return offer
  }

  /**
   * Mark a model busy (every slot taken) or free again (market.md § Capacity): the offer stays
   * in every book, re-announced with the flag. A change within busyAnnounceMinMs of the last
   * busy announce goes out once that interval has passed, with the state then (a flip and a
   * flip back in between announce nothing).
   */
  setBusy (modelId: string, busy: boolean): void {
    if (!this.own.has(modelId)) return
    if (busy) this.busy.add(modelId)
    else this.busy.delete(modelId)
    if (this.busyTimers.has(modelId)) return
    const wait = (this.busyAnnouncedAt.get(modelId) ?? Number.NEGATIVE_INFINITY) + this.busyAnnounceMinMs - this.now()
    if (wait <= 0) {
      this.announceBusy(modelId)
      return
    }
    const t = setTimeout(() => {
      this.busyTimers.delete(modelId)
      this.announceBusy(modelId)
    }, wait)
    t.unref?.()
    this.busyTimers.set(modelId, t)
  }

  /** whether the own offer of a model is marked busy */
  isBusy (modelId: string): boolean {
    return this.busy.has(modelId)
  }

  private announceBusy (modelId: string): void {
    const terms = this.own.get(modelId)
    const busy = this.busy.has(modelId)
    if (terms == null || !this.started || this.ownSigned.get(modelId)?.busy === busy) return
    this.busyAnnouncedAt.set(modelId, this.now())
    void this.publish(this.offersTopic, this.sign(terms, false, busy))
  }

  /** Publish a withdrawal (newer seq, withdrawn=true) and stop announcing the model. */
  async withdraw (modelId: string, signal?: AbortSignal): Promise<Offer | undefined> {
    const terms = this.own.get(modelId)
    if (terms == null) return undefined
    this.own.delete(modelId)
    this.busy.delete(modelId)
    clearTimeout(this.busyTimers.get(modelId))
    this.busyTimers.delete(modelId)
    const offer = this.sign(terms, true)
    await this.publish(this.offersTopic, offer, signal)
    return offer
  }

  /** Publish a bid; buyers re-publish while they still want the compute. */
  async publishBid (terms: BidTerms): Promise<Bid> {
    const now = this.now()
    const bid = signBid(this.signer, this.net, terms, { seq: this.nextSeq(), expiresAtMs: BigInt(Math.floor(now + this.bidTtlMs)) })
    try {
      await this.pubsub.publish(this.bidsTopic, bid.bytes)
    } catch (err: any) {
      this.log('bid publish failed: %s', err?.message ?? err)
    }
    return bid
  }

  private sign (terms: OfferTerms, withdrawn: boolean, busy = false): Offer {
    const now = this.now()
    const offer = signOffer(this.signer, this.net, terms, {
      seq: this.nextSeq(),
      expiresAtMs: BigInt(Math.floor(now + this.offerTtlMs)),
      withdrawn,
      busy: !withdrawn && busy
    })
    this.ownSigned.set(terms.modelId, offer)
    if (withdrawn) this.ownSigned.delete(terms.modelId)
    // a node sees its own offers in its own book (gossipsub does not deliver them back)
    this.book.add(offer, now)
    return offer
  }

  private async publish (topic: string, offer: Offer, signal?: AbortSignal): Promise<void> {
    try {
      const p = this.pubsub.publish(topic, offer.bytes)
      const r = signal == null
        ? await p
        : await Promise.race([p, new Promise<never>((_resolve, reject) => {
          signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
        })])
      if (topic === this.offersTopic) this.unheard = (r?.recipients?.length ?? 0) === 0
    } catch (err: any) {
      this.log('offer publish for %s failed: %s', offer.modelId, err?.message ?? err)
    }
  }

  private async announceAll (): Promise<void> {
    for (const terms of this.own.values()) {
      await this.publish(this.offersTopic, this.sign(terms, false, this.busy.has(terms.modelId)))
    }
  }

  /**
   * A peer joined the offers topic. An announce that reached nobody is repeated soon after; with
   * joinAnnounceDelayMs set, own offers are re-announced on every join (debounced, so a burst of
   * joins costs one announce). Otherwise the joiner pulls its neighbours' books.
   */
  private readonly onSubscriptionChange = (evt: CustomEvent<{ subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    const delay = this.unheard ? UNHEARD_ANNOUNCE_DELAY_MS : this.joinAnnounceDelayMs
    if (delay === false || this.own.size === 0 || this.joinTimer != null) return
    if (!evt.detail.subscriptions.some(s => s.subscribe && s.topic === this.offersTopic)) return
    this.joinTimer = setTimeout(() => {
      this.joinTimer = undefined
      if (this.started) void this.announceAll()
    }, delay)
    this.joinTimer.unref?.()
  }

  private readonly validateOffer: TopicValidatorFn = (from: PeerId, msg: Message): TopicValidatorResult => {
    const r = this.book.ingest(msg.data, this.net, this.now())
    switch (r.status) {
      case 'rejected':
        this.stats.offersRejected++
        this.log('rejected offer from %p: %s %s', from, r.error.name, r.error.message)
        return TopicValidatorResult.Reject
      case 'stale':
      case 'duplicate':
      // valid, but this book has no room for it: not forwarded, and no penalty for the sender
      case 'full':
        this.stats.offersIgnored++
        return TopicValidatorResult.Ignore
      default:
        this.stats.offersAccepted++
        this.dispatchEvent(new CustomEvent<OfferEventDetail>('offer', { detail: { offer: r.offer, status: r.status, from } }))
        return TopicValidatorResult.Accept
    }
  }

  private readonly validateBid: TopicValidatorFn = (from: PeerId, msg: Message): TopicValidatorResult => {
    const r = this.bids.ingest(msg.data, this.net, this.now())
    switch (r.status) {
      case 'rejected':
        this.stats.bidsRejected++
        this.log('rejected bid from %p: %s %s', from, r.error.name, r.error.message)
        return TopicValidatorResult.Reject
      case 'stale':
      case 'duplicate':
        this.stats.bidsIgnored++
        return TopicValidatorResult.Ignore
      default:
        this.stats.bidsAccepted++
        this.dispatchEvent(new CustomEvent<BidEventDetail>('bid', { detail: { bid: r.bid, from } }))
        return TopicValidatorResult.Accept
    }
  }
}

export function market (init: MarketInit = {}): (components: MarketComponents) => MarketService {
  return (components) => new MarketService(components, init)
}

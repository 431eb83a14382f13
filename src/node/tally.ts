/**
 * createTallyNode: the whole node and the SDK surface. It composes the libp2p host (base node)
 * with the domain services: ledger (store, gossip push, Negentropy pull), market (offers, order
 * book), negotiation, inference (seller and buyer ends), the buyer's router and cost books.
 * A node sells when given a backend, buys when asked, and always relays and keeps the ledger.
 */
import '../polyfill.js'
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { defaultLogger } from '@libp2p/logger'
import type { ComponentLogger, Logger, PeerId } from '@libp2p/interface'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { createBaseNode, topicName, type BaseNode, type BaseNodeInit } from './node.js'
import type { TallyConfig } from './config.js'
import { loadOrCreateIdentity, type Identity } from '../identity/keystore.js'
import { netId } from '../ledger/genesis.js'
import { LedgerService } from '../ledger/service.js'
import { MemoryLedgerStore } from '../ledger/store.js'
import { gossipVerdict, type AccountBalance, type AddResult } from '../ledger/ledger.js'
import { recordIdOf } from '../ledger/record.js'
import { ledgerSync, type LedgerSync, type LedgerSyncInit } from '../ledger/sync/service.js'
import { market, type MarketInit, type MarketService } from '../market/service.js'
import { OrderBook } from '../market/order-book.js'
import { BookSync } from '../market/book-sync.js'
import { marketGossipsubOptions, marketTopicScoreParams } from '../market/gossip-options.js'
import { pricePerBptForDisplay, type OfferTerms } from '../market/offer.js'
import { QualityTracker } from '../market/router.js'
import type { RouteConstraints, RoutedResult } from '../market/router-types.js'
import { negotiate, type NegotiateInit, type Negotiator } from '../contract/negotiate.js'
import type { Contract } from '../contract/messages.js'
import { InferSeller, type InferSellerInit } from '../exec/infer/seller.js'
import { InferBuyer, type InferBuyerInit } from '../exec/infer/buyer.js'
import { BuyerSessions, SellerSessions } from '../exec/infer/sessions.js'
import type { MeterRecord } from '../exec/metering.js'
import type { Backend, ChatRequest } from '../exec/backend.js'
import { CostBook, type ReportBy, type ReportRow } from './costs.js'
import { BuyerRouter, type BuyerRouterInit, type InferCallOptions } from './buyer.js'
import { SellerDesk } from './seller.js'

/** What a seller offers one backend at. */
export interface SellInit {
  backend: Backend
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  /** concurrent sessions offered; default the backend's concurrency */
  maxSessions?: number
  region?: string
  /** sessions locking more than this (µc) are served only once a second peer holds the buyer's open; default 2 credits */
  secondPeerAboveUc?: bigint
}

export interface TallyNodeInit extends Omit<BaseNodeInit, 'services' | 'topicHandlers' | 'identity'> {
  identity?: Identity
  sell?: SellInit
  buy?: BuyerRouterInit
  market?: MarketInit
  negotiate?: NegotiateInit
  inferSeller?: InferSellerInit
  inferBuyer?: InferBuyerInit
  sync?: LedgerSyncInit
  /** keep the ledger in memory (simulations); default: LevelDB under dataDir */
  memoryLedger?: boolean
  /** clock for market, sessions and ledger metadata; the simulator passes its own */
  now?: () => number
}

export interface TallyNodeEvents {
  /** this node sold a request (seller view) */
  meter: [MeterRecord]
  /** this node countersigned a contract as seller */
  contract: [Contract]
  /** a ledger record became valid here */
  record: [{ id: string, from: string, type: string }]
}

/** one model on the market as the node lists it (the gateway's /v1/models) */
export interface ModelListing {
  id: string
  sellers: number
  params: number
  bestPriceInPerMTokUc: bigint
  bestPriceOutPerMTokUc: bigint
}

export interface OfferView {
  model: string
  seller: string
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  /** µc per Bpt for display (1.0 = par) */
  pricePerBpt: number
  params: bigint
  quantization: string
  fingerprint: string
  fingerprintVerified: boolean
  maxSessions: number
  expiresAtMs: bigint
}

/** sessions locking more than this wait until a second peer holds the buyer's open */
export const DEFAULT_SECOND_PEER_ABOVE_UC = 2_000_000n

/**
 * streams per connection for /tally/negotiate and /tally/infer: one buyer may run many sessions
 * with one seller at once (an agent fanning out), so at least 32, and twice the sessions offered
 */
const DEFAULT_INBOUND_STREAMS = 32

/** how long a gossiped record whose ancestors are missing waits for them before it is Ignored */
const PENDING_VERDICT_MS = 3_000
/** most gossiped records waiting for their ancestors at once (the rest are Ignored at once) */
const MAX_PENDING_VERDICTS = 1_000

/** a peer that rejoins within this long is not reconciled with again on joining */
const RESYNC_PEER_AFTER_MS = 10_000
/**
 * Records learned by pull (not gossip) are re-gossiped, so the rest of a healed partition hears
 * them at gossip speed instead of at each node's next pull; bounded so a late joiner's bulk
 * catch-up does not flood the topic.
 */
const REGOSSIP_MAX_PER_WINDOW = 1_000
const REGOSSIP_WINDOW_MS = 10_000
/**
 * a pulled record younger than this (by its author's clock) is most likely still on its way by
 * gossip: every node that happened to pull it first re-gossiping it would multiply its deliveries
 */
const REGOSSIP_MIN_AGE_MS = 5_000

function sha256 (b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest())
}

export class TallyNode extends EventEmitter<TallyNodeEvents> {
  readonly base: BaseNode
  readonly ledger: LedgerService
  readonly book: OrderBook
  readonly quality = new QualityTracker()
  readonly costs: CostBook
  readonly sellerSessions: SellerSessions
  readonly buyerSessions: BuyerSessions
  private readonly init: TallyNodeInit
  private readonly now: () => number
  private readonly log: Logger
  private marketSvc?: MarketService
  private negotiatorSvc?: Negotiator
  private inferSellerSvc?: InferSeller
  private inferBuyerSvc?: InferBuyer
  private routerSvc?: BuyerRouter
  private desk?: SellerDesk
  private bookSync?: BookSync
  /** when each peer was last reconciled with on joining */
  private readonly syncedWith = new Map<string, number>()
  private readonly meters: MeterRecord[] = []

  private constructor (base: BaseNode, ledger: LedgerService, costs: CostBook, init: TallyNodeInit, now: () => number, logger: ComponentLogger) {
    super()
    this.base = base
    this.ledger = ledger
    this.costs = costs
    this.init = init
    this.now = now
    this.log = logger.forComponent('tally:node')
    this.book = new OrderBook({ isFlagged: (seller) => ledger.isFlagged(seller), quality: (seller) => this.quality.reliability(seller) })
    this.sellerSessions = new SellerSessions({ net: base.net, now })
    this.buyerSessions = new BuyerSessions({ now })
  }

  static async create (config: TallyConfig, init: TallyNodeInit = {}): Promise<TallyNode> {
    const identity = init.identity ?? await loadOrCreateIdentity(config.dataDir, { passphrase: config.passphrase })
    const net = netId(config.genesis)
    const now = init.now ?? Date.now
    const logger = init.logger ?? defaultLogger()
    let ledgerDir: string | undefined
    let costsFile: string | undefined
    if (init.memoryLedger !== true) {
      mkdirSync(config.dataDir, { recursive: true })
      ledgerDir = join(config.dataDir, 'ledger')
      costsFile = join(config.dataDir, 'costs.jsonl')
    }
    const ledger = new LedgerService({ genesis: config.genesis, signer: identity.signer, dataDir: ledgerDir, store: ledgerDir == null ? new MemoryLedgerStore() : undefined, now })
    const costs = new CostBook(costsFile)
    // the node object exists before libp2p so services can close over it
    let self: TallyNode | undefined
    const recordsTopic = topicName(net, 'records')
    const gossipOpts = marketGossipsubOptions(net, { topics: { [recordsTopic]: marketTopicScoreParams() } })
    const base = await createBaseNode(config, {
      ...init,
      identity,
      gossipsub: {
        ...gossipOpts,
        // payloads are signed envelopes already: no second signature per message, and the
        // message id is the content's (the record id for records), so republished copies dedupe
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: (msg: Message) => msg.topic === recordsTopic ? recordIdOf(msg.data, net) : sha256(msg.data),
        ...(init.gossipsub ?? {})
      },
      libp2pServices: {
        ...(init.libp2pServices ?? {}),
        sync: (c: any) => ledgerSync({ recordId: (b) => recordIdOf(b, net), now, ...(init.sync ?? {}) })({
          registrar: c.registrar,
          connectionManager: c.connectionManager,
          logger: c.logger,
          source: ledger.recordSource(),
          sink: { add: async (bytes) => self!.ingestPulledRecord(bytes) }
        })
      },
      topicHandlers: {
        records: {
          validate: async (_from: PeerId, msg: Message) => {
            // a peer may deliver before the ledger has loaded: not its fault, so no penalty
            if (!ledger.isStarted()) return TopicValidatorResult.Ignore
            const r = self!.ingestRecord(msg.data)
            // a record that came before its ancestors: hold its verdict until they arrive (then it
            // is Accepted and forwarded like any other) or PENDING_VERDICT_MS passes (Ignored)
            if (r.status === 'pending' && await self!.becomesValid(r.id, PENDING_VERDICT_MS)) return TopicValidatorResult.Accept
            const verdict = gossipVerdict(r)
            return verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'ignore' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
          }
        }
      },
      services: {
        ledger: () => ({ start: async () => { await ledger.start() }, stop: async () => { await ledger.stop() } }),
        tally: () => ({ start: async () => { await self!.startServices() }, stop: async () => { await self!.stopServices() } })
      }
    })
    self = new TallyNode(base, ledger, costs, init, now, logger)
    ledger.onRecord((bytes) => { self!.publishRecord(bytes) })
    return self
  }

  get account (): string { return this.base.account }
  get net (): Uint8Array { return this.base.net }
  get libp2p (): BaseNode['libp2p'] { return this.base.libp2p }
  get market (): MarketService { return this.marketSvc! }
  get negotiator (): Negotiator { return this.negotiatorSvc! }
  get router (): BuyerRouter { return this.routerSvc! }
  get selling (): boolean { return this.init.sell != null }
  get meterRecords (): readonly MeterRecord[] { return this.meters }
  get settledSessions (): number { return this.desk?.settled ?? 0 }

  addrs (): string[] { return this.base.addrs() }

  async start (): Promise<void> { await this.base.start() }
  async stop (): Promise<void> { await this.base.stop() }

  /** every record from the network (gossip, sync) enters here */
  private readonly validWaiters = new Map<string, Array<(ok: boolean) => void>>()

  /** resolves true when record `id` becomes valid here, false after `ms` (or when too many wait) */
  async becomesValid (id: string, ms: number): Promise<boolean> {
    if (this.ledger.ledger.has(id)) return true
    if (this.validWaiters.size >= MAX_PENDING_VERDICTS && !this.validWaiters.has(id)) return false
    return await new Promise<boolean>(resolve => {
      const list = this.validWaiters.get(id) ?? []
      this.validWaiters.set(id, list)
      const timer = setTimeout(() => {
        const l = this.validWaiters.get(id)
        if (l == null) return
        l.splice(l.indexOf(done), 1)
        if (l.length === 0) this.validWaiters.delete(id)
        resolve(false)
      }, ms)
      timer.unref?.()
      const done = (ok: boolean): void => { clearTimeout(timer); resolve(ok) }
      list.push(done)
    })
  }

  ingestRecord (bytes: Uint8Array): AddResult {
    const r = this.ledger.add(bytes)
    for (const rec of r.accepted) {
      const waiting = this.validWaiters.get(rec.id)
      if (waiting == null) continue
      this.validWaiters.delete(rec.id)
      for (const w of waiting) w(true)
    }
    if (r.accepted.length > 0) {
      this.desk?.onAccepted(r.accepted)
      const me = Buffer.from(this.base.publicKey).toString('hex')
      for (const rec of r.accepted) {
        this.emit('record', { id: rec.id, from: rec.from, type: rec.kind.type })
        if (rec.kind.type === 'transfer' && rec.kind.to === me) {
          this.costs.add({ atMs: this.now(), kind: 'payment-received', tag: rec.kind.tag, model: '', counterparty: this.ledger.ledger.accountId(rec.from), inputTokens: 0, outputTokens: 0, tokenParams: 0n, amountUc: rec.kind.amountUc })
        }
      }
    }
    return r
  }

  private regossip = { windowStartMs: 0, count: 0 }

  /** a record that arrived by pull: ingest, and re-gossip it while under the rate bound */
  ingestPulledRecord (bytes: Uint8Array): AddResult {
    const r = this.ingestRecord(bytes)
    const fresh = r.status === 'accepted' && r.accepted.some(x => x.id === r.id && Number(x.time) > this.now() - REGOSSIP_MIN_AGE_MS)
    if ((r.status === 'accepted' && !fresh) || r.status === 'pending') this.regossipBounded(bytes)
    return r
  }

  /** publish a record this node did not author, within the re-gossip rate bound */
  regossipBounded (bytes: Uint8Array): void {
    const now = this.now()
    if (now - this.regossip.windowStartMs > REGOSSIP_WINDOW_MS) this.regossip = { windowStartMs: now, count: 0 }
    if (this.regossip.count >= REGOSSIP_MAX_PER_WINDOW) return
    this.regossip.count++
    this.publishRecord(bytes)
  }

  private publishRecord (bytes: Uint8Array): void {
    // while stopping, services (e.g. the seller's final settles) still publish: libp2p is up until last
    if (this.base.libp2p.status !== 'started') return
    this.base.libp2p.services.pubsub.publish(this.base.topics.records, bytes).catch((err: any) => {
      this.log('publishing a record failed: %s (peers will pull it)', err?.message)
    })
  }

  private async startServices (): Promise<void> {
    const libp2p = this.base.libp2p
    const logger = this.init.logger ?? defaultLogger()
    const signer = this.base.signer
    const net = this.base.net
    this.marketSvc = market({ now: this.now, ...(this.init.market ?? {}) })({ pubsub: libp2p.services.pubsub, signer, net, logger, orderBook: this.book })
    this.negotiatorSvc = negotiate({ now: this.now, maxInboundStreams: DEFAULT_INBOUND_STREAMS, ...(this.init.negotiate ?? {}) })({
      libp2p,
      signer,
      net,
      logger,
      sellerTerms: (m) => {
        const t = this.marketSvc?.ownTerms(m)
        return t == null ? undefined : { modelId: t.modelId, fingerprint: t.fingerprint, fingerprintVerified: t.fingerprintVerified, params: t.params, priceInPerMTokUc: t.priceInPerMTokUc, priceOutPerMTokUc: t.priceOutPerMTokUc, maxSessions: t.maxSessions }
      },
      canServe: (buyer, maxSpendUc) => {
        if (this.ledger.isFlagged(buyer)) return { ok: false, reason: 'BUYER_FLAGGED' as any }
        if (maxSpendUc > 0n && this.ledger.balance(buyer).spendableUc < maxSpendUc) return { ok: false, reason: 'INSUFFICIENT_CREDIT' as any, message: 'the buyer cannot lock that much' }
        return { ok: true }
      },
      onCapacity: (m, reserved, max) => { void this.marketSvc?.setFull(m, reserved >= max) }
    })
    this.negotiatorSvc.addEventListener('contract', (e) => {
      const contract = (e as CustomEvent<Contract>).detail
      this.desk?.onContract(contract)
      this.emit('contract', contract)
    })
    this.inferBuyerSvc = new InferBuyer({ dialer: libp2p, signer, net, sessions: this.buyerSessions, logger }, { now: this.now, ...(this.init.inferBuyer ?? {}) })
    this.routerSvc = new BuyerRouter({
      libp2p,
      book: this.book,
      negotiator: this.negotiatorSvc,
      infer: this.inferBuyerSvc,
      ledger: this.ledger,
      quality: this.quality,
      costs: this.costs,
      maxSessionLockUc: this.base.genesis.maxSessionLockUc,
      now: this.now,
      log: logger.forComponent('tally:router')
    }, this.init.buy)

    this.bookSync = new BookSync({ libp2p, book: this.book, net, now: this.now, log: logger.forComponent('tally:book-sync') })
    await this.bookSync.start()
    this.base.on('gossip-peer', this.onGossipPeer)
    await this.marketSvc.start()
    await this.negotiatorSvc.start()
    await this.inferBuyerSvc.start()
    this.routerSvc.start()

    const sell = this.init.sell
    if (sell != null) {
      const sync = (libp2p.services as any).sync as LedgerSync
      this.desk = new SellerDesk({
        pullChain: async (buyer, fromSeq, signal) => {
          const peer = peerIdFromPublicKey(publicKeyFromRaw(buyer) as any)
          for (const bytes of await sync.fetchChain(peer, this.ledger.ledger.accountId(Buffer.from(buyer).toString('hex')), fromSeq, 64, { signal })) this.ingestRecord(bytes)
        },
        seenElsewhere: async (recordId, buyer, signal) => {
          const buyerId = peerIdFromPublicKey(publicKeyFromRaw(buyer) as any).toString()
          const others = libp2p.getPeers().filter(p => p.toString() !== buyerId)
          for (const peer of others.slice(0, 3)) {
            const got = await sync.fetchIds(peer, [Buffer.from(recordId, 'hex')], { signal }).catch(() => [])
            if (got.length > 0) return true
          }
          return false
        },
        secondPeerAboveUc: sell.secondPeerAboveUc ?? DEFAULT_SECOND_PEER_ABOVE_UC,
        ledger: this.ledger,
        negotiator: this.negotiatorSvc, sessions: this.sellerSessions, now: this.now, log: logger.forComponent('tally:seller') }, this.base.publicKey)
      this.desk.start()
      this.inferSellerSvc = new InferSeller({
        registrar: libp2p,
        backend: sell.backend,
        sessions: this.sellerSessions,
        logger,
        onMeter: (m) => { this.meters.push(m); this.emit('meter', m) },
        awaitSession: async (id, signal) => { await this.desk!.awaitSession(id, signal) },
        onSessionClosed: (closed) => { this.desk!.onClosed(closed) }
      }, { maxInboundStreams: Math.max(DEFAULT_INBOUND_STREAMS, 2 * (sell.maxSessions ?? sell.backend.maxConcurrency)), ...(this.init.inferSeller ?? {}) })
      await this.inferSellerSvc.start()
      const m = sell.backend.model
      const terms: OfferTerms = {
        modelId: m.id,
        fingerprint: m.fingerprint,
        fingerprintVerified: m.fingerprintVerified,
        params: BigInt(m.params),
        quantization: m.quantization,
        contextLength: m.contextLength,
        priceInPerMTokUc: sell.priceInPerMTokUc,
        priceOutPerMTokUc: sell.priceOutPerMTokUc,
        maxSessions: sell.maxSessions ?? sell.backend.maxConcurrency,
        tokensPerSec: 0,
        region: sell.region ?? '',
        multiaddrs: this.base.addrs().slice(0, 8)
      }
      await this.marketSvc.setOffer(terms)
    }
  }

  /**
   * A neighbour joined a topic: fetch the offers it holds, and reconcile ledgers with it
   * (a late joiner catches up at once instead of at the next periodic pull). Once a minute at
   * most per peer and kind.
   */
  private readonly onGossipPeer = ({ peerId, topic }: { peerId: string, topic: string }): void => {
    if (topic === this.base.topics.offers && this.bookSync != null) {
      void this.bookSync.askOnce(peerIdFromString(peerId)).catch((err: any) => { this.log('book sync with %s: %s', peerId, err?.message) })
    } else if (topic === this.base.topics.records) {
      const now = this.now()
      if ((this.syncedWith.get(peerId) ?? -Infinity) + RESYNC_PEER_AFTER_MS > now) return
      if (this.syncedWith.size > 10_000) this.syncedWith.clear()
      this.syncedWith.set(peerId, now)
      const sync = (this.base.libp2p.services as any).sync as LedgerSync
      void sync.syncWith(peerIdFromString(peerId)).catch((err: any) => { this.log('ledger sync with %s: %s', peerId, err?.message) })
    }
  }

  private async stopServices (): Promise<void> {
    this.base.off('gossip-peer', this.onGossipPeer)
    await this.bookSync?.stop()
    // buyer: ask sellers to settle what we used; seller: settle what is open, then withdraw
    await this.routerSvc?.closeAll(AbortSignal.timeout(2_000)).catch(() => 0)
    await this.inferSellerSvc?.stop()
    await this.desk?.stop()
    await this.inferBuyerSvc?.stop()
    await this.negotiatorSvc?.stop()
    await this.marketSvc?.stop()
    await this.init.sell?.backend.close()
  }

  // ---- SDK / gateway surface ----

  models (): ModelListing[] {
    const now = this.now()
    return this.book.models(now).map(id => {
      const offers = this.book.query({ model: id }, now).map(r => r.offer)
      const bestIn = offers.reduce((m, o) => (o.priceInPerMTokUc < m ? o.priceInPerMTokUc : m), offers[0]?.priceInPerMTokUc ?? 0n)
      const bestOut = offers.reduce((m, o) => (o.priceOutPerMTokUc < m ? o.priceOutPerMTokUc : m), offers[0]?.priceOutPerMTokUc ?? 0n)
      return { id, sellers: new Set(offers.map(o => o.sellerId)).size, params: Number(offers[0]?.params ?? 0n), bestPriceInPerMTokUc: bestIn, bestPriceOutPerMTokUc: bestOut }
    })
  }

  offerList (model?: string): OfferView[] {
    return this.book.query(model != null ? { model } : {}, this.now()).map(r => ({
      model: r.offer.modelId,
      seller: r.offer.sellerId,
      priceInPerMTokUc: r.offer.priceInPerMTokUc,
      priceOutPerMTokUc: r.offer.priceOutPerMTokUc,
      pricePerBpt: pricePerBptForDisplay(r.offer.priceOutPerMTokUc, r.offer.params),
      params: r.offer.params,
      quantization: r.offer.quantization,
      fingerprint: r.offer.fingerprint,
      fingerprintVerified: r.offer.fingerprintVerified,
      maxSessions: r.offer.maxSessions,
      expiresAtMs: r.offer.expiresAtMs
    }))
  }

  async offers (model?: string): Promise<{ offers: OfferView[] }> {
    return { offers: this.offerList(model) }
  }

  /** buy one chat completion from the market */
  async infer (model: string, request: ChatRequest, constraints: RouteConstraints = {}, opts: InferCallOptions = {}): Promise<RoutedResult> {
    return await this.router.infer(model, request, constraints, opts)
  }

  /** ask every seller this node buys from to settle now (sessions end) */
  async closeSessions (signal?: AbortSignal): Promise<number> {
    return await this.router.closeAll(signal)
  }

  async pay (to: string, amountUc: bigint, opts: { memo?: string, tag?: string } = {}): Promise<{ id: string, to: string, amountUc: bigint }> {
    const r = await this.ledger.pay(to, amountUc, opts)
    this.costs.add({ atMs: this.now(), kind: 'payment-sent', tag: opts.tag ?? '', model: '', counterparty: to, inputTokens: 0, outputTokens: 0, tokenParams: 0n, amountUc })
    return { id: r.id, to, amountUc }
  }

  async balance (account?: string): Promise<AccountBalance> {
    return this.ledger.balance(account ?? this.account)
  }

  balances (): AccountBalance[] {
    return this.ledger.balances()
  }

  async history (account?: string): Promise<unknown> {
    return { account: account ?? this.account, entries: this.ledger.history(account ?? this.account) }
  }

  async report (opts: { by?: string, sinceMs?: number } = {}): Promise<{ by: ReportBy, rows: ReportRow[] }> {
    const by = (opts.by ?? 'tag') as ReportBy
    return { by, rows: this.costs.report(by, opts.sinceMs ?? 0) }
  }
}

/** Build a node (not started). `node.start()` joins the network; `node.stop()` leaves it cleanly. */
export async function createTallyNode (config: TallyConfig, init: TallyNodeInit = {}): Promise<TallyNode> {
  return await TallyNode.create(config, init)
}

/**
 * createTallyNode: the whole node and the SDK surface. It builds the parts (ledger, records
 * gossip and Negentropy pull, market, negotiation, inference seller and buyer ends, the buyer's
 * router, the seller's desk), each in the `part(init)(components)` shape, registers them in
 * order in the base node's service registry (started after libp2p, stopped in reverse before
 * it), and answers the SDK calls. It holds no protocol logic of its own.
 * A node sells when given a backend, buys when asked, and always relays and keeps the ledger.
 */
import '../polyfill.js'
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import type { Message } from '@libp2p/gossipsub'
import { defaultLogger } from '@libp2p/logger'
import type { ComponentLogger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { createBaseNode, type BaseNode, type BaseNodeInit } from './node.js'
import type { TallyConfig } from './config.js'
import { systemClock, type Clock } from './clock.js'
import type { TallyService } from './services.js'
import { loadOrCreateIdentity, type Identity } from '../identity/keystore.js'
import { accountIdFromPublicKey } from '../identity/account.js'
import { recordsTopic } from '../wire/topics.js'
import { netId } from '../ledger/genesis.js'
import { ledgerService, type LedgerService } from '../ledger/service.js'
import { MemoryLedgerStore } from '../ledger/store.js'
import type { AccountBalance, AddResult } from '../ledger/ledger.js'
import { recordIdOf, type ParsedRecord } from '../ledger/record.js'
import { recordGossip, recordMessageId, type RecordGossip, type RecordGossipInit } from '../ledger/gossip.js'
import { ledgerSync, type LedgerSync, type LedgerSyncInit } from '../ledger/sync/service.js'
import { genesisExchange, type GenesisExchange } from '../ledger/genesis-exchange.js'
import { market, type MarketInit, type MarketService } from '../market/service.js'
import { OrderBook } from '../market/order-book.js'
import { bookSync } from '../market/book-sync.js'
import { marketGossipsubOptions, marketTopicScoreParams } from '../market/gossip-options.js'
import { pricePerBptForDisplay, type OfferTerms } from '../market/offer.js'
import { QualityTracker } from '../market/router.js'
import type { RouteConstraints, RoutedResult } from '../market/router-types.js'
import { negotiate, type BuyerRequest, type BuyerVerdict, type NegotiateInit, type Negotiator, type SellerTerms } from '../contract/negotiate.js'
import { DEFAULT_MAX_UNPAID_TOTAL_UC, evaluateBuyer, type SellerRiskPolicy } from '../contract/policy.js'
import type { Contract } from '../contract/messages.js'
import { InferSeller, type InferSellerInit } from '../exec/infer/seller.js'
import { InferBuyer, type InferBuyerInit } from '../exec/infer/buyer.js'
import { BuyerSessions, SellerSessions } from '../exec/infer/sessions.js'
import type { MeterRecord } from '../exec/metering.js'
import type { Backend, ChatRequest } from '../exec/backend.js'
import { CostBook, type ReportBy, type ReportRow } from './costs.js'
import { LocalTokenizers } from './tokenizers.js'
import { BuyerRouter, type BuyerRouterInit, type EmbedRoutedResult, type InferCallOptions } from './buyer.js'
import type { EmbedRequest } from '../exec/backend.js'
import { peerJoinSync } from './peer-join-sync.js'
import { dialableAddrs } from './network/addresses.js'
import type { Reachability } from './network/reachability.js'
import { SellerDesk } from './seller.js'
import { sellerStanding } from './market-standing.js'
import { sellerJournal, type SellerJournal } from './seller-journal.js'
import { creditLines, receivedLines, type CreditLines } from './credit-lines.js'
import { NodeOperator } from './operator.js'
import { BackendHealth, watchBackend } from './operator-backend.js'
import { openBidQuote } from '../market/bid-quote.js'
import { AuctionBuyer, AuctionSeller, type AuctionSellInit, type TallyAuction } from './auction/index.js'

/** What a seller offers one backend at. */
export interface SellInit {
  backend: Backend
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  /** requests run at once (the offer's slots, infer.md § Capacity); default the backend's concurrency */
  maxSessions?: number
  /** sessions held open at once, idle ones included (negotiate.md § Capacity); default DEFAULT_OPEN_SESSIONS_PER_SLOT × maxSessions */
  maxOpenSessions?: number
  region?: string
  /** sessions locking more than this (µc) are served only once a second peer holds the buyer's open; default 2 credits */
  secondPeerAboveUc?: bigint
  /** whom this seller serves on credit and how far ahead of vouchers (negotiate.md § Seller risk policy) */
  risk?: SellerRiskPolicy
  /** how this seller answers bids in reverse auctions (protocols/auction.md § Seller policy) */
  auction?: AuctionSellInit
}

/** the libp2p services a Tally node adds to identify and pubsub */
export type TallyServices = {
  /** the records topic: validation, own records out, re-gossip; the sink of sync */
  records: RecordGossip
  /** /tally/sync and /tally/fetch */
  sync: LedgerSync
  /** /tally/genesis: serves this node's genesis, fetches a peer's */
  genesis: GenesisExchange
}

export interface TallyNodeInit extends Omit<BaseNodeInit, 'services' | 'topicHandlers' | 'identity' | 'libp2pServices'> {
  identity?: Identity
  sell?: SellInit
  buy?: BuyerRouterInit
  /** GGUF files whose tokenizer this node uses to count a prompt exactly when an offer's verified fingerprint matches */
  tokenizers?: string[]
  market?: MarketInit
  negotiate?: NegotiateInit
  inferSeller?: InferSellerInit
  inferBuyer?: InferBuyerInit
  sync?: LedgerSyncInit
  recordGossip?: RecordGossipInit
  /** keep the ledger in memory (simulations); default: LevelDB under dataDir */
  memoryLedger?: boolean
  /**
   * the node's clock, read by every service (market, quotes, sessions, ledger metadata, costs);
   * default the system clock. The simulator passes none: it replaces Date process-wide
   * (src/sim/clock.ts), which the system clock reads on every call.
   */
  clock?: Clock
  /** the same as `clock: { now }` (kept for callers that pass a function) */
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
  /** union of its sellers' capabilities (market.md § Capabilities) */
  capabilities: string[]
  /** the largest context length offered, tokens */
  contextLength: number
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

/** the buyer's sessions get this long to be closed (sellers settle them) when the node stops */
const CLOSE_SESSIONS_ON_STOP_MS = 2_000
/** open sessions a seller holds per slot by default: idle warm sessions of several buyers fit beside the running ones */
export const DEFAULT_OPEN_SESSIONS_PER_SLOT = 8
/** addresses arrive in bursts (a relay reservation, AutoNAT confirmations): the offer is re-signed once they settle */
const OFFER_ADDRS_SETTLE_MS = 1_000
/** the other peers a seller asks whether they hold a buyer's open (second-peer rule) */
const SECOND_PEER_ASK = 3
/** records of a buyer's chain a seller pulls in one /tally/fetch */
const PULL_CHAIN_LIMIT = 64

function sha256 (b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest())
}

/** a service from two functions, for the parts that are a step rather than an object */
function step (start: () => void | Promise<void>, stop: () => void | Promise<void> = () => {}): TallyService {
  return { start, stop }
}

/** the parts a selling node adds */
interface SellerParts {
  desk: SellerDesk
  infer: InferSeller
  /** sessions to settle after a crash (protocols/infer.md § Seller durability) */
  journal: SellerJournal
}

export class TallyNode extends EventEmitter<TallyNodeEvents> {
  readonly base: BaseNode<TallyServices>
  /** models at their open-session cap (negotiator), and models whose every slot runs a request (seller desk): either marks the offer busy */
  private readonly openSessionsFull = new Set<string>()
  private readonly slotsFull = new Set<string>()
  readonly ledger: LedgerService
  readonly book: OrderBook
  readonly quality = new QualityTracker()
  readonly costs: CostBook
  readonly sellerSessions: SellerSessions
  readonly buyerSessions: BuyerSessions
  /** the one clock every part reads */
  readonly clock: Clock
  /** the operator's view (HTTP /tally/status, /market, /sessions, /receipts, /timeseries, /diagnosis) */
  readonly operator: NodeOperator
  /** the seller backend's request outcomes, for the operator's diagnosis */
  readonly backendHealth: BackendHealth
  private readonly init: TallyNodeInit
  private readonly marketSvc: MarketService
  private readonly negotiatorSvc: Negotiator
  private readonly inferBuyerSvc: InferBuyer
  private readonly routerSvc: BuyerRouter
  private readonly seller?: SellerParts
  private readonly meters: MeterRecord[] = []
  /** the reverse auction (protocols/auction.md): bidder end always, seller end when selling */
  private readonly auctionBuyer: AuctionBuyer
  private readonly auctionSeller?: AuctionSeller
  /** requests running now per model (the seller desk's count): the auction's free slots */
  private readonly runningByModel = new Map<string, number>()

  private constructor (base: BaseNode<TallyServices>, ledger: LedgerService, costs: CostBook, clock: Clock, init: TallyNodeInit, logger: ComponentLogger) {
    super()
    this.base = base
    this.ledger = ledger
    this.costs = costs
    this.clock = clock
    this.init = init
    const now = (): number => clock.now()
    this.backendHealth = new BackendHealth(now)
    this.operator = new NodeOperator(this, { health: this.backendHealth, sellModel: init.sell?.backend.model.id })
    const libp2p = base.libp2p
    const { signer, net } = base
    const { records, sync } = libp2p.services
    this.book = new OrderBook({ ...init.market?.book, isFlagged: (seller) => ledger.isFlagged(seller), quality: (seller) => this.quality.reliability(seller), standing: (seller) => sellerStanding(ledger.ledger, seller) })
    // the node cap on work served ahead of vouchers, across sessions, while serving (the negotiator caps the terms)
    this.sellerSessions = new SellerSessions({ net, now, maxUnpaidTotalUc: init.sell?.risk?.maxUnpaidTotalUc ?? DEFAULT_MAX_UNPAID_TOTAL_UC })
    this.buyerSessions = new BuyerSessions({ now })
    records.onAccepted((accepted) => { this.onRecordsAccepted(accepted) })
    // a gossiped record's ancestors did not come: ask the peer that forwarded it (it judged it valid)
    records.onAncestorsOverdue((peer) => { void sync.fetchMissing(peer) })

    this.marketSvc = market({ now, ...init.market })({ pubsub: libp2p.services.pubsub, signer, net, logger, orderBook: this.book })
    // slots are held by opened sessions only: the seller desk reports each open (markOpened)
    this.negotiatorSvc = negotiate({ now, maxInboundStreams: DEFAULT_INBOUND_STREAMS, slotsOnOpen: true, maxUnpaidTotalUc: init.sell?.risk?.maxUnpaidTotalUc ?? DEFAULT_MAX_UNPAID_TOTAL_UC, ...init.negotiate })({
      libp2p,
      signer,
      net,
      logger,
      sellerTerms: (model) => this.sellerTerms(model),
      buyerPolicy: (buyer, request) => this.buyerPolicy(buyer, request),
      onCapacity: (model, reserved, max) => { this.capacityChanged(model, this.openSessionsFull, reserved >= max) },
      // contracts at the prices of the BidQuotes this seller sent and holds (negotiate.md § Auction price)
      bidQuotes: {
        open: (bytes) => openBidQuote(bytes, net),
        volumeLeft: (quoteId) => this.auctionSeller?.lookupBidQuote(quoteId)?.volumeLeftTokens,
        consume: (quoteId, tokens) => {
          const held = this.auctionSeller?.lookupBidQuote(quoteId)
          if (held == null || held.volumeLeftTokens < tokens) return false
          this.auctionSeller?.consumeVolume(quoteId, tokens)
          return true
        }
      }
    })
    this.negotiatorSvc.addEventListener('contract', (e) => {
      const contract = (e as CustomEvent<Contract>).detail
      this.seller?.desk.onContract(contract)
      this.emit('contract', contract)
    })
    this.inferBuyerSvc = new InferBuyer({ dialer: libp2p, signer, net, sessions: this.buyerSessions, logger }, { now, ...init.inferBuyer })
    const tokenizers = new LocalTokenizers(init.tokenizers ?? [], logger.forComponent('tally:tokenizers'))
    this.routerSvc = new BuyerRouter({
      countInputTokens: async (fingerprint, request) => await tokenizers.countInputTokens(fingerprint, request),
      countEmbedTokens: async (fingerprint, inputs) => await tokenizers.countEmbedTokens(fingerprint, inputs),
      libp2p,
      book: this.book,
      negotiator: this.negotiatorSvc,
      infer: this.inferBuyerSvc,
      ledger,
      quality: this.quality,
      costs,
      maxSessionLockUc: base.genesis.maxSessionLockUc,
      now,
      log: logger.forComponent('tally:router')
    }, init.buy)
    const books = bookSync()({ libp2p, book: this.book, net, now, log: logger.forComponent('tally:book-sync') })
    if (init.sell != null) this.seller = this.sellerParts(init.sell, sync, records, logger)
    this.auctionBuyer = new AuctionBuyer({ libp2p, publishBid: async (terms) => await this.marketSvc.publishBid(terms), addrs: () => dialableAddrs(this.base.addrs()), net, now, log: logger.forComponent('tally:auction') })
    if (init.sell != null) {
      this.auctionSeller = new AuctionSeller({ libp2p, bids: this.marketSvc, ownTerms: (model) => this.marketSvc.ownTerms(model), running: (model) => this.runningByModel.get(model) ?? 0, signer, net, now, log: logger.forComponent('tally:auction-seller') }, init.sell.auction)
    }

    // started in this order after libp2p, stopped in reverse before it: on stop the buyer's
    // sessions close first (sellers settle them), then the seller settles what it holds and
    // withdraws its offer, and the ledger closes last
    const s = base.services
    s.add('ledger', ledger)
    const sell = init.sell
    if (sell != null) s.add('backend', step(() => {}, async () => { await sell.backend.close() }))
    s.add('book-sync', books)
    s.add('peer-join-sync', peerJoinSync()({ base, book: books, sync, clock, logger }))
    s.add('market', this.marketSvc)
    s.add('auction', this.auctionBuyer)
    s.add('negotiator', this.negotiatorSvc)
    s.add('infer-buyer', this.inferBuyerSvc)
    s.add('tokenizers', tokenizers)
    if (sell != null && this.seller != null) {
      // the journal settles what a crash left open before the desk and the infer protocol start
      s.add('seller-journal', this.seller.journal)
      s.add('seller-desk', this.seller.desk)
      s.add('infer-seller', this.seller.infer)
      s.add('offer', this.offerStep(sell, logger))
      const auctionSeller = this.auctionSeller
      if (auctionSeller != null) s.add('auction-seller', step(() => { auctionSeller.start() }, () => { auctionSeller.stop() }))
    }
    const router = this.routerSvc
    s.add('router', step(() => { router.start() }, async () => { await router.closeAll(AbortSignal.timeout(CLOSE_SESSIONS_ON_STOP_MS)).catch(() => 0) }))
    s.add('operator', step(() => { this.operator.start() }, () => { this.operator.stop() }))
  }

  static async create (config: TallyConfig, init: TallyNodeInit = {}): Promise<TallyNode> {
    const identity = init.identity ?? await loadOrCreateIdentity(config.dataDir, { passphrase: config.passphrase })
    const net = netId(config.genesis)
    const clock = init.clock ?? (init.now != null ? { now: init.now } : systemClock)
    const now = (): number => clock.now()
    const logger = init.logger ?? defaultLogger()
    let ledgerDir: string | undefined
    let costsFile: string | undefined
    if (init.memoryLedger !== true) {
      mkdirSync(config.dataDir, { recursive: true })
      ledgerDir = join(config.dataDir, 'ledger')
      costsFile = join(config.dataDir, 'costs.jsonl')
    }
    const ledger = ledgerService({ dataDir: ledgerDir, store: ledgerDir == null ? new MemoryLedgerStore() : undefined, now })({ genesis: config.genesis, signer: identity.signer })
    const costs = new CostBook(costsFile)
    const records = recordsTopic(net)
    const gossipOpts = marketGossipsubOptions(net, { topics: { [records]: marketTopicScoreParams() } })
    const base = await createBaseNode<TallyServices>(config, {
      ...init,
      identity,
      gossipsub: {
        ...gossipOpts,
        // payloads are signed envelopes already: no second signature per message, and the
        // message id is the content's (the record id for records), so republished copies dedupe
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: (msg: Message) => msg.topic === records ? recordMessageId(msg.data, net) : sha256(msg.data),
        ...init.gossipsub
      },
      // libp2p creates these in order after pubsub, and starts and stops them with itself
      libp2pServices: {
        records: (c) => recordGossip({ now, ...init.recordGossip })({ pubsub: c.pubsub, ledger, net, logger: c.logger }),
        sync: (c) => ledgerSync({ recordId: (b) => recordIdOf(b, net), now, ...init.sync })({
          registrar: c.registrar,
          connectionManager: c.connectionManager,
          logger: c.logger,
          source: ledger.recordSource(),
          sink: c.records
        }),
        genesis: (c) => genesisExchange()({ registrar: c.registrar, connectionManager: c.connectionManager, logger: c.logger, genesis: config.genesis, net: config.net })
      }
    })
    return new TallyNode(base, ledger, costs, clock, init, logger)
  }

  get account (): string { return this.base.account }
  get net (): Uint8Array { return this.base.net }
  get libp2p (): BaseNode<TallyServices>['libp2p'] { return this.base.libp2p }
  get market (): MarketService { return this.marketSvc }
  get negotiator (): Negotiator { return this.negotiatorSvc }
  get router (): BuyerRouter { return this.routerSvc }
  /** the reverse auction: post a bid and collect quotes; a seller's held quotes (protocols/auction.md) */
  get auction (): TallyAuction {
    const seller = this.auctionSeller
    return {
      postBid: async (spec) => await this.auctionBuyer.postBid(spec),
      // what this buyer saw of the seller: requests served minus failed (pickQuotes' tie-break)
      sellerRecord: (sellerId) => { const s = this.quality.snapshot(sellerId); return s == null ? 0 : s.successes - s.failures },
      lookupBidQuote: (quoteId) => seller?.lookupBidQuote(quoteId),
      consumeVolume: (quoteId, tokens) => seller?.consumeVolume(quoteId, tokens)
    }
  }
  /** the seller's auction end (undefined when not selling), for its stats and held quotes */
  get auctionSellerEnd (): AuctionSeller | undefined { return this.auctionSeller }
  get selling (): boolean { return this.init.sell != null }
  get meterRecords (): readonly MeterRecord[] { return this.meters }
  get settledSessions (): number { return this.seller?.desk.settled ?? 0 }
  /** the seller's journal (undefined when not selling) */
  get sellerJournal (): SellerJournal | undefined { return this.seller?.journal }

  addrs (): string[] { return this.base.addrs() }
  /** AutoNAT verdict, addresses, relay slots, DHT mode, connections (docs/network.md § Reachability) */
  reachability (): Reachability { return this.base.reachability() }

  async start (): Promise<void> { await this.base.start() }
  async stop (): Promise<void> { await this.base.stop() }

  // ---- the records topic (src/ledger/gossip.ts), kept on the node for existing callers ----

  /** resolves true when record `id` becomes valid here, false after `ms` (or when too many wait) */
  async becomesValid (id: string, ms: number): Promise<boolean> { return await this.libp2p.services.records.becomesValid(id, ms) }
  /** a record from the network enters the ledger here */
  ingestRecord (bytes: Uint8Array): AddResult { return this.libp2p.services.records.ingest(bytes) }
  /** a record that arrived by pull: ingest, and re-gossip it while under the rate bound */
  ingestPulledRecord (bytes: Uint8Array): AddResult { return this.libp2p.services.records.ingestPulled(bytes) }
  /** publish a record this node did not author, within the re-gossip rate bound */
  regossipBounded (bytes: Uint8Array): void { this.libp2p.services.records.regossipBounded(bytes) }

  /** records that became valid here: the seller's desk, `record` events, payments received */
  private onRecordsAccepted (accepted: ParsedRecord[]): void {
    this.seller?.desk.onAccepted(accepted)
    // a settle may return a lock of this buyer: requests queued for credit look again
    if (this.routerSvc.queued() > 0 && accepted.some(r => r.kind.type === 'settle')) this.routerSvc.creditChanged()
    const me = Buffer.from(this.base.publicKey).toString('hex')
    for (const rec of accepted) {
      this.emit('record', { id: rec.id, from: rec.from, type: rec.kind.type })
      if (rec.kind.type === 'transfer' && rec.kind.to === me) {
        this.costs.add({ atMs: this.clock.now(), kind: 'payment-received', tag: rec.kind.tag, model: '', counterparty: this.ledger.ledger.accountId(rec.from), inputTokens: 0, outputTokens: 0, tokenParams: 0n, amountUc: rec.kind.amountUc })
      }
    }
  }

  /** the negotiator's seller terms: the own offer's, and the second-peer rule as a quote term */
  private sellerTerms (model: string): SellerTerms | undefined {
    const t = this.marketSvc.ownTerms(model)
    if (t == null) return undefined
    const secondPeerAboveUc = this.init.sell?.secondPeerAboveUc ?? DEFAULT_SECOND_PEER_ABOVE_UC
    return { modelId: t.modelId, fingerprint: t.fingerprint, fingerprintVerified: t.fingerprintVerified, params: t.params, priceInPerMTokUc: t.priceInPerMTokUc, priceOutPerMTokUc: t.priceOutPerMTokUc, maxSessions: t.maxSessions, maxOpenSessions: this.init.sell?.maxOpenSessions ?? DEFAULT_OPEN_SESSIONS_PER_SLOT * t.maxSessions, secondPeerAboveUc }
  }

  /** a seller at capacity stays on the market marked busy (market.md § Capacity) */
  private capacityChanged (model: string, set: Set<string>, full: boolean): void {
    if (full) set.add(model)
    else set.delete(model)
    this.marketSvc.setBusy(model, this.openSessionsFull.has(model) || this.slotsFull.has(model))
  }

  /** the seller's risk policy (contract/policy.ts) on its own ledger's view of the buyer */
  private buyerPolicy (buyer: Uint8Array, request: BuyerRequest): BuyerVerdict {
    const b = this.ledger.balance(buyer)
    const key = Buffer.from(buyer).toString('hex')
    const history = this.ledger.ledger.history(buyer)
    const earned = history.some(r => r.from === key && r.kind.type === 'settle' && r.kind.amountUc > 0n)
    // the grantors behind the buyer's lines, only when this seller trusts some and not others
    const lines = (this.init.sell?.risk?.trustedGrantors ?? []).length > 0 ? receivedLines(this.ledger.ledger, key, false).map(l => ({ grantor: l.grantorKey, amountUc: l.amountUc })) : undefined
    return evaluateBuyer({ flagged: b.flagged, spendableUc: b.spendableUc, ownFundsUc: b.availableUc, records: history.length, earned, lines }, request, this.init.sell?.risk)
  }

  private sellerParts (sell: SellInit, sync: LedgerSync, records: RecordGossip, logger: ComponentLogger): SellerParts {
    const libp2p = this.base.libp2p
    const journal = sellerJournal({ dir: this.init.memoryLedger === true ? undefined : join(this.base.config.dataDir, 'seller-journal') })({
      ledger: this.ledger,
      ingest: (bytes) => { records.ingest(bytes) },
      log: logger.forComponent('tally:seller-journal')
    })
    const desk = new SellerDesk({
      pullChain: async (buyer, fromSeq, signal) => {
        const account = accountIdFromPublicKey(buyer)
        for (const bytes of await sync.fetchChain(peerIdFromString(account), account, fromSeq, PULL_CHAIN_LIMIT, { signal })) records.ingest(bytes)
      },
      seenElsewhere: async (recordId, buyer, signal) => {
        const buyerId = accountIdFromPublicKey(buyer)
        const others = libp2p.getPeers().filter(p => p.toString() !== buyerId)
        for (const peer of others.slice(0, SECOND_PEER_ASK)) {
          const got = await sync.fetchIds(peer, [Buffer.from(recordId, 'hex')], { signal }).catch(() => [])
          if (got.length > 0) return true
        }
        return false
      },
      ledger: this.ledger,
      negotiator: this.negotiatorSvc,
      sessions: this.sellerSessions,
      now: () => this.clock.now(),
      log: logger.forComponent('tally:seller'),
      onRunning: (model, running) => { this.runningByModel.set(model, running); this.capacityChanged(model, this.slotsFull, running >= (this.marketSvc.ownTerms(model)?.maxSessions ?? Number.POSITIVE_INFINITY)) },
      journal: {
        opened: (hex, openId) => { void journal.opened(hex, openId, this.ledger.ledger.get(openId)?.rec.bytes).catch(() => {}) },
        settled: (hex) => { journal.forget(hex) }
      }
    }, this.base.publicKey)
    const infer = new InferSeller({
      registrar: libp2p,
      backend: watchBackend(sell.backend, this.backendHealth),
      sessions: this.sellerSessions,
      logger,
      onMeter: (m) => { this.meters.push(m); this.emit('meter', m) },
      awaitSession: async (id, signal) => { await desk.awaitSession(id, signal) },
      onSessionClosed: (closed) => { desk.onClosed(closed) },
      persistVoucher: async (id, v) => { await journal.voucher(Buffer.from(id).toString('hex'), v.bytes) }
    }, { now: () => this.clock.now(), maxInboundStreams: Math.max(DEFAULT_INBOUND_STREAMS, 2 * (sell.maxSessions ?? sell.backend.maxConcurrency)), ...this.init.inferSeller })
    return { desk, infer, journal }
  }

  /**
   * Publishes the own offer, and again whenever the addresses a buyer can dial change (a relay
   * slot reserved, a public address confirmed); a full seller's offer stays, marked busy.
   */
  private offerStep (sell: SellInit, logger: ComponentLogger): TallyService {
    let announced = ''
    let timer: ReturnType<typeof setTimeout> | undefined
    const announce = async (): Promise<void> => {
      const terms = this.offerTerms(sell)
      announced = terms.multiaddrs.join(' ')
      await this.marketSvc.setOffer(terms)
    }
    const onSelfUpdate = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        if (dialableAddrs(this.base.addrs()).slice(0, 8).join(' ') === announced) return
        if (!this.marketSvc.ownOffers().some(o => o.modelId === sell.backend.model.id)) return
        announce().catch((err) => { logger.forComponent('tally:offer').error('re-announcing the offer failed: %e', err) })
      }, OFFER_ADDRS_SETTLE_MS)
      timer.unref?.()
    }
    return step(async () => {
      await announce()
      this.libp2p.addEventListener('self:peer:update', onSelfUpdate)
    }, () => {
      this.libp2p.removeEventListener('self:peer:update', onSelfUpdate)
      clearTimeout(timer)
    })
  }

  /** the own offer, from the backend's model and the seller's prices */
  private offerTerms (sell: SellInit): OfferTerms {
    const m = sell.backend.model
    return {
      modelId: m.id,
      fingerprint: m.fingerprint,
      fingerprintVerified: m.fingerprintVerified,
      params: BigInt(m.params),
      quantization: m.quantization,
      contextLength: m.contextLength,
      priceInPerMTokUc: sell.priceInPerMTokUc,
      priceOutPerMTokUc: sell.priceOutPerMTokUc,
      maxSessions: sell.maxSessions ?? sell.backend.maxConcurrency,
      // what the backend serves (tools, json_schema, …): buyers route requests that need them only here
      capabilities: sell.backend.capabilities ?? ['chat'],
      tokensPerSec: 0,
      region: sell.region ?? '',
      // only what a buyer can dial (protocols/market.md § Addresses)
      multiaddrs: dialableAddrs(this.base.addrs()).slice(0, 8)
    }
  }

  // ---- SDK / gateway surface ----

  models (): ModelListing[] {
    const now = this.clock.now()
    // one pass over the book (one query per model was quadratic under an offer flood)
    return this.book.modelSummaries(now).map(m => ({ id: m.modelId, sellers: m.sellers, params: Number(m.params), bestPriceInPerMTokUc: m.bestPriceInPerMTokUc, bestPriceOutPerMTokUc: m.bestPriceOutPerMTokUc, capabilities: m.capabilities, contextLength: m.contextLength }))
  }

  offerList (model?: string): OfferView[] {
    return this.book.query(model != null ? { model } : {}, this.clock.now()).map(r => ({
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

  /** where batch files and jobs live (src/node/batch, served by the gateway); none for a memory node */
  batchDir (): string | undefined {
    return this.init.memoryLedger === true ? undefined : join(this.base.config.dataDir, 'batch')
  }

  async offers (model?: string): Promise<{ offers: OfferView[] }> {
    return { offers: this.offerList(model) }
  }

  /** buy one chat completion from the market */
  async infer (model: string, request: ChatRequest, constraints: RouteConstraints = {}, opts: InferCallOptions = {}): Promise<RoutedResult> {
    return await this.router.infer(model, request, constraints, opts)
  }

  /** buy one embeddings request from the market (a seller whose offer lists `embeddings`) */
  async embed (model: string, request: EmbedRequest, constraints: RouteConstraints = {}, opts: { signal?: AbortSignal } = {}): Promise<EmbedRoutedResult> {
    return await this.router.embed(model, request, constraints, opts)
  }

  /** ask every seller this node buys from to settle now (sessions end) */
  async closeSessions (signal?: AbortSignal): Promise<number> {
    return await this.router.closeAll(signal)
  }

  async pay (to: string, amountUc: bigint, opts: { memo?: string, tag?: string } = {}): Promise<{ id: string, to: string, amountUc: bigint }> {
    const r = await this.ledger.pay(to, amountUc, opts)
    this.costs.add({ atMs: this.clock.now(), kind: 'payment-sent', tag: opts.tag ?? '', model: '', counterparty: to, inputTokens: 0, outputTokens: 0, tokenParams: 0n, amountUc })
    return { id: r.id, to, amountUc }
  }

  /** the account's balance with its credit lines: granted to others (amount, used, unused) and received (from whom, amount, used) */
  async balance (account?: string): Promise<AccountBalance & { lines: CreditLines }> {
    const a = account ?? this.account
    return { ...this.ledger.balance(a), lines: creditLines(this.ledger.ledger, a) }
  }

  /** extend `to` an explicit credit line backed by this account's own funds (ledger.md, grant) */
  async grant (to: string, amountUc: bigint): Promise<{ id: string, to: string, amountUc: bigint }> {
    const r = await this.ledger.grant(to, amountUc)
    return { id: r.id, to, amountUc }
  }

  /** take back the unused part of an own grant */
  async revoke (grantId: string, amountUc: bigint): Promise<{ id: string, grantId: string, amountUc: bigint }> {
    const r = await this.ledger.revoke(grantId, amountUc)
    return { id: r.id, grantId, amountUc }
  }

  balances (): AccountBalance[] {
    return this.ledger.balances()
  }

  async history (account?: string): Promise<unknown> {
    return { account: account ?? this.account, entries: this.ledger.history(account ?? this.account) }
  }

  async report (opts: { by?: string, sinceMs?: number } = {}): Promise<{ by: ReportBy, rows: ReportRow[] }> {
    const by = (opts.by ?? 'tag') as ReportBy
    return { by, rows: this.costs.report(by, opts.sinceMs ?? 0, this.settledByContract()) }
  }

  /** what the ledger's settles charged this node as buyer, by contract id (hex) of their open */
  private settledByContract (): (contractId: string) => bigint | undefined {
    const me = Buffer.from(this.base.publicKey).toString('hex')
    const openOf = new Map<string, string>()
    const settled = new Map<string, { id: string, amountUc: bigint }>()
    for (const r of this.ledger.ledger.history(me)) {
      if (r.from === me && r.kind.type === 'open') openOf.set(r.kind.contractId, r.id)
      // the settle balances count is the lowest id among valid ones (ledger.md)
      if (r.kind.type === 'settle') {
        const s = settled.get(r.kind.openId)
        if (s == null || r.id < s.id) settled.set(r.kind.openId, { id: r.id, amountUc: r.kind.amountUc })
      }
    }
    return (contractId) => {
      const open = openOf.get(contractId)
      return open != null ? settled.get(open)?.amountUc : undefined
    }
  }
}

/** Build a node (not started). `node.start()` joins the network; `node.stop()` leaves it cleanly. */
export async function createTallyNode (config: TallyConfig, init: TallyNodeInit = {}): Promise<TallyNode> {
  return await TallyNode.create(config, init)
}

/**
 * The operator's view of one node, as JSON the HTTP API serves (`/tally/status`, `/market`,
 * `/sessions`, `/receipts`, `/timeseries`, `/diagnosis`) and the CLI and dashboard read: what
 * it earns and spends, its market, its live sessions, and why a seller is not getting jobs.
 * It reads the node's parts; it owns only the balance time series it samples.
 */
import { accountIdFromPublicKey } from '../identity/account.js'
import { offerCapabilities, type Offer } from '../market/offer.js'
import { diagnose, type DiagnosisCheck, type DiagnosisFacts, type OfferStanding } from './operator-diagnosis.js'
import type { BackendHealth } from './operator-backend.js'
import { formatBpt, isPurchase } from './costs.js'
import { ConnectionHistory, classifyAddresses, isRelayed, probeOfferSeen, servicesOf, OFFER_PROBE_CACHE_MS, type NetworkLibp2p, type NetworkView, type OfferProbe, type ReachabilityReport } from './operator-network.js'
import type { TallyNode } from './tally.js'

/** the series is sampled this often, besides on every ledger change of the own account */
export const DEFAULT_SAMPLE_EVERY_MS = 10_000
/** 24 h of samples at the default period, plus room for changes */
export const DEFAULT_MAX_POINTS = 10_000
/** a change of the own account is sampled at most this often (a busy seller settles often) */
const CHANGE_SAMPLE_MIN_MS = 1_000
/** receipts answered at most */
export const MAX_RECEIPTS = 1_000
/** session open times remembered (contracts seen) */
const MAX_OPENED_KEPT = 10_000

export interface OperatorInit {
  /** the seller backend's outcomes (watchBackend), for the diagnosis */
  health?: BackendHealth
  /** the model this node sells, if any: its terms stand while the offer is marked busy (full) */
  sellModel?: string
  sampleEveryMs?: number
  maxPoints?: number
}

export interface BalancePoint { tMs: number, balanceUc: bigint, earnedUc: bigint, spentUc: bigint }

export interface StatusView {
  account: string
  peerId: string
  network: { name: string, net: string, development: boolean }
  addrs: string[]
  uptimeMs: number
  peers: { connected: number, byTopic: Record<string, number> }
  balance: { balanceUc: bigint, availableUc: bigint, lockedUc: bigint, creditLimitUc: bigint, earnedUc: bigint, spentUc: bigint }
  selling: Array<{ model: string, priceInPerMTokUc: bigint, priceOutPerMTokUc: bigint, maxSessions: number, sessionsOpen: number, capabilities: string[] }>
  ledger: { records: number, pending: number, forks: number, flagged: boolean }
}

export interface MarketRow {
  model: string
  offers: number
  sellers: number
  minPriceOutPerMTokUc: bigint
  medianPriceOutPerMTokUc: bigint
  /** par: 1 µc per Bpt, i.e. params / 1000 µc per 1M tokens (at least 1), of the model's cheapest offer */
  parPriceOutPerMTokUc: bigint
  mine: { priceOutPerMTokUc: bigint, rank: number, of: number } | null
}

export interface SessionView {
  role: 'seller' | 'buyer'
  contractId: string
  counterparty: string
  model: string
  openedAtMs: number
  outputTokens: bigint
  amountUc: bigint
}

export interface ReceiptView {
  atMs: number
  role: 'seller' | 'buyer'
  counterparty: string
  model: string
  inputTokens: number
  outputTokens: number
  bpt: string
  amountUc: bigint
  /** vouchers are cumulative per contract: the contract id and the amount name the voucher that covered this request */
  voucher: { id: string, cumulativeUc: bigint }
}

/** par price of a model: one µc per Bpt */
export function parPriceOutPerMTokUc (params: bigint): bigint {
  const p = params / 1000n
  return p > 0n ? p : 1n
}

/** the lower median of sorted bigints */
function median (sorted: bigint[]): bigint {
  return sorted.length === 0 ? 0n : sorted[Math.floor((sorted.length - 1) / 2)]
}

/** gossipsub's mesh for a topic (its class has it; the service type libp2p hands out does not name it) */
function meshPeers (pubsub: unknown, topic: string): number {
  const p = pubsub as { getMeshPeers?: (t: string) => string[] }
  return p.getMeshPeers?.(topic).length ?? 0
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

export class NodeOperator {
  private readonly points: BalancePoint[] = []
  private readonly sampleEveryMs: number
  private readonly maxPoints: number
  private readonly opened = new Map<string, number>()
  private startedAtMs = 0
  private inbound = 0
  private timer?: ReturnType<typeof setInterval>
  private unsubscribeOwn?: () => void
  private lastChangeSampleMs = 0
  private changeTimer?: ReturnType<typeof setTimeout>
  /** earned and spent so far, counted once per record (a scan at start, then each record as it becomes valid) */
  private earnedUc = 0n
  private spentUc = 0n
  private readonly counted = new Set<string>()
  private readonly onRecord = (r: { id: string }): void => { this.count(r.id); this.onLedgerChange() }
  private readonly onContract = (c: { contractId: Uint8Array }): void => { this.markOpened(hex(c.contractId)) }
  private readonly onConnection = (e: CustomEvent<{ direction: string }>): void => { if (e.detail.direction === 'inbound') this.inbound++ }
  private connections?: ConnectionHistory
  private lastProbe?: OfferProbe
  private probing?: Promise<OfferProbe>

  constructor (private readonly node: TallyNode, private readonly init: OperatorInit = {}) {
    this.sampleEveryMs = init.sampleEveryMs ?? DEFAULT_SAMPLE_EVERY_MS
    this.maxPoints = init.maxPoints ?? DEFAULT_MAX_POINTS
  }

  private now (): number { return this.node.clock.now() }

  start (): void {
    this.startedAtMs = this.now()
    // records from peers come as node 'record' events; this node's own (its payments, its settles as seller) from the ledger
    this.node.on('record', this.onRecord)
    this.unsubscribeOwn = this.node.ledger.onRecord((_bytes, id) => { this.onRecord({ id }) })
    this.node.on('contract', this.onContract)
    this.node.libp2p.addEventListener('connection:open', this.onConnection as any)
    this.connections = new ConnectionHistory(this.node.libp2p as unknown as NetworkLibp2p, () => this.now())
    this.connections.start()
    for (const r of this.node.ledger.ledger.history(this.node.base.publicKey)) this.count(r.id)
    this.sample()
    this.timer = setInterval(() => { this.sample() }, this.sampleEveryMs)
    this.timer.unref?.()
  }

  stop (): void {
    clearInterval(this.timer)
    clearTimeout(this.changeTimer)
    this.node.off('record', this.onRecord)
    this.unsubscribeOwn?.()
    this.node.off('contract', this.onContract)
    this.node.libp2p.removeEventListener('connection:open', this.onConnection as any)
    this.connections?.stop()
  }

  private markOpened (contractId: string): number {
    let t = this.opened.get(contractId)
    if (t == null) {
      t = this.now()
      this.opened.set(contractId, t)
      if (this.opened.size > MAX_OPENED_KEPT) this.opened.delete(this.opened.keys().next().value as string)
    }
    return t
  }

  /**
   * a ledger change: sampled at most every CHANGE_SAMPLE_MIN_MS (a settle of my open or a payment
   * to me is authored by the other side, so every record counts; sample() skips unchanged points)
   */
  private onLedgerChange (): void {
    if (this.changeTimer != null) return
    const wait = Math.max(0, this.lastChangeSampleMs + CHANGE_SAMPLE_MIN_MS - this.now())
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined
      this.lastChangeSampleMs = this.now()
      this.sample()
    }, wait)
    this.changeTimer.unref?.()
  }

  /**
   * a valid record's share of what this account earned (settles as seller, payments received) and
   * spent (settles as buyer, payments sent); issuer credit is neither
   */
  private count (id: string): void {
    if (this.counted.has(id)) return
    const rec = this.node.ledger.ledger.get(id)?.rec
    if (rec == null) return
    const me = hex(this.node.base.publicKey)
    const k = rec.kind
    if (k.type === 'transfer') {
      if (rec.from === me) this.spentUc += k.amountUc
      else if (k.to === me) this.earnedUc += k.amountUc
      else return
    } else if (k.type === 'settle') {
      if (rec.from === me) this.earnedUc += k.amountUc
      else if (this.node.ledger.ledger.get(k.openId)?.rec.from === me) this.spentUc += k.amountUc
      else return
    } else {
      return
    }
    this.counted.add(id)
  }

  private flows (): { earnedUc: bigint, spentUc: bigint } {
    return { earnedUc: this.earnedUc, spentUc: this.spentUc }
  }

  /** add a point (only when something changed since the last one, or the last is a period old) */
  sample (): void {
    const b = this.node.ledger.balance()
    const f = this.flows()
    const p: BalancePoint = { tMs: this.now(), balanceUc: b.balanceUc, earnedUc: f.earnedUc, spentUc: f.spentUc }
    const last = this.points[this.points.length - 1]
    if (last != null && last.balanceUc === p.balanceUc && last.earnedUc === p.earnedUc && last.spentUc === p.spentUc && p.tMs - last.tMs < this.sampleEveryMs) return
    this.points.push(p)
    if (this.points.length > this.maxPoints) this.points.splice(0, this.points.length - this.maxPoints)
  }

  timeseries (sinceMs = 0): { points: BalancePoint[] } {
    return { points: this.points.filter(p => p.tMs >= sinceMs) }
  }

  status (): StatusView {
    const n = this.node
    const libp2p = n.libp2p
    const pubsub = libp2p.services.pubsub
    const byTopic: Record<string, number> = {}
    for (const [kind, topic] of Object.entries(n.base.topics)) byTopic[kind] = meshPeers(pubsub, topic)
    const b = n.ledger.balance()
    const f = this.flows()
    const g = n.base.genesis
    return {
      account: n.account,
      peerId: libp2p.peerId.toString(),
      network: { name: g.name, net: hex(n.net), development: g.development === true },
      addrs: n.addrs(),
      uptimeMs: Math.max(0, this.now() - this.startedAtMs),
      peers: { connected: libp2p.getPeers().length, byTopic },
      balance: { balanceUc: b.balanceUc, availableUc: b.availableUc, lockedUc: b.lockedUc, creditLimitUc: b.creditLimitUc, earnedUc: f.earnedUc, spentUc: f.spentUc },
      selling: this.ownOffers().map(o => ({
        model: o.modelId,
        priceInPerMTokUc: o.priceInPerMTokUc,
        priceOutPerMTokUc: o.priceOutPerMTokUc,
        maxSessions: o.maxSessions,
        sessionsOpen: this.sessionsOpen(o.modelId),
        capabilities: offerCapabilities(o)
      })),
      ledger: { records: n.ledger.ledger.size, pending: n.ledger.missing().length, forks: n.ledger.fraudProofs().length, flagged: b.flagged }
    }
  }

  /** the own offers, those marked busy while full included (their terms stand) */
  private ownOffers (): Array<Pick<Offer, 'modelId' | 'priceInPerMTokUc' | 'priceOutPerMTokUc' | 'maxSessions' | 'capabilities' | 'params'>> {
    const signed = this.node.market.ownOffers()
    const out = [...signed]
    const model = this.init.sellModel
    if (model != null && !out.some(o => o.modelId === model)) {
      const t = this.node.market.ownTerms(model)
      if (t != null) out.push(t as Offer)
    }
    return out
  }

  private sessionsOpen (model: string): number {
    return this.node.sellerSessions.list().filter(s => !s.closed && s.terms.modelId === model).length
  }

  /** the sessions running a request: what max_sessions (the slots) counts */
  private sessionsRunning (model: string): number {
    return this.node.sellerSessions.list().filter(s => !s.closed && s.busy && s.terms.modelId === model).length
  }

  /** rank 1 = first pick: the router's order (effective price, then quality, then seller id) */
  private standing (model: string, myPriceIn: bigint, myPriceOut: bigint): { rank: number, of: number, cheapestOther?: bigint } {
    const book = this.node.book
    const others = book.query({ model }, this.now()).filter(r => r.offer.sellerId !== this.node.account)
    const mineEff = book.effective({ priceInPerMTokUc: myPriceIn, priceOutPerMTokUc: myPriceOut } as Offer)
    const ahead = others.filter(r => book.effective(r.offer) < mineEff).length
    const cheapestOther = others.reduce<bigint | undefined>((m, r) => m == null || r.offer.priceOutPerMTokUc < m ? r.offer.priceOutPerMTokUc : m, undefined)
    return { rank: ahead + 1, of: others.length + 1, cheapestOther }
  }

  market (): MarketRow[] {
    const byModel = new Map<string, Offer[]>()
    for (const r of this.node.book.query({}, this.now())) {
      const list = byModel.get(r.offer.modelId) ?? []
      list.push(r.offer)
      byModel.set(r.offer.modelId, list)
    }
    const own = this.ownOffers()
    for (const o of own) if (!byModel.has(o.modelId)) byModel.set(o.modelId, [])
    return [...byModel.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([model, offers]) => {
      const mine = own.find(o => o.modelId === model)
      const prices = [...offers.filter(o => o.sellerId !== this.node.account).map(o => o.priceOutPerMTokUc), ...(mine != null ? [mine.priceOutPerMTokUc] : [])].sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
      const sellers = new Set([...offers.map(o => o.sellerId), ...(mine != null ? [this.node.account] : [])])
      const cheapest = offers.reduce<Offer | undefined>((m, o) => m == null || o.priceOutPerMTokUc < m.priceOutPerMTokUc ? o : m, undefined)
      const params = cheapest?.params ?? mine?.params ?? 0n
      const st = mine != null ? this.standing(model, mine.priceInPerMTokUc, mine.priceOutPerMTokUc) : undefined
      return {
        model,
        offers: prices.length,
        sellers: sellers.size,
        minPriceOutPerMTokUc: prices[0] ?? 0n,
        medianPriceOutPerMTokUc: median(prices),
        parPriceOutPerMTokUc: parPriceOutPerMTokUc(params),
        mine: mine != null && st != null ? { priceOutPerMTokUc: mine.priceOutPerMTokUc, rank: st.rank, of: st.of } : null
      }
    })
  }

  sessions (): SessionView[] {
    const out: SessionView[] = []
    for (const s of this.node.sellerSessions.list()) {
      if (s.closed) continue
      const id = hex(s.terms.contractId)
      out.push({ role: 'seller', contractId: id, counterparty: accountIdFromPublicKey(s.terms.buyer), model: s.terms.modelId, openedAtMs: this.markOpened(id), outputTokens: s.totalOutputTokens, amountUc: s.amountUc })
    }
    for (const s of this.node.router.sessionViews()) {
      const id = hex(s.contractId)
      out.push({ role: 'buyer', contractId: id, counterparty: s.seller, model: s.model, openedAtMs: this.markOpened(id), outputTokens: s.outputTokens, amountUc: s.amountUc })
    }
    return out.sort((a, b) => b.openedAtMs - a.openedAtMs)
  }

  /** recent completed requests, newest first: purchases from the cost book, sales from the meter */
  receipts (limit = 50): ReceiptView[] {
    const n = Math.max(0, Math.min(limit, MAX_RECEIPTS))
    const out: ReceiptView[] = []
    const cumulative = new Map<string, bigint>()
    for (const e of this.node.costs.all()) {
      if (!isPurchase(e.kind)) continue
      const id = e.contractId ?? ''
      const c = (cumulative.get(id) ?? 0n) + e.amountUc
      cumulative.set(id, c)
      out.push({ atMs: e.atMs, role: 'buyer', counterparty: e.counterparty, model: e.model, inputTokens: e.inputTokens, outputTokens: e.outputTokens, bpt: formatBpt(e.tokenParams), amountUc: e.amountUc, voucher: { id, cumulativeUc: c } })
    }
    for (const m of this.node.meterRecords) {
      out.push({ atMs: m.startedAtMs, role: 'seller', counterparty: accountIdFromPublicKey(Buffer.from(m.buyer, 'hex')), model: m.modelId, inputTokens: m.inputTokens, outputTokens: m.outputTokens, bpt: m.bpt, amountUc: m.amountUc, voucher: { id: m.contractId, cumulativeUc: m.sessionAmountUc } })
    }
    return out.sort((a, b) => b.atMs - a.atMs).slice(0, n)
  }

  /** the addresses and the reachability verdict (AutoNAT's through the node when it gives one) */
  private reachabilityView (): Pick<NetworkView, 'reachability' | 'addrs' | 'nat' | 'services'> {
    const libp2p = this.node.libp2p as unknown as NetworkLibp2p
    const meta = libp2p.components?.addressManager?.getAddressesWithMetadata?.() ?? []
    const reported = (this.node as unknown as { reachability?: () => ReachabilityReport }).reachability?.()
    return {
      services: servicesOf(reported),
      ...classifyAddresses({
      announced: this.node.addrs(),
      meta: meta.map(m => ({ addr: m.multiaddr.toString(), verified: m.verified, type: m.type })),
        reported: reported?.status
      })
    }
  }

  /**
   * `/tally/network`: reachability, addresses, connections and their history; with probe, also
   * whether up to three peers on the offers topic hold my current offer (asked at most every 10 s)
   */
  async network (opts: { probe?: boolean } = {}): Promise<NetworkView> {
    const n = this.node
    const libp2p = n.libp2p
    const pubsub = libp2p.services.pubsub
    const byTopic: Record<string, number> = {}
    const subscribersByTopic: Record<string, number> = {}
    for (const [kind, topic] of Object.entries(n.base.topics)) {
      byTopic[kind] = meshPeers(pubsub, topic)
      subscribersByTopic[kind] = pubsub.getSubscribers(topic).length
    }
    const conns = libp2p.getConnections()
    const list = conns.map(c => ({ peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString(), direction: c.direction, relayed: isRelayed(c), openedAtMs: this.connections?.openedAt(c) ?? this.now() }))
    const r = this.reachabilityView()
    const upgrades = this.connections?.upgrades() ?? { relayedPeers: 0, upgradedToDirect: 0 }
    const nat = r.nat.type === 'unknown' && upgrades.upgradedToDirect > 0
      ? { type: 'cone-like' as const, detail: `${upgrades.upgradedToDirect} peer(s) first reached over a relay later connected directly: the NAT keeps one mapping per socket (hole punching works)` }
      : r.nat
    const view: NetworkView = {
      peerId: libp2p.peerId.toString(),
      reachability: r.reachability,
      addrs: r.addrs,
      nat,
      connections: {
        total: list.length,
        inbound: list.filter(c => c.direction === 'inbound').length,
        outbound: list.filter(c => c.direction === 'outbound').length,
        direct: list.filter(c => !c.relayed).length,
        relayed: list.filter(c => c.relayed).length,
        list
      },
      peers: { connected: libp2p.getPeers().length, byTopic, subscribersByTopic },
      upgrades,
      history: this.connections?.history() ?? [],
      services: r.services
    }
    if (opts.probe === true) view.offerSeen = await this.probeOffer()
    else if (this.lastProbe != null) view.offerSeen = this.lastProbe
    return view
  }

  /** ask mesh peers of the offers topic first, then other subscribers, for their books */
  private async probeOffer (): Promise<OfferProbe | undefined> {
    const mine = new Map(this.node.market.ownOffers().map(o => [o.modelId, o.seq]))
    if (mine.size === 0) return undefined
    if (this.lastProbe != null && this.now() - this.lastProbe.atMs < OFFER_PROBE_CACHE_MS) return this.lastProbe
    if (this.probing != null) return await this.probing
    const pubsub = this.node.libp2p.services.pubsub as unknown as { getMeshPeers?: (t: string) => string[], getSubscribers: (t: string) => Array<{ toString: () => string }> }
    const topic = this.node.base.topics.offers
    const mesh = pubsub.getMeshPeers?.(topic) ?? []
    const peers = [...new Set([...mesh, ...pubsub.getSubscribers(topic).map(p => p.toString())])]
    this.probing = probeOfferSeen({ libp2p: this.node.libp2p as unknown as NetworkLibp2p, peers, net: this.node.net, sellerId: this.node.account, mine, now: () => this.now() })
    try {
      this.lastProbe = await this.probing
      return this.lastProbe
    } finally {
      this.probing = undefined
    }
  }

  diagnosisFacts (): DiagnosisFacts {
    const n = this.node
    const libp2p = n.libp2p
    const pubsub = libp2p.services.pubsub
    const offersTopic = n.base.topics.offers
    const offers: OfferStanding[] = this.ownOffers().map(o => {
      const st = this.standing(o.modelId, o.priceInPerMTokUc, o.priceOutPerMTokUc)
      return { model: o.modelId, priceOutPerMTokUc: o.priceOutPerMTokUc, rank: st.rank, of: st.of, cheapestOtherPriceOutPerMTokUc: st.cheapestOther, sessionsOpen: this.sessionsRunning(o.modelId), maxSessions: o.maxSessions }
    })
    return {
      selling: n.selling,
      offers,
      addrs: n.addrs(),
      peerAddrs: libp2p.getConnections().map(c => c.remoteAddr.toString()),
      inboundConnections: this.inbound,
      connectedPeers: libp2p.getPeers().length,
      offersTopicPeers: pubsub.getSubscribers(offersTopic).length,
      offersTopicMeshPeers: meshPeers(pubsub, offersTopic),
      reachability: this.reachabilityFacts(),
      offerProbe: this.lastProbe != null ? { asked: this.lastProbe.asked, holding: this.lastProbe.holding } : undefined,
      flagged: n.ledger.balance().flagged,
      backend: this.init.health?.snapshot() ?? { failures: 0, successes: 0 }
    }
  }

  private reachabilityFacts (): DiagnosisFacts['reachability'] {
    const r = this.reachabilityView()
    const conns = this.node.libp2p.getConnections()
    return { status: r.reachability.status, detail: r.reachability.detail, relayAddrs: r.addrs.relay.length, publicAddrs: r.addrs.public.length, relayedConnections: conns.filter(isRelayed).length }
  }

  diagnosis (): DiagnosisCheck[] {
    return diagnose(this.diagnosisFacts())
  }
}

/**
 * The order book: every live offer this node has seen, per (seller, model), ranked by effective
 * price. Pure: no I/O, no clock of its own (`nowMs` is passed in), no ledger (a seller's standing
 * comes in through a callback), bounded memory.
 *
 * Ranking (documented in protocols/market.md):
 *  - effective price of an offer = priceIn·expectedInputTokens + priceOut·expectedOutputTokens
 *    (µc·tokens per 1M tokens; divide by 1e6 for µc per request). Defaults weight output 3:1
 *    over input, as chat completions typically produce more than they read.
 *  - a query for one model ranks by effective price; a query across models ranks by effective
 *    price per parameter (effective / params, compared exactly as fractions), so a 7B and a
 *    70B offer compare by the compute they deliver.
 *  - ties: higher caller-supplied quality first (measured latency/reliability), then seller id
 *    ascending, then model id, so every node orders the same offers the same way.
 *
 * Admission (protocols/market.md § Order book): sellers stand in three tiers — proven (the
 * ledger shows settled sessions or earnings), aged (in this book continuously for a while),
 * fresh (neither). Fresh sellers hold at most a share of the book and a few entries each; when
 * room is needed the oldest entry of the lowest tier goes, never one of a higher tier than the
 * newcomer's, and never one that routed a request recently.
 */
import { offerCapabilities, openOffer, pricePerBptForDisplay, type Offer } from './offer.js'

/** at most this many models per seller with history; a seller serving more is evicted oldest first */
export const DEFAULT_MAX_OFFERS_PER_SELLER = 16
/** at most this many entries per fresh seller: a flood of fresh keys gains little from each key */
export const DEFAULT_MAX_OFFERS_PER_FRESH_SELLER = 4
/** total entries (live offers and withdrawal markers) */
export const DEFAULT_MAX_OFFERS = 10_000
/** fresh sellers together hold at most this percentage of maxOffers, so a flood of new keys cannot push out sellers with history */
export const DEFAULT_FRESH_SHARE_PERCENT = 25
/** a seller with offers in this book continuously this long counts as aged */
export const DEFAULT_AGED_AFTER_MS = 10 * 60_000
/** an offer that routed a request this recently is never evicted */
export const DEFAULT_ROUTED_PROTECT_MS = 10 * 60_000
/** the standing callback is asked again about a seller without history at most this often */
export const DEFAULT_STANDING_REFRESH_MS = 30_000
/**
 * A typical chat request, 1000 tokens in and 3000 out (output weighted 3:1): the token mix that
 * compares prices wherever a request does not say its own (this book's ranking, the router's).
 */
export const DEFAULT_EXPECTED_INPUT_TOKENS = 1_000n
export const DEFAULT_EXPECTED_OUTPUT_TOKENS = 3_000n

/** what the node's ledger says about a seller (the book reads no ledger; the node composes this) */
export interface SellerStanding {
  /** sessions the seller settled for a paid amount */
  settledSessions: number
  /** the seller's earnings (its balance when positive) */
  earnedUc: bigint
}

/** admission tier: when room is needed, a lower tier goes first */
export type SellerTier = 'fresh' | 'aged' | 'proven'
const TIERS: SellerTier[] = ['fresh', 'aged', 'proven']
const FRESH = 0
const AGED = 1
const PROVEN = 2

export interface OrderBookInit {
  /** entries per seller with history (aged or proven) */
  maxOffersPerSeller?: number
  /** entries per fresh seller */
  maxOffersPerFreshSeller?: number
  maxOffers?: number
  /** percentage of maxOffers that fresh sellers may hold together */
  freshSharePercent?: number
  agedAfterMs?: number
  routedProtectMs?: number
  standingRefreshMs?: number
  expectedInputTokens?: bigint
  expectedOutputTokens?: bigint
  /** higher is better; ties in price go to the better seller. Default: 0 for all */
  quality?: (sellerId: string) => number
  /** sellers for which this returns true never appear in query results */
  isFlagged?: (sellerId: string) => boolean
  /** the seller's history in the ledger; default: none for everyone (every seller starts fresh) */
  standing?: (sellerId: string) => SellerStanding | undefined
}

export interface OfferQuery {
  model?: string
  maxPriceOutPerMTokUc?: bigint
  maxPriceInPerMTokUc?: bigint
  minParams?: bigint
  /** allowed quantizations; empty or absent = any */
  quantizations?: string[]
  verifiedOnly?: boolean
  /** seller ids to leave out (e.g. ones that just failed) */
  exclude?: Iterable<string>
  limit?: number
}

export interface RankedOffer {
  offer: Offer
  /** µc for one request of the expected size, rounded up */
  effectivePriceUc: bigint
  /** µc per Bpt, float, for display only */
  pricePerBpt: number
  quality: number
}

/** one model on the market: its live, unflagged offers summed up in one pass */
export interface ModelSummary {
  modelId: string
  /** sellers with a live offer (one offer per seller and model) */
  sellers: number
  /** params of the model's best-ranked offer */
  params: bigint
  bestPriceInPerMTokUc: bigint
  bestPriceOutPerMTokUc: bigint
  /** what at least one seller serves (union of the offers' capabilities, sorted) */
  capabilities: string[]
  /** the largest context length offered */
  contextLength: number
}

/** `full`: valid, but no room — every entry it could displace is of a higher tier or recently routed */
export type AddResult = 'accepted' | 'withdrawn' | 'stale' | 'duplicate' | 'full'

export type IngestResult =
  | { status: 'accepted' | 'withdrawn', offer: Offer }
  | { status: 'stale' | 'duplicate' | 'full', offer: Offer }
  | { status: 'rejected', error: Error }

interface Entry {
  offer: Offer
  key: string
  tier: number
  /** when the local router last got a request served through this offer */
  routedAtMs?: number
}

interface Seller {
  keys: Set<string>
  /** when this seller's first entry (of the current unbroken run) entered the book */
  firstSeenMs: number
  tier: number
  /** the ledger showed history once; history never goes away */
  proven: boolean
  checkedAtMs: number
}

function keyOf (sellerId: string, modelId: string): string {
  return `${sellerId}\n${modelId}`
}

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export class OrderBook {
  private readonly entries = new Map<string, Entry>()
  /** entries per tier, oldest received first (a re-announce moves an entry to the back) */
  private readonly tiers: Array<Map<string, Entry>> = [new Map(), new Map(), new Map()]
  private readonly sellers = new Map<string, Seller>()
  private readonly byModel = new Map<string, Map<string, Entry>>()
  private readonly maxOffersPerSeller: number
  private readonly maxOffersPerFreshSeller: number
  private readonly maxOffers: number
  private readonly maxFresh: number
  private readonly agedAfterMs: number
  private readonly routedProtectMs: number
  private readonly standingRefreshMs: number
  private readonly expectedIn: bigint
  private readonly expectedOut: bigint
  private readonly quality: (sellerId: string) => number
  private readonly isFlagged: (sellerId: string) => boolean
  private readonly standing: (sellerId: string) => SellerStanding | undefined

  private readonly addListeners = new Set<(offer: Offer, status: 'accepted' | 'withdrawn') => void>()

  constructor (init: OrderBookInit = {}) {
    this.maxOffersPerSeller = Math.max(1, init.maxOffersPerSeller ?? DEFAULT_MAX_OFFERS_PER_SELLER)
    this.maxOffersPerFreshSeller = Math.max(1, Math.min(init.maxOffersPerFreshSeller ?? DEFAULT_MAX_OFFERS_PER_FRESH_SELLER, this.maxOffersPerSeller))
    this.maxOffers = Math.max(1, init.maxOffers ?? DEFAULT_MAX_OFFERS)
    const share = Math.min(100, Math.max(0, init.freshSharePercent ?? DEFAULT_FRESH_SHARE_PERCENT))
    // at least one, so a new seller can always get in somewhere
    this.maxFresh = Math.max(1, Math.floor(this.maxOffers * share / 100))
    this.agedAfterMs = init.agedAfterMs ?? DEFAULT_AGED_AFTER_MS
    this.routedProtectMs = init.routedProtectMs ?? DEFAULT_ROUTED_PROTECT_MS
    this.standingRefreshMs = init.standingRefreshMs ?? DEFAULT_STANDING_REFRESH_MS
    this.expectedIn = init.expectedInputTokens ?? DEFAULT_EXPECTED_INPUT_TOKENS
    this.expectedOut = init.expectedOutputTokens ?? DEFAULT_EXPECTED_OUTPUT_TOKENS
    this.quality = init.quality ?? (() => 0)
    this.isFlagged = init.isFlagged ?? (() => false)
    this.standing = init.standing ?? (() => undefined)
  }

  /** entries held, withdrawal markers included */
  get size (): number {
    return this.entries.size
  }

  /** entries held by fresh sellers (as last classified) */
  get freshSize (): number {
    return this.tiers[FRESH].size
  }

  /**
   * Verify received bytes (signature, net, ranges, expiry against nowMs) and add them.
   * Never throws: a bad offer comes back as `rejected` with its typed error.
   */
  ingest (bytes: Uint8Array, net: Uint8Array, nowMs: number): IngestResult {
    let offer: Offer
    try {
      offer = openOffer(bytes, net, nowMs)
    } catch (error: any) {
      return { status: 'rejected', error }
    }
    const status = this.add(offer, nowMs)
    return { status, offer }
  }

  /**
   * Add an already verified offer. A higher seq for the same (seller, model) replaces the held one
   * (and keeps its place's protection); a new (seller, model) needs room (see the class comment),
   * or comes back `full`.
   */
  add (offer: Offer, nowMs: number): AddResult {
    const key = keyOf(offer.sellerId, offer.modelId)
    const held = this.entries.get(key)
    if (held != null && BigInt(Math.floor(nowMs)) < held.offer.expiresAtMs) {
      if (offer.seq === held.offer.seq && bytesEqual(offer.id, held.offer.id)) return 'duplicate'
      if (offer.seq <= held.offer.seq) return 'stale'
    }
    const seller = this.sellers.get(offer.sellerId) ?? { keys: new Set<string>(), firstSeenMs: nowMs, tier: FRESH, proven: false, checkedAtMs: Number.NEGATIVE_INFINITY }
    const tier = this.tierOf(offer.sellerId, seller, nowMs)
    if (tier !== seller.tier) this.retier(seller, tier)
    if (held == null && !this.makeRoom(offer.sellerId, seller, tier, nowMs)) return 'full'
    if (held != null) this.remove(key)
    // making room or the replacement may have removed the seller's last entry (and its record): it continues
    this.sellers.set(offer.sellerId, seller)
    // a withdrawal is kept as a marker until it expires, so an older offer still in flight
    // cannot bring the withdrawn one back
    const entry: Entry = { offer, key, tier, routedAtMs: held?.routedAtMs }
    this.entries.set(key, entry)
    this.tiers[tier].set(key, entry)
    seller.keys.add(key)
    let m = this.byModel.get(offer.modelId)
    if (m == null) this.byModel.set(offer.modelId, m = new Map())
    m.set(key, entry)
    const status = offer.withdrawn ? 'withdrawn' : 'accepted'
    for (const fn of this.addListeners) fn(offer, status)
    return status
  }

  /**
   * Observe every offer (or withdrawal) the book takes in, whichever path brought it: gossip, a
   * book sync, a local add. Returns the unsubscribe function.
   */
  onAdd (fn: (offer: Offer, status: 'accepted' | 'withdrawn') => void): () => void {
    this.addListeners.add(fn)
    return () => { this.addListeners.delete(fn) }
  }

  /**
   * The router got a request served through this seller's offer for this model: the entry is
   * not evicted for routedProtectMs (it survives re-announces). False if no such entry.
   */
  touch (sellerId: string, modelId: string, nowMs: number): boolean {
    const e = this.entries.get(keyOf(sellerId, modelId))
    if (e == null) return false
    e.routedAtMs = nowMs
    return true
  }

  /** the seller's admission tier now (fresh for a seller the book does not hold) */
  tier (sellerId: string, nowMs: number): SellerTier {
    const s = this.sellers.get(sellerId)
    if (s == null) return this.provenNow(sellerId) ? 'proven' : 'fresh'
    const t = this.tierOf(sellerId, s, nowMs)
    if (t !== s.tier) this.retier(s, t)
    return TIERS[t]
  }

  private provenNow (sellerId: string): boolean {
    const st = this.standing(sellerId)
    return st != null && (st.settledSessions > 0 || st.earnedUc > 0n)
  }

  private tierOf (sellerId: string, s: Seller, nowMs: number): number {
    if (!s.proven && !(nowMs - s.checkedAtMs < this.standingRefreshMs)) {
      s.proven = this.provenNow(sellerId)
      s.checkedAtMs = nowMs
    }
    if (s.proven) return PROVEN
    return nowMs - s.firstSeenMs >= this.agedAfterMs ? AGED : FRESH
  }

  /** move every entry of a seller to its new tier's queue */
  private retier (s: Seller, tier: number): void {
    for (const k of s.keys) {
      const e = this.entries.get(k)
      if (e == null || e.tier === tier) continue
      this.tiers[e.tier].delete(k)
      e.tier = tier
      this.tiers[tier].set(k, e)
    }
    s.tier = tier
  }

  private isProtected (e: Entry, nowMs: number): boolean {
    return e.routedAtMs !== undefined && nowMs - e.routedAtMs < this.routedProtectMs && e.offer.expiresAtMs > BigInt(Math.floor(nowMs))
  }

  /**
   * The oldest-received entry of a tier that may be evicted: not recently routed, and its seller
   * still in that tier (one that moved up since is re-queued on the way).
   */
  private victimIn (tier: number, nowMs: number): Entry | undefined {
    for (;;) {
      let found: Entry | undefined
      for (const e of this.tiers[tier].values()) {
        if (!this.isProtected(e, nowMs)) { found = e; break }
      }
      if (found == null) return undefined
      const s = this.sellers.get(found.offer.sellerId)
      if (s == null) return found
      const now = this.tierOf(found.offer.sellerId, s, nowMs)
      if (now === tier) return found
      this.retier(s, now)
    }
  }

  /** room for one new entry of this seller, or false (nothing was admitted; its own oldest may have gone) */
  private makeRoom (sellerId: string, seller: Seller, tier: number, nowMs: number): boolean {
    const perSeller = tier === FRESH ? this.maxOffersPerFreshSeller : this.maxOffersPerSeller
    while (seller.keys.size >= perSeller) {
      let oldest: Entry | undefined
      for (const k of seller.keys) {
        const e = this.entries.get(k)
        if (e != null && !this.isProtected(e, nowMs) && (oldest == null || e.offer.seq < oldest.offer.seq)) oldest = e
      }
      if (oldest == null) return false
      this.remove(oldest.key)
    }
    if (tier === FRESH) {
      while (this.tiers[FRESH].size >= this.maxFresh) {
        const v = this.victimIn(FRESH, nowMs)
        if (v == null) return false
        this.remove(v.key)
      }
    }
    while (this.entries.size >= this.maxOffers) {
      let v: Entry | undefined
      for (let t = FRESH; t <= tier && v == null; t++) v = this.victimIn(t, nowMs)
      if (v == null) return false
      this.remove(v.key)
    }
    return true
  }

  private remove (key: string): void {
    const e = this.entries.get(key)
    if (e == null) return
    this.entries.delete(key)
    this.tiers[e.tier].delete(key)
    const m = this.byModel.get(e.offer.modelId)
    if (m != null) {
      m.delete(key)
      if (m.size === 0) this.byModel.delete(e.offer.modelId)
    }
    const s = this.sellers.get(e.offer.sellerId)
    if (s != null) {
      s.keys.delete(key)
      if (s.keys.size === 0) this.sellers.delete(e.offer.sellerId)
    }
  }

  /** the live offer of one seller for one model, if any */
  get (sellerId: string, modelId: string, nowMs: number): Offer | undefined {
    const e = this.entries.get(keyOf(sellerId, modelId))
    if (e == null || e.offer.withdrawn || e.offer.expiresAtMs <= BigInt(Math.floor(nowMs))) return undefined
    return e.offer
  }

  /**
   * The exact bytes of every live offer and withdrawal marker (for a joining peer), at most `max`:
   * sellers with history first (proven, aged, then fresh), newest first within a tier, so a flood
   * of fresh keys cannot crowd the offers a joiner needs out of the answer.
   */
  snapshot (nowMs: number, max: number): Uint8Array[] {
    const now = BigInt(Math.floor(nowMs))
    return [...this.entries.values()]
      .filter(e => e.offer.expiresAtMs > now)
      .sort((a, b) => (a.tier !== b.tier ? b.tier - a.tier : a.offer.seq === b.offer.seq ? 0 : a.offer.seq > b.offer.seq ? -1 : 1))
      .slice(0, max)
      .map(e => e.offer.bytes)
  }

  /**
   * Drop every entry that expired at nowMs and re-classify the sellers held (age, ledger
   * standing); returns how many entries were dropped.
   */
  prune (nowMs: number): number {
    const now = BigInt(Math.floor(nowMs))
    let n = 0
    for (const [key, e] of [...this.entries]) {
      if (e.offer.expiresAtMs <= now) {
        this.remove(key)
        n++
      }
    }
    for (const [id, s] of this.sellers) {
      const t = this.tierOf(id, s, nowMs)
      if (t !== s.tier) this.retier(s, t)
    }
    return n
  }

  /** model ids with at least one live offer, sorted */
  models (nowMs: number): string[] {
    const now = BigInt(Math.floor(nowMs))
    const out: string[] = []
    for (const [model, m] of this.byModel) {
      for (const e of m.values()) {
        if (!e.offer.withdrawn && e.offer.expiresAtMs > now) { out.push(model); break }
      }
    }
    return out.sort()
  }

  /**
   * Every model with a live offer from an unflagged seller, in one pass over the book (not one
   * query per model): seller count, best prices, and the params of its best-ranked offer. Sorted by model id.
   */
  modelSummaries (nowMs: number): ModelSummary[] {
    const now = BigInt(Math.floor(nowMs))
    const acc = new Map<string, ModelSummary & { best: Offer, bestEff: bigint, bestQuality: number }>()
    for (const { offer } of this.entries.values()) {
      if (offer.withdrawn || offer.expiresAtMs <= now || this.isFlagged(offer.sellerId)) continue
      const eff = this.effective(offer)
      const a = acc.get(offer.modelId)
      if (a == null) {
        acc.set(offer.modelId, { modelId: offer.modelId, sellers: 1, params: offer.params, bestPriceInPerMTokUc: offer.priceInPerMTokUc, bestPriceOutPerMTokUc: offer.priceOutPerMTokUc, capabilities: [...offerCapabilities(offer)], contextLength: offer.contextLength, best: offer, bestEff: eff, bestQuality: this.quality(offer.sellerId) })
        continue
      }
      a.sellers++
      for (const c of offerCapabilities(offer)) if (!a.capabilities.includes(c)) a.capabilities.push(c)
      if (offer.contextLength > a.contextLength) a.contextLength = offer.contextLength
      if (offer.priceInPerMTokUc < a.bestPriceInPerMTokUc) a.bestPriceInPerMTokUc = offer.priceInPerMTokUc
      if (offer.priceOutPerMTokUc < a.bestPriceOutPerMTokUc) a.bestPriceOutPerMTokUc = offer.priceOutPerMTokUc
      // the same order as query({ model }): price, then quality, then seller id
      const q = this.quality(offer.sellerId)
      if (eff < a.bestEff || (eff === a.bestEff && (q > a.bestQuality || (q === a.bestQuality && offer.sellerId < a.best.sellerId)))) {
        a.best = offer
        a.bestEff = eff
        a.bestQuality = q
        a.params = offer.params
      }
    }
    return [...acc.values()]
      .sort((x, y) => (x.modelId < y.modelId ? -1 : x.modelId > y.modelId ? 1 : 0))
      .map(({ best, bestEff, bestQuality, ...summary }) => ({ ...summary, capabilities: summary.capabilities.sort() }))
  }

  /** effective price numerator: µc·tokens per 1M tokens */
  effective (offer: Offer): bigint {
    return offer.priceInPerMTokUc * this.expectedIn + offer.priceOutPerMTokUc * this.expectedOut
  }

  query (q: OfferQuery, nowMs: number): RankedOffer[] {
    const now = BigInt(Math.floor(nowMs))
    const exclude = new Set(q.exclude ?? [])
    const quants = q.quantizations != null && q.quantizations.length > 0 ? new Set(q.quantizations) : undefined
    const hits: Array<RankedOffer & { eff: bigint }> = []
    // one model: only its entries (the index), not the whole book
    const pool = q.model != null ? (this.byModel.get(q.model)?.values() ?? []) : this.entries.values()
    for (const { offer } of pool) {
      if (offer.withdrawn || offer.expiresAtMs <= now) continue
      if (q.maxPriceOutPerMTokUc != null && offer.priceOutPerMTokUc > q.maxPriceOutPerMTokUc) continue
      if (q.maxPriceInPerMTokUc != null && offer.priceInPerMTokUc > q.maxPriceInPerMTokUc) continue
      if (q.minParams != null && offer.params < q.minParams) continue
      if (quants != null && !quants.has(offer.quantization)) continue
      if (q.verifiedOnly === true && !offer.fingerprintVerified) continue
      if (exclude.has(offer.sellerId) || this.isFlagged(offer.sellerId)) continue
      const eff = this.effective(offer)
      hits.push({
        offer,
        eff,
        effectivePriceUc: (eff + 999_999n) / 1_000_000n,
        pricePerBpt: pricePerBptForDisplay(offer.priceOutPerMTokUc, offer.params),
        quality: this.quality(offer.sellerId)
      })
    }
    const perParam = q.model == null
    hits.sort((a, b) => {
      const l = perParam ? a.eff * b.offer.params : a.eff
      const r = perParam ? b.eff * a.offer.params : b.eff
      if (l !== r) return l < r ? -1 : 1
      if (a.quality !== b.quality) return b.quality - a.quality
      if (a.offer.sellerId !== b.offer.sellerId) return a.offer.sellerId < b.offer.sellerId ? -1 : 1
      return a.offer.modelId < b.offer.modelId ? -1 : a.offer.modelId > b.offer.modelId ? 1 : 0
    })
    const limited = q.limit != null ? hits.slice(0, Math.max(0, q.limit)) : hits
    return limited.map(({ eff, ...r }) => r)
  }
}

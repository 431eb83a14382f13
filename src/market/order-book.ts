/**
 * The order book: every live offer this node has seen, per (seller, model), ranked by effective
 * price. Pure: no I/O, no clock of its own (`nowMs` is passed in), bounded memory.
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
 */
import { openOffer, pricePerBptForDisplay, type Offer } from './offer.js'

/** at most this many models per seller; a seller serving more is evicted oldest first */
export const DEFAULT_MAX_OFFERS_PER_SELLER = 16
/** total entries (live offers and withdrawal markers); the oldest received is evicted first */
export const DEFAULT_MAX_OFFERS = 10_000
/**
 * A typical chat request, 1000 tokens in and 3000 out (output weighted 3:1): the token mix that
 * compares prices wherever a request does not say its own (this book's ranking, the router's).
 */
export const DEFAULT_EXPECTED_INPUT_TOKENS = 1_000n
export const DEFAULT_EXPECTED_OUTPUT_TOKENS = 3_000n

export interface OrderBookInit {
  maxOffersPerSeller?: number
  maxOffers?: number
  expectedInputTokens?: bigint
  expectedOutputTokens?: bigint
  /** higher is better; ties in price go to the better seller. Default: 0 for all */
  quality?: (sellerId: string) => number
  /** sellers for which this returns true never appear in query results */
  isFlagged?: (sellerId: string) => boolean
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

export type AddResult = 'accepted' | 'withdrawn' | 'stale' | 'duplicate'

export type IngestResult =
  | { status: 'accepted' | 'withdrawn', offer: Offer }
  | { status: 'stale' | 'duplicate', offer: Offer }
  | { status: 'rejected', error: Error }

interface Entry {
  offer: Offer
  key: string
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
  private readonly bySeller = new Map<string, Set<string>>()
  private readonly maxOffersPerSeller: number
  private readonly maxOffers: number
  private readonly expectedIn: bigint
  private readonly expectedOut: bigint
  private readonly quality: (sellerId: string) => number
  private readonly isFlagged: (sellerId: string) => boolean

  private readonly addListeners = new Set<(offer: Offer, status: 'accepted' | 'withdrawn') => void>()

  constructor (init: OrderBookInit = {}) {
    this.maxOffersPerSeller = init.maxOffersPerSeller ?? DEFAULT_MAX_OFFERS_PER_SELLER
    this.maxOffers = init.maxOffers ?? DEFAULT_MAX_OFFERS
    this.expectedIn = init.expectedInputTokens ?? DEFAULT_EXPECTED_INPUT_TOKENS
    this.expectedOut = init.expectedOutputTokens ?? DEFAULT_EXPECTED_OUTPUT_TOKENS
    this.quality = init.quality ?? (() => 0)
    this.isFlagged = init.isFlagged ?? (() => false)
  }

  /** entries held, withdrawal markers included */
  get size (): number {
    return this.entries.size
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

  /** Add an already verified offer. A higher seq for the same (seller, model) replaces the held one. */
  add (offer: Offer, nowMs: number): AddResult {
    const key = keyOf(offer.sellerId, offer.modelId)
    const held = this.entries.get(key)
    if (held != null && BigInt(Math.floor(nowMs)) < held.offer.expiresAtMs) {
      if (offer.seq === held.offer.seq && bytesEqual(offer.id, held.offer.id)) return 'duplicate'
      if (offer.seq <= held.offer.seq) return 'stale'
    }
    if (held != null) this.remove(key)
    // a withdrawal is kept as a marker until it expires, so an older offer still in flight
    // cannot bring the withdrawn one back
    this.entries.set(key, { offer, key })
    let keys = this.bySeller.get(offer.sellerId)
    if (keys == null) {
      keys = new Set()
      this.bySeller.set(offer.sellerId, keys)
    }
    keys.add(key)
    this.evict(offer.sellerId, keys)
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

  private evict (sellerId: string, keys: Set<string>): void {
    while (keys.size > this.maxOffersPerSeller) {
      let oldest: Entry | undefined
      for (const k of keys) {
        const e = this.entries.get(k)
        if (e != null && (oldest == null || e.offer.seq < oldest.offer.seq)) oldest = e
      }
      if (oldest == null) break
      this.remove(oldest.key)
    }
    while (this.entries.size > this.maxOffers) {
      const first = this.entries.keys().next().value
      if (first === undefined) break
      this.remove(first)
    }
    if (keys.size === 0) this.bySeller.delete(sellerId)
  }

  private remove (key: string): void {
    const e = this.entries.get(key)
    if (e == null) return
    this.entries.delete(key)
    const keys = this.bySeller.get(e.offer.sellerId)
    if (keys != null) {
      keys.delete(key)
      if (keys.size === 0) this.bySeller.delete(e.offer.sellerId)
    }
  }

  /** the live offer of one seller for one model, if any */
  get (sellerId: string, modelId: string, nowMs: number): Offer | undefined {
    const e = this.entries.get(keyOf(sellerId, modelId))
    if (e == null || e.offer.withdrawn || e.offer.expiresAtMs <= BigInt(Math.floor(nowMs))) return undefined
    return e.offer
  }

  /** the exact bytes of every live offer and withdrawal marker (for a joining peer), newest first, at most `max` */
  snapshot (nowMs: number, max: number): Uint8Array[] {
    const now = BigInt(Math.floor(nowMs))
    return [...this.entries.values()]
      .filter(e => e.offer.expiresAtMs > now)
      .sort((a, b) => (a.offer.seq === b.offer.seq ? 0 : a.offer.seq > b.offer.seq ? -1 : 1))
      .slice(0, max)
      .map(e => e.offer.bytes)
  }

  /** drop every entry that expired at nowMs; returns how many */
  prune (nowMs: number): number {
    const now = BigInt(Math.floor(nowMs))
    let n = 0
    for (const [key, e] of [...this.entries]) {
      if (e.offer.expiresAtMs <= now) {
        this.remove(key)
        n++
      }
    }
    return n
  }

  /** model ids with at least one live offer, sorted */
  models (nowMs: number): string[] {
    const now = BigInt(Math.floor(nowMs))
    const out = new Set<string>()
    for (const e of this.entries.values()) if (!e.offer.withdrawn && e.offer.expiresAtMs > now) out.add(e.offer.modelId)
    return [...out].sort()
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
    for (const { offer } of this.entries.values()) {
      if (offer.withdrawn || offer.expiresAtMs <= now) continue
      if (q.model != null && offer.modelId !== q.model) continue
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

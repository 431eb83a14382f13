/**
 * batch-auction (issue 20 § 4): reverse auctions for batch work. A quarter of the honest buyers
 * post bids (requests for quotes, protocols/auction.md) of varied volume and deadline — some
 * urgent (no batch discount), most deferred — while every buyer keeps the simulator's interactive
 * traffic at posted prices. Sellers at varied posted prices and slot counts answer by their
 * auction pricing; after each window the bidder picks with `pickQuotes` and buys its volume from
 * the won sellers through the real negotiate/infer path, pinned to each winner. The figures: the
 * clearing price against posted prices (volume-weighted), the share of batch volume that went to
 * the cheapest sellers able to meet the deadline, seller utilisation (busy slot-time / slot-time
 * over the trading time) and time to fill; `batch-auction-baseline` is the same network and the
 * same interactive traffic without the bids, for utilisation without batch demand.
 */
import { setMaxListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import { auctionPrice, auctionVolume, pickQuotes, DEFAULT_BATCH_DISCOUNT_PCT, DEFAULT_BATCH_MIN_DEFER_MS, DEFAULT_IDLE_DISCOUNT_PCT } from '../../market/auction.js'
import type { ReceivedBidQuote } from '../../node/auction/index.js'
import type { RouteConstraints, RoutedResult } from '../../market/router-types.js'
import { defineScenario, type Scenario, type SimContext, type SimPeer } from '../scenario.js'
import { summarize } from '../stats.js'

/** share of the honest buyers that also post batch bids (at least 2, at most MAX_BATCH_BUYERS) */
const BATCH_BUYER_SHARE = 0.25
/** the bids grow with N up to here: at 300 peers 210 buyers would post 105 bids of ~10k tokens each */
const MAX_BATCH_BUYERS = 24
const BIDS_PER_BATCH_BUYER = 2
/** share of bids that are urgent (at least one): due within seconds, so no seller's batch discount applies */
const URGENT_SHARE = 0.3
/** output tokens a bid asks for, uniform in this range */
const VOLUME_MIN = 1_000
const VOLUME_MAX = 6_000
/**
 * urgent bids are due this many seconds after posting (far below the sellers' 10 min batch
 * threshold): short enough that a seller with few slots cannot produce the whole volume in time
 * at the simulated speed
 */
const URGENT_DEADLINE_S: readonly [number, number] = [2, 6]
/** deferred bids are due this many minutes after posting */
const DEFERRED_DEADLINE_MIN: readonly [number, number] = [15, 120]
/** sellers answer for this long (simulated ms) */
const AUCTION_WINDOW_MS = 1_000
/** above every posted price the simulator draws (3..12 credits per 1M output tokens): every seller may answer */
const MAX_PRICE_OUT_UC = 20_000_000n
const MAX_PRICE_IN_UC = 5_000_000n
/** bids are posted in this share of the trading time, so their volume can be bought before it ends */
const POST_WITHIN_SHARE = 0.4
/** a batch line: one completion of at most this many output tokens */
const LINE_MAX_TOKENS = 256
/** lines in flight per won seller (at most the seller's slots) */
const LINES_PER_SELLER = 4
/** a won seller that failed this many lines in a row loses the rest of its volume (bought at posted prices) */
const FAILURES_TO_DROP = 3
/** each seller's simulated slots (its offer's max_sessions), drawn per seller */
const SELLER_SLOTS: readonly [number, number] = [2, 8]

interface PlannedBid { buyer: SimPeer, atMs: number, volume: number, urgent: boolean, deadlineInMs: number }

/** one bid's outcome, for the figures */
interface BidOutcome {
  urgent: boolean
  volume: number
  quotes: number
  /** quotes the bidder refused (auction.md § Refusal codes) */
  refused: number
  delivered: number
  /** output tokens delivered by sellers among the cheapest able to meet the deadline */
  toCheapest: number
  /** output tokens bought at posted prices because no quote covered them */
  fallback: number
  /** Σ tokens × the price paid, the winners' posted price, and the cheapest posted price among capable sellers */
  paidPriceTok: bigint
  postedPriceTok: bigint
  cheapestPostedTok: bigint
  filledAfterMs?: number
  byDeadline?: boolean
}

interface RunState {
  tradeStartAbsMs: number
  outcomes: BidOutcome[]
  planned: number
  /** aborts with the run's trading time: every bid and line listens to it (more than the default 10 listeners) */
  signal: AbortSignal
}
const runs = new WeakMap<SimContext, RunState>()

/** the auction pricing every simulated seller runs (its defaults; the scenario sets no other) */
const PRICING = { batchDiscountPct: DEFAULT_BATCH_DISCOUNT_PCT, idleDiscountPct: DEFAULT_IDLE_DISCOUNT_PCT, batchMinDeferMs: DEFAULT_BATCH_MIN_DEFER_MS }

/** the bids of a run: who posts, when, how much, due when (drawn from the scenario's stream whether or not they are posted) */
function planBids (ctx: SimContext): PlannedBid[] {
  const buyers = ctx.buyers().filter(p => p.adversary == null)
  const n = Math.min(MAX_BATCH_BUYERS, Math.max(2, Math.round(buyers.length * BATCH_BUYER_SHARE)))
  const bidders = ctx.rng.sample(buyers, Math.min(n, buyers.length))
  const out: PlannedBid[] = []
  const total = bidders.length * BIDS_PER_BATCH_BUYER
  const urgentAt = new Set(ctx.rng.sample(Array.from({ length: total }, (_, i) => i), Math.max(1, Math.round(total * URGENT_SHARE))))
  for (const buyer of bidders) {
    for (let i = 0; i < BIDS_PER_BATCH_BUYER; i++) {
      const urgent = urgentAt.has(out.length)
      out.push({
        buyer,
        atMs: ctx.rng.int(500, Math.max(600, Math.round(ctx.durationMs * POST_WITHIN_SHARE))),
        volume: ctx.rng.int(VOLUME_MIN, VOLUME_MAX),
        urgent,
        deadlineInMs: urgent ? ctx.rng.int(URGENT_DEADLINE_S[0], URGENT_DEADLINE_S[1]) * 1_000 : ctx.rng.int(DEFERRED_DEADLINE_MIN[0], DEFERRED_DEADLINE_MIN[1]) * 60_000
      })
    }
  }
  return out.sort((a, b) => a.atMs - b.atMs)
}

/**
 * Who should win a bid, from what the simulator knows when it is posted: each honest simulated
 * seller's auction price (its posted price, the bid's deferral, its free slots now) and the volume
 * it can produce before the deadline. The cheapest of them, in price order until their volume
 * covers the bid (and any others at the last one's price), are "the cheapest sellers able to meet
 * the deadline"; also the cheapest posted price among the able ones.
 */
function cheapestAble (ctx: SimContext, b: PlannedBid): { sellers: Set<string>, cheapestPostedUc: bigint | undefined } {
  const able: Array<{ account: string, price: bigint, reach: bigint, posted: bigint }> = []
  for (const s of ctx.sellers()) {
    const meter = ctx.slotMeter(s)
    if (s.adversary != null || meter == null) continue
    const slots = meter.maxConcurrency
    const price = auctionPrice(s.priceOutUc, PRICING, { freeSlots: slots - meter.running, slots, deferMs: b.deadlineInMs })
    const reach = auctionVolume({ bidVolume: BigInt(b.volume), tokensPerSecPerSlot: ctx.tokensPerSec, slots, msToDeadline: b.deadlineInMs, heldVolume: 0n })
    if (reach > 0n && price <= MAX_PRICE_OUT_UC) able.push({ account: s.node.account, price, reach, posted: s.priceOutUc })
  }
  const sellers = new Set<string>()
  if (able.length === 0) return { sellers, cheapestPostedUc: undefined }
  able.sort((x, y) => (x.price < y.price ? -1 : x.price > y.price ? 1 : 0))
  let left = BigInt(b.volume)
  let marginal = able[0].price
  for (const a of able) {
    if (left <= 0n && a.price > marginal) break
    sellers.add(a.account)
    marginal = a.price
    left -= a.reach
  }
  return { sellers, cheapestPostedUc: able.reduce((m, a) => (a.posted < m ? a.posted : m), able[0].posted) }
}

/** the constraints that buy one line from the won seller at its auction price */
function atQuote (q: ReceivedBidQuote, others: string[]): RouteConstraints {
  return { excludeSellers: others.filter(s => s !== q.sellerId), tag: 'batch' }
}

/** buy `tokens` output tokens from one won quote, LINES_PER_SELLER lines at a time; returns what was delivered */
async function buyFromQuote (ctx: SimContext, signal: AbortSignal, buyer: SimPeer, q: ReceivedBidQuote, tokens: number, o: BidOutcome, record: Map<string, number>, onLine: (r: RoutedResult) => void): Promise<number> {
  const offers = buyer.node.offerList(ctx.model)
  const constraints = atQuote(q, offers.map(x => x.seller))
  const lanes = Math.max(1, Math.min(LINES_PER_SELLER, offers.find(x => x.seller === q.sellerId)?.maxSessions ?? 1))
  let delivered = 0; let inFlight = 0; let failuresInRow = 0; let n = 0
  const line = async (): Promise<void> => {
    while (delivered + inFlight < tokens && failuresInRow < FAILURES_TO_DROP && !signal.aborted) {
      const want = Math.min(LINE_MAX_TOKENS, tokens - delivered - inFlight)
      inFlight += want
      const seed = n++
      try {
        const r = await buyer.node.infer(ctx.model, { messages: [{ role: 'user', content: `batch line ${seed} of bid ${String(o.volume)} by peer ${buyer.index}` }], maxTokens: want, seed }, constraints, { signal })
        delivered += r.outputTokens
        failuresInRow = 0
        record.set(r.seller, (record.get(r.seller) ?? 0) + 1)
        onLine(r)
      } catch {
        failuresInRow++
        record.set(q.sellerId, (record.get(q.sellerId) ?? 0) - 1)
      } finally {
        inFlight -= want
      }
    }
  }
  await Promise.all(Array.from({ length: lanes }, line))
  return delivered
}

/** buy `tokens` at posted prices (the router's cheapest seller): what no quote covered */
async function buyPosted (ctx: SimContext, signal: AbortSignal, buyer: SimPeer, tokens: number, onLine: (r: RoutedResult) => void): Promise<number> {
  let delivered = 0; let failures = 0; let n = 0
  while (delivered < tokens && failures < FAILURES_TO_DROP && !signal.aborted) {
    try {
      const r = await buyer.node.infer(ctx.model, { messages: [{ role: 'user', content: `batch fallback line ${n++} by peer ${buyer.index}` }], maxTokens: Math.min(LINE_MAX_TOKENS, tokens - delivered) }, { tag: 'batch' }, { signal })
      delivered += r.outputTokens
      onLine(r)
    } catch {
      failures++
    }
  }
  return delivered
}

async function runBid (ctx: SimContext, st: RunState, b: PlannedBid, records: Map<number, Map<string, number>>): Promise<void> {
  if (!b.buyer.running) return
  const postedAt = ctx.elapsedMs()
  const truth = cheapestAble(ctx, b)
  const o: BidOutcome = { urgent: b.urgent, volume: b.volume, quotes: 0, refused: 0, delivered: 0, toCheapest: 0, fallback: 0, paidPriceTok: 0n, postedPriceTok: 0n, cheapestPostedTok: 0n }
  st.outcomes.push(o)
  const res = await b.buyer.node.auction.postBid({
    modelId: ctx.model,
    maxPriceInPerMTokUc: MAX_PRICE_IN_UC,
    maxPriceOutPerMTokUc: MAX_PRICE_OUT_UC,
    expectedOutputTokens: BigInt(b.volume),
    deadlineMs: Date.now() + b.deadlineInMs,
    windowMs: AUCTION_WINDOW_MS,
    signal: st.signal
  })
  o.quotes = res.quotes.length
  o.refused = res.refused.length
  ctx.sample('quotesPerBid', res.quotes.length)
  if (res.quotes.length === 0) ctx.event(`bid of peer ${b.buyer.index} (${b.volume} tokens, due in ${b.deadlineInMs} ms): no quote${res.refused.length > 0 ? `, ${res.refused.length} refused (${[...new Set(res.refused.map(x => x.code))].join(', ')})` : ''}`)
  const record = records.get(b.buyer.index) ?? new Map<string, number>()
  records.set(b.buyer.index, record)
  const picks = pickQuotes(res.quotes, BigInt(b.volume), s => record.get(s) ?? 0)
  const postedOf = new Map(res.quotes.map(q => [q.sellerId, q.postedPriceOutPerMTokUc]))
  const cheapestPosted = truth.cheapestPostedUc ?? 0n
  const onLine = (r: RoutedResult): void => {
    const tok = BigInt(r.outputTokens)
    o.paidPriceTok += tok * r.priceOutPerMTokUc
    o.postedPriceTok += tok * (postedOf.get(r.seller) ?? r.priceOutPerMTokUc)
    o.cheapestPostedTok += tok * cheapestPosted
    if (truth.sellers.has(r.seller)) o.toCheapest += r.outputTokens
  }
  const got = await Promise.all(picks.map(async p => await buyFromQuote(ctx, st.signal, b.buyer, p.quote, Number(p.outputTokens), o, record, onLine)))
  o.delivered = got.reduce((s, x) => s + x, 0)
  if (o.delivered < b.volume && !st.signal.aborted) {
    const more = await buyPosted(ctx, st.signal, b.buyer, b.volume - o.delivered, onLine)
    o.fallback += more
    o.delivered += more
  }
  if (o.delivered >= b.volume) {
    o.filledAfterMs = ctx.elapsedMs() - postedAt
    o.byDeadline = o.filledAfterMs <= b.deadlineInMs
    ctx.sample('timeToFillMs', Math.round(o.filledAfterMs))
  }
}

/** busy slot-time / slot-time of the honest simulated sellers over the trading time, % */
function utilisation (ctx: SimContext, fromAbsMs: number, toAbsMs: number): { pct: number, perSeller: number[] } {
  let busy = 0; let total = 0
  const perSeller: number[] = []
  for (const s of ctx.peers) {
    if (s.role !== 'seller' || s.adversary != null) continue
    const m = ctx.slotMeter(s)
    if (m == null) continue
    const slotMs = m.maxConcurrency * (toAbsMs - fromAbsMs)
    const b = m.busyMs(fromAbsMs, toAbsMs)
    busy += b; total += slotMs
    perSeller.push(slotMs === 0 ? 0 : Math.round(b / slotMs * 10_000) / 100)
  }
  return { pct: total === 0 ? 0 : Math.round(busy / total * 10_000) / 100, perSeller }
}

const ratio = (a: bigint, b: bigint): number => (b === 0n ? 0 : Math.round(Number(a * 10_000n / b)) / 10_000)

/** the scenario with (or, for the baseline, without) the batch bids */
export function batchAuction (opts: { name: string, bids: boolean }): Scenario {
  return defineScenario({
    name: opts.name,
    description: opts.bids
      ? `${Math.round(BATCH_BUYER_SHARE * 100)} % of the buyers (at most ${MAX_BATCH_BUYERS}) post ${BIDS_PER_BATCH_BUYER} bids each of ${VOLUME_MIN}..${VOLUME_MAX} output tokens (${Math.round(URGENT_SHARE * 100)} % urgent) and buy from the sellers their auctions pick; every buyer keeps the interactive traffic at posted prices`
      : 'batch-auction without the bids: the same network and interactive traffic, for utilisation without batch demand',
    defaults: { sellersShare: 0.3, durationMs: 8_000, sellerSlots: SELLER_SLOTS, meterSlots: true },
    run: async (ctx) => {
      const stop = new AbortController()
      setMaxListeners(Infinity, stop.signal)
      ctx.signal.addEventListener('abort', () => { stop.abort() }, { once: true })
      const st: RunState = { tradeStartAbsMs: performance.now() - ctx.elapsedMs(), outcomes: [], planned: 0, signal: stop.signal }
      runs.set(ctx, st)
      const bids = planBids(ctx)
      st.planned = bids.length
      ctx.figure('batchBidsPlanned', bids.length)
      if (!opts.bids) return
      const records = new Map<number, Map<string, number>>()
      for (const b of bids) ctx.at(b.atMs, async () => { await runBid(ctx, st, b, records) })
    },
    finish: async (ctx) => {
      const st = runs.get(ctx)
      if (st == null) return
      const u = utilisation(ctx, st.tradeStartAbsMs, st.tradeStartAbsMs + ctx.durationMs)
      ctx.figure('sellerUtilisationPct', u.pct)
      for (const x of u.perSeller) ctx.sample('sellerUtilisationPct', x)
      if (!opts.bids) return
      const os = st.outcomes
      const sum = (f: (o: BidOutcome) => number): number => os.reduce((s, o) => s + f(o), 0)
      const sumB = (xs: BidOutcome[], f: (o: BidOutcome) => bigint): bigint => xs.reduce((s, o) => s + f(o), 0n)
      ctx.figure('batchBids', os.length)
      ctx.figure('batchBidsUrgent', os.filter(o => o.urgent).length)
      ctx.figure('batchBidsWithQuotes', os.filter(o => o.quotes > 0).length)
      ctx.figure('batchBidsUrgentWithoutQuotes', os.filter(o => o.urgent && o.quotes === 0).length)
      ctx.figure('batchQuotesRefused', sum(o => o.refused))
      ctx.figure('batchBidsFilled', os.filter(o => o.filledAfterMs != null).length)
      ctx.figure('batchBidsFilledByDeadline', os.filter(o => o.byDeadline === true).length)
      ctx.figure('batchVolumeAskedTokens', sum(o => o.volume))
      const delivered = sum(o => o.delivered)
      ctx.figure('batchVolumeDeliveredTokens', delivered)
      ctx.figure('batchVolumeFallbackTokens', sum(o => o.fallback))
      ctx.figure('batchVolumeToCheapestPct', delivered === 0 ? 0 : Math.round(sum(o => o.toCheapest) / delivered * 10_000) / 100)
      const tok = BigInt(delivered)
      const paid = sumB(os, o => o.paidPriceTok)
      ctx.figure('clearingPriceOutUc', tok === 0n ? '0' : (paid / tok).toString())
      ctx.figure('winnersPostedPriceOutUc', tok === 0n ? '0' : (sumB(os, o => o.postedPriceTok) / tok).toString())
      ctx.figure('clearingToPostedRatio', ratio(paid, sumB(os, o => o.postedPriceTok)))
      ctx.figure('clearingToCheapestPostedRatio', ratio(paid, sumB(os, o => o.cheapestPostedTok)))
      for (const [name, xs] of [['Urgent', os.filter(o => o.urgent)], ['Deferred', os.filter(o => !o.urgent)]] as const) {
        ctx.figure(`clearingToPostedRatio${name}`, ratio(sumB(xs, o => o.paidPriceTok), sumB(xs, o => o.postedPriceTok)))
      }
      const fill = summarize(os.filter(o => o.filledAfterMs != null).map(o => o.filledAfterMs as number))
      ctx.figure('timeToFillP50Ms', Math.round(fill.p50))
      ctx.figure('timeToFillP95Ms', Math.round(fill.p95))
    }
  })
}

export default batchAuction({ name: 'batch-auction', bids: true })
export const batchAuctionBaseline = batchAuction({ name: 'batch-auction-baseline', bids: false })

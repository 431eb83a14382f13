/**
 * The node's Prometheus metrics: what an operator needs to see (peers, gossip, the book, quotes,
 * sessions, tokens, credits, the ledger, sync, the engine), one prom-client Registry per node
 * (several nodes share a test process: never the global registry). Every value is read from the
 * services' own state and counters when scraped (`collect()`), so serving adds no hooks to them.
 * Money is µc as a JavaScript number: exact below 2^53 µc (9 billion credits); the ledger is
 * the account of record, never these values.
 */
import { Counter, Gauge, Registry } from 'prom-client'
import type { Libp2p } from '@libp2p/interface'
import type { OrderBook } from '../market/order-book.js'
import type { MarketService } from '../market/service.js'
import type { Negotiator } from '../contract/negotiate.js'
import { RefusalReason } from '../wire/pb/negotiate.js'
import type { LedgerService } from '../ledger/service.js'
import type { RecordGossip } from '../ledger/gossip.js'
import type { LedgerSync } from '../ledger/sync/service.js'
import type { BuyerSessions, SellerSessions } from '../exec/infer/sessions.js'
import type { MeterRecord } from '../exec/metering.js'
import { PARAMS_PER_BPT } from '../exec/pricing.js'
import { isPurchase, type CostBook } from './costs.js'
import type { Clock } from './clock.js'
import type { TallyNode } from './tally.js'

/** models named as label values at most (the book's largest by offers); the rest are summed as "other" */
export const MAX_MODEL_LABELS = 20
/** the label value for the models beyond MAX_MODEL_LABELS */
export const OTHER_MODELS = 'other'
/** a model id longer than this is not used as a label value (ids come from remote offers) */
const MAX_MODEL_LABEL_CHARS = 64

/** every refusal reason, so each series exists from the first scrape (the enum's values; its codec is not one) */
const REFUSAL_REASONS = Object.values(RefusalReason).filter((v): v is RefusalReason => typeof v === 'string')

/** µc in help texts: the one caveat every money series carries */
const UC_NOTE = 'µc (1e-6 credit) as a float: exact below 2^53 µc; for display and alerts, never for accounting'

/** what the node's metrics read; the TallyNode passes its own parts */
export interface NodeMetricsSources {
  /** this node's public key, hex (the ledger's `from` of its own records) */
  publicKeyHex: string
  libp2p: Pick<Libp2p, 'getPeers' | 'getConnections'>
  clock: Clock
  book: OrderBook
  market: Pick<MarketService, 'stats'>
  negotiator: Negotiator
  records: Pick<RecordGossip, 'verdicts'>
  sync: Pick<LedgerSync, 'stats'>
  ledger: LedgerService
  sellerSessions: SellerSessions
  buyerSessions: BuyerSessions
  /** requests this node sold, in order */
  meters: () => readonly MeterRecord[]
  costs: CostBook
}

/** money and token totals of one node, from its ledger, meters and cost book */
export interface NodeTotals {
  tokensServed: { input: number, output: number }
  tokensBought: { input: number, output: number }
  bptNanoServed: bigint
  bptNanoBought: bigint
  /** settles this node signed as seller (the lowest-id settle of each open, as balances count) */
  earnedUc: bigint
  /** settles charged to this node's opens */
  spentUc: bigint
}

/** Builds a registry over these sources; scrape it with `registry.metrics()`. */
export function nodeMetrics (src: NodeMetricsSources): NodeMetrics {
  return new NodeMetrics(src)
}

const attached = new WeakMap<TallyNode, NodeMetrics>()

/** The node's metrics, made on first call (the API server's start); every series reads totals the services keep since the node started. */
export function nodeMetricsOf (node: TallyNode): NodeMetrics {
  let m = attached.get(node)
  if (m == null) {
    const libp2p = node.libp2p
    m = nodeMetrics({
      publicKeyHex: Buffer.from(node.base.publicKey).toString('hex'),
      libp2p,
      clock: node.clock,
      book: node.book,
      market: node.market,
      negotiator: node.negotiator,
      records: libp2p.services.records,
      sync: libp2p.services.sync,
      ledger: node.ledger,
      sellerSessions: node.sellerSessions,
      buyerSessions: node.buyerSessions,
      meters: () => node.meterRecords,
      costs: node.costs
    })
    attached.set(node, m)
  }
  return m
}

/** the node's own series and libp2p's (when the node collects them), as Prometheus text */
export async function nodeMetricsText (node: TallyNode): Promise<string> {
  const own = await nodeMetricsOf(node).registry.metrics()
  const libp2p = node.base.libp2pMetrics
  return libp2p != null ? `${own}\n${promtoolClean(await libp2p.metrics())}` : own
}

/**
 * libp2p's families made clean under `promtool check metrics`, renamed where libp2p breaks a
 * rule: a gauge named `*_total` loses the suffix (libp2p_protocol_streams_total counts streams
 * open now), and a `*_milliseconds` gauge becomes `*_seconds` with its values divided by 1000.
 */
export function promtoolClean (text: string): string {
  const types = new Map<string, string>()
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2])
  const renames = new Map<string, { to: string, scale: number }>()
  for (const [name, type] of types) {
    if (type === 'counter') continue
    let to = name.endsWith('_total') ? name.slice(0, -'_total'.length) : name
    let scale = 1
    if (type === 'gauge' && /_milliseconds$/.test(to)) {
      to = to.replace(/_milliseconds$/, '_seconds')
      scale = 1000
    }
    if (to !== name && !types.has(to)) renames.set(name, { to, scale })
  }
  if (renames.size === 0) return text
  return text.split('\n').map(line => {
    const head = /^(# (?:HELP|TYPE) )(\S+)(.*)$/.exec(line)
    if (head != null) {
      const r = renames.get(head[2])
      return r != null ? `${head[1]}${r.to}${head[3]}` : line
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)(.*)$/.exec(line)
    const r = sample != null ? renames.get(sample[1]) : undefined
    if (sample == null || r == null) return line
    const v = r.scale === 1 ? sample[3] : String(Number(sample[3]) / r.scale)
    return `${r.to}${sample[2] ?? ''} ${v}${sample[4]}`
  }).join('\n')
}

export class NodeMetrics {
  readonly registry = new Registry()
  constructor (private readonly src: NodeMetricsSources) {
    const registers = [this.registry]
    const self = this // collect() runs with the metric as `this`

    new Gauge({
      name: 'tally_peers',
      help: 'peers this node holds a connection to',
      registers,
      collect () { this.set(src.libp2p.getPeers().length) }
    })
    new Gauge({
      name: 'tally_connections',
      help: 'open libp2p connections by path: direct, or relayed (limited by a relay)',
      labelNames: ['path'],
      registers,
      collect () {
        let relayed = 0
        const all = src.libp2p.getConnections()
        for (const c of all) if (c.limits != null) relayed++
        this.set({ path: 'direct' }, all.length - relayed)
        this.set({ path: 'relayed' }, relayed)
      }
    })
    new Counter({
      name: 'tally_gossip_messages_total',
      help: 'gossiped messages validated, by topic kind and verdict (accept forwards, ignore drops, reject drops and scores the sender down)',
      labelNames: ['topic', 'verdict'],
      registers,
      collect () {
        const m = src.market.stats
        const r = src.records.verdicts
        setCounters(this, [
          [{ topic: 'offers', verdict: 'accept' }, m.offersAccepted],
          [{ topic: 'offers', verdict: 'ignore' }, m.offersIgnored],
          [{ topic: 'offers', verdict: 'reject' }, m.offersRejected],
          [{ topic: 'bids', verdict: 'accept' }, m.bidsAccepted],
          [{ topic: 'bids', verdict: 'ignore' }, m.bidsIgnored],
          [{ topic: 'bids', verdict: 'reject' }, m.bidsRejected],
          [{ topic: 'records', verdict: 'accept' }, r.accept],
          [{ topic: 'records', verdict: 'ignore' }, r.ignore],
          [{ topic: 'records', verdict: 'reject' }, r.reject]
        ])
      }
    })
    new Gauge({
      name: 'tally_offers',
      help: `live offers in this node's order book by model (the ${MAX_MODEL_LABELS} models with most offers; the rest as model="${OTHER_MODELS}")`,
      labelNames: ['model'],
      registers,
      collect () {
        this.reset()
        for (const [model, n] of offersByModel(src.book, src.clock.now())) this.set({ model }, n)
      }
    })
    new Counter({
      name: 'tally_quotes_issued_total',
      help: 'quotes this node issued as seller',
      registers,
      collect () { setCounters(this, [[{}, src.negotiator.stats.quotesIssued]]) }
    })
    new Counter({
      name: 'tally_quotes_refused_total',
      help: 'quote requests or accepts this node refused as seller, by reason (negotiate.md refusal reasons)',
      labelNames: ['reason'],
      registers,
      collect () {
        const by = src.negotiator.stats.refusedByReason
        setCounters(this, REFUSAL_REASONS.map(reason => [{ reason: reason.toLowerCase() }, by[reason] ?? 0]))
      }
    })
    new Counter({
      name: 'tally_contracts_total',
      help: 'contracts signed, as seller (countersigned and delivered) and as buyer (verified)',
      labelNames: ['role'],
      registers,
      collect () {
        setCounters(this, [
          [{ role: 'seller' }, src.negotiator.stats.contractsSigned],
          [{ role: 'buyer' }, src.negotiator.stats.contractsBought]
        ])
      }
    })
    new Gauge({
      name: 'tally_sessions_open',
      help: 'inference sessions open, as seller and as buyer',
      labelNames: ['role'],
      registers,
      collect () {
        this.set({ role: 'seller' }, src.sellerSessions.list().filter(x => !x.closed).length)
        this.set({ role: 'buyer' }, src.buyerSessions.openCount())
      }
    })
    // the totals are computed once per scrape and shared by the families below
    let totals: NodeTotals | undefined
    new Counter({
      name: 'tally_tokens_total',
      help: 'tokens served (as seller, metered) and bought (as buyer, routed), by direction (input: prompt, output: completion)',
      labelNames: ['role', 'direction'],
      registers,
      collect () {
        totals = self.totals()
        setCounters(this, [
          [{ role: 'seller', direction: 'input' }, totals.tokensServed.input],
          [{ role: 'seller', direction: 'output' }, totals.tokensServed.output],
          [{ role: 'buyer', direction: 'input' }, totals.tokensBought.input],
          [{ role: 'buyer', direction: 'output' }, totals.tokensBought.output]
        ])
      }
    })
    new Counter({
      name: 'tally_bpt_total',
      help: 'Bpt (tokens × model parameters / 1e9) served as seller and bought as buyer',
      labelNames: ['role'],
      registers,
      collect () {
        const t = totals ?? self.totals()
        setCounters(this, [
          [{ role: 'seller' }, Number(t.bptNanoServed) / Number(PARAMS_PER_BPT)],
          [{ role: 'buyer' }, Number(t.bptNanoBought) / Number(PARAMS_PER_BPT)]
        ])
      }
    })
    new Counter({
      name: 'tally_earned_microcredits_total',
      help: `credits earned as seller: the settles this node signed; ${UC_NOTE}`,
      registers,
      collect () { setCounters(this, [[{}, Number((totals ?? self.totals()).earnedUc)]]) }
    })
    new Counter({
      name: 'tally_spent_microcredits_total',
      help: `credits spent as buyer: what settles charged this node's sessions; ${UC_NOTE}`,
      registers,
      collect () { setCounters(this, [[{}, Number((totals ?? self.totals()).spentUc)]]); totals = undefined }
    })
    new Gauge({
      name: 'tally_balance_microcredits',
      help: `this account's balance (credits minus debits over valid records); ${UC_NOTE}`,
      registers,
      collect () { this.set(Number(src.ledger.balance(src.publicKeyHex).balanceUc)) }
    })
    new Gauge({
      name: 'tally_locked_microcredits',
      help: `locked by this account's opens that no settle closed yet; ${UC_NOTE}`,
      registers,
      collect () { this.set(Number(src.ledger.balance(src.publicKeyHex).lockedUc)) }
    })
    new Gauge({
      name: 'tally_ledger_records',
      help: 'valid ledger records this node holds',
      registers,
      collect () { this.set(src.ledger.ledger.size) }
    })
    new Gauge({
      name: 'tally_ledger_pending_records',
      help: 'ledger records held while their ancestors are missing',
      registers,
      collect () { this.set(src.ledger.ledger.pendingSize) }
    })
    new Gauge({
      name: 'tally_ledger_forks',
      help: 'forks seen: fraud proofs held (two records one account signed for the same seq)',
      registers,
      collect () { this.set(src.ledger.fraudProofs().length) }
    })
    new Counter({
      name: 'tally_sync_sessions_total',
      help: 'ledger reconciliations (Negentropy) by role: initiated by this node, or served to a peer',
      labelNames: ['role'],
      registers,
      collect () {
        setCounters(this, [
          [{ role: 'initiator' }, src.sync.stats.initiated.sessions],
          [{ role: 'responder' }, src.sync.stats.served.sessions]
        ])
      }
    })
    new Counter({
      name: 'tally_sync_rounds_total',
      help: 'ledger reconciliation rounds (one frame each way) by role',
      labelNames: ['role'],
      registers,
      collect () {
        setCounters(this, [
          [{ role: 'initiator' }, src.sync.stats.initiated.rounds],
          [{ role: 'responder' }, src.sync.stats.served.rounds]
        ])
      }
    })
    new Counter({
      name: 'tally_sync_bytes_total',
      help: 'ledger reconciliation frame bytes by role and direction (records fetched afterwards are not counted)',
      labelNames: ['role', 'direction'],
      registers,
      collect () {
        const { initiated: i, served: s } = src.sync.stats
        setCounters(this, [
          [{ role: 'initiator', direction: 'sent' }, i.bytesSent],
          [{ role: 'initiator', direction: 'received' }, i.bytesReceived],
          [{ role: 'responder', direction: 'sent' }, s.bytesSent],
          [{ role: 'responder', direction: 'received' }, s.bytesReceived]
        ])
      }
    })
    new Gauge({
      name: 'tally_engine_tokens_per_second',
      help: 'decode speed of the last request this node served as seller (output tokens per second after the first); 0 before any',
      registers,
      collect () {
        const m = src.meters()
        this.set(m.length > 0 ? m[m.length - 1].tokensPerSec : 0)
      }
    })
  }

  /** tokens, Bpt and credits served, bought, earned and spent, from the node's own records */
  totals (): NodeTotals {
    const t: NodeTotals = { tokensServed: { input: 0, output: 0 }, tokensBought: { input: 0, output: 0 }, bptNanoServed: 0n, bptNanoBought: 0n, earnedUc: 0n, spentUc: 0n }
    for (const m of this.src.meters()) {
      t.tokensServed.input += m.inputTokens
      t.tokensServed.output += m.outputTokens
      t.bptNanoServed += m.bptNano
    }
    for (const e of this.src.costs.all()) {
      if (!isPurchase(e.kind)) continue
      t.tokensBought.input += e.inputTokens
      t.tokensBought.output += e.outputTokens
      t.bptNanoBought += e.tokenParams
    }
    const me = this.src.publicKeyHex
    const myOpens = new Set<string>()
    // the settle that counts for an open is its lowest-id valid one (ledger.md)
    const settles = new Map<string, { id: string, from: string, amountUc: bigint }>()
    for (const r of this.src.ledger.ledger.history(me)) {
      if (r.kind.type === 'open' && r.from === me) myOpens.add(r.id)
      if (r.kind.type === 'settle') {
        const s = settles.get(r.kind.openId)
        if (s == null || r.id < s.id) settles.set(r.kind.openId, { id: r.id, from: r.from, amountUc: r.kind.amountUc })
      }
    }
    for (const [openId, s] of settles) {
      if (s.from === me) t.earnedUc += s.amountUc
      if (myOpens.has(openId)) t.spentUc += s.amountUc
    }
    return t
  }
}

/** a counter's series set to running totals the services keep (prom-client counters only add) */
function setCounters (c: Counter, rows: Array<[Record<string, string>, number]>): void {
  c.reset()
  for (const [labels, total] of rows) c.inc(labels, total)
}

/** live offers per model: the MAX_MODEL_LABELS models with most offers by name, the rest as OTHER_MODELS */
export function offersByModel (book: OrderBook, nowMs: number): Array<[string, number]> {
  return boundedModels(book.modelSummaries(nowMs))
}

/** offers per model as bounded label values: at most MAX_MODEL_LABELS safe ids, the rest summed as OTHER_MODELS */
export function boundedModels (summaries: ReadonlyArray<{ modelId: string, sellers: number }>): Array<[string, number]> {
  const rows = summaries
    .map(m => [m.modelId, m.sellers] as [string, number])
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const out: Array<[string, number]> = []
  let other = 0
  for (const [model, n] of rows) {
    if (out.length < MAX_MODEL_LABELS && model !== OTHER_MODELS && isLabelSafe(model)) out.push([model, n])
    else other += n
  }
  if (other > 0) out.push([OTHER_MODELS, other])
  return out
}

/** a model id fit to be a label value: short, printable ASCII */
function isLabelSafe (model: string): boolean {
  return model.length > 0 && model.length <= MAX_MODEL_LABEL_CHARS && /^[\x21-\x7e]+$/.test(model)
}

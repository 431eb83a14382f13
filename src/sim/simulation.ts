/**
 * runSimulation: N real Tally nodes (the production createTallyNode) in one process on the
 * memory transport with plaintext encryption, seeded randomness and scaled timers, driven by a
 * scenario; it measures the market and the ledger from the nodes' own events and returns a
 * JSON-able SimResult (bigints as strings).
 */
import '../polyfill.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { multiaddr } from '@multiformats/multiaddr'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { createTallyNode, type TallyNode, type TallyNodeInit } from '../node/tally.js'
import { parseConfig } from '../node/config.js'
import { identityFromSeed } from '../identity/keystore.js'
import { parseRecord } from '../ledger/record.js'
import { SimulatedBackend } from '../exec/backends/simulated.js'
import { DEFAULT_DIAL_TIMEOUT_MS as DEFAULT_INFER_DIAL_TIMEOUT_MS } from '../exec/infer/buyer.js'
import { DEFAULT_NEGOTIATE_TIMEOUT_MS } from '../contract/negotiate.js'
import { createEmbeddedBackend } from '../exec/backends/embedded/index.js'
import { ensureTinyModel, TINY_MODEL_ID } from '../exec/model/tiny.js'
import { createHash } from 'node:crypto'
import { createRng, peerSeed, type Rng } from './rng.js'
import { lossLedger, type LossLedger } from './losses.js'
import { SimNetwork, simTransport, DEFAULT_JITTER, DEFAULT_RTO_MS } from './net/index.js'
import { summarize, type Summary } from './stats.js'
import { VirtualClock, installedClock, wallNowMs } from './clock.js'
import type { AddPeerOptions, PeerRole, RequestView, Scenario, SimContext, SimPeer } from './scenario.js'
import { ErrorCode, TallyError } from '../errors/index.js'

export const SIM_MODEL = 'sim-7b'
export const SIM_MODEL_PARAMS = 7_000_000_000
/** offers re-announce this often in simulations (30 s in production): scaled for short runs */
export const SIM_ANNOUNCE_INTERVAL_MS = 5_000
/** ledger pull sync period in simulations (at least: it grows with N, see SYNC_MS_PER_PEER) */
export const SIM_SYNC_INTERVAL_MS = 2_000
/** per peer: each node reconciles with a random peer once per interval, N of them per interval in this process */
const SYNC_MS_PER_PEER = 20
/** each new peer dials this many random earlier peers */
export const SIM_BOOTSTRAP_PEERS = 3
/** traffic ticks are at least 5 ms apart: at most 200 requests per second */
export const MAX_REQUESTS_PER_SEC = 200
export const MIN_REQUESTS_PER_SEC = 0.1
/** at most this many well-known bootstrap nodes (bootstrapNodes) */
export const MAX_BOOTSTRAP_NODES = 16
/**
 * per peer: every announce costs about N × 3 deliveries in this one process, and there are
 * sellers (∝ N) of them per interval, so the interval grows with N: 100 peers re-announce every
 * 30 s (the production interval), 300 and more every 90 s (offers expire after 2 min)
 */
const ANNOUNCE_MS_PER_PEER = 300
/** offers expire after 2 min: re-announce at least this often whatever N */
const MAX_ANNOUNCE_INTERVAL_MS = 90_000
/** mean gap between the sellers' reprices that measure offer propagation (independent sellers, not one burst) */
const REPRICE_GAP_MS = 100
/** at most this many sellers reprice to measure propagation (enough samples for a p95) */
const PROPAGATION_SAMPLES = 60
/**
 * per peer, added to the reprice gap: every reprice costs N × mesh-degree deliveries in this one
 * process, so the gap grows with N to keep the measurement's own load per second constant
 */
const REPRICE_GAP_MS_PER_PEER = 2
/**
 * mean one-way latency of a simulated link (each link is fixed within ±50 % of it): a propagation
 * delay, not a throughput cap (src/sim/net)
 */
export const DEFAULT_SIM_LATENCY_MS = 10
/** sellers running a real engine (one child process each) */
export const MAX_EMBEDDED_SELLERS = 8
/** share of the traffic asking for the embedded sellers' model when there are any */
const EMBEDDED_TRAFFIC_SHARE = 0.2
/** nodes started at once while building the network */
const START_BATCH = 20
/** per peer, added to the protocol timeouts: one event loop carries every node, so it lags with N */
const LOAD_MS_PER_PEER = 20
/** the first token must come this fast or the buyer falls back (simulated sellers are fast) */
const SIM_FIRST_TOKEN_TIMEOUT_MS = 2_000
/** ... or within this many times the simulated sellers' TTFT, when they are slow */
const FIRST_TOKEN_TIMEOUT_TTFTS = 4
/** the simulated backend by default: fast, so short runs carry many requests */
export const DEFAULT_SIM_TOKENS_PER_SEC = 2_000
export const DEFAULT_SIM_TTFT_MS = 20
export const MAX_SIM_TOKENS_PER_SEC = 1_000_000
export const MAX_SIM_TTFT_MS = 60_000
/** a buyer closes a warm session unused this long (60 s in production): scaled */
const SIM_IDLE_CLOSE_MS = 10_000
/** a seller waits this long for a lagging voucher (10 s in production): scaled */
export const SIM_VOUCHER_TIMEOUT_MS = 2_000
/** how long the end of a run waits for settles and equal balance views */
const SETTLE_WAIT_MS = 20_000
const SAMPLE_CAP = 5_000
/** failed requests described in the timeline (the rest are only counted) */
const MAX_FAILURE_EVENTS = 20
/** once ledgers agree, wait this much longer for sellers' open sessions to settle */
const OPEN_SESSION_GRACE_MS = 3_000

export class SimulationError extends TallyError {
  override name = 'SimulationError'
  override readonly code: ErrorCode = ErrorCode.simulation
}

export interface SimulationOptions {
  peers: number
  scenario: Scenario
  seed?: string | number
  /** trading time after the network is up; default the scenario's (or 20 s) */
  durationMs?: number
  sellersShare?: number
  /** mean one-way link latency, ms (default 10) */
  latencyMs?: number
  /** each link's latency is uniform in latencyMs × [1 − jitter, 1 + jitter] (default 0.5) */
  jitter?: number
  /** share of buffers lost and retransmitted after 200 ms (default 0) */
  lossRate?: number
  requestsPerSec?: number
  /** this many sellers run the real embedded engine on the tiny model instead of the simulated backend (default 0) */
  embeddedSellers?: number
  /**
   * every peer dials the first k peers (k well-known bootstrap nodes, as a deployment would) instead
   * of 3 random earlier peers: Tally has no peer discovery beyond its bootstrap list yet, so this is
   * the topology of a real network today (1..16; default: random)
   */
  bootstrapNodes?: number
  /** the simulated backend's output speed after the first token, tokens/s (default 2,000) */
  tokensPerSec?: number
  /** the simulated backend's delay before the first token, ms (default 20) */
  ttftMs?: number
  /**
   * 'virtual' (default): discrete-event time (src/sim/clock.ts), each node as if on its own fast
   * CPU, one seed one result; 'real' (default with embedded sellers): the nodes run on wall
   * time, so one busy thread delays them all
   */
  clock?: SimClock
  onProgress?: (p: SimProgress) => void
  signal?: AbortSignal
}

export type SimClock = 'real' | 'virtual'
export const SIM_CLOCKS: readonly SimClock[] = ['real', 'virtual']

export interface SimProgress {
  phase: 'starting' | 'warming' | 'measuring' | 'trading' | 'settling' | 'stopping' | 'done'
  /** peers started (starting), peers whose book holds every offer (warming), reprices (measuring) or ms of trading done (trading) */
  done: number
  total: number
}

export interface SellerShare {
  index: number
  account: string
  adversary: string
  priceOutUc: string
  requests: number
  sharePct: number
}

export interface SimResult {
  scenario: string
  description: string
  seed: string
  /** which time the nodes ran on (every ms figure is in it) */
  clock: SimClock
  peers: number
  sellers: number
  buyers: number
  adversaries: number
  durationMs: number
  latencyMs: number
  /** the simulated links: latency model, loss and what crossed them */
  links: { latencyMs: number, jitter: number, lossRate: number, rtoMs: number, buffers: number, bytes: number, retransmits: number, connections: number }
  backend: string
  /** sellers running the real embedded engine, and the requests that went to their model */
  embedded: { sellers: number, model: string, requests: number, completed: number }
  requests: { sent: number, completed: number, failed: number, withFallback: number, errors: Record<string, number>, skippedBusy: number, late: number }
  /** the seeded plan: same seed, same digest (roles, prices, topology, traffic ticks) */
  plan: { digest: string, trafficTicks: number }
  /** per honest account: what it lost and the protocols' bound */
  losses: LossLedger
  offerPropagationMs: Summary & { unfinished: number }
  negotiationMs: Summary
  ttftMs: Summary
  requestMs: Summary
  settlementConvergenceMs: Summary & { unfinished: number }
  divergence: Array<{ tMs: number, views: number }>
  balancesAgree: boolean
  finalBalanceViews: number
  sumOfBalancesUc: string
  settledSessions: number
  doubleSpendFlaggedMs?: Summary & { nodes: number, flaggedOn: number }
  market: {
    sellers: SellerShare[]
    priceDispersionCv: number
    minPriceOutUc: string
    maxPriceOutUc: string
    /** share of completed requests served by the cheapest third of honest sellers */
    cheapestThirdSharePct: number
  }
  resources: { simulatedMs: number, rssBeforeMb: number, rssAfterStartMb: number, rssEndMb: number, rssPerPeerMb: number, addedRssPerPeerMb: number, heapUsedPerPeerMb: number, cpuUserMs: number, cpuSystemMs: number, cpuPerPeerPct: number, wallMs: number, startMs: number }
  figures: Record<string, number | string | boolean>
  metrics: Record<string, Summary>
  events: Array<{ tMs: number, what: string }>
  samples: Record<string, number[]>
}

interface RequestSample extends RequestView { ttftMs?: number, totalMs: number, model?: string }

const mb = (b: number): number => Math.round(b / 1048576 * 100) / 100

function balanceView (n: TallyNode): string {
  return n.balances().map(b => `${b.account}:${b.balanceUc}:${b.lockedUc}`).join('|')
}

/** the gossipsub views the simulator reads (its figures, not the protocol) */
interface GossipView { getScore: (peer: string) => number, getPeers: () => Array<{ toString: () => string }>, getMeshPeers: (topic: string) => unknown[] }
const pubsubOf = (n: TallyNode): GossipView => n.libp2p.services.pubsub as unknown as GossipView

function cap<T> (xs: T[]): T[] { return xs.length > SAMPLE_CAP ? xs.slice(0, SAMPLE_CAP) : xs }

/** the partition state every node's connection gater reads */
class Cut {
  groups = new Map<string, number>()
  denies (a: string, b: string): boolean {
    const ga = this.groups.get(a); const gb = this.groups.get(b)
    return ga != null && gb != null && ga !== gb
  }

  gater (self: () => string): ConnectionGater {
    return {
      denyDialPeer: async (peer: PeerId) => this.denies(self(), peer.toString()),
      denyInboundEncryptedConnection: async (peer: PeerId) => this.denies(self(), peer.toString()),
      denyOutboundEncryptedConnection: async (peer: PeerId) => this.denies(self(), peer.toString())
    }
  }
}

export async function runSimulation (opts: SimulationOptions): Promise<SimResult> {
  // virtual unless a real engine runs (it answers on wall time)
  const clockKind = opts.clock ?? ((opts.embeddedSellers ?? 0) > 0 ? 'real' : 'virtual')
  if (!SIM_CLOCKS.includes(clockKind)) throw new SimulationError(`clock must be one of ${SIM_CLOCKS.join(', ')}, got ${String(clockKind)}`)
  if (clockKind === 'real') return await simulate(opts, 'real')
  // the real engine answers on wall time in a child process: it cannot follow a virtual clock
  if ((opts.embeddedSellers ?? 0) > 0) throw new SimulationError('embedded sellers need the real clock (they run in a child process on wall time)')
  if (installedClock() != null) throw new SimulationError('a virtual-clock simulation is already running in this process')
  const clock = new VirtualClock()
  // with time virtual, the libraries' own draws (gossipsub's mesh and gossip picks) are the last
  // thing that differs between two runs of one seed: they draw from the seed too
  const mathRandom = Math.random
  Math.random = createRng(`${String(opts.seed ?? 1)}/math-random`).next
  clock.install()
  try {
    return await simulate(opts, 'virtual')
  } finally {
    clock.uninstall()
    Math.random = mathRandom
  }
}

async function simulate (opts: SimulationOptions, clockKind: SimClock): Promise<SimResult> {
  const scenario = opts.scenario
  const d = scenario.defaults
  if (!Number.isInteger(opts.peers) || opts.peers < 2) throw new SimulationError(`peers must be an integer ≥ 2, got ${opts.peers}`)
  const seed = String(opts.seed ?? 1)
  const durationMs = opts.durationMs ?? d.durationMs ?? 20_000
  const sellersShare = opts.sellersShare ?? d.sellersShare ?? 0.3
  const latencyMs = opts.latencyMs ?? d.latencyMs ?? DEFAULT_SIM_LATENCY_MS
  const lossRate = opts.lossRate ?? d.lossRate ?? 0
  // every new session costs an open, a settle and an ack, each delivered to all N nodes in this one
  // process: above 100 peers the default rate falls with N so the run stays within one core
  const requestsPerSec = opts.requestsPerSec ?? d.requestsPerSec ?? Math.max(2, Math.min(20, opts.peers / 10, 2_000 / opts.peers))
  if (!(requestsPerSec >= MIN_REQUESTS_PER_SEC && requestsPerSec <= MAX_REQUESTS_PER_SEC)) throw new SimulationError(`requestsPerSec must be between ${MIN_REQUESTS_PER_SEC} and ${MAX_REQUESTS_PER_SEC}, got ${requestsPerSec}`)
  if (!(sellersShare > 0 && sellersShare < 1)) throw new SimulationError('sellersShare must be between 0 and 1')
  if (!(durationMs > 0)) throw new SimulationError('durationMs must be positive')
  const embeddedSellers = opts.embeddedSellers ?? 0
  if (!Number.isInteger(embeddedSellers) || embeddedSellers < 0 || embeddedSellers > MAX_EMBEDDED_SELLERS) throw new SimulationError(`embeddedSellers must be an integer 0..${MAX_EMBEDDED_SELLERS}, got ${embeddedSellers}`)
  const bootstrapNodes = opts.bootstrapNodes
  if (bootstrapNodes != null && (!Number.isInteger(bootstrapNodes) || bootstrapNodes < 1 || bootstrapNodes > MAX_BOOTSTRAP_NODES)) throw new SimulationError(`bootstrapNodes must be an integer 1..${MAX_BOOTSTRAP_NODES}, got ${bootstrapNodes}`)
  const tokensPerSec = opts.tokensPerSec ?? DEFAULT_SIM_TOKENS_PER_SEC
  if (!Number.isInteger(tokensPerSec) || tokensPerSec < 1 || tokensPerSec > MAX_SIM_TOKENS_PER_SEC) throw new SimulationError(`tokensPerSec must be an integer 1..${MAX_SIM_TOKENS_PER_SEC}, got ${tokensPerSec}`)
  const ttftMs = opts.ttftMs ?? DEFAULT_SIM_TTFT_MS
  if (!Number.isInteger(ttftMs) || ttftMs < 0 || ttftMs > MAX_SIM_TTFT_MS) throw new SimulationError(`ttftMs must be an integer 0..${MAX_SIM_TTFT_MS}, got ${ttftMs}`)
  const tinyModelPath = embeddedSellers > 0 ? ensureTinyModel() : ''
  let net: SimNetwork
  try {
    net = new SimNetwork({ latencyMs, jitter: opts.jitter ?? DEFAULT_JITTER, lossRate, rtoMs: DEFAULT_RTO_MS, seed: `${seed}/links`, random: createRng(`${seed}/loss`).next })
  } catch (err: any) {
    throw new SimulationError(`links: ${err?.message ?? err}`)
  }
  // one seeded stream per concern, so timing in one (e.g. which peer a sync picks) never shifts
  // another (which buyer asks what): one seed, one plan
  const rng: Rng = createRng(`${seed}/network`)
  const trafficRng: Rng = createRng(`${seed}/traffic`)
  const scenarioRng: Rng = createRng(`${seed}/scenario`)
  const syncRng: Rng = createRng(`${seed}/sync`)
  const plan = createHash('sha256')
  const planned = (what: string): void => { plan.update(what).update('\n') }
  // on wall time one event loop carries every node and lags with N; on virtual time it does not
  const loadScaledMs = (ms: number): number => clockKind === 'real' ? ms + opts.peers * LOAD_MS_PER_PEER : ms
  const progress = opts.onProgress ?? (() => {})
  const dataDir = mkdtempSync(join(tmpdir(), 'tally-sim-'))
  const config = parseConfig({ dataDir, transport: 'memory', simulation: true, encryption: 'plaintext' })
  const cut = new Cut()
  const wallStart = wallNowMs()
  const simStart = performance.now()
  const cpuStart = process.cpuUsage()
  const rssBefore = process.memoryUsage().rss

  const peers: SimPeer[] = []
  const events: Array<{ tMs: number, what: string }> = []
  const custom = new Map<string, number[]>()
  const figures: Record<string, number | string | boolean> = {}
  const requests: RequestSample[] = []
  const negotiationMs: number[] = []
  // offer propagation: (seller account:price) → published at; seen per peer index
  const offerPublished = new Map<string, { atMs: number, seller: number, seen: Map<number, number> }>()
  // settlement convergence: record id → created at; seen per peer index
  const recordMade = new Map<string, { atMs: number, maker: number, seen: Map<number, number> }>()
  const divergence: Array<{ tMs: number, views: number }> = []
  let doubleSpend: { account: string, atMs: number, flagged: Map<number, number> } | undefined
  let tradingStart = 0
  const nowMs = (): number => performance.now() - simStart
  const event = (what: string): void => { events.push({ tMs: Math.round(nowMs() - tradingStart), what }) }

  const rounded = (p: bigint): bigint => p
  const marketPrice = (): bigint => rounded(BigInt(rng.int(3_000, 12_000)) * 1_000n)

  const buildNode = async (index: number, role: PeerRole, generation: number, priceOutUc: bigint, extra: Partial<TallyNodeInit> = {}): Promise<TallyNode> => {
    const identity = identityFromSeed(peerSeed(seed, index, generation))
    const live = peers.filter(p => p.running && p.index !== index)
    const bootPeers = bootstrapNodes != null ? live.filter(p => p.index < bootstrapNodes) : rng.sample(live, SIM_BOOTSTRAP_PEERS)
    planned(`node ${index}.${generation} ${role} ${priceOutUc} boot ${bootPeers.map(p => p.index).join(',')}`)
    const boot = bootPeers.flatMap(p => p.node.addrs().slice(0, 1))
    const cfg = { ...config, bootstrap: boot }
    const init: TallyNodeInit = {
      identity,
      memoryLedger: true,
      transport: simTransport(net),
      // a cheap seller is dialled by many buyers at once: more than libp2p's 10 pending upgrades
      connectionManager: { maxIncomingPendingConnections: 256, maxConnections: Math.max(300, opts.peers + 50) },
      connectionGater: cut.gater(() => identity.account),
      // every re-announce is verified by every node: O(sellers × N) signatures per interval, so both scale with N
      market: { announceIntervalMs: Math.min(MAX_ANNOUNCE_INTERVAL_MS, Math.max(SIM_ANNOUNCE_INTERVAL_MS, opts.peers * ANNOUNCE_MS_PER_PEER)) },
      sync: { intervalMs: Math.max(SIM_SYNC_INTERVAL_MS, opts.peers * SYNC_MS_PER_PEER), random: () => syncRng.next() },
      // an idle warm session holds a seller's slot: short runs close them after a few seconds
      buy: { firstTokenTimeoutMs: loadScaledMs(Math.max(SIM_FIRST_TOKEN_TIMEOUT_MS, FIRST_TOKEN_TIMEOUT_TTFTS * ttftMs)), maxAttempts: 4, idleCloseMs: SIM_IDLE_CLOSE_MS },
      inferSeller: { voucherTimeoutMs: loadScaledMs(SIM_VOUCHER_TIMEOUT_MS) },
      inferBuyer: { dialTimeoutMs: loadScaledMs(DEFAULT_INFER_DIAL_TIMEOUT_MS) },
      negotiate: { timeoutMs: loadScaledMs(DEFAULT_NEGOTIATE_TIMEOUT_MS) },
      ...(role === 'seller'
        ? {
            sell: embedded.has(index)
              // the real engine on the tiny model (toy weights): one child process, one session at a time
              ? { backend: await createEmbeddedBackend({ modelPath: tinyModelPath, threads: 1, maxConcurrency: 1 }), priceInPerMTokUc: priceOutUc / 4n, priceOutPerMTokUc: priceOutUc, maxSessions: 1 }
              : { backend: new SimulatedBackend({ modelId: SIM_MODEL, params: SIM_MODEL_PARAMS, tokensPerChunk: 4, tokensPerSec, ttftMs, maxConcurrency: 8 }), priceInPerMTokUc: priceOutUc / 4n, priceOutPerMTokUc: priceOutUc }
          }
        : {}),
      ...extra
    }
    if (extra.sell != null) init.sell = extra.sell
    const node = await createTallyNode(cfg, init)
    node.ledger.onRecord((bytes, id) => {
      const type = parseRecord(bytes, { net: node.net, trusted: true }).kind.type
      if (type === 'settle' || type === 'transfer') recordMade.set(id, { atMs: nowMs(), maker: index, seen: new Map() })
    })
    node.on('record', (r) => {
      if (r.type !== 'settle' && r.type !== 'transfer') return
      const m = recordMade.get(r.id)
      if (m != null && !m.seen.has(index)) m.seen.set(index, nowMs())
    })
    await node.start()
    // every path an offer takes into the book counts: gossip, or a neighbour's book on join
    node.book.onAdd((offer, status) => {
      if (status !== 'accepted') return
      const p = offerPublished.get(`${offer.sellerId}:${offer.priceOutPerMTokUc}`)
      if (p != null && !p.seen.has(index)) p.seen.set(index, nowMs())
    })
    const neg = node.negotiator
    const original = neg.negotiate.bind(neg)
    neg.negotiate = async (...args: Parameters<typeof original>) => {
      const t0 = performance.now()
      const c = await original(...args)
      negotiationMs.push(performance.now() - t0)
      return c
    }
    return node
  }

  const publishPrice = async (p: SimPeer, priceOutUc: bigint): Promise<void> => {
    const model = embedded.has(p.index) ? TINY_MODEL_ID : SIM_MODEL
    const terms = p.node.market.ownTerms(model)
    if (terms == null) throw new SimulationError(`peer ${p.index} sells no ${model}`)
    offerPublished.set(`${p.node.account}:${priceOutUc}`, { atMs: nowMs(), seller: p.index, seen: new Map() })
    p.priceOutUc = priceOutUc
    await p.node.market.setOffer({ ...terms, priceOutPerMTokUc: priceOutUc, priceInPerMTokUc: priceOutUc / 4n })
  }

  const addPeer = async (role: PeerRole, o: Partial<AddPeerOptions> = {}): Promise<SimPeer> => {
    const index = peers.length
    const price = o.priceOutUc ?? (role === 'seller' ? marketPrice() : 0n)
    const peer: SimPeer = { index, role, adversary: o.adversary, node: undefined as unknown as TallyNode, running: false, startedAtMs: 0, priceOutUc: price, generation: 0 }
    peers.push(peer)
    peer.node = await buildNode(index, role, 0, price, o.init)
    peer.running = true
    peer.startedAtMs = nowMs()
    if (o.trades === true || (o.trades == null && o.adversary == null && role === 'buyer')) traders.add(index)
    return peer
  }
  const traders = new Set<number>()
  /** peers whose seller runs the embedded engine */
  const embedded = new Set<number>()

  // ---- build the network ----
  const nSellers = Math.max(1, Math.min(opts.peers - 1, Math.round(opts.peers * sellersShare)))
  const roles: PeerRole[] = rng.shuffle(Array.from({ length: opts.peers }, (_, i) => i < nSellers ? 'seller' as const : 'buyer' as const))
  // the first peer is a seller so early buyers see an offer soon
  const first = roles.indexOf('seller'); roles[first] = roles[0]; roles[0] = 'seller'
  // the last sellers to start run the real engine (the first one stays simulated)
  for (let i = roles.length - 1; i > 0 && embedded.size < Math.min(embeddedSellers, nSellers - 1); i--) if (roles[i] === 'seller') embedded.add(i)
  progress({ phase: 'starting', done: 0, total: opts.peers })
  await addPeer(roles[0])
  for (let i = 1; i < roles.length;) {
    // peers in a batch bootstrap to peers started before the batch; a batch is never larger than
    // the network before it, so the first peers do not all hang on peer 0 (a star)
    const batch = roles.slice(i, i + Math.min(START_BATCH, peers.length))
    i += batch.length
    const base = peers.length
    const made = await Promise.all(batch.map(async (role, k) => {
      const index = base + k
      const price = role === 'seller' ? marketPrice() : 0n
      const peer: SimPeer = { index, role, node: undefined as unknown as TallyNode, running: false, startedAtMs: 0, priceOutUc: price, generation: 0 }
      return peer
    }))
    peers.push(...made)
    await Promise.all(made.map(async (peer) => {
      peer.node = await buildNode(peer.index, peer.role, 0, peer.priceOutUc)
      peer.running = true
      peer.startedAtMs = nowMs()
      if (peer.role === 'buyer') traders.add(peer.index)
    }))
    progress({ phase: 'starting', done: peers.length, total: opts.peers })
    if (opts.signal?.aborted === true) break
  }
  const startMs = nowMs()
  // let the offers reach every book before trading (progress: peers whose book is full)
  const sellerCount = peers.filter(p => p.role === 'seller' && !embedded.has(p.index)).length
  const warmDeadline = performance.now() + Math.max(10_000, opts.peers * 40)
  const simSeller = (p: SimPeer): number => p.role === 'seller' && !embedded.has(p.index) ? 1 : 0
  const bookFull = (p: SimPeer): boolean => p.node.offerList(SIM_MODEL).length >= sellerCount - simSeller(p)
  for (;;) {
    const full = peers.filter(bookFull).length
    progress({ phase: 'warming', done: full, total: peers.length })
    if (full === peers.length || performance.now() >= warmDeadline) break
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  // memory once the network is up and every book is full
  const rssAfterStart = process.memoryUsage().rss
  const heapAfterStart = process.memoryUsage().heapUsed
  figures.offersEverywhereAtStart = peers.every(bookFull)

  // sellers republish once at a new price on the full network, one at a time: the offer
  // propagation samples (before trading, so no buyer is caught between two prices by this)
  const repricers = rng.sample(peers.filter(p => p.role === 'seller' && !embedded.has(p.index)), PROPAGATION_SAMPLES)
  // on the virtual clock the measurement's own load costs wall time only: the gap stays short
  const gapMs = REPRICE_GAP_MS + (clockKind === 'real' ? opts.peers * REPRICE_GAP_MS_PER_PEER : 0)
  for (const [i, s] of repricers.entries()) {
    progress({ phase: 'measuring', done: i, total: repricers.length })
    const bump = BigInt(rng.int(1, 99))
    planned(`reprice ${s.index} +${bump}`)
    await publishPrice(s, s.priceOutUc + bump)
    await new Promise(resolve => setTimeout(resolve, rng.int(gapMs / 2, gapMs * 3 / 2)))
  }
  const propDeadline = performance.now() + Math.max(5_000, opts.peers * 20)
  while (performance.now() < propDeadline && [...offerPublished.values()].some(o => o.seen.size < peers.filter(p => p.running).length - 1)) {
    await new Promise(resolve => setTimeout(resolve, 50))
  }

  // ---- trading ----
  const runCtrl = new AbortController()
  const timers = new Set<NodeJS.Timeout>()
  const pending = new Set<Promise<unknown>>()
  const track = (p: Promise<unknown>): void => { pending.add(p); void p.finally(() => pending.delete(p)) }
  const safe = (what: string, fn: () => void | Promise<void>): void => {
    track((async () => { await fn() })().catch((err: any) => { event(`${what} failed: ${err?.name ?? 'Error'}: ${String(err?.message ?? err).slice(0, 160)}`) }))
  }
  tradingStart = nowMs()
  const cpuTradingStart = process.cpuUsage()
  const ctx: SimContext = {
    rng: scenarioRng,
    peers,
    model: SIM_MODEL,
    durationMs,
    signal: runCtrl.signal,
    running: () => peers.filter(p => p.running),
    sellers: () => peers.filter(p => p.running && p.role === 'seller'),
    buyers: () => peers.filter(p => p.running && p.role === 'buyer'),
    elapsedMs: () => nowMs() - tradingStart,
    at: (ms, fn) => {
      const t = setTimeout(() => { timers.delete(t); if (!runCtrl.signal.aborted) safe('scheduled step', fn) }, Math.max(0, ms - ctx.elapsedMs()))
      timers.add(t)
    },
    every: (ms, fn) => {
      const t = setInterval(() => { if (!runCtrl.signal.aborted) safe('periodic step', fn) }, ms)
      timers.add(t)
    },
    sleep: async (ms) => { await new Promise(resolve => setTimeout(resolve, ms)) },
    partition: async (a, b) => {
      cut.groups.clear()
      for (const p of a) cut.groups.set(p.node.libp2p.peerId.toString(), 1)
      for (const p of b) cut.groups.set(p.node.libp2p.peerId.toString(), 2)
      event(`partition ${a.length} | ${b.length}`)
      await Promise.all(peers.filter(p => p.running).map(async p => {
        const me = p.node.libp2p.peerId.toString()
        await Promise.all(p.node.libp2p.getConnections().filter(c => cut.denies(me, c.remotePeer.toString())).map(async c => { await c.close().catch(() => {}) }))
      }))
    },
    heal: async () => {
      const groups = new Map(cut.groups)
      cut.groups.clear()
      event('heal')
      const live = peers.filter(p => p.running)
      const a = live.filter(p => groups.get(p.node.libp2p.peerId.toString()) === 1)
      const b = live.filter(p => groups.get(p.node.libp2p.peerId.toString()) === 2)
      if (a.length === 0 || b.length === 0) return
      await Promise.all(a.map(async p => {
        const q = scenarioRng.pick(b)
        await p.node.libp2p.dial(multiaddr(q.node.addrs()[0]), { signal: AbortSignal.timeout(5_000) }).catch(() => {})
      }))
    },
    stopPeer: async (p) => {
      if (!p.running) return
      p.running = false
      event(`stop peer ${p.index} (${p.role})`)
      await p.node.stop()
      ;(p.pastLives ??= []).push({ account: p.node.account, buyerSessions: p.node.buyerSessions, sellerSessions: p.node.sellerSessions })
    },
    startPeer: async (p, o = {}) => {
      if (p.running) return
      if (o.newIdentity === true) p.generation++
      p.node = await buildNode(p.index, p.role, p.generation, p.priceOutUc)
      p.running = true
      p.startedAtMs = nowMs()
      event(`start peer ${p.index} (${p.role}${o.newIdentity === true ? ', new identity' : ''})`)
    },
    setPrice: async (p, price) => {
      event(`peer ${p.index} price ${p.priceOutUc} → ${price}`)
      await publishPrice(p, price)
    },
    addPeer: async (o) => {
      const p = await addPeer(o.role, o)
      event(`add ${o.adversary ?? 'honest'} ${o.role} peer ${p.index}`)
      return p
    },
    event,
    sample: (metric, value) => {
      const xs = custom.get(metric) ?? []
      xs.push(value)
      custom.set(metric, xs)
    },
    figure: (name, value) => { figures[name] = value },
    requests: () => requests,
    balanceViews: () => new Set(peers.filter(p => p.running && p.adversary == null).map(p => balanceView(p.node))).size,
    markDoubleSpend: (account) => { doubleSpend = { account, atMs: nowMs(), flagged: new Map() } }
  }

  // divergence sampler: distinct balance views among running nodes, every second
  ctx.every(1_000, () => {
    const views = new Set(peers.filter(p => p.running).map(p => balanceView(p.node)))
    divergence.push({ tMs: Math.round(ctx.elapsedMs()), views: views.size })
  })
  // double-spend detector
  const flagPoll = setInterval(() => {
    if (doubleSpend == null) return
    for (const p of peers) {
      if (p.running && p.adversary == null && !doubleSpend.flagged.has(p.index) && p.node.ledger.isFlagged(doubleSpend.account)) doubleSpend.flagged.set(p.index, nowMs() - doubleSpend.atMs)
    }
  }, 20)
  // request traffic, planned before it starts: tick k at k × intervalMs asks a trader (drawn from
  // the traffic stream) one request, whatever happened so far; a tick whose buyer is busy or
  // stopped is skipped, one the event loop could not reach before the end is counted late
  const intervalMs = Math.max(5, Math.round(1_000 / requestsPerSec))
  const ticks = Array.from({ length: Math.floor(durationMs / intervalMs) }, (_, k) => {
    const tick = { k, draw: trafficRng.next(), maxTokens: trafficRng.int(8, 48), n: trafficRng.int(1, 1_000_000), tiny: trafficRng.next() < EMBEDDED_TRAFFIC_SHARE }
    planned(`tick ${k} ${tick.draw} max ${tick.maxTokens} n ${tick.n} ${tick.tiny ? 'tiny' : ''}`)
    return tick
  })
  const busy = new Set<number>()
  let nextTick = 0
  let skippedBusy = 0
  const sendOne = async (tick: typeof ticks[number]): Promise<void> => {
    // the candidates when the tick runs: traders a scenario added later join the draw
    const candidates = [...traders].sort((x, y) => x - y)
    if (candidates.length === 0) return
    const bi = candidates[Math.floor(tick.draw * candidates.length)]
    const b = peers[bi]
    if (!b.running || busy.has(bi)) { skippedBusy++; return }
    busy.add(bi)
    const { maxTokens, n } = tick
    const model = tick.tiny && embedded.size > 0 ? TINY_MODEL_ID : SIM_MODEL
    const t0 = performance.now()
    const startMs = ctx.elapsedMs()
    try {
      const r = await b.node.infer(model, { messages: [{ role: 'user', content: `question ${n} from peer ${b.index}` }], maxTokens, seed: n }, { tag: 'sim' })
      requests.push({ buyer: b.index, startMs, endMs: ctx.elapsedMs(), ok: true, seller: r.seller, attempts: r.attempts, ttftMs: r.ttftMs, totalMs: performance.now() - t0, model })
    } catch (err: any) {
      requests.push({ buyer: b.index, startMs, endMs: ctx.elapsedMs(), ok: false, attempts: 0, totalMs: performance.now() - t0, error: String(err?.name ?? 'Error'), model })
      if (requests.filter(r => !r.ok).length <= MAX_FAILURE_EVENTS) event(`request by peer ${b.index} failed: ${String(err?.name ?? 'Error')}: ${String(err?.message ?? err).slice(0, 200)}`)
    } finally {
      busy.delete(bi)
    }
  }
  const traffic = setInterval(() => {
    // run every tick that is due (a lagging event loop catches up instead of dropping ticks)
    while (!runCtrl.signal.aborted && nextTick < ticks.length && ticks[nextTick].k * intervalMs <= ctx.elapsedMs()) track(sendOne(ticks[nextTick++]))
  }, Math.max(5, Math.floor(intervalMs / 2)))
  const progressTimer = setInterval(() => { progress({ phase: 'trading', done: Math.min(durationMs, Math.round(ctx.elapsedMs())), total: durationMs }) }, 250)

  try {
    await scenario.run(ctx)
  } catch (err: any) {
    event(`scenario failed: ${err?.name ?? 'Error'}: ${String(err?.message ?? err).slice(0, 200)}`)
  }
  const left = durationMs - ctx.elapsedMs()
  if (left > 0) await new Promise<void>(resolve => {
    const t = setTimeout(resolve, left)
    opts.signal?.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
  })
  runCtrl.abort()
  const cpuTrading = process.cpuUsage(cpuTradingStart)
  const tradedMs = Math.max(1, nowMs() - tradingStart)
  clearInterval(traffic)
  clearInterval(progressTimer)
  for (const t of timers) { clearTimeout(t); clearInterval(t) }
  timers.clear()
  progress({ phase: 'settling', done: 0, total: 1 })
  let drainTimer: NodeJS.Timeout | undefined
  await Promise.race([Promise.allSettled([...pending]), new Promise(resolve => { drainTimer = setTimeout(resolve, 15_000) })])
  clearTimeout(drainTimer)

  // ---- settle and converge ----
  const honestRunning = (): SimPeer[] => peers.filter(p => p.running && p.adversary == null)
  await Promise.all(peers.filter(p => p.running && p.role === 'buyer').map(async p => await p.node.closeSessions(AbortSignal.timeout(5_000)).catch(() => 0)))
  const settleDeadline = performance.now() + SETTLE_WAIT_MS
  const viewsNow = (): number => new Set(honestRunning().map(p => balanceView(p.node))).size
  let agreedSince: number | undefined
  while (performance.now() < settleDeadline) {
    const open = peers.filter(p => p.running && p.node.selling).reduce((n, p) => n + p.node.negotiator.activeSessions().length, 0)
    const views = viewsNow()
    if (views !== 1) agreedSince = undefined
    else agreedSince ??= performance.now()
    // sessions whose buyer cannot close them (gone, or never used) settle at expiry, not here
    if (agreedSince != null && (open === 0 || performance.now() - agreedSince > OPEN_SESSION_GRACE_MS)) break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  // gossip health: honest neighbours that score each other below zero (they stop gossiping together)
  let negativeLinks = 0; let meshless = 0
  const honestNow = honestRunning()
  const honestIds = new Set(honestNow.map(q => q.node.libp2p.peerId.toString()))
  for (const p of honestNow) {
    const ps = pubsubOf(p.node)
    negativeLinks += ps.getPeers().filter(id => honestIds.has(id.toString()) && ps.getScore(id.toString()) < 0).length
    if (ps.getMeshPeers(p.node.base.topics.offers).length === 0) meshless++
  }
  figures.honestLinksScoredNegative = negativeLinks
  figures.honestNodesWithoutOffersMesh = meshless
  figures.sellerSessionsOpenAtEnd = peers.filter(p => p.running && p.node.selling).reduce((n, p) => n + p.node.negotiator.activeSessions().length, 0)
  // one more sample so the timeline ends at the settled state
  divergence.push({ tMs: Math.round(ctx.elapsedMs()), views: viewsNow() })
  clearInterval(flagPoll)
  if (scenario.finish != null) {
    try { await scenario.finish(ctx) } catch (err: any) { event(`scenario finish failed: ${err?.name ?? 'Error'}: ${String(err?.message ?? err).slice(0, 200)}`) }
  }

  // ---- figures ----
  const losses = lossLedger(peers, honestRunning()[0]?.node)
  const rssEnd = process.memoryUsage().rss
  const endViews = honestRunning().map(p => balanceView(p.node))
  const balancesAgree = new Set(endViews).size === 1
  const ref = honestRunning()[0]?.node
  const sum = ref == null ? 0n : ref.balances().reduce((s, b) => s + b.balanceUc, 0n)

  const propagation: number[] = []
  let propagationUnfinished = 0
  for (const p of offerPublished.values()) {
    const targets = peers.filter(q => q.running && q.index !== p.seller && q.startedAtMs <= p.atMs)
    if (targets.length === 0) continue
    const times = targets.map(q => p.seen.get(q.index))
    if (times.some(t => t == null)) { propagationUnfinished++; continue }
    propagation.push(Math.max(...times as number[]) - p.atMs)
  }
  const convergence: number[] = []
  let convergenceUnfinished = 0
  for (const r of recordMade.values()) {
    const targets = peers.filter(q => q.running && q.adversary == null && q.index !== r.maker && q.startedAtMs <= r.atMs)
    if (targets.length === 0) continue
    const times = targets.map(q => r.seen.get(q.index))
    if (times.some(t => t == null)) { convergenceUnfinished++; continue }
    convergence.push(Math.max(...times as number[]) - r.atMs)
  }
  const sellersAll = peers.filter(p => p.role === 'seller')
  const done = requests.filter(r => r.ok)
  const shares: SellerShare[] = sellersAll.map(s => {
    const accounts = new Set([s.node.account])
    const n = done.filter(r => r.seller != null && accounts.has(r.seller)).length
    // a seller's share of the requests for its own model
    const model = embedded.has(s.index) ? TINY_MODEL_ID : SIM_MODEL
    const all = done.filter(r => (r.model ?? SIM_MODEL) === model).length
    return { index: s.index, account: s.node.account, adversary: s.adversary ?? '', priceOutUc: s.priceOutUc.toString(), requests: n, sharePct: all === 0 ? 0 : Math.round(n / all * 1000) / 10 }
  })
  const honestSellers = shares.filter(s => s.adversary === '' && !embedded.has(s.index)).sort((a, b) => (BigInt(a.priceOutUc) < BigInt(b.priceOutUc) ? -1 : 1))
  const third = honestSellers.slice(0, Math.max(1, Math.ceil(honestSellers.length / 3)))
  const prices = honestSellers.map(s => Number(s.priceOutUc))
  const meanP = prices.reduce((a, b) => a + b, 0) / Math.max(1, prices.length)
  const cv = prices.length === 0 ? 0 : Math.sqrt(prices.reduce((a, b) => a + (b - meanP) ** 2, 0) / prices.length) / meanP
  const errors: Record<string, number> = {}
  for (const r of requests) if (!r.ok) errors[r.error ?? 'Error'] = (errors[r.error ?? 'Error'] ?? 0) + 1
  let ds: SimResult['doubleSpendFlaggedMs']
  if (doubleSpend != null) {
    const honest = peers.filter(p => p.running && p.adversary == null)
    ds = { ...summarize([...doubleSpend.flagged.values()]), nodes: honest.length, flaggedOn: honest.filter(p => doubleSpend!.flagged.has(p.index)).length }
  }
  const metrics: Record<string, Summary> = {}
  const samples: Record<string, number[]> = {
    offerPropagationMs: cap(propagation.map(Math.round)),
    settlementConvergenceMs: cap(convergence.map(Math.round)),
    ttftMs: cap(done.map(r => Math.round(r.ttftMs ?? 0))),
    negotiationMs: cap(negotiationMs.map(Math.round))
  }
  for (const [k, xs] of custom) { metrics[k] = summarize(xs); samples[k] = cap(xs) }
  if (doubleSpend != null) samples.doubleSpendFlaggedMs = cap([...doubleSpend.flagged.values()].map(Math.round))
  const cpu = process.cpuUsage(cpuStart)
  const n = peers.length
  const result: SimResult = {
    scenario: scenario.name,
    description: scenario.description,
    seed,
    clock: clockKind,
    peers: n,
    sellers: sellersAll.length,
    buyers: n - sellersAll.length,
    adversaries: peers.filter(p => p.adversary != null).length,
    durationMs,
    latencyMs,
    links: (() => { const st = net.stats(); return { latencyMs, jitter: net.jitter, lossRate, rtoMs: net.rtoMs, buffers: st.buffers, bytes: st.bytes, retransmits: st.retransmits, connections: st.connections } })(),
    backend: `simulated: deterministic token generator (no model runs), 7B parameters declared, ${tokensPerSec} tokens/s after a ${ttftMs} ms first token` +
      (embedded.size > 0 ? `; ${embedded.size} seller(s) run the real embedded engine (node-llama-cpp) on the tiny model ${TINY_MODEL_ID} (toy weights)` : ''),
    embedded: { sellers: embedded.size, model: TINY_MODEL_ID, requests: requests.filter(r => r.model === TINY_MODEL_ID).length, completed: done.filter(r => r.model === TINY_MODEL_ID).length },
    requests: { sent: requests.length, completed: done.length, failed: requests.length - done.length, withFallback: done.filter(r => r.attempts > 1).length, errors, skippedBusy, late: ticks.length - nextTick },
    plan: { digest: plan.digest('hex'), trafficTicks: ticks.length },
    losses,
    offerPropagationMs: { ...summarize(propagation), unfinished: propagationUnfinished },
    negotiationMs: summarize(negotiationMs),
    ttftMs: summarize(done.map(r => r.ttftMs ?? Number.NaN)),
    requestMs: summarize(done.map(r => r.totalMs)),
    settlementConvergenceMs: { ...summarize(convergence), unfinished: convergenceUnfinished },
    divergence,
    balancesAgree,
    finalBalanceViews: new Set(endViews).size,
    sumOfBalancesUc: sum.toString(),
    settledSessions: peers.reduce((s, p) => s + p.node.settledSessions, 0),
    ...(ds != null ? { doubleSpendFlaggedMs: ds } : {}),
    market: {
      sellers: shares,
      priceDispersionCv: Math.round(cv * 1000) / 1000,
      minPriceOutUc: String(prices.length === 0 ? 0 : Math.min(...prices)),
      maxPriceOutUc: String(prices.length === 0 ? 0 : Math.max(...prices)),
      // from counts, not from the rounded shares (whose sum may pass 100)
      cheapestThirdSharePct: (() => { const all = done.filter(r => (r.model ?? SIM_MODEL) === SIM_MODEL).length; return all === 0 ? 0 : Math.round(third.reduce((s, x) => s + x.requests, 0) / all * 1000) / 10 })()
    },
    resources: {
      rssBeforeMb: mb(rssBefore),
      rssAfterStartMb: mb(rssAfterStart),
      rssEndMb: mb(rssEnd),
      rssPerPeerMb: mb(rssAfterStart / n),
      addedRssPerPeerMb: mb((rssAfterStart - rssBefore) / n),
      heapUsedPerPeerMb: mb(heapAfterStart / n),
      cpuUserMs: Math.round(cpu.user / 1000),
      cpuSystemMs: Math.round(cpu.system / 1000),
      wallMs: Math.round(wallNowMs() - wallStart),
      simulatedMs: Math.round(performance.now() - simStart),
      // what one node needed of one core while trading: the process's CPU over the trading time, per node
      cpuPerPeerPct: Math.round((cpuTrading.user + cpuTrading.system) / 1000 / tradedMs / n * 100 * 1000) / 1000,
      startMs: Math.round(startMs)
    },
    figures,
    metrics,
    events,
    samples
  }

  progress({ phase: 'stopping', done: 0, total: 1 })
  await Promise.all(peers.filter(p => p.running).map(async p => { p.running = false; await p.node.stop().catch(() => {}) }))
  net.close()
  rmSync(dataDir, { recursive: true, force: true })
  progress({ phase: 'done', done: 1, total: 1 })
  return result
}

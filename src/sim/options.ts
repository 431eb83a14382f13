/**
 * What a simulation takes and gives: its options and their limits, the constants that scale a
 * run, the result's shape, and the one pure step that turns options into checked parameters.
 */
import { ErrorCode, TallyError } from '../errors/index.js'
import type { LossLedger } from './losses.js'
import type { Summary } from './stats.js'
import type { Scenario } from './scenario.js'

export const SIM_MODEL = 'sim-7b'
export const SIM_MODEL_PARAMS = 7_000_000_000
/** offers re-announce this often in simulations (30 s in production): scaled for short runs */
export const SIM_ANNOUNCE_INTERVAL_MS = 5_000
/** ledger pull sync period in simulations (at least: it grows with N, see SYNC_MS_PER_PEER) */
export const SIM_SYNC_INTERVAL_MS = 2_000
/** per peer: each node reconciles with a random peer once per interval, N of them per interval in this process */
export const SYNC_MS_PER_PEER = 20
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
export const ANNOUNCE_MS_PER_PEER = 300
/** offers expire after 2 min: re-announce at least this often whatever N */
export const MAX_ANNOUNCE_INTERVAL_MS = 90_000
/** mean gap between the sellers' reprices that measure offer propagation (independent sellers, not one burst) */
export const REPRICE_GAP_MS = 100
/** at most this many sellers reprice to measure propagation (enough samples for a p95) */
export const PROPAGATION_SAMPLES = 60
/**
 * per peer, added to the reprice gap: every reprice costs N × mesh-degree deliveries in this one
 * process, so the gap grows with N to keep the measurement's own load per second constant
 */
export const REPRICE_GAP_MS_PER_PEER = 2
/**
 * mean one-way latency of a simulated link (each link is fixed within ±50 % of it): a propagation
 * delay, not a throughput cap (src/sim/net)
 */
export const DEFAULT_SIM_LATENCY_MS = 10
/** sellers running a real engine (one child process each) */
export const MAX_EMBEDDED_SELLERS = 8
/** share of the traffic asking for the embedded sellers' model when there are any */
export const EMBEDDED_TRAFFIC_SHARE = 0.2
/** nodes started at once while building the network */
export const START_BATCH = 20
/** per peer, added to the protocol timeouts: one event loop carries every node, so it lags with N */
export const LOAD_MS_PER_PEER = 20
/** the first token must come this fast or the buyer falls back (simulated sellers are fast) */
export const SIM_FIRST_TOKEN_TIMEOUT_MS = 2_000
/** ... or within this many times the simulated sellers' TTFT, when they are slow */
export const FIRST_TOKEN_TIMEOUT_TTFTS = 4
/** the simulated backend by default: fast, so short runs carry many requests */
export const DEFAULT_SIM_TOKENS_PER_SEC = 2_000
export const DEFAULT_SIM_TTFT_MS = 20
/** a simulated seller runs this many requests at once (its offer's slots) unless a scenario draws them */
export const SIM_SELLER_SLOTS = 8
export const MAX_SIM_TOKENS_PER_SEC = 1_000_000
export const MAX_SIM_TTFT_MS = 60_000
/** a buyer closes a warm session unused this long (60 s in production): scaled */
export const SIM_IDLE_CLOSE_MS = 10_000
/** a seller waits this long for a lagging voucher (10 s in production): scaled */
export const SIM_VOUCHER_TIMEOUT_MS = 2_000
/** how long the end of a run waits for settles and equal balance views */
export const SETTLE_WAIT_MS = 20_000
export const SAMPLE_CAP = 5_000
/** failed requests described in the timeline (the rest are only counted) */
export const MAX_FAILURE_EVENTS = 20
/** once ledgers agree, wait this much longer for sellers' open sessions to settle */
export const OPEN_SESSION_GRACE_MS = 3_000
/** on an 'issued' genesis, what the issuer credits each honest buyer (the dev credit line's 10 credits) */
export const SIM_STARTING_BALANCE_UC = 10_000_000n
/** the issuer's cap on an 'issued' genesis: far above what any run issues */
export const SIM_ISSUER_CAP_UC = 1_000_000_000_000n

/**
 * the network's credit rules: 'development' (default) is tally-dev, a credit line for every key;
 * 'issued' has no default credit line and one genesis issuer that credits each honest buyer
 * SIM_STARTING_BALANCE_UC when it starts (what a public network looks like)
 */
export type SimGenesis = 'development' | 'issued'
export const SIM_GENESES: readonly SimGenesis[] = ['development', 'issued']

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
  /** the network's credit rules (default the scenario's, else 'development') */
  genesis?: SimGenesis
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

/** the options of one run, defaults filled in and every range checked */
export interface SimParams {
  peers: number
  seed: string
  durationMs: number
  sellersShare: number
  latencyMs: number
  lossRate: number
  requestsPerSec: number
  embeddedSellers: number
  bootstrapNodes?: number
  tokensPerSec: number
  ttftMs: number
  genesis: SimGenesis
}

/** Fill in the defaults (option, then the scenario's, then the simulator's) and check every range. */
export function resolveParams (opts: SimulationOptions): SimParams {
  const d = opts.scenario.defaults
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
  const genesis = opts.genesis ?? d.genesis ?? 'development'
  if (!SIM_GENESES.includes(genesis)) throw new SimulationError(`genesis must be one of ${SIM_GENESES.join(', ')}, got ${String(genesis)}`)
  return { peers: opts.peers, seed, durationMs, sellersShare, latencyMs, lossRate, requestsPerSec, embeddedSellers, bootstrapNodes, tokensPerSec, ttftMs, genesis }
}

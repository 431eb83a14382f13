/**
 * The scenario API: a scenario is a small object `{ name, description, defaults, run(ctx) }`.
 * `run` drives a running network of real Tally nodes through the context: clock helpers,
 * partitions, churn, price changes, extra (adversarial) peers and metric recorders.
 */
import type { TallyNode, TallyNodeInit } from '../node/tally.js'
import type { Rng } from './rng.js'
import type { SimGenesis } from './options.js'
import type { SimNetwork } from './net/index.js'
import type { SlotMeter } from './slots.js'

export type PeerRole = 'seller' | 'buyer'

export interface SimPeer {
  /** stable index in the run (peers added later get the next ones) */
  readonly index: number
  readonly role: PeerRole
  /** the adversary kind for peers a scenario added to misbehave; honest peers have none */
  readonly adversary?: string
  /** the current node (a churned peer with a new identity gets a new node) */
  node: TallyNode
  running: boolean
  /** wall time (ms since the run began) this peer's current node started */
  startedAtMs: number
  /** current price out, µc per 1M tokens (sellers) */
  priceOutUc: bigint
  generation: number
  /** what this peer's stopped nodes knew of their own sessions (the loss ledger counts every life of an account) */
  pastLives?: PastLife[]
}

/** a stopped node's own session books: the vouchers it signed as a buyer, its unpaid work as a seller */
export type PastLife = Pick<TallyNode, 'account' | 'buyerSessions' | 'sellerSessions'>

export interface ScenarioDefaults {
  /** share of the peers that sell (0..1) */
  sellersShare?: number
  /** requests per second over all honest buyers */
  requestsPerSec?: number
  durationMs?: number
  /** mean one-way link latency, ms */
  latencyMs?: number
  /** share of buffers lost (retransmitted after 200 ms) */
  lossRate?: number
  /** the network's credit rules (options.ts SimGenesis; default 'development') */
  genesis?: SimGenesis
  /**
   * each simulated seller's slots (its offer's max_sessions), uniform in [min, max], drawn from
   * the seller's own seeded stream (no other stream shifts); default the simulator's 8
   */
  sellerSlots?: readonly [number, number]
  /** wrap each simulated seller's backend in a SlotMeter (src/sim/slots.ts): busy slot-time, for utilisation */
  meterSlots?: boolean
  /** node options every simulated seller gets on top of the simulator's (e.g. its auction pricing) */
  sellerInit?: Partial<TallyNodeInit>
}

export interface AddPeerOptions {
  role: PeerRole
  adversary?: string
  /** node options on top of the simulator's (e.g. a misbehaving backend) */
  init?: Partial<TallyNodeInit>
  /** price out for a seller, µc per 1M tokens; default a random market price */
  priceOutUc?: bigint
  /** take part in the simulator's request traffic (buyers); default false for adversaries */
  trades?: boolean
}

/** one request the simulator's traffic sent (times in ms since trading began) */
export interface RequestView {
  buyer: number
  startMs: number
  endMs: number
  ok: boolean
  /** the serving seller's account */
  seller?: string
  attempts: number
  error?: string
}

export interface SimContext {
  readonly rng: Rng
  /** every peer ever in the run, honest and adversarial */
  readonly peers: readonly SimPeer[]
  /** the model every simulated seller serves */
  readonly model: string
  /** each simulated seller's output speed per slot, tokens/s (the run's tokensPerSec) */
  readonly tokensPerSec: number
  /** the simulated links, for an adversary's own bare hosts (e.g. many keys without a node each) */
  readonly links: SimNetwork
  /** this network's id (the SHA-256 of its genesis) */
  readonly net: Uint8Array
  readonly durationMs: number
  /** aborts when the run's trading time is over */
  readonly signal: AbortSignal
  running(): SimPeer[]
  sellers(): SimPeer[]
  buyers(): SimPeer[]
  /** ms since trading began */
  elapsedMs(): number
  /** run fn at `ms` after trading began (skipped if the run is over by then) */
  at(ms: number, fn: () => void | Promise<void>): void
  /** run fn every `ms` until the run is over */
  every(ms: number, fn: () => void | Promise<void>): void
  sleep(ms: number): Promise<void>
  /** cut every link between the two groups and refuse new ones */
  partition(groupA: readonly SimPeer[], groupB: readonly SimPeer[]): Promise<void>
  /** allow links again and dial a few across the former cut */
  heal(): Promise<void>
  stopPeer(peer: SimPeer): Promise<void>
  /** restart a stopped peer with the same identity or a new one */
  startPeer(peer: SimPeer, opts?: { newIdentity?: boolean }): Promise<void>
  setPrice(seller: SimPeer, priceOutUc: bigint): Promise<void>
  addPeer(opts: AddPeerOptions): Promise<SimPeer>
  /** a timeline entry in the report */
  event(what: string): void
  /** add a sample to a named scenario metric (summarized as p50/p95) */
  sample(metric: string, value: number): void
  /** set a named scenario figure */
  figure(name: string, value: number | string | boolean): void
  /** the requests sent so far */
  requests(): readonly RequestView[]
  /** distinct balance views among running honest nodes (1 = they agree) */
  balanceViews(): number
  /** mark a moment of interest for time-to-X measurements done by the simulator */
  markDoubleSpend(account: string): void
  /** a simulated seller's slot meter, when the scenario asks for them (ScenarioDefaults.meterSlots) */
  slotMeter(peer: SimPeer): SlotMeter | undefined
}

export interface Scenario {
  name: string
  description: string
  defaults: ScenarioDefaults
  /** drive the network; may return before the run ends (timers keep going) */
  run(ctx: SimContext): Promise<void>
  /** after the run: checks on honest outcomes, as named figures (e.g. losses within bounds) */
  finish?(ctx: SimContext): Promise<void>
}

export function defineScenario (s: Scenario): Scenario {
  return s
}

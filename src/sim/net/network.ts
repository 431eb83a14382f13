/**
 * SimNetwork: the simulator's in-process "internet". It owns the registry of listen addresses,
 * the link model (per-pair latency, loss) and ONE delivery scheduler shared by every link.
 *
 * Link model. Each unordered peer pair has a fixed one-way latency, drawn uniformly from
 * `latencyMs × [1 − jitter, 1 + jitter]` by hashing the seed and the two ids, so the same seed
 * gives the same topology. Each direction of a connection is an ordered byte pipe: a buffer sent
 * at time t is delivered at `max(t + latency (+ rtoMs if lost), previous delivery on this
 * direction)`. Loss on a reliable stream transport does not drop bytes: TCP retransmits the lost
 * segment after its retransmission timeout and the segments behind it wait (head-of-line
 * blocking). That is what `lossRate` models: a lost buffer is delivered once, rtoMs late, and
 * holds everything sent after it on that direction. Control events (close, reset, connect) share
 * the direction's order and are never lost.
 *
 * Scheduling. Deliveries never run inside the send call: everything goes through a min-heap keyed
 * by (delivery time, sequence number) and is delivered in a macrotask (setImmediate when due now,
 * one shared setTimeout armed for the earliest future delivery). Each tick delivers, in order, what
 * was due when the tick began, so a message cascading through hundreds of nodes advances one hop
 * per tick and timers (heartbeats, protocol timeouts, the simulator's clocks) run in between.
 * `maxPerTick` caps a batch, for fairness to timers in a burst: the work a delivery sets off
 * (decoding, signature checks) runs in the microtasks right after the tick, so one tick of a large
 * backlog holds timers back until it is done. The default is no cap: measured at 100 nodes with
 * 20 ms links on 2 shared cores, a cap of 64 made gossip propagation p50 3× slower under load
 * (1.2 s against 0.35 s) for little gain in timer punctuality; with 30 nodes and a burst of 300
 * messages it let a 10 ms interval tick ~350 times in 5 s instead of ~5. Late deliveries run
 * late, never early.
 */
import { createHash } from 'node:crypto'
import { createRng } from '../rng.js'
import { ErrorCode, TallyError } from '../../errors/index.js'

/** a one-way delay that is "mean latency ± 50 %" gives links of visibly different lengths */
export const DEFAULT_JITTER = 0.5
/** Linux's minimum TCP retransmission timeout */
export const DEFAULT_RTO_MS = 200
export const DEFAULT_SEED = 'tally-sim-net'
/** no cap on deliveries per macrotask: see the module header for why */
export const DEFAULT_MAX_PER_TICK = Infinity
/** a simulated latency above this is a configuration mistake, not a network */
const MAX_LATENCY_MS = 600_000

export class SimNetworkError extends TallyError {
  override name = 'SimNetworkError'
  override readonly code: ErrorCode = ErrorCode.simulation
  readonly field: string
  constructor (field: string, problem: string) {
    super(`${field}: ${problem}`)
    this.field = field
  }
}

export interface SimNetworkInit {
  /** mean one-way latency in ms (default 0) */
  latencyMs?: number
  /** 0..1: each link's latency is uniform in latencyMs × [1 − jitter, 1 + jitter] (default 0.5) */
  jitter?: number
  /** 0..1: probability that a data buffer is lost and retransmitted after rtoMs (default 0) */
  lossRate?: number
  /** retransmission timeout added to a lost buffer (default 200) */
  rtoMs?: number
  /** seeded uniform [0, 1) source for loss draws (default: derived from seed) */
  random?: () => number
  /** seeds the per-link latencies (and the default loss draws) */
  seed?: string
  /** clock in ms (default performance.now) */
  now?: () => number
  /** at most this many deliveries per macrotask; the rest stay due for the next one (default no cap) */
  maxPerTick?: number
}

export interface SimNetworkStats {
  /** data buffers sent */
  buffers: number
  /** data bytes sent */
  bytes: number
  /** data buffers that were lost and retransmitted */
  retransmits: number
  /** connections opened since the network was created */
  connections: number
  /** connections open now */
  openConnections: number
  /** deliveries waiting in the scheduler */
  pending: number
}

/** One direction of one connection: an ordered pipe from `from` to `to`. */
export interface SimDirection {
  readonly from: string
  readonly to: string
  /** delivery time of the last thing scheduled on this direction */
  lastDeliveryAt: number
}

/** what the transport registers under a listen address */
export interface SimEndpoint {
  /** peer id of the listening node */
  readonly peerId: string
}

interface Delivery {
  at: number
  seq: number
  run: () => void
}

function finiteInRange (v: unknown, field: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    throw new SimNetworkError(field, `expected a finite number in [${lo}, ${hi}], got ${String(v)}`)
  }
  return v
}

function pairKey (a: string, b: string): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`
}

export class SimNetwork {
  readonly latencyMs: number
  readonly jitter: number
  readonly lossRate: number
  readonly rtoMs: number
  readonly seed: string
  readonly maxPerTick: number
  /** errors thrown by delivery callbacks (the transport's callbacks do not throw; kept for diagnosis) */
  readonly deliveryErrors: unknown[] = []
  private readonly random: () => number
  private readonly clock: () => number
  private readonly listeners = new Map<string, SimEndpoint>()
  private readonly linkLatency = new Map<string, number>()
  private readonly heap: Delivery[] = []
  private seq = 0
  private immediate: ReturnType<typeof setImmediate> | undefined
  private closed = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private timerAt = Infinity
  private counters = { buffers: 0, bytes: 0, retransmits: 0, connections: 0, openConnections: 0 }

  constructor (init: SimNetworkInit = {}) {
    if (init == null || typeof init !== 'object') throw new SimNetworkError('init', 'expected an object')
    this.latencyMs = finiteInRange(init.latencyMs ?? 0, 'latencyMs', 0, MAX_LATENCY_MS)
    this.jitter = finiteInRange(init.jitter ?? DEFAULT_JITTER, 'jitter', 0, 1)
    this.lossRate = finiteInRange(init.lossRate ?? 0, 'lossRate', 0, 1)
    this.rtoMs = finiteInRange(init.rtoMs ?? DEFAULT_RTO_MS, 'rtoMs', 0, MAX_LATENCY_MS)
    if (init.seed !== undefined && (typeof init.seed !== 'string' || init.seed.length === 0 || init.seed.length > 1024)) {
      throw new SimNetworkError('seed', 'expected a non-empty string of at most 1024 chars')
    }
    this.seed = init.seed ?? DEFAULT_SEED
    if (init.random !== undefined && typeof init.random !== 'function') throw new SimNetworkError('random', 'expected a function returning [0, 1)')
    if (init.now !== undefined && typeof init.now !== 'function') throw new SimNetworkError('now', 'expected a function returning ms')
    this.maxPerTick = init.maxPerTick ?? DEFAULT_MAX_PER_TICK
    if (this.maxPerTick !== Infinity && (!Number.isSafeInteger(this.maxPerTick) || this.maxPerTick < 1)) throw new SimNetworkError('maxPerTick', `expected an integer ≥ 1, got ${String(init.maxPerTick)}`)
    this.random = init.random ?? createRng(`${this.seed}:loss`).next
    this.clock = init.now ?? (() => performance.now())
  }

  now (): number {
    return this.clock()
  }

  /** one-way latency between two ids: symmetric, fixed per pair and seed (or set by setLinkLatency) */
  linkLatencyMs (a: string, b: string): number {
    const key = pairKey(a, b)
    let ms = this.linkLatency.get(key)
    if (ms === undefined) {
      const h = createHash('sha256').update(`${this.seed}\n${key}`).digest()
      const u = h.readUInt32LE(0) / 4294967296
      ms = this.latencyMs * (1 - this.jitter + 2 * this.jitter * u)
      this.linkLatency.set(key, ms)
    }
    return ms
  }

  /** overrides the latency of the pair {a, b} for connections and buffers sent from now on */
  setLinkLatency (a: string, b: string, ms: number): void {
    finiteInRange(ms, 'ms', 0, MAX_LATENCY_MS)
    this.linkLatency.set(pairKey(a, b), ms)
  }

  stats (): SimNetworkStats {
    return { ...this.counters, pending: this.heap.length }
  }

  /** registers a listener; throws SimNetworkError('address') if the address is taken */
  listen (address: string, endpoint: SimEndpoint): void {
    if (this.listeners.has(address)) throw new SimNetworkError('address', `${address} is already in use`)
    this.listeners.set(address, endpoint)
  }

  unlisten (address: string, endpoint: SimEndpoint): void {
    if (this.listeners.get(address) === endpoint) this.listeners.delete(address)
  }

  lookup (address: string): SimEndpoint | undefined {
    return this.listeners.get(address)
  }

  /** a new direction from one id to another (one per side of each connection) */
  direction (from: string, to: string): SimDirection {
    return { from, to, lastDeliveryAt: -Infinity }
  }

  /**
   * Schedules a data buffer of `bytes` on a direction; `deliver` runs in a later macrotask at the
   * returned delivery time. Data buffers may be lost (and then arrive rtoMs late).
   */
  sendData (dir: SimDirection, bytes: number, deliver: () => void): number {
    this.counters.buffers++
    this.counters.bytes += bytes
    let extra = 0
    if (this.lossRate > 0 && this.random() < this.lossRate) {
      this.counters.retransmits++
      extra = this.rtoMs
    }
    return this.schedule(dir, extra, deliver)
  }

  /** Schedules a control event (connect, close, reset) on a direction: ordered, never lost. */
  sendControl (dir: SimDirection, deliver: () => void): number {
    return this.schedule(dir, 0, deliver)
  }

  /** the transport reports connection lifecycles here, for stats() */
  connectionOpened (): void {
    this.counters.connections++
    this.counters.openConnections++
  }

  connectionClosed (): void {
    this.counters.openConnections--
  }

  /** drops every delivery still in flight and the timer waiting for it; later sends are dropped too */
  close (): void {
    this.closed = true
    this.heap.length = 0
    this.clearTimer()
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    this.immediate = undefined
  }

  private schedule (dir: SimDirection, extraMs: number, run: () => void): number {
    if (this.closed) return this.clock()
    const at = Math.max(this.clock() + this.linkLatencyMs(dir.from, dir.to) + extraMs, dir.lastDeliveryAt)
    dir.lastDeliveryAt = at
    this.push({ at, seq: this.seq++, run })
    this.arm()
    return at
  }

  private arm (): void {
    if (this.immediate !== undefined) return // a tick is queued; it re-arms when it ends
    const top = this.heap[0]
    if (top === undefined) return
    const wait = top.at - this.clock()
    if (wait <= 0) {
      this.clearTimer()
      this.immediate = setImmediate(this.tick)
    } else if (this.timer === undefined || top.at < this.timerAt) {
      this.clearTimer()
      this.timerAt = top.at
      this.timer = setTimeout(this.tick, Math.max(1, Math.ceil(wait)))
    }
  }

  private clearTimer (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Infinity
  }

  private readonly tick = (): void => {
    this.immediate = undefined
    this.clearTimer()
    // only what was due when the tick began: new due-now sends wait for the next tick
    const t = this.clock()
    let delivered = 0
    while (delivered < this.maxPerTick && this.heap.length > 0 && this.heap[0].at <= t) {
      delivered++
      const d = this.pop()
      try {
        d.run()
      } catch (err) {
        if (this.deliveryErrors.length < 100) this.deliveryErrors.push(err)
      }
    }
    this.arm()
  }

  private less (i: number, j: number): boolean {
    const a = this.heap[i]; const b = this.heap[j]
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }

  private push (d: Delivery): void {
    const h = this.heap
    h.push(d)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) break
      ;[h[i], h[p]] = [h[p], h[i]]
      i = p
    }
  }

  private pop (): Delivery {
    const h = this.heap
    const top = h[0]
    const last = h.pop() as Delivery
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1; const r = l + 1
        let m = i
        if (l < h.length && this.less(l, m)) m = l
        if (r < h.length && this.less(r, m)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m], h[i]]
        i = m
      }
    }
    return top
  }
}

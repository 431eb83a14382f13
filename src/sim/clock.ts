/**
 * A virtual clock for simulations: discrete-event time for every node in this process.
 *
 * Installed, it replaces the process's timers (setTimeout, setInterval and their clears,
 * AbortSignal.timeout), Date and performance.now with one clock that does not follow the wall:
 * it jumps to the next timer when the process has nothing else to do, and stands still while
 * the process is busy. So N nodes sharing one core behave as N machines with their own (very
 * fast) CPUs: no node times out because the simulator's thread was busy with another node,
 * and a result measured in simulated time is the protocol's, not the host's. The price is wall
 * time: a busy simulated second takes as long as its work takes.
 *
 * Left real on purpose: setImmediate, process.nextTick and microtasks (work "now", in order),
 * I/O. The clock never jumps while an immediate is queued: that work belongs to this instant
 * (the simulated network delivers what is due in one). While a request to the outside (a file, a socket) is in flight the clock waits for it,
 * at most MAX_REAL_WAIT_MS of wall time, so real I/O is not overtaken by simulated seconds.
 */
import { getEventListeners } from 'node:events'
import { ErrorCode, TallyError } from '../errors/index.js'

/** how long the clock waits (wall time) for real I/O in flight before it moves on anyway */
const MAX_REAL_WAIT_MS = 1_000
/** Node clamps delays outside [1, 2^31 − 1] to 1 ms; so does this clock */
const TIMEOUT_MAX = 2 ** 31 - 1
/** the heap is compacted when it holds this many more entries than twice the live timers */
const COMPACT_MIN = 4_096
/** libuv requests in flight: the clock does not jump while one is pending */
const REAL_WORK = /(Req|ReqCallback|ReqPromise|ReqWrap|WriteWrap|ShutdownWrap|ConnectWrap|Job)$/

type Callback = (...args: any[]) => void
const noop: Callback = () => {}

export class VirtualClockError extends TallyError {
  override name = 'VirtualClockError'
  override readonly code: ErrorCode = ErrorCode.simulation
}

/** a timer on the virtual clock, shaped like Node's Timeout so libraries can ref/unref/refresh it */
export class VirtualTimer {
  /** bumped on clear and refresh: heap entries of an older generation are stale */
  generation = 0
  at = 0
  cleared = false
  private referenced = true

  constructor (
    private readonly clock: VirtualClock,
    readonly id: number,
    public callback: Callback,
    public args: unknown[],
    readonly delayMs: number,
    readonly repeat: boolean
  ) {}

  ref (): this { this.referenced = true; return this }
  unref (): this { this.referenced = false; return this }
  hasRef (): boolean { return this.referenced }
  refresh (): this { this.clock.reschedule(this); return this }
  close (): this { this.clock.clear(this); return this }
  [Symbol.toPrimitive] (): number { return this.id }
}

interface Entry { at: number, seq: number, generation: number, timer: VirtualTimer }

/** binary min-heap on (at, seq): timers due at the same instant fire in the order they were set */
class TimerHeap {
  private readonly items: Entry[] = []
  get size (): number { return this.items.length }
  peek (): Entry | undefined { return this.items[0] }

  /** keeps only the entries `keep` accepts (stale ones gone), in heap order */
  compact (keep: (e: Entry) => boolean): void {
    const live = this.items.filter(keep)
    this.items.length = 0
    for (const e of live) this.push(e)
  }

  push (e: Entry): void {
    const a = this.items
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(a[i], a[p])) break
      ;[a[i], a[p]] = [a[p], a[i]]
      i = p
    }
  }

  pop (): Entry | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last !== undefined) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1; const r = l + 1
        let m = i
        if (l < a.length && before(a[l], a[m])) m = l
        if (r < a.length && before(a[r], a[m])) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m], a[i]]
        i = m
      }
    }
    return top
  }
}

const before = (x: Entry, y: Entry): boolean => x.at < y.at || (x.at === y.at && x.seq < y.seq)
const isLive = (e: Entry): boolean => e.generation === e.timer.generation && !e.timer.cleared

/** the process's real time functions, captured when this module loads */
const real = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  setImmediate: globalThis.setImmediate,
  Date: globalThis.Date,
  performanceNow: performance.now.bind(performance),
  abortSignalTimeout: AbortSignal.timeout.bind(AbortSignal),
  abortSignalAny: AbortSignal.any.bind(AbortSignal)
}

/** on a timeout signal of this clock: its clock, and the controller that aborts it */
const kTimeoutOf = Symbol('tally.sim.timeoutOf')
const kController = Symbol('tally.sim.timeoutController')
type TimeoutSignal = AbortSignal & { [kTimeoutOf]?: VirtualClock, [kController]?: AbortController }
const onabortProp = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'onabort')

/**
 * A timeout signal's timer callback, built outside timeoutSignal's scope: a closure made there
 * would share its context, which holds the signal strongly
 */
function abortLater (ref: WeakRef<TimeoutSignal>, held: Set<AbortSignal>): () => void {
  return () => {
    const s = ref.deref()
    if (s === undefined) return
    held.delete(s)
    s[kController]?.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
  }
}

/** wall time in ms, whatever clock is installed (for "how long did the run take") */
export const wallNowMs = (): number => real.performanceNow()

let current: VirtualClock | undefined

/** the clock installed in this process, if any */
export function installedClock (): VirtualClock | undefined { return current }

export interface VirtualClockStats {
  /** timers fired */
  fired: number
  /** times the clock jumped forward to the next timer (it advanced by elapsedMs() in all) */
  jumps: number
}

export class VirtualClock {
  private nowMs = 0
  private seq = 0
  private nextId = 1
  private readonly heap = new TimerHeap()
  private readonly live = new Map<number, VirtualTimer>()
  private running = false
  private epochMs = 0
  private perfStartMs = 0
  private waitingSince: number | undefined
  readonly stats: VirtualClockStats = { fired: 0, jumps: 0 }

  /** epochMs: what Date.now() reads at install (default the real time then) */
  constructor (private readonly opts: { epochMs?: number } = {}) {}

  /** simulated ms since install */
  elapsedMs (): number { return this.nowMs }
  /** timers pending */
  get pending (): number { return this.live.size }

  install (): void {
    if (current != null) throw new VirtualClockError('a virtual clock is already installed in this process')
    current = this
    this.running = true
    this.epochMs = this.opts.epochMs ?? real.Date.now()
    // a whole number: performance.now() differences are then exact (integer timers on an integer
    // base); a fractional base rounds 1000 to 999.9999999 in some runs and not others, and a
    // traffic tick due at 1000 ms waits for the next interval: one seed, two results
    this.perfStartMs = Math.ceil(real.performanceNow())
    const clock = this
    const g = globalThis as any
    g.setTimeout = (fn: Callback, ms?: number, ...args: unknown[]) => clock.set(fn, ms, args, false)
    g.setInterval = (fn: Callback, ms?: number, ...args: unknown[]) => clock.set(fn, ms, args, true)
    g.clearTimeout = (t: unknown) => { clock.clearAny(t, real.clearTimeout) }
    g.clearInterval = (t: unknown) => { clock.clearAny(t, real.clearInterval) }
    performance.now = () => clock.perfStartMs + clock.nowMs
    AbortSignal.timeout = (ms: number) => clock.timeoutSignal(ms)
    AbortSignal.any = (signals: Iterable<AbortSignal>) => {
      // Node 20 links a combined signal to its sources only weakly: pin a timeout source until
      // it fires, so a deadline built with any() comes whatever the collector does (see timeoutSignal)
      const list = [...signals]
      for (const s of list) if ((s as TimeoutSignal)[kTimeoutOf] === clock && !s.aborted) clock.heldSignals.add(s)
      return real.abortSignalAny(list)
    }
    const RealDate = real.Date
    class VirtualDate extends RealDate {
      constructor (...args: any[]) {
        if (args.length === 0) super(clock.epochMs + clock.nowMs)
        else super(...(args as []))
      }

      static override now (): number { return clock.epochMs + clock.nowMs }
    }
    g.Date = VirtualDate
    real.setImmediate(this.turn)
  }

  /**
   * Puts the real time functions back. Timers still pending move to real timers with the
   * delay they had left, so nothing that awaits one hangs.
   */
  uninstall (): void {
    if (!this.running) return
    this.running = false
    current = undefined
    const g = globalThis as any
    g.setTimeout = real.setTimeout
    g.clearTimeout = real.clearTimeout
    g.setInterval = real.setInterval
    g.clearInterval = real.clearInterval
    g.Date = real.Date
    // the real method lives on Performance.prototype: drop the own property installed over it
    delete (performance as { now?: unknown }).now
    AbortSignal.timeout = real.abortSignalTimeout
    AbortSignal.any = real.abortSignalAny
    this.heldSignals.clear()
    for (const t of this.live.values()) {
      const left = Math.max(1, t.at - this.nowMs)
      const r = t.repeat ? real.setInterval(t.callback, t.delayMs, ...t.args) : real.setTimeout(t.callback, left, ...t.args)
      if (!t.hasRef()) r.unref()
    }
    this.live.clear()
  }

  /** @internal timeout signals held strongly: abort listeners attached, or the source of an any() */
  readonly heldSignals = new Set<AbortSignal>()

  /**
   * AbortSignal.timeout(ms) on this clock, held as Node holds its own: the timer keeps only a
   * weak reference, and the signal is held strongly only while it has `abort` listeners (or is
   * a source of AbortSignal.any). Held until it fired, a signal nobody looks at any more kept
   * its controller, event target and timer for the whole timeout: under a sybil-drain attack
   * 99.8 % of the timeout signals pending were such (libp2p's upgrade, identify, dial and
   * stream-open deadlines of connections long closed), about 7 per key × seller of the attack,
   * all of the attack's tries inside one timeout (10 s) at once, and the growing live heap
   * slowed every garbage collection: CPU grew faster than the tries.
   */
  timeoutSignal (ms: number): AbortSignal {
    const ctrl = new AbortController()
    const signal = ctrl.signal as TimeoutSignal
    signal[kTimeoutOf] = this
    signal[kController] = ctrl
    const held = this.heldSignals
    const recheck = (): void => {
      if (signal.aborted) return
      if (getEventListeners(signal, 'abort').length > 0) held.add(signal)
      else held.delete(signal)
    }
    const add = signal.addEventListener; const remove = signal.removeEventListener
    Object.defineProperties(signal, {
      addEventListener: { configurable: true, writable: true, value: function (this: AbortSignal, ...a: Parameters<AbortSignal['addEventListener']>) { add.apply(this, a); recheck() } },
      removeEventListener: { configurable: true, writable: true, value: function (this: AbortSignal, ...a: Parameters<AbortSignal['removeEventListener']>) { remove.apply(this, a); recheck() } },
      onabort: { configurable: true, get () { return onabortProp?.get?.call(signal) }, set (v: unknown) { onabortProp?.set?.call(signal, v); recheck() } }
    })
    this.set(abortLater(new WeakRef(signal), held), ms, [], false).unref()
    return signal
  }

  private set (fn: Callback, ms: number | undefined, args: unknown[], repeat: boolean): VirtualTimer {
    if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function')
    let delay = Number(ms)
    if (!(delay >= 1 && delay <= TIMEOUT_MAX)) delay = 1
    const t = new VirtualTimer(this, this.nextId++, fn, args, Math.trunc(delay), repeat)
    this.live.set(t.id, t)
    this.schedule(t)
    return t
  }

  private schedule (t: VirtualTimer): void {
    t.at = this.nowMs + t.delayMs
    this.heap.push({ at: t.at, seq: this.seq++, generation: t.generation, timer: t })
    // cleared and refreshed timers leave stale entries behind (a 30 s timeout cleared after 5 ms
    // stays 30 s): drop them once they outnumber the live ones
    if (this.heap.size > 2 * this.live.size + COMPACT_MIN) this.heap.compact(isLive)
  }

  /** @internal timer.refresh(): same delay, from now; as in Node it re-arms a timer that already fired, not one cleared */
  reschedule (t: VirtualTimer): void {
    if (t.cleared || !this.running) return
    t.generation++
    this.live.set(t.id, t)
    this.schedule(t)
  }

  /** @internal */
  clear (t: VirtualTimer): void {
    t.cleared = true
    // as Node's clearTimeout drops _onTimeout: the heap keeps a stale entry until the next
    // compaction, and through a callback it would keep what the callback closes over (a closed
    // connection's muxer, its streams, its peer's state): 2,160 of 4,807 connections in a
    // sybil-drain heap at 40 peers were held only so
    t.callback = noop
    t.args = []
    if (!this.live.delete(t.id)) return
    t.generation++
  }

  private clearAny (t: unknown, realClear: (t: any) => void): void {
    if (t instanceof VirtualTimer) { this.clear(t); return }
    if (typeof t === 'number') {
      const v = this.live.get(t)
      if (v != null) { this.clear(v); return }
    }
    // a real timer set before install
    if (t != null) realClear(t)
  }

  /** the next timer still live, dropping stale heap entries */
  private peekLive (): Entry | undefined {
    for (;;) {
      const e = this.heap.peek()
      if (e === undefined) return undefined
      if (e.generation === e.timer.generation && this.live.has(e.timer.id)) return e
      this.heap.pop()
    }
  }

  /** one macrotask: fire the next timer, jumping to it when nothing real is in flight */
  private readonly turn = (): void => {
    if (!this.running) return
    const next = this.peekLive()
    if (next === undefined) { real.setTimeout(this.turn, 1); return }
    if (next.at > this.nowMs) {
      // time moves only when the process is idle: work queued for now (an immediate, e.g. the
      // simulated network delivering what is due) runs first, at this instant
      const resources = process.getActiveResourcesInfo()
      if (resources.includes('Immediate')) { real.setImmediate(this.turn); return }
      if (this.realWorkPending(resources)) { real.setTimeout(this.turn, 0); return }
      this.stats.jumps++
      this.nowMs = next.at
    }
    this.heap.pop()
    const t = next.timer
    if (t.repeat) {
      t.generation++
      this.schedule(t)
    } else {
      this.live.delete(t.id)
    }
    this.stats.fired++
    real.setImmediate(this.turn)
    // a throwing timer is an uncaught exception, as with real timers; `this` is the timer, as in Node
    t.callback.apply(t, t.args)
  }

  private realWorkPending (resources: string[]): boolean {
    const busy = resources.some(r => REAL_WORK.test(r))
    if (!busy) { this.waitingSince = undefined; return false }
    const now = real.performanceNow()
    this.waitingSince ??= now
    if (now - this.waitingSince > MAX_REAL_WAIT_MS) { this.waitingSince = undefined; return false }
    return true
  }
}

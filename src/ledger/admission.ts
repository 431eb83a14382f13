/**
 * Admission of records from the network, before and beside validity: the hold for records dated
 * in the future (judged once the clock reaches them) and the gossip rate budget of authors with
 * no balance of their own. Neither changes which records are valid; both only delay a record (its
 * judgement, or its forwarding), so every node still ends with the same set. Pure: the time is
 * passed in.
 */

/**
 * a record whose signed `time` is further than this ahead of the node's clock is not judged yet:
 * rules that compare a record's own time (a release against its open's end) must not be satisfied
 * early by an author who dates its record in the future
 */
export const MAX_RECORD_CLOCK_SKEW_MS = 60_000
/** future-dated records held at once; beyond it the one dated furthest ahead is dropped (it comes back by pull) */
export const DEFAULT_MAX_HELD_FUTURE = 1_000
/**
 * records per window an author with no balance of its own (balanceUc ≤ 0, spending on credit) may
 * have forwarded by gossip: a buyer opens a few sessions a second at most, a spammer thousands
 */
export const DEFAULT_UNFUNDED_RECORDS_PER_WINDOW = 20
export const DEFAULT_UNFUNDED_WINDOW_MS = 10_000
/**
 * a record kept but not forwarded (over its author's budget) is not acked by this node's own
 * records before this long: two periodic pulls (30 s each), by which its peers hold it too, so
 * the node's own records (a seller's settles) never wait at them for a record only it has
 */
export const DEFAULT_ACK_DEFER_MS = 60_000
/** throttled record ids remembered for the ack deferral; beyond it the oldest is acked as usual */
export const DEFAULT_MAX_DEFERRED_ACKS = 100_000
/** authors whose window is remembered; beyond it the oldest window is forgotten */
export const DEFAULT_MAX_BUDGET_AUTHORS = 10_000

interface Held { bytes: Uint8Array, judgeAtMs: number }

/**
 * Future-dated records, verified but not judged: `due(now)` hands back those whose
 * `time − MAX_RECORD_CLOCK_SKEW_MS` the clock has reached. Bounded by count.
 */
export class FutureHold {
  private readonly held = new Map<string, Held>()
  /** the earliest judgeAtMs among held records: `due` is O(1) until then */
  private nextDueMs = Infinity

  constructor (private readonly max: number = DEFAULT_MAX_HELD_FUTURE, readonly skewMs: number = MAX_RECORD_CLOCK_SKEW_MS) {}

  /** whether a record signed at `timeMs` waits when the clock reads `nowMs` */
  isFuture (timeMs: number, nowMs: number): boolean {
    return timeMs - this.skewMs > nowMs
  }

  has (id: string): boolean { return this.held.has(id) }
  get size (): number { return this.held.size }
  ids (): IterableIterator<string> { return this.held.keys() }

  /** keep a verified record until `timeMs − skew`; false when it was dropped at once (full, and it is the furthest ahead) */
  hold (id: string, bytes: Uint8Array, timeMs: number): boolean {
    if (this.held.has(id)) return true
    const judgeAtMs = timeMs - this.skewMs
    if (this.held.size >= this.max) {
      let furthest: string | undefined
      let furthestMs = -Infinity
      for (const [k, h] of this.held) if (h.judgeAtMs > furthestMs) { furthest = k; furthestMs = h.judgeAtMs }
      if (furthest == null || furthestMs <= judgeAtMs) return false
      this.held.delete(furthest)
    }
    this.held.set(id, { bytes, judgeAtMs })
    if (judgeAtMs < this.nextDueMs) this.nextDueMs = judgeAtMs
    return true
  }

  /** removes and returns the records the clock has reached, earliest first */
  due (nowMs: number): Array<{ id: string, bytes: Uint8Array }> {
    if (nowMs < this.nextDueMs) return []
    const out: Array<{ id: string, bytes: Uint8Array, judgeAtMs: number }> = []
    let next = Infinity
    for (const [id, h] of this.held) {
      if (h.judgeAtMs <= nowMs) out.push({ id, ...h })
      else if (h.judgeAtMs < next) next = h.judgeAtMs
    }
    for (const r of out) this.held.delete(r.id)
    this.nextDueMs = next
    return out.sort((a, b) => a.judgeAtMs - b.judgeAtMs).map(({ id, bytes }) => ({ id, bytes }))
  }
}

/**
 * A fixed-window count per author: `take(author, now)` is true while the author has had fewer
 * than `perWindow` records counted in its current window.
 */
export class AuthorBudget {
  private readonly windows = new Map<string, { startMs: number, count: number }>()

  constructor (
    readonly perWindow: number = DEFAULT_UNFUNDED_RECORDS_PER_WINDOW,
    readonly windowMs: number = DEFAULT_UNFUNDED_WINDOW_MS,
    private readonly maxAuthors: number = DEFAULT_MAX_BUDGET_AUTHORS
  ) {}

  take (author: string, nowMs: number): boolean {
    let w = this.windows.get(author)
    if (w == null || nowMs - w.startMs >= this.windowMs) {
      if (w == null && this.windows.size >= this.maxAuthors) this.windows.delete(this.windows.keys().next().value as string)
      this.windows.delete(author)
      w = { startMs: nowMs, count: 0 }
      this.windows.set(author, w)
    }
    if (w.count >= this.perWindow) return false
    w.count++
    return true
  }
}

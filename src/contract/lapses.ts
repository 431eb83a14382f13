/**
 * Lapsed reservations (negotiate.md § Lapsed reservations), pure: a contract whose buyer never
 * published its `open` within `open_within_ms` held a reservation for nothing. Each such lapse
 * counts against the buyer's account and the peer that negotiated it, in a sliding window;
 * beyond a small allowance the seller quotes neither again until a cool-down that doubles with
 * every further lapse has passed. Time is passed in; no clock, no I/O.
 */

export interface LapseRules {
  /** lapses are counted over this trailing window */
  windowMs?: number
  /** lapses within the window that cost nothing (a crash between contract and open, a slow gossip) */
  allowance?: number
  /** the first cool-down past the allowance; each further lapse in the window doubles it */
  coolDownMs?: number
  /** the cool-down never grows beyond this */
  maxCoolDownMs?: number
  /** subjects (accounts, peers) remembered at once; the stalest are forgotten first */
  maxSubjects?: number
}

/** long enough that a squatter's rounds add up, short enough that an honest mishap is forgotten */
export const DEFAULT_LAPSE_WINDOW_MS = 10 * 60_000
/** one contract left unopened is free: an honest buyer that crashed once is not punished */
export const DEFAULT_LAPSE_ALLOWANCE = 1
/** the first cool-down: several times the 5 s reservation, so a squatter's share of the time falls at once */
export const DEFAULT_LAPSE_COOL_DOWN_MS = 30_000
/** the window: a subject that keeps lapsing is shut out for as long as its lapses are remembered */
export const DEFAULT_MAX_LAPSE_COOL_DOWN_MS = DEFAULT_LAPSE_WINDOW_MS
/** accounts and peers remembered: each costs a few dozen bytes */
export const DEFAULT_MAX_LAPSE_SUBJECTS = 10_000

/**
 * The cool-down after `count` lapses in the window (0 while within the allowance):
 * coolDownMs × 2^(count − allowance − 1), at most maxCoolDownMs.
 */
export function lapseCoolDownMs (count: number, rules: LapseRules = {}): number {
  const allowance = rules.allowance ?? DEFAULT_LAPSE_ALLOWANCE
  if (count <= allowance) return 0
  const base = rules.coolDownMs ?? DEFAULT_LAPSE_COOL_DOWN_MS
  const max = rules.maxCoolDownMs ?? DEFAULT_MAX_LAPSE_COOL_DOWN_MS
  const doublings = Math.min(count - allowance - 1, 30)
  return Math.min(max, base * 2 ** doublings)
}

/** lapses per subject (a buyer account or a peer, by any string key) and the wait they impose */
export class ReservationLapses {
  private readonly rules: Required<LapseRules>
  /** subject → times of its lapses in the window, oldest first (insertion order = least recently lapsed first) */
  private readonly times = new Map<string, number[]>()

  constructor (rules: LapseRules = {}) {
    this.rules = {
      windowMs: rules.windowMs ?? DEFAULT_LAPSE_WINDOW_MS,
      allowance: rules.allowance ?? DEFAULT_LAPSE_ALLOWANCE,
      coolDownMs: rules.coolDownMs ?? DEFAULT_LAPSE_COOL_DOWN_MS,
      maxCoolDownMs: rules.maxCoolDownMs ?? DEFAULT_MAX_LAPSE_COOL_DOWN_MS,
      maxSubjects: rules.maxSubjects ?? DEFAULT_MAX_LAPSE_SUBJECTS
    }
  }

  /** a reservation of `subject` lapsed unopened at `nowMs` */
  record (subject: string, nowMs: number): void {
    const xs = this.recent(subject, nowMs)
    xs.push(nowMs)
    // re-insert: the map's order is the order of last lapse, so the stalest subject is first
    this.times.delete(subject)
    this.times.set(subject, xs)
    while (this.times.size > this.rules.maxSubjects) this.times.delete(this.times.keys().next().value as string)
  }

  /** lapses of `subject` within the window ending at `nowMs` */
  count (subject: string, nowMs: number): number {
    return this.recent(subject, nowMs).length
  }

  /** ms until `subject` may be quoted again (0 = now): its last lapse + the cool-down its count earns */
  retryAfterMs (subject: string, nowMs: number): number {
    const xs = this.recent(subject, nowMs)
    const cool = lapseCoolDownMs(xs.length, this.rules)
    if (cool === 0) return 0
    return Math.max(0, Math.ceil(xs[xs.length - 1] + cool - nowMs))
  }

  /** subjects remembered (for tests and metrics) */
  get size (): number { return this.times.size }

  private recent (subject: string, nowMs: number): number[] {
    const xs = this.times.get(subject)
    if (xs == null) return []
    const from = nowMs - this.rules.windowMs
    let i = 0
    while (i < xs.length && xs[i] <= from) i++
    if (i === 0) return xs
    const kept = xs.slice(i)
    if (kept.length === 0) this.times.delete(subject)
    else this.times.set(subject, kept)
    return kept
  }
}

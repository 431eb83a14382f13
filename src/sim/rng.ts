/**
 * The simulator's seeded randomness: one PRNG per run, derived from the seed string, drives the
 * topology, prices, timings and which buyer asks what, so one seed gives one scenario timeline.
 */
import { createHash } from 'node:crypto'

export interface Rng {
  /** uniform in [0, 1) */
  next(): number
  /** integer in [lo, hi] */
  int(lo: number, hi: number): number
  pick<T>(items: readonly T[]): T
  /** k distinct items (fewer when there are fewer) */
  sample<T>(items: readonly T[], k: number): T[]
  shuffle<T>(items: readonly T[]): T[]
  chance(p: number): boolean
  /** n pseudo-random bytes */
  bytes(n: number): Uint8Array<ArrayBuffer>
}

/** sfc32 seeded from SHA-256 of the seed string: fast, 128-bit state, good enough for simulation */
export function createRng (seed: string): Rng {
  const h = createHash('sha256').update(`tally-sim:${seed}`).digest()
  let a = h.readUInt32LE(0); let b = h.readUInt32LE(4); let c = h.readUInt32LE(8); let d = h.readUInt32LE(12)
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    const t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    const r = (t + d) | 0
    c = (c + r) | 0
    return (r >>> 0) / 4294967296
  }
  for (let i = 0; i < 12; i++) next()
  const rng: Rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[Math.floor(next() * items.length)]
    },
    shuffle: (items) => {
      const out = items.slice()
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1))
        const t = out[i]; out[i] = out[j]; out[j] = t
      }
      return out
    },
    sample: (items, k) => rng.shuffle(items).slice(0, Math.max(0, k)),
    chance: (p) => next() < p,
    bytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256))
  }
  return rng
}

/** a 32-byte identity seed for peer `index` in its `generation` (a churned peer with a new identity) */
export function peerSeed (seed: string, index: number, generation: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`tally-sim-peer:${seed}:${index}:${generation}`).digest())
}

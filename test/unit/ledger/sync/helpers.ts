/** Deterministic item sets for sync tests: id = SHA-256(payload), payload derived from a seed. */
import { createHash } from 'node:crypto'

export interface TestItem { timestamp: number, id: Uint8Array, payload: Uint8Array }

export function payloadOf (seed: number, i: number, size = 40): Uint8Array {
  const out = new Uint8Array(size)
  let block = 0
  for (let off = 0; off < size; off += 32) {
    const h = createHash('sha256').update(`item:${seed}:${i}:${block++}`).digest()
    out.set(h.subarray(0, Math.min(32, size - off)), off)
  }
  return out
}

export function makeItem (seed: number, i: number, timestamp: number, size = 40): TestItem {
  const payload = payloadOf(seed, i, size)
  return { timestamp, id: new Uint8Array(createHash('sha256').update(payload).digest()), payload }
}

/** small deterministic PRNG (mulberry32) so fast-check seeds reproduce */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Two sets built from one universe: each item goes to both, only A or only B with the given weights.
 * `tsRange` small ⇒ many equal timestamps (exercises id-prefix bounds).
 */
export function splitSets (seed: number, n: number, pBoth: number, pA: number, pB: number, tsRange: number): { a: TestItem[], b: TestItem[], onlyA: Set<string>, onlyB: Set<string> } {
  const rnd = prng(seed)
  const a: TestItem[] = []
  const b: TestItem[] = []
  const onlyA = new Set<string>()
  const onlyB = new Set<string>()
  const total = pBoth + pA + pB
  for (let i = 0; i < n; i++) {
    const it = makeItem(seed, i, Math.floor(rnd() * tsRange))
    const r = rnd() * total
    if (r < pBoth) { a.push(it); b.push(it) } else if (r < pBoth + pA) { a.push(it); onlyA.add(hex(it.id)) } else { b.push(it); onlyB.add(hex(it.id)) }
  }
  return { a, b, onlyA, onlyB }
}

export function hex (b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

export function hexSet (ids: Uint8Array[]): Set<string> {
  return new Set(ids.map(hex))
}

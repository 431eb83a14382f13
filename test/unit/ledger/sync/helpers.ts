/** Deterministic item sets for sync tests: id = SHA-256(payload), payload derived from a seed. */
import { createHash } from 'node:crypto'

export interface TestItem { timestamp: number, id: Uint8Array, payload: Uint8Array }

/** payload = 8-byte big-endian timestamp ‖ pseudo-random bytes, so a receiver can recover the timestamp */
export function payloadOf (seed: number, i: number, size = 40, timestamp = 0): Uint8Array {
  const out = new Uint8Array(size)
  let block = 0
  for (let off = 8; off < size; off += 32) {
    const h = createHash('sha256').update(`item:${seed}:${i}:${block++}`).digest()
    out.set(h.subarray(0, Math.min(32, size - off)), off)
  }
  new DataView(out.buffer).setBigUint64(0, BigInt(timestamp))
  return out
}

export function makeItem (seed: number, i: number, timestamp: number, size = 40): TestItem {
  const payload = payloadOf(seed, i, size, timestamp)
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

/** an in-memory record store playing both RecordSource and RecordSink for sync tests */
export class MemStore {
  readonly records = new Map<string, TestItem>()
  private rev = 0

  constructor (items: Iterable<TestItem> = []) {
    for (const it of items) this.records.set(hex(it.id), it)
  }

  items (): Iterable<{ timestamp: number, id: Uint8Array }> {
    return this.records.values()
  }

  get (id: Uint8Array): Uint8Array | undefined {
    return this.records.get(hex(id))?.payload
  }

  /** test chains: account "acct-N" owns the records whose 9th payload byte mod 4 is N, ordered by timestamp then id */
  chain (account: string, fromSeq: bigint, limit: number): Uint8Array[] {
    const n = Number(account.slice(5))
    const mine = [...this.records.values()].filter(r => r.payload[8] % 4 === n)
      .sort((a, b) => a.timestamp - b.timestamp || Buffer.compare(a.id, b.id))
    return mine.slice(Number(fromSeq), Number(fromSeq) + limit).map(r => r.payload)
  }

  revision (): number {
    return this.rev
  }

  async add (bytes: Uint8Array): Promise<void> {
    if (bytes.length < 8) throw new RangeError('test record shorter than its timestamp')
    const id = new Uint8Array(createHash('sha256').update(bytes).digest())
    const timestamp = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0))
    if (!this.records.has(hex(id))) {
      this.records.set(hex(id), { timestamp, id, payload: bytes.slice() })
      this.rev++
    }
  }

  ids (): Set<string> {
    return new Set(this.records.keys())
  }
}

export function recordId (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

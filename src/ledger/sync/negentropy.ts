/**
 * Negentropy protocol v1 (range-based set reconciliation), written from the published spec
 * (hoytech/negentropy docs/negentropy-protocol-v1.md): wire codec, a sealed sorted-vector storage
 * with O(1) range fingerprints (prefix sums of ids mod 2^256), and both the initiator and the
 * responder side. Pure: no I/O, no clock; messages are byte arrays, frames are the caller's job.
 */
import { createHash } from 'node:crypto'
import { NegentropyMalformedError, NegentropyStateError, UnsupportedProtocolVersionError } from './errors.js'

/** protocol version byte of Negentropy v1 */
export const PROTOCOL_VERSION = 0x61
/** version bytes 0x60..0x6f are Negentropy versions; anything else is not a Negentropy message */
const MIN_VERSION_BYTE = 0x60
const MAX_VERSION_BYTE = 0x6f
/** every item id is 32 bytes */
export const ID_SIZE = 32
/** fingerprints are the first 16 bytes of a SHA-256 */
export const FINGERPRINT_SIZE = 16
/** u64 max is reserved as the "infinity" timestamp of the last bound */
export const MAX_TIMESTAMP = (1n << 64n) - 1n
/** the reference implementations refuse smaller limits: a frame must hold a useful split */
export const MIN_FRAME_SIZE_LIMIT = 4096
/** a range is split into this many fingerprinted buckets (spec reference behaviour) */
const BUCKETS = 16
/** headroom kept under frameSizeLimit for the trailing fingerprint range (reference value) */
const FRAME_SLACK = 200
/** a varint longer than this cannot hold a u64 */
const MAX_VARINT_BYTES = 10

export const Mode = { Skip: 0, Fingerprint: 1, IdList: 2 } as const

/** an exclusive upper bound: timestamp and an id prefix of 0..32 bytes (missing bytes are zero) */
export interface Bound { timestamp: bigint, id: Uint8Array }

export interface NegentropyItem { timestamp: bigint, id: Uint8Array }

const INFINITY_BOUND: Bound = { timestamp: MAX_TIMESTAMP, id: new Uint8Array(0) }

// ---------------------------------------------------------------------------------------------
// codec

/** growable output buffer */
class Writer {
  private buf = new Uint8Array(256)
  length = 0

  private reserve (n: number): void {
    if (this.length + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n))
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }

  byte (b: number): void {
    this.reserve(1)
    this.buf[this.length++] = b
  }

  bytes (b: Uint8Array): void {
    this.reserve(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }

  varint (n: number | bigint): void {
    this.bytes(encodeVarint(n))
  }

  append (w: Writer): void {
    this.bytes(w.finish())
  }

  finish (): Uint8Array {
    return this.buf.subarray(0, this.length)
  }
}

/** base-128, most significant digit first, high bit set on every byte but the last */
export function encodeVarint (value: number | bigint): Uint8Array {
  let n = BigInt(value)
  if (n < 0n || n > MAX_TIMESTAMP) throw new RangeError(`varint out of u64 range: ${n}`)
  if (n === 0n) return Uint8Array.of(0)
  const digits: number[] = []
  while (n > 0n) {
    digits.push(Number(n & 127n))
    n >>= 7n
  }
  digits.reverse()
  for (let i = 0; i < digits.length - 1; i++) digits[i] |= 128
  return Uint8Array.from(digits)
}

/** cursor over an incoming message; every read checks the remaining length */
class Reader {
  pos = 0
  constructor (private readonly buf: Uint8Array) {}

  get remaining (): number {
    return this.buf.length - this.pos
  }

  byte (): number {
    if (this.pos >= this.buf.length) throw new NegentropyMalformedError('message ends prematurely: expected 1 more byte')
    return this.buf[this.pos++]
  }

  bytes (n: number): Uint8Array {
    if (n > this.remaining) throw new NegentropyMalformedError(`message ends prematurely: expected ${n} bytes, ${this.remaining} left`)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  varint (): bigint {
    let res = 0n
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.byte()
      res = (res << 7n) | BigInt(b & 127)
      if ((b & 128) === 0) {
        if (res > MAX_TIMESTAMP) throw new NegentropyMalformedError('varint exceeds u64')
        return res
      }
    }
    throw new NegentropyMalformedError(`varint longer than ${MAX_VARINT_BYTES} bytes`)
  }

  /** a varint used as a count or small number; rejected above `max` */
  smallVarint (max: number, what: string): number {
    const v = this.varint()
    if (v > BigInt(max)) throw new NegentropyMalformedError(`${what} ${v} exceeds ${max}`)
    return Number(v)
  }
}

/** decode a varint from the start of `buf`; returns the value and the bytes used */
export function decodeVarint (buf: Uint8Array): { value: bigint, length: number } {
  const r = new Reader(buf)
  const value = r.varint()
  return { value, length: r.pos }
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1
  }
  return a.length - b.length
}

function compareItems (a: NegentropyItem, b: NegentropyItem): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1
  return compareBytes(a.id, b.id)
}

/**
 * Items in (timestamp, id) order. Sorting a million objects with a bigint comparator takes
 * seconds, so the keys are first copied into float arrays (timestamps below 2^53, and the first
 * 6 id bytes) and an index permutation is sorted on those, falling back to full comparison on ties.
 */
function sortItems (items: NegentropyItem[]): NegentropyItem[] {
  const n = items.length
  let sorted = true
  for (let i = 1; i < n; i++) {
    if (compareItems(items[i - 1], items[i]) >= 0) { sorted = false; break }
  }
  if (sorted) return items
  const ts = new Float64Array(n)
  const key = new Float64Array(n)
  let exact = true
  for (let i = 0; i < n; i++) {
    const t = items[i].timestamp
    if (t > SAFE_TIMESTAMP) exact = false
    ts[i] = Number(t)
    const id = items[i].id
    key[i] = ((((id[0] * 256 + id[1]) * 256 + id[2]) * 256 + id[3]) * 256 + id[4]) * 256 + id[5]
  }
  const order = new Array<number>(n)
  for (let i = 0; i < n; i++) order[i] = i
  if (exact) {
    order.sort((a, b) => (ts[a] - ts[b]) || (key[a] - key[b]) || compareBytes(items[a].id, items[b].id))
  } else {
    order.sort((a, b) => compareItems(items[a], items[b]))
  }
  return order.map(i => items[i])
}

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1

/** the ids as little-endian u32 words (a zero-copy view on little-endian hosts) */
function idWords (ids: Uint8Array): Uint32Array {
  if (LITTLE_ENDIAN_HOST && ids.byteOffset % 4 === 0) return new Uint32Array(ids.buffer, ids.byteOffset, ids.length / 4)
  const words = new Uint32Array(ids.length / 4)
  const view = new DataView(ids.buffer, ids.byteOffset, ids.byteLength)
  for (let i = 0; i < words.length; i++) words[i] = view.getUint32(i * 4, true)
  return words
}

/** timestamps up to here convert to float without loss */
const SAFE_TIMESTAMP = BigInt(Number.MAX_SAFE_INTEGER)

function toHex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

// ---------------------------------------------------------------------------------------------
// storage

/**
 * Items sorted by (timestamp, id) in flat typed arrays, with prefix sums of the ids (mod 2^256,
 * 8 little-endian u32 words per entry) so any range's fingerprint costs one subtraction and one hash.
 */
export class NegentropyStorageVector {
  private pending: NegentropyItem[] = []
  private sealed = false
  private n = 0
  private timestamps = new BigUint64Array(0)
  private ids = new Uint8Array(0)
  private sums = new Uint32Array(8)

  insert (timestamp: bigint | number, id: Uint8Array): void {
    if (this.sealed) throw new NegentropyStateError('storage already sealed')
    const ts = BigInt(timestamp)
    if (ts < 0n || ts >= MAX_TIMESTAMP) throw new RangeError(`timestamp must be in [0, 2^64-1), got ${ts}`)
    if (id.length !== ID_SIZE) throw new RangeError(`item id must be ${ID_SIZE} bytes, got ${id.length}`)
    this.pending.push({ timestamp: ts, id })
  }

  /** sort, reject duplicates, build prefix sums; the storage is read-only afterwards */
  seal (): void {
    if (this.sealed) throw new NegentropyStateError('storage already sealed')
    const items = sortItems(this.pending)
    const n = items.length
    const timestamps = new BigUint64Array(n)
    const ids = new Uint8Array(n * ID_SIZE)
    for (let i = 0; i < n; i++) {
      if (i > 0 && compareItems(items[i - 1], items[i]) === 0) throw new NegentropyStateError('duplicate item inserted')
      timestamps[i] = items[i].timestamp
      ids.set(items[i].id, i * ID_SIZE)
    }
    const sums = new Uint32Array((n + 1) * 8)
    const words = idWords(ids)
    for (let i = 0; i < n; i++) {
      let carry = 0
      const p = i * 8
      const q = p + 8
      for (let k = 0; k < 8; k++) {
        const s = sums[p + k] + words[p + k] + carry
        sums[q + k] = s >>> 0
        carry = s > 0xffffffff ? 1 : 0
      }
    }
    this.n = n
    this.timestamps = timestamps
    this.ids = ids
    this.sums = sums
    this.pending = []
    this.sealed = true
  }

  size (): number {
    this.checkSealed()
    return this.n
  }

  timestamp (i: number): bigint {
    return this.timestamps[i]
  }

  /** a view into the storage; copy it if it must outlive the storage */
  id (i: number): Uint8Array {
    return this.ids.subarray(i * ID_SIZE, (i + 1) * ID_SIZE)
  }

  item (i: number): NegentropyItem {
    this.checkSealed()
    if (i < 0 || i >= this.n) throw new RangeError(`item index ${i} out of range`)
    return { timestamp: this.timestamps[i], id: this.id(i) }
  }

  /** first index in [begin, end) whose item is not below `bound` */
  findLowerBound (begin: number, end: number, bound: Bound): number {
    this.checkSealed()
    this.checkRange(begin, end)
    let first = begin
    let count = end - begin
    while (count > 0) {
      const step = count >>> 1
      const it = first + step
      if (this.itemBelow(it, bound)) {
        first = it + 1
        count -= step + 1
      } else {
        count = step
      }
    }
    return first
  }

  private itemBelow (i: number, bound: Bound): boolean {
    const ts = this.timestamps[i]
    if (ts !== bound.timestamp) return ts < bound.timestamp
    const off = i * ID_SIZE
    const prefix = bound.id
    for (let k = 0; k < prefix.length; k++) {
      const a = this.ids[off + k]
      if (a !== prefix[k]) return a < prefix[k]
    }
    // equal on the prefix: the bound's missing bytes are zero, so the item is not below it
    return false
  }

  /** first 16 bytes of SHA-256(Σ ids mod 2^256 as 32 LE bytes ‖ varint(count)) over [begin, end) */
  fingerprint (begin: number, end: number): Uint8Array {
    this.checkSealed()
    this.checkRange(begin, end)
    const sums = this.sums
    const out = new Uint8Array(ID_SIZE)
    const view = new DataView(out.buffer)
    let borrow = 0
    for (let k = 0; k < 8; k++) {
      let d = sums[end * 8 + k] - sums[begin * 8 + k] - borrow
      borrow = d < 0 ? 1 : 0
      if (d < 0) d += 0x100000000
      view.setUint32(k * 4, d, true)
    }
    const h = createHash('sha256')
    h.update(out)
    h.update(encodeVarint(end - begin))
    return new Uint8Array(h.digest().subarray(0, FINGERPRINT_SIZE))
  }

  private checkSealed (): void {
    if (!this.sealed) throw new NegentropyStateError('storage not sealed')
  }

  private checkRange (begin: number, end: number): void {
    if (begin < 0 || begin > end || end > this.n) throw new RangeError(`bad range [${begin}, ${end}) of ${this.n}`)
  }
}

// ---------------------------------------------------------------------------------------------
// reconciler

export interface ReconcileResult {
  /** next message to send; null on the initiator when reconciliation is complete */
  output: Uint8Array | null
  /** (initiator only) ids we have that the peer lacks */
  haveIds: Uint8Array[]
  /** (initiator only) ids the peer has that we lack */
  needIds: Uint8Array[]
}

/**
 * One side of a Negentropy session. The initiator calls initiate() then reconcile() on each
 * reply until the output is null; the responder calls reconcile() on each query and sends
 * back the output. A frameSizeLimit of 0 means unlimited, otherwise it must be ≥ 4096.
 */
export class Negentropy {
  private isInitiator = false
  private lastTimestampIn = 0n
  private lastTimestampOut = 0n

  constructor (private readonly storage: NegentropyStorageVector, readonly frameSizeLimit = 0) {
    if (frameSizeLimit !== 0 && frameSizeLimit < MIN_FRAME_SIZE_LIMIT) {
      throw new RangeError(`frameSizeLimit must be 0 or ≥ ${MIN_FRAME_SIZE_LIMIT}, got ${frameSizeLimit}`)
    }
    storage.size() // throws unless sealed
  }

  initiate (): Uint8Array {
    if (this.isInitiator) throw new NegentropyStateError('already initiated')
    this.isInitiator = true
    this.lastTimestampOut = 0n
    const out = new Writer()
    out.byte(PROTOCOL_VERSION)
    this.splitRange(0, this.storage.size(), INFINITY_BOUND, out)
    return out.finish()
  }

  setInitiator (): void {
    this.isInitiator = true
  }

  reconcile (query: Uint8Array): ReconcileResult {
    const haveIds: Uint8Array[] = []
    const needIds: Uint8Array[] = []
    const input = new Reader(query)
    this.lastTimestampIn = 0n
    this.lastTimestampOut = 0n

    const full = new Writer()
    full.byte(PROTOCOL_VERSION)

    const version = input.byte()
    if (version < MIN_VERSION_BYTE || version > MAX_VERSION_BYTE) {
      throw new UnsupportedProtocolVersionError(`not a Negentropy message: version byte 0x${version.toString(16)}`)
    }
    if (version !== PROTOCOL_VERSION) {
      if (this.isInitiator) throw new UnsupportedProtocolVersionError(`peer requested Negentropy version ${version - MIN_VERSION_BYTE}, we speak 1`)
      // spec: answer with the highest version we support so the peer can downgrade
      return { output: full.finish(), haveIds, needIds }
    }

    const storageSize = this.storage.size()
    let prevBound: Bound = { timestamp: 0n, id: new Uint8Array(0) }
    let prevIndex = 0
    let skip = false

    while (input.remaining !== 0) {
      let o = new Writer()
      const doSkip = (): void => {
        if (skip) {
          skip = false
          this.encodeBound(prevBound, o)
          o.varint(Mode.Skip)
        }
      }

      const currBound = this.decodeBound(input)
      const mode = input.smallVarint(Mode.IdList, 'mode')
      const lower = prevIndex
      let upper = this.storage.findLowerBound(prevIndex, storageSize, currBound)

      if (mode === Mode.Skip) {
        skip = true
      } else if (mode === Mode.Fingerprint) {
        const theirs = input.bytes(FINGERPRINT_SIZE)
        const ours = this.storage.fingerprint(lower, upper)
        if (compareBytes(theirs, ours) !== 0) {
          doSkip()
          this.splitRange(lower, upper, currBound, o)
        } else {
          skip = true
        }
      } else {
        const numIds = input.smallVarint(Math.floor(input.remaining / ID_SIZE), 'IdList length')
        if (this.isInitiator) {
          const theirs = new Map<string, Uint8Array>()
          for (let i = 0; i < numIds; i++) {
            const e = input.bytes(ID_SIZE)
            theirs.set(toHex(e), e)
          }
          skip = true
          for (let i = lower; i < upper; i++) {
            const id = this.storage.id(i)
            const k = toHex(id)
            if (!theirs.has(k)) haveIds.push(id.slice())
            else theirs.delete(k)
          }
          for (const v of theirs.values()) needIds.push(v.slice())
        } else {
          input.bytes(numIds * ID_SIZE)
          doSkip()
          const responseIds = new Writer()
          let numResponseIds = 0
          let endBound = currBound
          for (let i = lower; i < upper; i++) {
            if (this.exceededFrameSizeLimit(full.length + responseIds.length)) {
              endBound = { timestamp: this.storage.timestamp(i), id: this.storage.id(i) }
              upper = i // the remaining range gets the trailing fingerprint below
              break
            }
            responseIds.bytes(this.storage.id(i))
            numResponseIds++
          }
          this.encodeBound(endBound, o)
          o.varint(Mode.IdList)
          o.varint(numResponseIds)
          o.append(responseIds)
          full.append(o)
          o = new Writer()
        }
      }

      if (this.exceededFrameSizeLimit(full.length + o.length)) {
        // frame full: stop here and send one fingerprint for everything after `upper`
        const remaining = this.storage.fingerprint(upper, storageSize)
        this.encodeBound(INFINITY_BOUND, full)
        full.varint(Mode.Fingerprint)
        full.bytes(remaining)
        break
      }
      full.append(o)
      prevIndex = upper
      prevBound = currBound
    }

    const output = full.length === 1 && this.isInitiator ? null : full.finish()
    return { output, haveIds, needIds }
  }

  private splitRange (lower: number, upper: number, upperBound: Bound, o: Writer): void {
    const numElems = upper - lower
    if (numElems < BUCKETS * 2) {
      this.encodeBound(upperBound, o)
      o.varint(Mode.IdList)
      o.varint(numElems)
      for (let i = lower; i < upper; i++) o.bytes(this.storage.id(i))
      return
    }
    const itemsPerBucket = Math.floor(numElems / BUCKETS)
    const bucketsWithExtra = numElems % BUCKETS
    let curr = lower
    for (let i = 0; i < BUCKETS; i++) {
      const bucketSize = itemsPerBucket + (i < bucketsWithExtra ? 1 : 0)
      const fp = this.storage.fingerprint(curr, curr + bucketSize)
      curr += bucketSize
      const nextBound = curr === upper ? upperBound : this.minimalBound(curr - 1, curr)
      this.encodeBound(nextBound, o)
      o.varint(Mode.Fingerprint)
      o.bytes(fp)
    }
  }

  /** shortest bound that separates item `prev` from item `curr` (curr = prev + 1) */
  private minimalBound (prev: number, curr: number): Bound {
    const ts = this.storage.timestamp(curr)
    if (ts !== this.storage.timestamp(prev)) return { timestamp: ts, id: new Uint8Array(0) }
    const a = this.storage.id(prev)
    const b = this.storage.id(curr)
    let shared = 0
    while (shared < ID_SIZE && a[shared] === b[shared]) shared++
    return { timestamp: ts, id: b.subarray(0, shared + 1) }
  }

  private exceededFrameSizeLimit (n: number): boolean {
    return this.frameSizeLimit !== 0 && n > this.frameSizeLimit - FRAME_SLACK
  }

  private decodeTimestampIn (r: Reader): bigint {
    const raw = r.varint()
    if (raw === 0n || this.lastTimestampIn === MAX_TIMESTAMP) {
      this.lastTimestampIn = MAX_TIMESTAMP
      return MAX_TIMESTAMP
    }
    const ts = raw - 1n + this.lastTimestampIn
    if (ts >= MAX_TIMESTAMP) throw new NegentropyMalformedError('bound timestamp overflows u64')
    this.lastTimestampIn = ts
    return ts
  }

  private decodeBound (r: Reader): Bound {
    const timestamp = this.decodeTimestampIn(r)
    const len = r.smallVarint(ID_SIZE, 'bound id prefix length')
    return { timestamp, id: r.bytes(len) }
  }

  private encodeBound (b: Bound, o: Writer): void {
    if (b.timestamp === MAX_TIMESTAMP) {
      this.lastTimestampOut = MAX_TIMESTAMP
      o.varint(0)
    } else {
      const delta = b.timestamp - this.lastTimestampOut
      this.lastTimestampOut = b.timestamp
      o.varint(delta + 1n)
    }
    o.varint(b.id.length)
    o.bytes(b.id)
  }
}

/** build a sealed storage from items in any order */
export function storageFromItems (items: Iterable<{ timestamp: bigint | number, id: Uint8Array }>): NegentropyStorageVector {
  const s = new NegentropyStorageVector()
  for (const it of items) s.insert(it.timestamp, it.id)
  s.seal()
  return s
}

/**
 * Run a whole reconciliation in memory between two sealed storages (initiator `a`, responder `b`).
 * Used by tests and the benchmark; the network path is LedgerSync.
 */
export function reconcileInMemory (a: NegentropyStorageVector, b: NegentropyStorageVector, frameSizeLimit = 0, maxRounds = 1000): { rounds: number, bytesSent: number, bytesReceived: number, haveIds: Uint8Array[], needIds: Uint8Array[] } {
  const client = new Negentropy(a, frameSizeLimit)
  const server = new Negentropy(b, frameSizeLimit)
  const haveIds: Uint8Array[] = []
  const needIds: Uint8Array[] = []
  let msg: Uint8Array | null = client.initiate()
  let rounds = 0
  let bytesSent = 0
  let bytesReceived = 0
  while (msg != null) {
    if (rounds >= maxRounds) throw new NegentropyStateError(`reconciliation did not finish in ${maxRounds} rounds`)
    rounds++
    bytesSent += msg.length
    const reply = server.reconcile(msg).output
    if (reply == null) throw new NegentropyStateError('responder produced no reply')
    bytesReceived += reply.length
    const r = client.reconcile(reply)
    for (const id of r.haveIds) haveIds.push(id)
    for (const id of r.needIds) needIds.push(id)
    msg = r.output
  }
  return { rounds, bytesSent, bytesReceived, haveIds, needIds }
}

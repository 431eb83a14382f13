/**
 * GGUF v3 files: a writer for the models this repo generates, and a header reader/validator
 * that rejects files known to abort llama.cpp's whole process, before anything loads them.
 * Layout and abort cases: shared/notes/tiny-gguf.md (little-endian throughout).
 */
import { open } from 'node:fs/promises'
import { ErrorCode, TallyError } from '../../errors/index.js'

export const GGUF_MAGIC = 0x46554747
export const GGUF_VERSION = 3
export const GGUF_DEFAULT_ALIGNMENT = 32

/** GGUF metadata value type ids */
export enum GgufType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12
}

/** ggml tensor types this module knows the element size of (others are accepted, sized by block) */
export enum GgmlType { F32 = 0, F16 = 1 }

export type GgufScalar = number | bigint | boolean | string
export interface GgufArray { elementType: GgufType, values: GgufScalar[] }
export type GgufValue = GgufScalar | GgufArray
export interface GgufKv { key: string, type: GgufType, value: GgufValue }

export interface GgufTensorInfo {
  name: string
  /** dimensions innermost first, as stored */
  ne: bigint[]
  type: number
  /** relative to the start of the data section */
  offset: bigint
}

export interface GgufHeader {
  version: number
  kvs: Map<string, GgufKv>
  tensors: GgufTensorInfo[]
  alignment: number
  /** absolute file offset of the data section */
  dataOffset: number
  fileSize: number
}

/** The file is not a GGUF this node may hand to llama.cpp. `reason` is stable and machine-readable. */
export class InvalidModelError extends TallyError {
  override readonly name = 'InvalidModelError'
  override readonly code: ErrorCode = ErrorCode.invalidModel
  constructor (readonly reason: string, message: string) {
    super(message)
  }
}

// ---------------------------------------------------------------- writer

export interface GgufTensorInput {
  name: string
  /** dimensions innermost first */
  ne: number[]
  type: GgmlType
  data: Float32Array
}

class ByteSink {
  private buf = Buffer.alloc(1 << 16)
  length = 0
  private ensure (n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = Buffer.alloc(size)
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }

  u8 (v: number): void { this.ensure(1); this.buf.writeUInt8(v, this.length); this.length += 1 }
  u32 (v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.length); this.length += 4 }
  i32 (v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.length); this.length += 4 }
  u64 (v: bigint | number): void { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8 }
  i64 (v: bigint | number): void { this.ensure(8); this.buf.writeBigInt64LE(BigInt(v), this.length); this.length += 8 }
  f32 (v: number): void { this.ensure(4); this.buf.writeFloatLE(v, this.length); this.length += 4 }
  f64 (v: number): void { this.ensure(8); this.buf.writeDoubleLE(v, this.length); this.length += 8 }
  u16 (v: number): void { this.ensure(2); this.buf.writeUInt16LE(v, this.length); this.length += 2 }
  i16 (v: number): void { this.ensure(2); this.buf.writeInt16LE(v, this.length); this.length += 2 }
  bytes (b: Uint8Array): void { this.ensure(b.length); this.buf.set(b, this.length); this.length += b.length }
  str (s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.bytes(b) }
  pad (alignment: number): void { const n = (alignment - (this.length % alignment)) % alignment; this.ensure(n); this.length += n }
  result (): Uint8Array { return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.length).slice() }
}

function writeScalar (s: ByteSink, type: GgufType, v: GgufScalar): void {
  switch (type) {
    case GgufType.U8: s.u8(Number(v)); break
    case GgufType.I8: s.u8(Number(v) & 0xff); break
    case GgufType.U16: s.u16(Number(v)); break
    case GgufType.I16: s.i16(Number(v)); break
    case GgufType.U32: s.u32(Number(v)); break
    case GgufType.I32: s.i32(Number(v)); break
    case GgufType.F32: s.f32(Number(v)); break
    case GgufType.BOOL: s.u8(v === true ? 1 : 0); break
    case GgufType.STRING: s.str(String(v)); break
    case GgufType.U64: s.u64(BigInt(v)); break
    case GgufType.I64: s.i64(BigInt(v)); break
    case GgufType.F64: s.f64(Number(v)); break
    default: throw new TypeError(`cannot write GGUF scalar of type ${type}`)
  }
}

/** Serialise a GGUF v3 file. Tensors are laid out in the given order, each aligned to 32 bytes. */
export function writeGguf (kvs: GgufKv[], tensors: GgufTensorInput[]): Uint8Array {
  const s = new ByteSink()
  s.u32(GGUF_MAGIC)
  s.u32(GGUF_VERSION)
  s.u64(tensors.length)
  s.u64(kvs.length)
  for (const kv of kvs) {
    s.str(kv.key)
    s.u32(kv.type)
    if (kv.type === GgufType.ARRAY) {
      const arr = kv.value as GgufArray
      s.u32(arr.elementType)
      s.u64(arr.values.length)
      for (const v of arr.values) writeScalar(s, arr.elementType, v)
    } else {
      writeScalar(s, kv.type, kv.value as GgufScalar)
    }
  }
  let offset = 0
  const sizes: number[] = []
  for (const t of tensors) {
    const elements = t.ne.reduce((a, b) => a * b, 1)
    if (elements !== t.data.length) throw new RangeError(`tensor ${t.name}: ${t.data.length} values for shape ${t.ne.join('x')}`)
    s.str(t.name)
    s.u32(t.ne.length)
    for (const d of t.ne) s.u64(d)
    s.u32(t.type)
    s.u64(offset)
    const size = elements * (t.type === GgmlType.F16 ? 2 : 4)
    sizes.push(size)
    offset += size + ((GGUF_DEFAULT_ALIGNMENT - (size % GGUF_DEFAULT_ALIGNMENT)) % GGUF_DEFAULT_ALIGNMENT)
  }
  s.pad(GGUF_DEFAULT_ALIGNMENT)
  for (const t of tensors) {
    if (t.type === GgmlType.F16) {
      for (const v of t.data) s.u16(f32ToF16(v))
    } else {
      for (const v of t.data) s.f32(v)
    }
    s.pad(GGUF_DEFAULT_ALIGNMENT)
  }
  return s.result()
}

const f32Scratch = new Float32Array(1)
const u32Scratch = new Uint32Array(f32Scratch.buffer)

/** IEEE 754 binary32 → binary16 bits, round to nearest even. */
export function f32ToF16 (value: number): number {
  f32Scratch[0] = value
  const x = u32Scratch[0]
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0)
  let e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    let half = mant >>> shift
    const rem = mant & ((1 << shift) - 1)
    const halfway = 1 << (shift - 1)
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++
    return sign | half
  }
  let half = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++
  e = half >>> 10
  return sign | half
}

// ---------------------------------------------------------------- reader / validator

/** Upper bounds that no real model reaches; anything above is treated as a corrupt header. */
export const MAX_GGUF_TENSORS = 65_536
export const MAX_GGUF_KVS = 65_536
export const MAX_GGUF_STRING_BYTES = 1 << 20
export const MAX_GGUF_ARRAY_LENGTH = 1 << 24
export const MAX_GGUF_DIMS = 4
/** header bytes read at most: tokenizer arrays of large vocabularies fit well below this */
export const MAX_GGUF_HEADER_BYTES = 256 * 1024 * 1024

/** bytes per block and elements per block for ggml types (enough to size tensor data) */
const GGML_TYPE_SIZE: Record<number, [bytes: number, elements: number]> = {
  0: [4, 1], 1: [2, 1], 2: [18, 32], 3: [20, 32], 6: [22, 32], 7: [24, 32], 8: [34, 32], 9: [36, 32],
  10: [84, 256], 11: [110, 256], 12: [144, 256], 13: [176, 256], 14: [210, 256], 15: [292, 256],
  16: [66, 256], 17: [74, 256], 18: [98, 256], 19: [50, 256], 20: [18, 32], 21: [110, 256],
  22: [82, 256], 23: [136, 256], 24: [1, 1], 25: [2, 1], 26: [4, 1], 27: [8, 1], 28: [8, 1],
  29: [56, 256], 30: [2, 1], 34: [54, 256], 35: [66, 256], 39: [17, 32]
}

const TYPE_SIZES: Partial<Record<GgufType, number>> = {
  [GgufType.U8]: 1, [GgufType.I8]: 1, [GgufType.U16]: 2, [GgufType.I16]: 2, [GgufType.U32]: 4,
  [GgufType.I32]: 4, [GgufType.F32]: 4, [GgufType.BOOL]: 1, [GgufType.U64]: 8, [GgufType.I64]: 8, [GgufType.F64]: 8
}

class Truncated extends Error {}

class Cursor {
  pos = 0
  constructor (private readonly buf: Buffer, private readonly fileSize: number) {}
  need (n: number): void {
    if (this.pos + n > this.buf.length) {
      throw this.buf.length >= this.fileSize
        ? new InvalidModelError('truncated', `GGUF header runs past the end of the file (needs byte ${this.pos + n}, file has ${this.fileSize})`)
        : new Truncated()
    }
  }

  u32 (): number { this.need(4); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v }
  u64 (): bigint { this.need(8); const v = this.buf.readBigUInt64LE(this.pos); this.pos += 8; return v }
  count (what: string, max: number): number {
    const v = this.u64()
    if (v > BigInt(max)) throw new InvalidModelError('absurd-count', `GGUF ${what} is ${v}, more than the limit ${max}`)
    return Number(v)
  }

  str (): string {
    const n = this.count('string length', MAX_GGUF_STRING_BYTES)
    this.need(n)
    const s = this.buf.toString('utf8', this.pos, this.pos + n)
    this.pos += n
    return s
  }

  scalar (type: GgufType): GgufScalar {
    switch (type) {
      case GgufType.STRING: return this.str()
      case GgufType.U64: return this.u64()
      case GgufType.I64: { this.need(8); const v = this.buf.readBigInt64LE(this.pos); this.pos += 8; return v }
      default: {
        const size = TYPE_SIZES[type]
        if (size == null) throw new InvalidModelError('bad-value-type', `GGUF value type ${type} is not a scalar type`)
        this.need(size)
        const p = this.pos
        this.pos += size
        switch (type) {
          case GgufType.U8: return this.buf.readUInt8(p)
          case GgufType.I8: return this.buf.readInt8(p)
          case GgufType.U16: return this.buf.readUInt16LE(p)
          case GgufType.I16: return this.buf.readInt16LE(p)
          case GgufType.U32: return this.buf.readUInt32LE(p)
          case GgufType.I32: return this.buf.readInt32LE(p)
          case GgufType.F32: return this.buf.readFloatLE(p)
          case GgufType.BOOL: return this.buf.readUInt8(p) !== 0
          default: return this.buf.readDoubleLE(p)
        }
      }
    }
  }
}

function parseHeader (buf: Buffer, fileSize: number): GgufHeader {
  const c = new Cursor(buf, fileSize)
  if (fileSize < 24) throw new InvalidModelError('truncated', `file is ${fileSize} bytes, shorter than a GGUF header`)
  const magic = c.u32()
  if (magic !== GGUF_MAGIC) throw new InvalidModelError('bad-magic', `not a GGUF file: magic 0x${magic.toString(16)}, expected 0x${GGUF_MAGIC.toString(16)} ("GGUF")`)
  const version = c.u32()
  if (version !== 2 && version !== 3) throw new InvalidModelError('bad-version', `GGUF version ${version} is not supported, expected 3 (or 2)`)
  const tensorCount = c.count('tensor count', MAX_GGUF_TENSORS)
  const kvCount = c.count('metadata count', MAX_GGUF_KVS)
  const kvs = new Map<string, GgufKv>()
  for (let i = 0; i < kvCount; i++) {
    const key = c.str()
    const type = c.u32() as GgufType
    let value: GgufValue
    if (type === GgufType.ARRAY) {
      const elementType = c.u32() as GgufType
      if (elementType === GgufType.ARRAY) throw new InvalidModelError('bad-value-type', `GGUF key ${key}: nested arrays are not supported`)
      const n = c.count(`array length of ${key}`, MAX_GGUF_ARRAY_LENGTH)
      const values: GgufScalar[] = new Array(n)
      for (let j = 0; j < n; j++) values[j] = c.scalar(elementType)
      value = { elementType, values }
    } else {
      value = c.scalar(type)
    }
    if (kvs.has(key)) throw new InvalidModelError('duplicate-key', `GGUF key ${key} appears twice`)
    kvs.set(key, { key, type, value })
  }
  const tensors: GgufTensorInfo[] = []
  for (let i = 0; i < tensorCount; i++) {
    const name = c.str()
    const nDims = c.u32()
    if (nDims < 1 || nDims > MAX_GGUF_DIMS) throw new InvalidModelError('bad-tensor', `tensor ${name} has ${nDims} dimensions, expected 1..${MAX_GGUF_DIMS}`)
    const ne: bigint[] = []
    for (let d = 0; d < nDims; d++) {
      const n = c.u64()
      if (n < 1n || n > 1n << 40n) throw new InvalidModelError('bad-tensor', `tensor ${name} dimension ${d} is ${n}`)
      ne.push(n)
    }
    const type = c.u32()
    const offset = c.u64()
    tensors.push({ name, ne, type, offset })
  }
  const alignKv = kvs.get('general.alignment')
  const alignment = alignKv == null ? GGUF_DEFAULT_ALIGNMENT : Number(alignKv.value)
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
    throw new InvalidModelError('bad-alignment', `general.alignment ${String(alignKv?.value)} is not a power of two`)
  }
  const dataOffset = c.pos + ((alignment - (c.pos % alignment)) % alignment)
  return { version, kvs, tensors, alignment, dataOffset, fileSize }
}

/** Read the header, metadata and tensor infos of a GGUF file without loading tensor data. */
export async function readGgufHeader (path: string): Promise<GgufHeader> {
  const fh = await open(path, 'r')
  try {
    const { size } = await fh.stat()
    let want = Math.min(size, 1 << 20)
    for (;;) {
      const buf = Buffer.alloc(want)
      const { bytesRead } = await fh.read(buf, 0, want, 0)
      try {
        return parseHeader(buf.subarray(0, bytesRead), size)
      } catch (err) {
        if (!(err instanceof Truncated)) throw err
        if (want >= MAX_GGUF_HEADER_BYTES) throw new InvalidModelError('absurd-count', `GGUF header is larger than ${MAX_GGUF_HEADER_BYTES} bytes`)
        want = Math.min(size, want * 4, MAX_GGUF_HEADER_BYTES)
      }
    }
  } finally {
    await fh.close()
  }
}

/** Byte size of a tensor's data, or undefined when the ggml type is unknown here. */
export function tensorByteSize (t: GgufTensorInfo): bigint | undefined {
  const sz = GGML_TYPE_SIZE[t.type]
  if (sz == null) return undefined
  const elements = t.ne.reduce((a, b) => a * b, 1n)
  return elements / BigInt(sz[1]) * BigInt(sz[0])
}

/** Total number of weights in the file (the model's parameter count). */
export function parameterCount (header: GgufHeader): number {
  let n = 0n
  for (const t of header.tensors) n += t.ne.reduce((a, b) => a * b, 1n)
  return Number(n)
}

export interface GgufSummary {
  header: GgufHeader
  architecture: string
  name?: string
  params: number
  contextLength: number
  /** e.g. "F32", "F16", "Q4_K" — the type holding most weights */
  quantization: string
}

const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S',
  20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4'
}

function requireU32 (header: GgufHeader, key: string, required: boolean): number | undefined {
  const kv = header.kvs.get(key)
  if (kv == null) {
    if (required) throw new InvalidModelError('missing-key', `GGUF key ${key} is missing (llama.cpp would abort or fail)`)
    return undefined
  }
  if (kv.type !== GgufType.U32) throw new InvalidModelError('wrong-key-type', `GGUF key ${key} has type ${GgufType[kv.type] ?? kv.type}, expected U32`)
  return Number(kv.value)
}

/**
 * Validate a GGUF file before llama.cpp sees it: structure (magic, version, bounded counts, tensor
 * data inside the file, aligned offsets) and the metadata whose absence or inconsistency aborts the
 * process (missing feed_forward_length, odd head dim, SPM vocab without byte tokens). Architectures
 * other than "llama" get the structural checks plus the generic ones that apply to them.
 */
export async function validateGguf (path: string): Promise<GgufSummary> {
  let header: GgufHeader
  try {
    header = await readGgufHeader(path)
  } catch (err: any) {
    if (err instanceof InvalidModelError) throw err
    throw new InvalidModelError('unreadable', `cannot read model file ${path}: ${err?.message ?? String(err)}`)
  }
  return validateGgufHeader(header)
}

export function validateGgufHeader (header: GgufHeader): GgufSummary {
  const archKv = header.kvs.get('general.architecture')
  if (archKv == null || archKv.type !== GgufType.STRING) throw new InvalidModelError('missing-key', 'GGUF key general.architecture is missing or not a string')
  const arch = String(archKv.value)
  if (header.tensors.length === 0) throw new InvalidModelError('no-tensors', 'GGUF file has no tensors')

  // tensor data must lie inside the file at aligned offsets
  const names = new Set<string>()
  let weightsByType = new Map<number, bigint>()
  for (const t of header.tensors) {
    if (names.has(t.name)) throw new InvalidModelError('bad-tensor', `tensor ${t.name} appears twice`)
    names.add(t.name)
    if (t.offset % BigInt(header.alignment) !== 0n) throw new InvalidModelError('bad-tensor', `tensor ${t.name} offset ${t.offset} is not a multiple of the alignment ${header.alignment}`)
    const size = tensorByteSize(t)
    if (size == null) throw new InvalidModelError('bad-tensor', `tensor ${t.name} has unknown ggml type ${t.type}`)
    if (BigInt(header.dataOffset) + t.offset + size > BigInt(header.fileSize)) {
      throw new InvalidModelError('truncated', `tensor ${t.name} data ends past the end of the file (${header.fileSize} bytes)`)
    }
    const elements = t.ne.reduce((a, b) => a * b, 1n)
    weightsByType.set(t.type, (weightsByType.get(t.type) ?? 0n) + elements)
  }

  const ctx = requireU32(header, `${arch}.context_length`, true) as number
  const embd = requireU32(header, `${arch}.embedding_length`, true) as number
  const blocks = requireU32(header, `${arch}.block_count`, true) as number
  if (ctx < 1 || embd < 1 || blocks < 1) throw new InvalidModelError('bad-hparams', `context_length ${ctx}, embedding_length ${embd}, block_count ${blocks} must all be ≥ 1`)
  const ffKv = header.kvs.get(`${arch}.feed_forward_length`)
  if (ffKv == null) throw new InvalidModelError('missing-key', `GGUF key ${arch}.feed_forward_length is missing (llama.cpp aborts at load)`)
  if (ffKv.type === GgufType.U32 && Number(ffKv.value) < 1) throw new InvalidModelError('bad-hparams', `${arch}.feed_forward_length must be ≥ 1`)
  const heads = requireU32(header, `${arch}.attention.head_count`, arch === 'llama')
  if (heads != null) {
    if (heads < 1 || embd % heads !== 0) throw new InvalidModelError('bad-hparams', `embedding_length ${embd} is not a multiple of head_count ${heads}`)
    const headDim = embd / heads
    const keyLength = requireU32(header, `${arch}.attention.key_length`, false) ?? headDim
    const rot = requireU32(header, `${arch}.rope.dimension_count`, false) ?? keyLength
    if (rot % 2 !== 0 || keyLength % 2 !== 0) throw new InvalidModelError('odd-head-dim', `head dimension ${keyLength} (rope ${rot}) is odd; llama.cpp aborts on the first decode`)
    const headsKv = requireU32(header, `${arch}.attention.head_count_kv`, false)
    if (headsKv != null && (headsKv < 1 || heads % headsKv !== 0)) throw new InvalidModelError('bad-hparams', `head_count ${heads} is not a multiple of head_count_kv ${headsKv}`)
  }
  if (arch === 'llama') {
    const eps = header.kvs.get('llama.attention.layer_norm_rms_epsilon')
    if (eps == null || eps.type !== GgufType.F32) throw new InvalidModelError('missing-key', 'GGUF key llama.attention.layer_norm_rms_epsilon is missing or not F32')
  }

  // tokenizer
  const tokModel = header.kvs.get('tokenizer.ggml.model')
  const tokens = header.kvs.get('tokenizer.ggml.tokens')
  if (tokModel == null || tokModel.type !== GgufType.STRING) throw new InvalidModelError('missing-key', 'GGUF key tokenizer.ggml.model is missing or not a string')
  if (tokens == null || tokens.type !== GgufType.ARRAY || (tokens.value as GgufArray).elementType !== GgufType.STRING) {
    throw new InvalidModelError('missing-key', 'GGUF key tokenizer.ggml.tokens is missing or not a string array')
  }
  const vocab = (tokens.value as GgufArray).values as string[]
  if (vocab.length === 0) throw new InvalidModelError('bad-vocab', 'tokenizer.ggml.tokens is empty')
  for (const key of ['tokenizer.ggml.scores', 'tokenizer.ggml.token_type']) {
    const kv = header.kvs.get(key)
    if (kv != null && (kv.type !== GgufType.ARRAY || (kv.value as GgufArray).values.length !== vocab.length)) {
      throw new InvalidModelError('bad-vocab', `${key} must be an array of ${vocab.length} entries`)
    }
  }
  for (const key of ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.unknown_token_id']) {
    const kv = header.kvs.get(key)
    if (kv != null && (typeof kv.value !== 'number' || kv.value < 0 || kv.value >= vocab.length)) {
      throw new InvalidModelError('bad-vocab', `${key} = ${String(kv.value)} is outside the vocabulary (0..${vocab.length - 1})`)
    }
  }
  const tm = String(tokModel.value)
  if (tm === 'llama') {
    // an SPM vocab without all 256 byte tokens aborts the process on the first unknown char
    const present = new Set(vocab)
    for (let b = 0; b < 256; b++) {
      const name = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`
      if (!present.has(name)) throw new InvalidModelError('spm-missing-byte-tokens', `SPM vocabulary lacks byte token ${name}; tokenizing an unknown char would abort llama.cpp`)
    }
  } else if (tm === 'gpt2') {
    if (!header.kvs.has('tokenizer.ggml.merges')) throw new InvalidModelError('missing-key', 'gpt2 tokenizer needs tokenizer.ggml.merges (may be empty)')
  }

  if (arch === 'llama') {
    for (const n of ['token_embd.weight', 'output_norm.weight']) {
      if (!names.has(n)) throw new InvalidModelError('missing-tensor', `tensor ${n} is missing`)
    }
  }

  let quantType = 0
  let most = -1n
  for (const [t, n] of weightsByType) if (n > most) { most = n; quantType = t }
  weightsByType = new Map()
  const nameKv = header.kvs.get('general.name')
  return {
    header,
    architecture: arch,
    name: nameKv?.type === GgufType.STRING ? String(nameKv.value) : undefined,
    params: parameterCount(header),
    contextLength: ctx,
    quantization: GGML_TYPE_NAMES[quantType] ?? `type${quantType}`
  }
}

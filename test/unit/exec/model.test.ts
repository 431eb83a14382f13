import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { modelFingerprint } from '../../../src/exec/fingerprint.js'
import { f32ToF16, GgmlType, GgufType, InvalidModelError, readGgufHeader, validateGguf, writeGguf, type GgufKv, type GgufTensorInput } from '../../../src/exec/model/gguf.js'
import { buildTinyModel, ensureTinyModel, TINY_MODEL_FILE, TINY_VOCAB_SIZE, tinyModelParts, tinyTokenCount } from '../../../src/exec/model/tiny.js'

const dir = mkdtempSync(join(tmpdir(), 'tally-model-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

let n = 0
function writeTemp (bytes: Uint8Array): string {
  const p = join(dir, `m${n++}.gguf`)
  writeFileSync(p, bytes)
  return p
}

function mutated (edit: (kvs: GgufKv[], tensors: GgufTensorInput[]) => { kvs: GgufKv[], tensors: GgufTensorInput[] } | void): string {
  const parts = tinyModelParts()
  const out = edit(parts.kvs, parts.tensors) ?? parts
  return writeTemp(writeGguf(out.kvs, out.tensors))
}

async function rejects (path: string, reason: string): Promise<void> {
  const err = await validateGguf(path).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(InvalidModelError)
  expect((err as InvalidModelError).name).toBe('InvalidModelError')
  expect((err as InvalidModelError).reason).toBe(reason)
}

function setU32 (kvs: GgufKv[], key: string, value: number): void {
  const kv = kvs.find(k => k.key === key)
  if (kv == null) throw new Error(`no ${key}`)
  kv.value = value
}

describe('tiny model', () => {
  it('builds the same bytes twice, well formed and fast', () => {
    const t0 = performance.now()
    const a = buildTinyModel()
    const ms = performance.now() - t0
    const b = buildTinyModel()
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true)
    expect(a.length).toBeGreaterThan(100_000)
    expect(a.length).toBeLessThan(1_000_000)
    expect(ms).toBeGreaterThan(0)
  })

  it('changes when the corpus changes', () => {
    const a = buildTinyModel('the cat sat on the mat.')
    const b = buildTinyModel('the dog sat on the log.')
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
  })

  it('validates, with a real parameter count from tensor shapes', async () => {
    const path = writeTemp(buildTinyModel())
    const s = await validateGguf(path)
    expect(s.architecture).toBe('llama')
    expect(s.name).toBe('tiny-char-v1')
    expect(s.quantization).toBe('F16')
    expect(s.contextLength).toBe(2048)
    // token_embd + output (128 x 354 each), 3 norms of 128, 4 attention 128x128, 3 ffn 128x32
    expect(s.params).toBe(2 * 128 * TINY_VOCAB_SIZE + 3 * 128 + 4 * 128 * 128 + 3 * 128 * 32)
    const h = await readGgufHeader(path)
    expect((h.kvs.get('tokenizer.ggml.tokens')?.value as any).values.length).toBe(TINY_VOCAB_SIZE)
  })

  it('ensureTinyModel writes once, keeps an identical file, rewrites a different one', async () => {
    const d = join(dir, 'cache')
    const p = ensureTinyModel(d)
    expect(p).toBe(join(d, TINY_MODEL_FILE))
    const fp1 = await modelFingerprint(p)
    const old = new Date(Date.now() - 60_000)
    utimesSync(p, old, old)
    const mtime = statSync(p).mtimeMs
    ensureTinyModel(d)
    expect(statSync(p).mtimeMs).toBe(mtime)
    writeFileSync(p, 'garbage')
    ensureTinyModel(d)
    expect(readFileSync(p).equals(Buffer.from(buildTinyModel()))).toBe(true)
    expect(await modelFingerprint(p)).toBe(fp1)
    expect(fp1).toMatch(/^[0-9a-f]{64}$/)
  })

  it('counts tokens: ASCII one each, other chars by UTF-8 bytes', () => {
    expect(tinyTokenCount('hello world\n')).toBe(12)
    expect(tinyTokenCount('é€')).toBe(5)
  })
})

describe('fingerprint', () => {
  it('is the SHA-256 of the bytes, recomputed when the file changes', async () => {
    const p = writeTemp(new TextEncoder().encode('abc'))
    expect(await modelFingerprint(p)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    writeFileSync(p, 'abcd')
    utimesSync(p, new Date(), new Date(Date.now() + 5000))
    expect(await modelFingerprint(p)).toBe('88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589')
  })

  it('rejects a missing file', async () => {
    await expect(modelFingerprint(join(dir, 'nope.gguf'))).rejects.toThrow(/ENOENT/)
  })
})

describe('f32ToF16', () => {
  it('encodes known values', () => {
    expect(f32ToF16(1)).toBe(0x3c00)
    expect(f32ToF16(-2)).toBe(0xc000)
    expect(f32ToF16(65504)).toBe(0x7bff)
    expect(f32ToF16(1e6)).toBe(0x7c00)
    expect(f32ToF16(0)).toBe(0)
    expect(f32ToF16(5.960464477539063e-8)).toBe(1)
    expect(f32ToF16(NaN) & 0x7c00).toBe(0x7c00)
  })

  it('round-trips within half precision', () => {
    const decode = (h: number): number => {
      const s = (h & 0x8000) !== 0 ? -1 : 1
      const e = (h >> 10) & 0x1f
      const m = h & 0x3ff
      return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15)
    }
    fc.assert(fc.property(fc.float({ min: -60000, max: 60000, noNaN: true }), (x) => {
      const y = decode(f32ToF16(x))
      expect(Math.abs(y - x)).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25) + 1e-12)
    }))
  })
})

describe('validateGguf rejects every abort case with InvalidModelError', () => {
  it('bad magic', async () => {
    const b = Buffer.from(buildTinyModel()); b.write('GGUX', 0)
    await rejects(writeTemp(b), 'bad-magic')
  })
  it('bad version', async () => {
    const b = Buffer.from(buildTinyModel()); b.writeUInt32LE(7, 4)
    await rejects(writeTemp(b), 'bad-version')
  })
  it('truncated header', async () => {
    await rejects(writeTemp(buildTinyModel().slice(0, 2000)), 'truncated')
    await rejects(writeTemp(buildTinyModel().slice(0, 10)), 'truncated')
  })
  it('truncated tensor data', async () => {
    const p = writeTemp(buildTinyModel())
    truncateSync(p, statSync(p).size - 1000)
    await rejects(p, 'truncated')
  })
  it('absurd tensor and kv counts', async () => {
    const b = Buffer.from(buildTinyModel()); b.writeBigUInt64LE(1n << 40n, 8)
    await rejects(writeTemp(b), 'absurd-count')
    const c = Buffer.from(buildTinyModel()); c.writeBigUInt64LE(0xffffffffffffffffn, 16)
    await rejects(writeTemp(c), 'absurd-count')
  })
  it('missing feed_forward_length', async () => {
    await rejects(mutated((kvs, tensors) => ({ kvs: kvs.filter(k => k.key !== 'llama.feed_forward_length'), tensors })), 'missing-key')
  })
  it('odd head dimension', async () => {
    await rejects(mutated(kvs => { setU32(kvs, 'llama.attention.head_count', 128); setU32(kvs, 'llama.attention.head_count_kv', 128) }), 'odd-head-dim')
  })
  it('embedding not a multiple of heads', async () => {
    await rejects(mutated(kvs => { setU32(kvs, 'llama.attention.head_count', 3); setU32(kvs, 'llama.attention.head_count_kv', 3) }), 'bad-hparams')
  })
  it('SPM vocabulary without byte tokens', async () => {
    await rejects(mutated(kvs => {
      const tok = kvs.find(k => k.key === 'tokenizer.ggml.tokens')!.value as any
      tok.values[3 + 0xe9] = 'X'
    }), 'spm-missing-byte-tokens')
  })
  it('integer key with the wrong type', async () => {
    await rejects(mutated(kvs => { kvs.find(k => k.key === 'llama.context_length')!.type = GgufType.I32 }), 'wrong-key-type')
  })
  it('missing rms epsilon', async () => {
    await rejects(mutated((kvs, tensors) => ({ kvs: kvs.filter(k => k.key !== 'llama.attention.layer_norm_rms_epsilon'), tensors })), 'missing-key')
  })
  it('scores array of the wrong length', async () => {
    await rejects(mutated(kvs => { (kvs.find(k => k.key === 'tokenizer.ggml.scores')!.value as any).values.pop() }), 'bad-vocab')
  })
  it('missing token embedding tensor', async () => {
    await rejects(mutated((kvs, tensors) => ({ kvs, tensors: tensors.filter(t => t.name !== 'token_embd.weight') })), 'missing-tensor')
  })
  it('unknown tensor type and misaligned offset', async () => {
    const parts = tinyModelParts()
    const bytes = Buffer.from(writeGguf(parts.kvs, parts.tensors))
    // find the first tensor info (token_embd) and corrupt its type, then its offset
    const name = Buffer.from('token_embd.weight')
    const at = bytes.indexOf(name) + name.length
    const typeAt = at + 4 + 2 * 8
    const bad = Buffer.from(bytes); bad.writeUInt32LE(99, typeAt)
    await rejects(writeTemp(bad), 'bad-tensor')
    const mis = Buffer.from(bytes); mis.writeBigUInt64LE(3n, typeAt + 4)
    await rejects(writeTemp(mis), 'bad-tensor')
  })
  it('not a file at all / garbage of any length', async () => {
    await rejects(join(dir, 'missing.gguf'), 'unreadable')
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (junk) => {
      const err = await validateGguf(writeTemp(junk)).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidModelError)
    }), { numRuns: 50 })
  })
  it('a single flipped header byte never passes silently as something else than a GGUF error or a valid model', async () => {
    const base = buildTinyModel()
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 1, max: 255 }), async (pos, x) => {
      const b = Buffer.from(base); b[pos] ^= x
      const res = await validateGguf(writeTemp(b)).then(() => 'ok', (e: unknown) => e)
      if (res !== 'ok') expect(res).toBeInstanceOf(InvalidModelError)
    }), { numRuns: 60 })
  })
})

describe('writeGguf', () => {
  it('rejects tensor data that does not match its shape', () => {
    expect(() => writeGguf([], [{ name: 'x', ne: [2, 2], type: GgmlType.F32, data: new Float32Array(3) }])).toThrow(RangeError)
  })
})

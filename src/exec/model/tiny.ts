/**
 * The tiny deterministic model the repo runs offline: a real llama-architecture GGUF whose weights
 * encode character bigram statistics of corpus/alice.txt. Real engine, toy weights.
 *
 * Vocabulary (SPM, "llama" tokenizer, add_space_prefix=false, so token counts are exact):
 *   0 <unk>, 1 <|startoftext|> (BOS), 2 <|endoftext|> (EOS), 3..258 byte tokens <0x00>..<0xFF>,
 *   259 "▁" (space), 260..353 the printable ASCII chars "!".."~".
 * An ASCII char is one token; newline and tab are their byte tokens; any other char costs its UTF-8
 * byte count. The BOS text "<|startoftext|>" and no chat template make node-llama-cpp pick its
 * GeneralChatWrapper: prompt = BOS + "### Human\n{msg}\n\n### Assistant\n" (system messages become
 * "### System\n{text}\n\n" … see tinyPromptTokens), all plain char tokens.
 *
 * Weights: every token's embedding is one-hot at its context class; attention and FFN are zero, so
 * the residual stream is the embedding and the logits are log P(next | current char) exactly.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GgmlType, GgufType, writeGguf, type GgufKv, type GgufTensorInput } from './gguf.js'

export const TINY_MODEL_ID = 'tiny-char-v1'
export const TINY_MODEL_FILE = `${TINY_MODEL_ID}.gguf`
export const TINY_CONTEXT_LENGTH = 2048

const N_EMBD = 128
const N_HEAD = 4
const N_FF = 32
const N_LAYER = 1
const SMOOTHING = 0.01
const NEVER_LOGIT = -30

const UNK = 0
const BOS = 1
const EOS = 2
const BYTE0 = 3
const CHAR0 = 259
const SPACE_PIECE = '\u2581'

/** The ASCII chars with their own token, in vocabulary order (space first). */
const CHARS: string[] = [' ']
for (let c = 0x21; c <= 0x7e; c++) CHARS.push(String.fromCharCode(c))
export const TINY_VOCAB_SIZE = CHAR0 + CHARS.length

/** the repo root: the nearest ancestor of this module holding corpus/ */
export function repoRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'corpus', 'alice.txt')) && existsSync(join(dir, 'package.json'))) return dir
    const up = dirname(dir)
    if (up === dir) throw new Error(`cannot find the repository root (corpus/alice.txt) above ${fileURLToPath(import.meta.url)}`)
    dir = up
  }
}

export function defaultModelDir (): string {
  return join(repoRoot(), '.cache', 'models')
}

export function loadCorpus (): string {
  return readFileSync(join(repoRoot(), 'corpus', 'alice.txt'), 'latin1')
}

/** token id of one ASCII char in the tiny vocab (newline/tab and others map to byte tokens) */
function charToken (ch: string): number {
  const i = CHARS.indexOf(ch)
  if (i >= 0) return CHAR0 + i
  return BYTE0 + ch.charCodeAt(0)
}

/**
 * Exact number of tokens the tiny model's tokenizer gives `text`:
 * printable ASCII = 1 each, everything else = its UTF-8 byte count (byte tokens).
 */
export function tinyTokenCount (text: string): number {
  return Buffer.byteLength(text, 'utf8')
}

/**
 * Build the model file. Deterministic: the same corpus gives the same bytes on every machine.
 * `corpus` defaults to corpus/alice.txt.
 */
export function buildTinyModel (corpus: string = loadCorpus()): Uint8Array {
  const { kvs, tensors } = tinyModelParts(corpus)
  return writeGguf(kvs, tensors)
}

/** The metadata and tensors of the tiny model, before serialisation (tests derive bad files from it). */
export function tinyModelParts (corpus: string = loadCorpus()): { kvs: GgufKv[], tensors: GgufTensorInput[] } {
  // context classes: one per char, newline, BOS, and "other"
  const NEWLINE_CLASS = CHARS.length
  const BOS_CLASS = CHARS.length + 1
  const OTHER_CLASS = CHARS.length + 2
  const classOf = (tok: number): number => {
    if (tok >= CHAR0) return tok - CHAR0
    if (tok === BYTE0 + 10) return NEWLINE_CLASS
    if (tok === BOS) return BOS_CLASS
    return OTHER_CLASS
  }
  // emittable next tokens: the chars, newline and EOS
  const emit: number[] = [...CHARS.map((_, i) => CHAR0 + i), BYTE0 + 10, EOS]
  const emitIndex = new Map(emit.map((t, i) => [t, i]))
  const nClasses = OTHER_CLASS + 1
  const counts = Array.from({ length: nClasses }, () => new Float64Array(emit.length))
  const unigram = new Float64Array(emit.length)

  const count = (ctx: number, next: number): void => {
    const j = emitIndex.get(next)
    if (j == null) return
    counts[classOf(ctx)][j]++
    unigram[j]++
  }
  const paragraphs = corpus.replace(/\r\n/g, '\n').split(/\n{2,}/).map(p => p.trim()).filter(p => p.length > 0)
  for (const p of paragraphs) {
    let prev = BOS
    for (const ch of p) {
      const t = charToken(ch)
      count(prev, t)
      prev = t
    }
    count(prev, EOS)
  }
  // the running text as well, so "\n" contexts (where a chat reply starts) are learnt
  const text = corpus.replace(/\r\n/g, '\n')
  for (let i = 1; i < text.length; i++) count(charToken(text[i - 1]), charToken(text[i]))

  const scale = 1 / Math.sqrt(N_EMBD)
  const logitsFor = (row: Float64Array): Float64Array => {
    let total = 0
    for (const v of row) total += v
    const source = total > 0 ? row : unigram
    let sum = 0
    for (const v of source) sum += v + SMOOTHING
    return Float64Array.from(source, v => Math.log((v + SMOOTHING) / sum))
  }

  const output = new Float32Array(N_EMBD * TINY_VOCAB_SIZE)
  for (let v = 0; v < TINY_VOCAB_SIZE; v++) {
    for (let c = 0; c < nClasses; c++) output[v * N_EMBD + c] = NEVER_LOGIT * scale
  }
  for (let c = 0; c < nClasses; c++) {
    const logits = c === OTHER_CLASS ? logitsFor(new Float64Array(emit.length)) : logitsFor(counts[c])
    for (let j = 0; j < emit.length; j++) output[emit[j] * N_EMBD + c] = logits[j] * scale
  }
  const embd = new Float32Array(N_EMBD * TINY_VOCAB_SIZE)
  for (let t = 0; t < TINY_VOCAB_SIZE; t++) embd[t * N_EMBD + classOf(t)] = 1

  const ones = new Float32Array(N_EMBD).fill(1)
  const tensors: GgufTensorInput[] = [
    { name: 'token_embd.weight', ne: [N_EMBD, TINY_VOCAB_SIZE], type: GgmlType.F16, data: embd },
    { name: 'output_norm.weight', ne: [N_EMBD], type: GgmlType.F32, data: ones },
    { name: 'output.weight', ne: [N_EMBD, TINY_VOCAB_SIZE], type: GgmlType.F16, data: output }
  ]
  for (let l = 0; l < N_LAYER; l++) {
    const sq = new Float32Array(N_EMBD * N_EMBD)
    tensors.push(
      { name: `blk.${l}.attn_norm.weight`, ne: [N_EMBD], type: GgmlType.F32, data: ones },
      { name: `blk.${l}.attn_q.weight`, ne: [N_EMBD, N_EMBD], type: GgmlType.F16, data: sq },
      { name: `blk.${l}.attn_k.weight`, ne: [N_EMBD, N_EMBD], type: GgmlType.F16, data: sq },
      { name: `blk.${l}.attn_v.weight`, ne: [N_EMBD, N_EMBD], type: GgmlType.F16, data: sq },
      { name: `blk.${l}.attn_output.weight`, ne: [N_EMBD, N_EMBD], type: GgmlType.F16, data: sq },
      { name: `blk.${l}.ffn_norm.weight`, ne: [N_EMBD], type: GgmlType.F32, data: ones },
      { name: `blk.${l}.ffn_gate.weight`, ne: [N_EMBD, N_FF], type: GgmlType.F16, data: new Float32Array(N_EMBD * N_FF) },
      { name: `blk.${l}.ffn_up.weight`, ne: [N_EMBD, N_FF], type: GgmlType.F16, data: new Float32Array(N_EMBD * N_FF) },
      { name: `blk.${l}.ffn_down.weight`, ne: [N_FF, N_EMBD], type: GgmlType.F16, data: new Float32Array(N_EMBD * N_FF) }
    )
  }

  const tokens: string[] = ['<unk>', '<|startoftext|>', '<|endoftext|>']
  const types: number[] = [2, 3, 3]
  for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); types.push(6) }
  for (const ch of CHARS) { tokens.push(ch === ' ' ? SPACE_PIECE : ch); types.push(1) }

  const u32 = (key: string, value: number): GgufKv => ({ key, type: GgufType.U32, value })
  const kvs: GgufKv[] = [
    { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
    { key: 'general.name', type: GgufType.STRING, value: TINY_MODEL_ID },
    u32('general.file_type', 1),
    u32('llama.context_length', TINY_CONTEXT_LENGTH),
    u32('llama.embedding_length', N_EMBD),
    u32('llama.block_count', N_LAYER),
    u32('llama.feed_forward_length', N_FF),
    u32('llama.attention.head_count', N_HEAD),
    u32('llama.attention.head_count_kv', N_HEAD),
    { key: 'llama.attention.layer_norm_rms_epsilon', type: GgufType.F32, value: 1e-5 },
    { key: 'tokenizer.ggml.model', type: GgufType.STRING, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: GgufType.ARRAY, value: { elementType: GgufType.STRING, values: tokens } },
    { key: 'tokenizer.ggml.scores', type: GgufType.ARRAY, value: { elementType: GgufType.F32, values: tokens.map(() => 0) } },
    { key: 'tokenizer.ggml.token_type', type: GgufType.ARRAY, value: { elementType: GgufType.I32, values: types } },
    u32('tokenizer.ggml.bos_token_id', BOS),
    u32('tokenizer.ggml.eos_token_id', EOS),
    u32('tokenizer.ggml.unknown_token_id', UNK),
    { key: 'tokenizer.ggml.add_bos_token', type: GgufType.BOOL, value: true },
    { key: 'tokenizer.ggml.add_space_prefix', type: GgufType.BOOL, value: false }
  ]
  return { kvs, tensors }
}

/**
 * Path of the tiny model in `dir` (default <repo>/.cache/models), built now if the file is missing
 * or differs from what buildTinyModel() gives. Written to a temp file then renamed, so concurrent
 * callers never see a half-written model.
 */
export function ensureTinyModel (dir: string = defaultModelDir()): string {
  const path = resolve(dir, TINY_MODEL_FILE)
  const bytes = buildTinyModel()
  if (existsSync(path)) {
    const current = readFileSync(path)
    if (current.length === bytes.length && current.equals(bytes)) return path
  }
  mkdirSync(dir, { recursive: true })
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  writeFileSync(tmp, bytes)
  renameSync(tmp, path)
  return path
}

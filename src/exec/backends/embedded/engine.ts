/**
 * The engine itself: node-llama-cpp loading one GGUF and running chat completions on it. It runs
 * inside the engine child process (child.ts); `runEngineDirect` runs the same code in the calling
 * process, for benchmarks and tests that compare the protocol against the bare engine.
 *
 * Token accounting (exact, from the engine):
 * - inputTokens = tokens of the prompt the chat wrapper builds (BOS included), which is what a fresh
 *   context sequence evaluates;
 * - outputTokens = tokens of the response text the engine emitted (each chunk carries the tokens it
 *   was detokenized from). Tokens that only matched a stop trigger or an end-of-generation token
 *   are not part of the reply and are not counted, so a buyer re-tokenizing the reply with the same
 *   tokenizer gets the same number.
 */
import { BackendBusyError } from '../../backend.js'
import { getLlama, GeneralChatWrapper, LlamaChat, LlamaCompletion, LlamaLogLevel, LlamaVocabularyType, resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type Llama, type Token, type LlamaContext, type LlamaModel } from 'node-llama-cpp'
import type { ChatRequest, FinishReason, Usage } from '../../backend.js'
import { ErrorCode, TallyError } from '../../../errors/index.js'
import type { ToolCallDelta } from '../../backend.js'
import { countPromptTokens, finishOf, generateStructured, replyMode, sampling, toolChatHistory, usesTools } from './tools.js'
import type { EmbedRequest } from '../../backend.js'
import type { LlamaEmbeddingContext } from 'node-llama-cpp'
import { InvalidRequestError } from '../../infer/errors.js'

export const DEFAULT_ENGINE_THREADS = 1
export const DEFAULT_ENGINE_CONTEXT_SIZE = 2048
export const DEFAULT_ENGINE_SEQUENCES = 1

export interface EngineInit {
  modelPath: string
  /** CPU threads (default 1) */
  threads?: number
  /** false = CPU only (default); 'auto' = use a GPU when one is present */
  gpu?: false | 'auto'
  /** tokens per sequence (default 2048) */
  contextSize?: number
  /** parallel sequences = concurrent requests (default 1) */
  sequences?: number
  /** load only the vocabulary: the engine counts prompt tokens and cannot generate (a buyer's tokenizer) */
  vocabOnly?: boolean
}

/** embeddings as they cross the IPC boundary: plain numbers, one array per input */
export interface EngineEmbedResult {
  vectors: number[][]
  inputTokens: number
}

export interface EngineResult {
  usage: Usage
  finishReason: FinishReason
}

/** A request the engine cannot run (prompt too long for the context, no free sequence). */
export class EngineRequestError extends TallyError {
  override readonly name = 'EngineRequestError'
  override readonly code: ErrorCode = ErrorCode.backendError
}

export function toChatHistory (request: ChatRequest): ChatHistoryItem[] {
  if (usesTools(request)) return toolChatHistory(request, replyMode(request))
  const history: ChatHistoryItem[] = request.messages.map((m): ChatHistoryItem => {
    if (m.role === 'system') return { type: 'system', text: m.content }
    if (m.role === 'user') return { type: 'user', text: m.content }
    return { type: 'model', response: [m.content] }
  })
  history.push({ type: 'model', response: [] })
  return history
}

export class Engine {
  private constructor (
    readonly llama: Llama,
    readonly model: LlamaModel,
    /** absent on a vocabulary-only engine */
    readonly context: LlamaContext | undefined,
    readonly contextSize: number,
    /** the chat format prompts are built with, for generation and for counting alike */
    readonly chatWrapper: ChatWrapper
  ) {}

  static async load (init: EngineInit): Promise<Engine> {
    const llama = await getLlama({
      gpu: init.gpu === 'auto' ? 'auto' : false,
      build: 'never',
      skipDownload: true,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => { process.stderr.write(`[llama ${String(level)}] ${message}\n`) }
    })
    if (init.vocabOnly === true) {
      const vocab = await llama.loadModel({ modelPath: init.modelPath, vocabOnly: true })
      return new Engine(llama, vocab, undefined, 0, chatWrapperOf(vocab))
    }
    const model = await llama.loadModel({ modelPath: init.modelPath, gpuLayers: init.gpu === 'auto' ? 'auto' : 0 })
    const contextSize = init.contextSize ?? DEFAULT_ENGINE_CONTEXT_SIZE
    const context = await model.createContext({
      contextSize,
      sequences: init.sequences ?? DEFAULT_ENGINE_SEQUENCES,
      threads: init.threads ?? DEFAULT_ENGINE_THREADS
    })
    return new Engine(llama, model, context, context.contextSize, chatWrapperOf(model))
  }

  /**
   * The tokens embed() evaluates for these inputs, summed: each input's text tokens plus the
   * beginning and end tokens node-llama-cpp's embedding context adds for this vocabulary (its
   * rule, as for promptTokens). Works on a vocabulary-only engine: a buyer's exact count.
   */
  countEmbedTokens (inputs: readonly string[]): number {
    const type = this.model.vocabularyType
    const t = this.model.tokens
    const begin = type === LlamaVocabularyType.rwkv || type === LlamaVocabularyType.ugm ? null : type === LlamaVocabularyType.wpm || t.shouldPrependBosToken ? t.bos : null
    const end = type === LlamaVocabularyType.rwkv ? null : type === LlamaVocabularyType.wpm ? t.sep : type === LlamaVocabularyType.ugm || t.shouldAppendEosToken ? t.eos : null
    let n = 0
    for (const input of inputs) {
      const tokens = this.model.tokenize(input, false)
      n += tokens.length + (begin != null && tokens[0] !== begin ? 1 : 0) + (end != null && tokens.at(-1) !== end ? 1 : 0)
    }
    return n
  }

  /** the prompt's tokens exactly as generate() counts them: the chat wrapper's text, BOS included */
  countInputTokens (request: ChatRequest): number {
    if (request.prompt != null) {
      const { bos, text } = this.promptTokens(request.prompt)
      return text.length + (bos != null ? 1 : 0)
    }
    if (usesTools(request)) return countPromptTokens(this.model, this.chatWrapper, request)
    const state = this.chatWrapper.generateContextState({ chatHistory: toChatHistory(request) })
    return state.contextText.tokenize(this.model.tokenizer).length
  }

  /**
   * A raw prompt's tokens as LlamaCompletion evaluates them: the model's beginning token when it
   * prepends one (node-llama-cpp's rule), then the text without special tokens.
   */
  promptTokens (prompt: string): { bos: Token | null, text: Token[] } {
    const type = this.model.vocabularyType
    const bos = type === LlamaVocabularyType.rwkv || type === LlamaVocabularyType.ugm
      ? null
      : type === LlamaVocabularyType.wpm || this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null
    return { bos, text: this.model.tokenize(prompt, false, bos != null ? 'trimLeadingSpace' : undefined) }
  }

  /** number of tokens `text` tokenizes to (no BOS) */
  countTokens (text: string): number {
    return this.model.tokenize(text).length
  }

  /**
   * Run one chat completion, calling `onChunk` for each piece of reply text with the tokens it
   * carries. Aborting `signal` stops generation; the result then says 'cancelled'.
   */
  async generate (request: ChatRequest, signal: AbortSignal, onChunk: (text: string, outputTokens: number, toolCalls?: ToolCallDelta[]) => void): Promise<EngineResult> {
    // a sequence of the previous request can still be disposing when the parent's slot frees: busy, not broken
    if (this.context == null) throw new EngineRequestError('this engine holds only the vocabulary: it counts tokens and cannot generate')
    if (this.context.sequencesLeft < 1) throw new BackendBusyError('no free context sequence: the engine is at its concurrency limit')
    if (request.prompt != null) return await this.complete(request, request.prompt, signal, onChunk)
    const sequence = this.context.getSequence()
    const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: this.chatWrapper, autoDisposeSequence: false })
    try {
      const history = toChatHistory(request)
      const inputTokens = this.countInputTokens(request)
      if (request.maxTokens != null && (!Number.isInteger(request.maxTokens) || request.maxTokens < 1)) {
        throw new EngineRequestError(`maxTokens must be a positive integer, got ${request.maxTokens}`)
      }
      const maxTokens = request.maxTokens ?? Math.max(1, this.contextSize - inputTokens)
      if (inputTokens + maxTokens > this.contextSize) {
        throw new EngineRequestError(`prompt (${inputTokens} tokens) plus maxTokens (${maxTokens}) exceeds the context size ${this.contextSize}`)
      }
      let outputTokens = 0
      if (signal.aborted) return { usage: { inputTokens: 0, outputTokens: 0, source: 'reported' }, finishReason: 'cancelled' }
      // tools and response formats (grammars, function calling): ./tools.ts
      if (usesTools(request)) return await generateStructured(request, { llama: this.llama, chat, maxTokens, inputTokens, signal, onChunk })
      const result = await chat.generateResponse(history, {
        ...sampling(request, maxTokens, signal),
        onResponseChunk: (chunk) => {
          if (chunk.type != null || chunk.text.length === 0) return
          outputTokens += chunk.tokens.length
          onChunk(chunk.text, chunk.tokens.length)
        }
      })
      return { usage: { inputTokens, outputTokens, source: 'reported' }, finishReason: finishOf(result.metadata.stopReason) }
    } finally {
      chat.dispose({ disposeSequence: false })
      sequence.dispose()
    }
  }

  /** a raw text completion (infer.md § Text completion): the prompt continued with no chat template */
  private async complete (request: ChatRequest, prompt: string, signal: AbortSignal, onChunk: (text: string, outputTokens: number) => void): Promise<EngineResult> {
    const sequence = this.context!.getSequence()
    const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false })
    try {
      const { bos, text } = this.promptTokens(prompt)
      const inputTokens = text.length + (bos != null ? 1 : 0)
      const maxTokens = request.maxTokens ?? Math.max(1, this.contextSize - inputTokens)
      if (inputTokens + maxTokens > this.contextSize) {
        throw new EngineRequestError(`prompt (${inputTokens} tokens) plus maxTokens (${maxTokens}) exceeds the context size ${this.contextSize}`)
      }
      if (signal.aborted) return { usage: { inputTokens: 0, outputTokens: 0, source: 'reported' }, finishReason: 'cancelled' }
      let outputTokens = 0
      // onToken comes right before the onTextChunk of the same tokens (node-llama-cpp's order)
      let pending = 0
      // LlamaCompletion prepends the beginning token itself (by the same rule): it gets the text's tokens
      const result = await completion.generateCompletionWithMeta(text, {
        ...sampling(request, maxTokens, signal),
        onToken: (t) => { pending += t.length },
        onTextChunk: (text) => {
          const n = pending
          pending = 0
          if (text.length === 0 && n === 0) return
          outputTokens += n
          onChunk(text, n)
        }
      })
      return { usage: { inputTokens, outputTokens, source: 'reported' }, finishReason: finishOf(result.metadata.stopReason) }
    } finally {
      completion.dispose({ disposeSequence: false })
      sequence.dispose()
    }
  }

  /** the embedding context, created at the first embeddings request (a second context on the same weights) */
  private embedding?: Promise<LlamaEmbeddingContext>

  /**
   * Embed every input, in order, with the model's embedding context (node-llama-cpp). inputTokens
   * = the tokens each input evaluates, its beginning and end tokens included, summed.
   */
  async embed (request: EmbedRequest, signal: AbortSignal): Promise<EngineEmbedResult> {
    if (this.context == null) throw new EngineRequestError('this engine holds only the vocabulary: it counts tokens and cannot embed')
    if (request.dimensions != null && request.dimensions !== this.model.embeddingVectorSize) {
      throw new InvalidRequestError(`this model's vectors have ${this.model.embeddingVectorSize} dimensions; it cannot shorten them to ${request.dimensions}`)
    }
    this.embedding ??= this.model.createEmbeddingContext({ contextSize: this.contextSize, threads: this.context.currentThreads })
    const ctx = await this.embedding
    const vectors: number[][] = []
    let inputTokens = 0
    for (const input of request.inputs) {
      if (signal.aborted) throw new EngineRequestError('embeddings request cancelled')
      const length = ctx.calculateInputLength(input)
      if (length >= this.contextSize) throw new EngineRequestError(`an input of ${length} tokens does not fit the context size ${this.contextSize}`)
      inputTokens += length
      vectors.push([...(await ctx.getEmbeddingFor(input)).vector])
    }
    return { vectors, inputTokens }
  }

  async close (): Promise<void> {
    await (await this.embedding?.catch(() => undefined))?.dispose()
    await this.context?.dispose()
    await this.model.dispose()
    await this.llama.dispose()
  }
}

/** the wrapper LlamaChat would pick for this model, resolved once so that counting and generating agree */
function chatWrapperOf (model: LlamaModel): ChatWrapper {
  return resolveChatWrapper(model) ?? new GeneralChatWrapper()
}

export interface DirectRun extends EngineResult {
  text: string
  chunks: Array<{ text: string, outputTokens: number }>
  /** ms from the call to the first chunk (model already loaded) */
  ttftMs: number
  /** ms from the call to the end of generation */
  durationMs: number
  /** ms spent loading the engine (getLlama + model + context) */
  loadMs: number
}

/**
 * Run one request on the engine in this process, without the child or any protocol. Loads the
 * model, runs, closes. For benchmarks and tests only: a malformed model aborts the caller.
 */
export async function runEngineDirect (modelPath: string, request: ChatRequest, init: Omit<EngineInit, 'modelPath'> = {}): Promise<DirectRun> {
  const t0 = performance.now()
  const engine = await Engine.load({ ...init, modelPath })
  const loadMs = performance.now() - t0
  try {
    return await runOnEngine(engine, request, loadMs)
  } finally {
    await engine.close()
  }
}

/** one request on a loaded engine, collecting chunks and timings locally */
export async function runOnEngine (engine: Engine, request: ChatRequest, loadMs = 0): Promise<DirectRun> {
  const chunks: Array<{ text: string, outputTokens: number }> = []
  const start = performance.now()
  let first = -1
  const result = await engine.generate(request, new AbortController().signal, (text, outputTokens) => {
    if (first < 0) first = performance.now()
    chunks.push({ text, outputTokens })
  })
  const end = performance.now()
  return { ...result, text: chunks.map(c => c.text).join(''), chunks, ttftMs: (first < 0 ? end : first) - start, durationMs: end - start, loadMs }
}

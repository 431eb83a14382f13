/**
 * The seam between the infer protocol and whatever produces tokens: the embedded engine,
 * an OpenAI-compatible HTTP server, or the simulator's generator.
 */
import type { FinishReason, UsageSource } from '../wire/completion.js'
import type { TokenLogprob } from '../wire/logprobs.js'
import { ErrorCode, TallyError } from '../errors/index.js'
import type { ResponseFormat, ToolCall, ToolCallDelta, ToolChoice, ToolDefinition } from './tools.js'

export type { ResponseFormat, ToolCall, ToolCallDelta, ToolChoice, ToolDefinition } from './tools.js'

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool'
  /** '' for an assistant message that only calls tools */
  content: string
  /** an assistant message's tool calls */
  toolCalls?: ToolCall[]
  /** a tool message: the call it answers */
  toolCallId?: string
}

/** One request in OpenAI chat shape, already validated. */
export interface ChatRequest {
  messages: ChatMessage[]
  maxTokens?: number
  temperature?: number
  topP?: number
  seed?: number
  stop?: string[]
  /** function tools the model may call (OpenAI's `tools`) */
  tools?: ToolDefinition[]
  toolChoice?: ToolChoice
  parallelToolCalls?: boolean
  /** structured output: json_object or json_schema */
  responseFormat?: ResponseFormat
  /**
   * a raw text completion (OpenAI's legacy /v1/completions): the model continues this text as
   * is, with no chat template; `messages` is then empty (infer.md § Text completion)
   */
  prompt?: string
  /** return each output token's log probability (OpenAI's `logprobs`; offers list `logprobs`) */
  logprobs?: boolean
  /** and this many most likely alternatives per token, 0..20 (needs `logprobs`) */
  topLogprobs?: number
}

export type { FinishReason, UsageSource } from '../wire/completion.js'
export type { TokenLogprob } from '../wire/logprobs.js'

/** One embeddings request, already validated: one vector per input, in order (protocols/infer.md § Embeddings). */
export interface EmbedRequest {
  inputs: string[]
  /** requested vector length; absent = the model's own */
  dimensions?: number
}

/** A backend's embeddings: one vector per input, all of one length, and the input tokens they cost. */
export interface EmbedResult {
  vectors: Float32Array[]
  usage: { inputTokens: number, source: UsageSource }
}

export interface Usage {
  inputTokens: number
  outputTokens: number
  source: UsageSource
}

/** What a backend streams: text chunks with the output tokens they carry, then one `done`. */
export type BackendEvent =
  | { type: 'chunk', text: string, outputTokens: number, toolCalls?: ToolCallDelta[], logprobs?: TokenLogprob[] }
  | { type: 'done', usage: Usage, finishReason: FinishReason }

export interface ModelInfo {
  /** market model id, e.g. "tiny-char-v1" or "llama-3.1-8b-instruct" */
  id: string
  /** hex SHA-256 of the GGUF file, or the declared name for HTTP backends */
  fingerprint: string
  /** true only when the fingerprint is a hash of bytes this node loaded */
  fingerprintVerified: boolean
  /** parameter count (for Bpt = tokens × params / 1e9) */
  params: number
  quantization: string
  contextLength: number
}

export interface Backend {
  readonly kind: 'embedded' | 'http' | 'simulated'
  readonly model: ModelInfo
  /** sessions it can run at once (the offer's capacity) */
  readonly maxConcurrency: number
  /** what its offers list (market.md § Capabilities); absent = ['chat'] */
  readonly capabilities?: string[]
  /** Stream one completion. Aborting `signal` ends the stream with finishReason 'cancelled'. */
  stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent>
  /** Embed every input (present only when the backend serves embeddings: its offer lists `embeddings`). */
  embed?(request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult>
  close(): Promise<void>
}

/** The backend already runs `maxConcurrency` requests; the caller should retry later or elsewhere. */
export class BackendBusyError extends TallyError {
  override readonly name = 'BackendBusyError'
  override readonly code: ErrorCode = ErrorCode.backendBusy
}

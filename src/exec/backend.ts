/**
 * The seam between the infer protocol and whatever produces tokens: the embedded engine,
 * an OpenAI-compatible HTTP server, or the simulator's generator.
 */
import type { FinishReason, UsageSource } from '../wire/completion.js'
import { ErrorCode, TallyError } from '../errors/index.js'

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/** One request in OpenAI chat shape, already validated. */
export interface ChatRequest {
  messages: ChatMessage[]
  maxTokens?: number
  temperature?: number
  topP?: number
  seed?: number
  stop?: string[]
}

export type { FinishReason, UsageSource } from '../wire/completion.js'

export interface Usage {
  inputTokens: number
  outputTokens: number
  source: UsageSource
}

/** What a backend streams: text chunks with the output tokens they carry, then one `done`. */
export type BackendEvent =
  | { type: 'chunk', text: string, outputTokens: number }
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
  /** Stream one completion. Aborting `signal` ends the stream with finishReason 'cancelled'. */
  stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent>
  close(): Promise<void>
}

/** The backend already runs `maxConcurrency` requests; the caller should retry later or elsewhere. */
export class BackendBusyError extends TallyError {
  override readonly name = 'BackendBusyError'
  override readonly code: ErrorCode = ErrorCode.backendBusy
}

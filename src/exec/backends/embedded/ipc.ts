/** Messages between the embedded backend (parent) and its engine child process. */
import type { ToolCallDelta } from '../../tools.js'
import type { ChatRequest, FinishReason, Usage } from '../../backend.js'
import type { DirectRun, EngineEmbedResult, EngineInit } from './engine.js'
import type { EmbedRequest } from '../../backend.js'

export type ToChild =
  | { t: 'init', init: EngineInit, allowTestHooks: boolean }
  | { t: 'gen', id: number, request: ChatRequest }
  | { t: 'cancel', id: number }
  /** run a request entirely in the child and answer once with the whole result and its timings */
  | { t: 'direct', id: number, request: ChatRequest }
  /** count the prompt tokens of a request as generation would (works on a vocabulary-only engine) */
  | { t: 'count', id: number, request: ChatRequest }
  /** count the input tokens of an embeddings request as embed would (works on a vocabulary-only engine) */
  | { t: 'count-embed', id: number, inputs: string[] }
  /** embed every input (protocols/infer.md § Embeddings); answered once with all the vectors */
  | { t: 'embed', id: number, request: EmbedRequest }
  /** test hook: the child calls process.abort(), as llama.cpp does on a GGML_ASSERT */
  | { t: 'abort' }
  | { t: 'shutdown' }

export type FromChild =
  | { t: 'ready' }
  | { t: 'init-error', message: string }
  /** chunks produced since the last message, in order (batched per event-loop turn) */
  | { t: 'chunks', id: number, items: Array<[text: string, outputTokens: number, toolCalls?: ToolCallDelta[]]> }
  | { t: 'done', id: number, usage: Usage, finishReason: FinishReason }
  /** a failed request: the error's class name, message and code (an ErrorCode; the parent rebuilds the error by it) */
  | { t: 'error', id: number, name: string, code: string, message: string }
  | { t: 'direct-result', id: number, run: DirectRun }
  | { t: 'count-result', id: number, inputTokens: number }
  | { t: 'embed-result', id: number, result: EngineEmbedResult }

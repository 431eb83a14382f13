/** Messages between the embedded backend (parent) and its engine child process. */
import type { ChatRequest, FinishReason, Usage } from '../../backend.js'
import type { EngineInit } from './engine.js'

export type ToChild =
  | { t: 'init', init: EngineInit, allowTestHooks: boolean }
  | { t: 'gen', id: number, request: ChatRequest }
  | { t: 'cancel', id: number }
  /** test hook: the child calls process.abort(), as llama.cpp does on a GGML_ASSERT */
  | { t: 'abort' }
  | { t: 'shutdown' }

export type FromChild =
  | { t: 'ready' }
  | { t: 'init-error', message: string }
  | { t: 'chunk', id: number, text: string, outputTokens: number }
  | { t: 'done', id: number, usage: Usage, finishReason: FinishReason }
  | { t: 'error', id: number, name: string, message: string }

/**
 * Buyer-side token accounting: the most tokens the buyer will sign for, for text it received and
 * a prompt it sent. Exact when the buyer has the model's tokenizer (inject one); otherwise an
 * upper bound (every token carries at least one UTF-8 byte of output).
 */
import type { ChatMessage } from '../backend.js'

export interface TokenCounter {
  /** upper bound (or exact count) of the output tokens that produced `text` */
  maxOutputTokens(text: string): number
  /** upper bound (or exact count) of the input tokens of a prompt, chat template included */
  maxInputTokens(messages: ChatMessage[]): number
}

/** template tokens a chat format may add around each message (role markers, separators) */
export const DEFAULT_TEMPLATE_TOKENS_PER_MESSAGE = 32
/** template tokens a chat format may add once (BOS, generation prompt) */
export const DEFAULT_TEMPLATE_TOKENS_FIXED = 64

export interface Utf8BoundInit {
  templateTokensPerMessage?: number
  templateTokensFixed?: number
}

/** The bound a buyer without the tokenizer uses: UTF-8 bytes, plus a template allowance for input. */
export function utf8BoundCounter (init: Utf8BoundInit = {}): TokenCounter {
  const perMessage = init.templateTokensPerMessage ?? DEFAULT_TEMPLATE_TOKENS_PER_MESSAGE
  const fixed = init.templateTokensFixed ?? DEFAULT_TEMPLATE_TOKENS_FIXED
  return {
    maxOutputTokens: (text) => Buffer.byteLength(text, 'utf8'),
    maxInputTokens: (messages) => messages.reduce((n, m) => n + Buffer.byteLength(m.role, 'utf8') + Buffer.byteLength(m.content, 'utf8') + perMessage, fixed)
  }
}

/**
 * The buyer counted the prompt itself with the model's tokenizer: input is held to that exact
 * count; output keeps `base`'s bound (re-tokenizing a reply need not give the tokens generated).
 */
export function exactInputCounter (inputTokens: number, base: TokenCounter = utf8BoundCounter()): TokenCounter {
  return { maxOutputTokens: (text) => base.maxOutputTokens(text), maxInputTokens: () => inputTokens }
}

/** special tokens an embedding tokenizer may add around each input (BOS, EOS; BERT's CLS and SEP) */
export const EMBED_SPECIAL_TOKENS_PER_INPUT = 4

/**
 * The most input tokens a buyer signs for on an embeddings request (protocols/infer.md § Embeddings):
 * every token carries at least one UTF-8 byte, plus the special tokens around each input.
 */
export function maxEmbedInputTokens (inputs: readonly string[]): number {
  return inputs.reduce((n, s) => n + Buffer.byteLength(s, 'utf8') + EMBED_SPECIAL_TOKENS_PER_INPUT, 0)
}

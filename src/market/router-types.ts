/**
 * What the buyer's router promises its callers (the gateway, the SDK, the simulator):
 * routing constraints, the outcome of a routed request, and the typed errors it may throw.
 */
import type { FinishReason, UsageSource } from '../wire/completion.js'
import type { ToolCall } from '../wire/tool-calls.js'
import type { TokenLogprob } from '../wire/logprobs.js'
import { ErrorCode, InsufficientCreditError, TallyError } from '../errors/index.js'

/** Constraints from the `tally` request field or `X-Tally-*` headers. */
export interface RouteConstraints {
  maxPriceInPerMTokUc?: bigint
  maxPriceOutPerMTokUc?: bigint
  minParams?: number
  quantizations?: string[]
  verifiedOnly?: boolean
  maxTtftMs?: number
  excludeSellers?: string[]
  /** start this many sellers at once; the first token wins */
  race?: number
  /** cost-accounting tag, e.g. a project name */
  tag?: string
  /** offers must list these (market.md § Capabilities): 'tools', 'json_schema', … */
  capabilities?: string[]
}

export interface RoutedResult {
  text: string
  /** the tool calls the model made (finishReason 'tool_calls') */
  toolCalls?: ToolCall[]
  /** the output tokens' logprobs, when the request asked for them */
  logprobs?: TokenLogprob[]
  finishReason: FinishReason
  inputTokens: number
  outputTokens: number
  usageSource: UsageSource
  seller: string
  model: string
  fingerprint: string
  fingerprintVerified: boolean
  params: number
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  costUc: bigint
  /** billion-parameter tokens, exact decimal string */
  bpt: string
  /** the bound the buyer held the seller's input-token count to: its own tokenizer's exact count, or the UTF-8 bytes bound */
  inputBound: 'exact' | 'bytes'
  ttftMs: number
  /** sellers tried before this one succeeded */
  attempts: number
  /**
   * µc paid to sellers that died mid-way on this (non-streamed) request before another answered
   * it: their vouchered tokens, booked in the cost report under those sellers; not in costUc
   */
  abandonedCostUc?: bigint
}

export class RouterError extends TallyError {
  override name = 'RouterError'
  override readonly code: ErrorCode = ErrorCode.noSeller
}
/** no model of that id on the market */
export class UnknownModelError extends RouterError {
  override name = 'UnknownModelError'
  override readonly code: ErrorCode = ErrorCode.unknownModel
}
/** offers exist but none meets the constraints or all refused/failed */
export class NoSellerError extends RouterError {
  override name = 'NoSellerError'
  override readonly code: ErrorCode = ErrorCode.noSeller
}
/** offers of the model exist but none serves what the request needs (a capability): `param` names the request field */
export class CapabilityUnavailableError extends RouterError {
  override name = 'CapabilityUnavailableError'
  override readonly code: ErrorCode = ErrorCode.capabilityUnavailable
  constructor (message: string, readonly param: string) { super(message) }
}
/** the buyer's account cannot lock the session's max spend: the same class the ledger throws */
export { InsufficientCreditError }
/** no first token / no completion within the allowed time */
export class RouteTimeoutError extends RouterError {
  override name = 'RouteTimeoutError'
  override readonly code: ErrorCode = ErrorCode.routeTimeout
}
/** the stream broke after tokens were delivered; the buyer paid only for vouchered tokens */
export class MidStreamError extends RouterError {
  override name = 'MidStreamError'
  override readonly code: ErrorCode = ErrorCode.midStream
  constructor (message: string, readonly partial: RoutedResult) { super(message) }
}

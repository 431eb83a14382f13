/**
 * The seller's window, pure: whether the buyer's highest voucher lets the next chunk leave (one
 * chunk, or a paid-ahead window in µc when the contract states max_unpaid_uc), how much of the backend's output the next chunk may carry within the max spend, and what
 * a request that ended without its final voucher streamed unpaid. Rules: protocols/infer.md
 * (Flow 5–7, Cancelling). No I/O, no clock.
 */
import { amountUc, sessionAmountUc } from '../pricing.js'
import { mergeToolCallDeltas, toolCallDeltaBytes, type ToolCallDelta } from '../tools.js'
import type { TokenLogprob } from '../../wire/logprobs.js'

/** cumulative session token counts (a voucher's, or what the seller has sent) */
export interface Totals {
  inputTokens: bigint
  outputTokens: bigint
}

/** cumulative totals with the rule's amount on them */
export interface Billed extends Totals {
  amountUc: bigint
}

export interface Prices {
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
}

export interface Budget extends Prices {
  maxSpendUc: bigint
}

/** one backend output waiting to be sent */
export interface PendingOutput {
  text: string
  outputTokens: number
  /** tool-call deltas (their tokens are among outputTokens) */
  toolCalls?: ToolCallDelta[]
  /** the log probabilities of its tokens (infer.md § Logprobs) */
  logprobs?: TokenLogprob[]
}

export interface ChunkLimits {
  /** most output tokens in one chunk (a single backend output larger than this still leaves whole) */
  maxChunkTokens: number
  /** most UTF-8 bytes of text in one chunk (likewise) */
  maxChunkTextBytes: number
}

/**
 * How far ahead of the buyer's highest voucher the seller may serve (infer.md, Flow 5): the
 * contract's max_unpaid_uc, within what the node's cap on unpaid work across sessions leaves.
 */
export interface UnpaidRoom {
  /** the highest voucher's amount (0 before the first) */
  paidUc: bigint
  /** the most the session's billed amount may run ahead of `paidUc` */
  roomUc: bigint
  /**
   * the contract states max_unpaid_uc: `roomUc` is a paid-ahead window (chunks flow while the
   * billed amount stays within it). Absent: window of one chunk, `roomUc` only tightens that chunk.
   */
  window?: boolean
}

export interface NextChunk {
  /** how many outputs from the front of the queue the chunk carries */
  count: number
  text: string
  outputTokens: number
  /** the outputs' tool-call deltas, adjacent pieces of one call merged (absent when none) */
  toolCalls?: ToolCallDelta[]
  /** the outputs' token logprobs, in order (absent when none) */
  logprobs?: TokenLogprob[]
  /** the output after these would take the rule above the max spend: stop the backend */
  budgetStop: boolean
}

/**
 * Window = 1: a chunk may leave only when the highest voucher covers everything sent before it,
 * so at most the last chunk sent is ever unpaid. Nothing sent needs no voucher.
 */
export function covers (highest: Totals | undefined, sent: Totals): boolean {
  if (sent.outputTokens === 0n && sent.inputTokens === 0n) return true
  return highest != null && highest.outputTokens >= sent.outputTokens && highest.inputTokens >= sent.inputTokens
}

/**
 * The next chunk: whole outputs from the front of `pending`, within the chunk limits, and never an
 * output that would take the rule on the new totals (`sent` plus the chunk) above the max spend.
 * With `room`, a chunk also stops before the output that would bill more than `roomUc` beyond the
 * highest voucher; its first output always leaves (the window never closes below one output).
 */
export function nextChunk (pending: readonly PendingOutput[], sent: Totals, budget: Budget, limits: ChunkLimits, room?: UnpaidRoom): NextChunk {
  let text = ''
  let tokens = 0
  let textBytes = 0
  let count = 0
  const toolCalls: ToolCallDelta[] = []
  const logprobs: TokenLogprob[] = []
  // with a paid-ahead window, an output beyond the room leaves first only when nothing sent is unpaid
  const unpaidBefore = room?.window === true ? amountUc(sent.inputTokens, sent.outputTokens, budget.priceInPerMTokUc, budget.priceOutPerMTokUc) - room.paidUc : 0n
  for (const c of pending) {
    // logprobs are not billed, but their JSON rides in the frame: it counts toward the chunk's size
    const bytes = Buffer.byteLength(c.text) + toolCallDeltaBytes(c.toolCalls ?? []) + (c.logprobs != null ? Buffer.byteLength(JSON.stringify(c.logprobs)) : 0)
    if (tokens > 0 && (tokens + c.outputTokens > limits.maxChunkTokens || textBytes + bytes > limits.maxChunkTextBytes)) break
    const amount = amountUc(sent.inputTokens, sent.outputTokens + BigInt(tokens + c.outputTokens), budget.priceInPerMTokUc, budget.priceOutPerMTokUc)
    if (amount > budget.maxSpendUc) {
      return { count, text, outputTokens: tokens, ...withToolCalls(toolCalls), ...(logprobs.length > 0 ? { logprobs } : {}), budgetStop: true }
    }
    if (room != null && (count > 0 || unpaidBefore > 0n) && amount - room.paidUc > room.roomUc) break
    count++
    text += c.text
    if (c.toolCalls != null) toolCalls.push(...c.toolCalls)
    if (c.logprobs != null) logprobs.push(...c.logprobs)
    textBytes += bytes
    tokens += c.outputTokens
  }
  return { count, text, outputTokens: tokens, ...withToolCalls(toolCalls), ...(logprobs.length > 0 ? { logprobs } : {}), budgetStop: false }
}

function withToolCalls (deltas: ToolCallDelta[]): { toolCalls?: ToolCallDelta[] } {
  return deltas.length > 0 ? { toolCalls: mergeToolCallDeltas(deltas) } : {}
}

/**
 * The buyer's voucher cadence (infer.md § Flow 4): with the seller's window `windowUc` (the chunk's
 * window_uc), sign once the amount received and not yet vouchered reaches half of it, so the
 * seller never waits while a voucher is due; without one (an old seller, window of one chunk),
 * sign every chunk.
 */
export function voucherDue (unvoucheredUc: bigint, windowUc: bigint | undefined): boolean {
  if (windowUc == null || windowUc <= 0n) return true
  return 2n * unvoucheredUc >= windowUc
}

/**
 * The most a paid-ahead window lets the seller bill beyond the highest voucher while a request
 * streams (output only; infer.md § Flow 5): the window, or one backend output's amount when that
 * alone is larger (it leaves only when nothing sent is unpaid).
 */
export function windowBoundUc (windowUc: bigint, largestOutputUc: bigint): bigint {
  return largestOutputUc > windowUc ? largestOutputUc : windowUc
}

/**
 * A request's output tokens for its done frame: what the backend reported, but never fewer than
 * the chunks carried, and exactly what they carried when the budget cut the backend off.
 */
export function requestOutputTokens (sent: bigint, reported: bigint, budgetStop: boolean): bigint {
  return budgetStop || reported < sent ? sent : reported
}

/** A buyer's voucher may run ahead of what the seller counted (never behind, once paid): take the larger totals. */
export function syncOnHighest (billed: Billed, highest: Totals | undefined, budget: Budget): Billed {
  if (highest == null) return billed
  const inputTokens = highest.inputTokens > billed.inputTokens ? highest.inputTokens : billed.inputTokens
  const outputTokens = highest.outputTokens > billed.outputTokens ? highest.outputTokens : billed.outputTokens
  return { inputTokens, outputTokens, amountUc: sessionAmountUc(inputTokens, outputTokens, budget) }
}

/** what the seller settles with after a request that did not end with its final voucher */
export function paidTotals (highest: Billed | undefined): Billed {
  return { inputTokens: highest?.inputTokens ?? 0n, outputTokens: highest?.outputTokens ?? 0n, amountUc: highest?.amountUc ?? 0n }
}

export interface UnpaidLoss extends Billed {
  /** the window's bound on it: the request's input tokens and one full chunk of output, rounded up, + 1 µc */
  boundUc: bigint
}

/**
 * What a request that ended without its final voucher streamed beyond the highest voucher
 * (undefined when the voucher covers it all). The bound adds 1 µc: the difference of two rounded-up
 * cumulative amounts may exceed the rounded-up difference by 1.
 */
export function unpaidLoss (billed: Billed, highest: Billed | undefined, prices: Prices, maxChunkTokens: number, windowUc?: bigint): UnpaidLoss | undefined {
  const paid = paidTotals(highest)
  const lostIn = billed.inputTokens - paid.inputTokens
  const lostOut = billed.outputTokens - paid.outputTokens
  const lostUc = billed.amountUc - paid.amountUc
  if (lostIn <= 0n && lostOut <= 0n && lostUc <= 0n) return undefined
  const inputTokens = lostIn > 0n ? lostIn : 0n
  const chunkBound = amountUc(inputTokens, BigInt(maxChunkTokens), prices.priceInPerMTokUc, prices.priceOutPerMTokUc) + 1n
  // a paid-ahead window: the window (or one output larger than it, within one chunk) plus the input
  const windowBound = windowUc != null && windowUc > 0n ? windowUc + amountUc(inputTokens, 0n, prices.priceInPerMTokUc, prices.priceOutPerMTokUc) + 1n : 0n
  return {
    inputTokens,
    outputTokens: lostOut > 0n ? lostOut : 0n,
    amountUc: lostUc > 0n ? lostUc : 0n,
    boundUc: windowBound > chunkBound ? windowBound : chunkBound
  }
}

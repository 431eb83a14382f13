/**
 * Metering (pure): one MeterRecord per finished request, the unit of every cost report.
 * Bpt is an exact decimal string (tokens × params / 1e9, at most 9 fraction digits).
 */
import type { UsageSource } from './backend.js'
import { bpt, nanoBpt } from './pricing.js'

export interface MeterRecord {
  /** hex contract id */
  contractId: string
  /** hex ed25519 public keys */
  seller: string
  buyer: string
  modelId: string
  params: number
  /** this request's tokens */
  inputTokens: number
  outputTokens: number
  /** exact Bpt of this request, decimal string ("3.2"); bptNano is the same as an integer */
  bpt: string
  bptNano: bigint
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  /** what this request added to the session's cumulative amount, µc */
  amountUc: bigint
  /** the session's cumulative amount after this request, µc (what the voucher carries) */
  sessionAmountUc: bigint
  ttftMs: number
  tokensPerSec: number
  usageSource: UsageSource
  startedAtMs: number
}

export interface MeterInput {
  contractId: Uint8Array
  seller: Uint8Array
  buyer: Uint8Array
  modelId: string
  params: number
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  inputTokens: number
  outputTokens: number
  amountBeforeUc: bigint
  amountAfterUc: bigint
  ttftMs: number
  /** ms from first token to last frame; 0 when a single frame carried everything */
  generationMs: number
  usageSource: UsageSource
  startedAtMs: number
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** the fields of a meter that come from the contract: parties, model and prices */
export type MeterTerms = Pick<MeterInput, 'contractId' | 'seller' | 'buyer' | 'modelId' | 'params' | 'priceInPerMTokUc' | 'priceOutPerMTokUc'>

export function meterTermsOf (t: MeterTerms): MeterTerms {
  return { contractId: t.contractId, seller: t.seller, buyer: t.buyer, modelId: t.modelId, params: t.params, priceInPerMTokUc: t.priceInPerMTokUc, priceOutPerMTokUc: t.priceOutPerMTokUc }
}

/** tokens/s over the generation phase; output tokens after the first over the time since it */
export function tokensPerSec (outputTokens: number, generationMs: number): number {
  if (outputTokens <= 1 || generationMs <= 0) return 0
  return (outputTokens - 1) / (generationMs / 1000)
}

export function meterRecord (m: MeterInput): MeterRecord {
  const tokens = m.inputTokens + m.outputTokens
  return {
    contractId: hex(m.contractId),
    seller: hex(m.seller),
    buyer: hex(m.buyer),
    modelId: m.modelId,
    params: m.params,
    inputTokens: m.inputTokens,
    outputTokens: m.outputTokens,
    bpt: bpt(tokens, m.params),
    bptNano: nanoBpt(tokens, m.params),
    priceInPerMTokUc: m.priceInPerMTokUc,
    priceOutPerMTokUc: m.priceOutPerMTokUc,
    amountUc: m.amountAfterUc - m.amountBeforeUc,
    sessionAmountUc: m.amountAfterUc,
    ttftMs: m.ttftMs,
    tokensPerSec: tokensPerSec(m.outputTokens, m.generationMs),
    usageSource: m.usageSource,
    startedAtMs: m.startedAtMs
  }
}

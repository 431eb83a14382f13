/**
 * The Tally JSON endpoints' inputs and the model list, pure: raw query or body in, a typed value
 * (or an HttpApiError naming the bad field) out. The gateway calls these; no HTTP here.
 */
import { badRequest } from './errors.js'
import type { ModelListing } from '../node/tally.js'

/** a payment memo, and a payment's or request's tag, are at most this long */
export const MAX_MEMO_CHARS = 256
export const MAX_PAY_TAG_CHARS = 64

export type Query = Record<string, string | undefined>

/**
 * One model in OpenAI's model shape (`/v1/models/{id}`), with Tally's market figures under `tally`:
 * sellers, params, best prices, what at least one seller serves (`capabilities`, market.md
 * § Capabilities) and the largest context length offered.
 */
export function modelBody (m: ModelListing): Record<string, unknown> {
  return {
    id: m.id,
    object: 'model',
    created: 0,
    owned_by: 'tally-market',
    tally: {
      sellers: m.sellers,
      params: m.params,
      best_price_in_per_mtok_uc: m.bestPriceInPerMTokUc,
      best_price_out_per_mtok_uc: m.bestPriceOutPerMTokUc,
      capabilities: m.capabilities,
      context_length: m.contextLength
    }
  }
}

/** `/v1/models`: OpenAI's list shape */
export function modelsBody (models: ModelListing[]): { object: 'list', data: unknown[] } {
  return { object: 'list', data: models.map(modelBody) }
}

/** `/tally/balance?all=…`: every account, or one */
export function wantsAllBalances (q: Query): boolean {
  return q.all === 'true' || q.all === '1'
}

/** `/tally/report?by=tag|model|seller&since=<unix ms>` */
export function parseReportQuery (q: Query): { by: string, sinceMs?: number } {
  const by = q.by ?? 'tag'
  if (!['tag', 'model', 'seller'].includes(by)) throw badRequest('by must be tag, model or seller', 'by')
  const sinceMs = q.since !== undefined ? Number(q.since) : undefined
  if (sinceMs !== undefined && !Number.isSafeInteger(sinceMs)) throw badRequest('since must be a unix time in ms', 'since')
  return { by, sinceMs }
}

export interface PayRequest {
  to: string
  amountUc: bigint
  memo?: string
  tag?: string
}

/** a positive integer of µc, as a number or a decimal string */
function amountOf (v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return BigInt(v)
  if (typeof v === 'string' && /^[1-9][0-9]{0,18}$/.test(v)) return BigInt(v)
  return undefined
}

/** `POST /tally/grant {to, amount_uc}`: extend `to` an explicit credit line */
export function parseGrantBody (body: unknown): { to: string, amountUc: bigint } {
  const b = body as Record<string, unknown> | undefined
  if (b == null || typeof b !== 'object') throw badRequest('body must be a JSON object')
  if (typeof b.to !== 'string') throw badRequest('to must be an account id', 'to')
  const amountUc = amountOf(b.amount_uc)
  if (amountUc === undefined) throw badRequest('amount_uc must be a positive integer', 'amount_uc')
  return { to: b.to, amountUc }
}

/** `POST /tally/revoke {grant_id (64 hex), amount_uc}`: take back part of an own grant */
export function parseRevokeBody (body: unknown): { grantId: string, amountUc: bigint } {
  const b = body as Record<string, unknown> | undefined
  if (b == null || typeof b !== 'object') throw badRequest('body must be a JSON object')
  if (typeof b.grant_id !== 'string' || !/^[0-9a-f]{64}$/.test(b.grant_id)) throw badRequest('grant_id must be a record id (64 lowercase hex)', 'grant_id')
  const amountUc = amountOf(b.amount_uc)
  if (amountUc === undefined) throw badRequest('amount_uc must be a positive integer', 'amount_uc')
  return { grantId: b.grant_id, amountUc }
}

/** `POST /tally/pay {to, amount_uc (a positive integer, as a number or a decimal string), memo?, tag?}` */
export function parsePayBody (body: unknown): PayRequest {
  const b = body as Record<string, unknown> | undefined
  if (b == null || typeof b !== 'object') throw badRequest('body must be a JSON object')
  if (typeof b.to !== 'string') throw badRequest('to must be an account id', 'to')
  const amount = typeof b.amount_uc === 'number' && Number.isSafeInteger(b.amount_uc) && b.amount_uc > 0
    ? BigInt(b.amount_uc)
    : typeof b.amount_uc === 'string' && /^[1-9][0-9]{0,18}$/.test(b.amount_uc) ? BigInt(b.amount_uc) : undefined
  if (amount === undefined) throw badRequest('amount_uc must be a positive integer', 'amount_uc')
  if (b.memo !== undefined && (typeof b.memo !== 'string' || b.memo.length > MAX_MEMO_CHARS)) throw badRequest(`memo must be a string of at most ${MAX_MEMO_CHARS} chars`, 'memo')
  if (b.tag !== undefined && (typeof b.tag !== 'string' || b.tag.length > MAX_PAY_TAG_CHARS)) throw badRequest(`tag must be a string of at most ${MAX_PAY_TAG_CHARS} chars`, 'tag')
  return { to: b.to, amountUc: amount, memo: b.memo as string | undefined, tag: b.tag as string | undefined }
}

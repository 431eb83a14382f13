/**
 * Parsing of OpenAI chat-completion requests into typed values (once, at the boundary), and the
 * response and stream-chunk shapes OpenAI clients parse. Unknown fields are ignored, as OpenAI
 * clients send many; wrong types and out-of-range values are 400s naming the field.
 */
import { badRequest } from './errors.js'
import type { ChatMessage, ChatRequest } from '../exec/backend.js'
import type { RouteConstraints, RoutedResult } from '../market/router-types.js'

/** bounds on one request: enough for real agent prompts, small enough to refuse abuse */
export const MAX_MESSAGES = 512
export const MAX_CONTENT_CHARS = 512 * 1024
export const MAX_TOKENS_LIMIT = 32_768
export const MAX_MODEL_CHARS = 256
export const MAX_TAG_CHARS = 64
export const MAX_RACE = 4

export interface ParsedChatRequest {
  model: string
  stream: boolean
  request: ChatRequest
  constraints: RouteConstraints
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function optNumber (v: unknown, field: string, min: number, max: number, integer: boolean): number | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`${field} must be a number`, field)
  if (integer && !Number.isInteger(v)) throw badRequest(`${field} must be an integer`, field)
  if (v < min || v > max) throw badRequest(`${field} must be between ${min} and ${max}, got ${v}`, field)
  return v
}

/** a non-negative integer amount given as a JSON number or a decimal string */
function optUc (v: unknown, field: string): bigint | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return BigInt(v)
  if (typeof v === 'string' && /^[1-9][0-9]{0,18}$/.test(v)) return BigInt(v)
  throw badRequest(`${field} must be a positive integer (micro-credits per 1M tokens)`, field)
}

function optString (v: unknown, field: string, maxChars: number): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string' || v.length === 0 || v.length > maxChars) throw badRequest(`${field} must be a string of 1..${maxChars} chars`, field)
  return v
}

function optStringList (v: unknown, field: string, maxItems: number, maxChars: number): string[] | undefined {
  if (v === undefined || v === null) return undefined
  const list = typeof v === 'string' ? v.split(',').map(s => s.trim()).filter(s => s !== '') : v
  if (!Array.isArray(list) || list.length > maxItems) throw badRequest(`${field} must be a list of at most ${maxItems} strings`, field)
  return list.map((s, i) => optString(s, `${field}[${i}]`, maxChars) as string)
}

function messageContent (v: unknown, field: string): string {
  if (typeof v === 'string') return v
  if (Array.isArray(v)) {
    return v.map((part, i) => {
      if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') throw badRequest(`${field}[${i}] must be a text part ({type:"text", text})`, `${field}[${i}]`)
      return part.text
    }).join('')
  }
  throw badRequest(`${field} must be a string or a list of text parts`, field)
}

function parseMessages (v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_MESSAGES) throw badRequest(`messages must be a list of 1..${MAX_MESSAGES} messages`, 'messages')
  let chars = 0
  return v.map((m, i) => {
    const field = `messages[${i}]`
    if (!isObject(m)) throw badRequest(`${field} must be an object`, field)
    let role = m.role
    if (role === 'developer') role = 'system'
    if (role !== 'system' && role !== 'user' && role !== 'assistant') throw badRequest(`${field}.role must be system, user or assistant`, `${field}.role`)
    const content = messageContent(m.content, `${field}.content`)
    chars += content.length
    if (chars > MAX_CONTENT_CHARS) throw badRequest(`messages exceed ${MAX_CONTENT_CHARS} characters in total`, 'messages')
    return { role, content }
  })
}

function header (headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

function intHeader (v: string | undefined, field: string): number | undefined {
  if (v === undefined) return undefined
  if (!/^[0-9]{1,15}$/.test(v)) throw badRequest(`${field} must be a non-negative integer`, field)
  return Number(v)
}

/** Routing constraints: the `tally` body field wins over `X-Tally-*` headers. */
function parseConstraints (body: unknown, headers: Record<string, string | string[] | undefined>): RouteConstraints {
  if (body !== undefined && body !== null && !isObject(body)) throw badRequest('tally must be an object', 'tally')
  const t = (body ?? {}) as Record<string, unknown>
  const h = (n: string): string | undefined => header(headers, `x-tally-${n}`)
  const maxOut = t.max_price ?? h('max-price')
  const maxIn = t.max_price_in ?? h('max-price-in')
  const verified = t.verified_only ?? (h('verified-only') !== undefined ? h('verified-only') === 'true' : undefined)
  if (verified !== undefined && typeof verified !== 'boolean') throw badRequest('tally.verified_only must be a boolean', 'tally.verified_only')
  const race = optNumber(t.race ?? intHeader(h('race'), 'x-tally-race'), 'tally.race', 1, MAX_RACE, true)
  return {
    maxPriceOutPerMTokUc: optUc(maxOut, 'tally.max_price'),
    maxPriceInPerMTokUc: optUc(maxIn, 'tally.max_price_in'),
    minParams: optNumber(t.min_params ?? intHeader(h('min-params'), 'x-tally-min-params'), 'tally.min_params', 0, 1e15, true),
    quantizations: optStringList(t.quantizations ?? h('quantizations'), 'tally.quantizations', 16, 32),
    verifiedOnly: verified as boolean | undefined,
    maxTtftMs: optNumber(t.max_ttft_ms ?? intHeader(h('max-ttft-ms'), 'x-tally-max-ttft-ms'), 'tally.max_ttft_ms', 1, 600_000, true),
    excludeSellers: optStringList(t.exclude ?? h('exclude'), 'tally.exclude', 64, 128),
    race,
    tag: optString(t.tag ?? h('tag'), 'tally.tag', MAX_TAG_CHARS)
  }
}

export function parseChatRequest (body: unknown, headers: Record<string, string | string[] | undefined> = {}): ParsedChatRequest {
  if (!isObject(body)) throw badRequest('request body must be a JSON object')
  const model = optString(body.model, 'model', MAX_MODEL_CHARS)
  if (model === undefined) throw badRequest('model is required', 'model')
  const messages = parseMessages(body.messages)
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw badRequest('stream must be a boolean', 'stream')
  const n = optNumber(body.n, 'n', 1, 1, true)
  void n
  const maxTokens = optNumber(body.max_completion_tokens ?? body.max_tokens, body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens', 1, MAX_TOKENS_LIMIT, true)
  const stop = body.stop === undefined || body.stop === null ? undefined : optStringList(typeof body.stop === 'string' ? [body.stop] : body.stop, 'stop', 4, 64)
  return {
    model,
    stream: body.stream === true,
    request: {
      messages,
      maxTokens,
      temperature: optNumber(body.temperature, 'temperature', 0, 2, false),
      topP: optNumber(body.top_p, 'top_p', 0, 1, false),
      seed: optNumber(body.seed, 'seed', 0, 2 ** 32 - 1, true),
      stop
    },
    constraints: parseConstraints(body.tally, headers)
  }
}

function safeNumber (v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`amount ${v} exceeds the JSON safe integer range`)
  return Number(v)
}

/** the `tally` field every response carries */
export function tallyField (r: RoutedResult): Record<string, unknown> {
  return {
    seller: r.seller,
    model: r.model,
    fingerprint: r.fingerprint,
    fingerprint_verified: r.fingerprintVerified,
    price: { in_per_mtok_uc: safeNumber(r.priceInPerMTokUc), out_per_mtok_uc: safeNumber(r.priceOutPerMTokUc) },
    cost_uc: safeNumber(r.costUc),
    bpt: r.bpt,
    usage_source: r.usageSource,
    input_bound: r.inputBound,
    ttft_ms: r.ttftMs,
    attempts: r.attempts
  }
}

export function usageField (r: RoutedResult): { prompt_tokens: number, completion_tokens: number, total_tokens: number } {
  return { prompt_tokens: r.inputTokens, completion_tokens: r.outputTokens, total_tokens: r.inputTokens + r.outputTokens }
}

function finishReason (r: RoutedResult): string {
  return r.finishReason === 'length' ? 'length' : 'stop'
}

export function completionBody (id: string, createdS: number, r: RoutedResult): Record<string, unknown> {
  return {
    id,
    object: 'chat.completion',
    created: createdS,
    model: r.model,
    choices: [{ index: 0, message: { role: 'assistant', content: r.text, refusal: null }, logprobs: null, finish_reason: finishReason(r) }],
    usage: usageField(r),
    tally: tallyField(r)
  }
}

export function chunkBody (id: string, createdS: number, model: string, delta: Record<string, unknown>, finish: string | null): Record<string, unknown> {
  return { id, object: 'chat.completion.chunk', created: createdS, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }
}

export function finalChunks (id: string, createdS: number, r: RoutedResult): Array<Record<string, unknown>> {
  return [
    chunkBody(id, createdS, r.model, {}, finishReason(r)),
    { id, object: 'chat.completion.chunk', created: createdS, model: r.model, choices: [], usage: usageField(r), tally: tallyField(r) }
  ]
}

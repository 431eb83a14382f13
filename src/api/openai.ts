/**
 * Parsing of OpenAI chat-completion and text-completion requests into typed values (once, at the
 * boundary), and the response and stream-chunk shapes OpenAI clients parse. Each route's fields
 * are listed in ROUTE_FIELDS: a field OpenAI does not define, or one Tally does not do, is a 400
 * naming it (never ignored); wrong types and out-of-range values are 400s naming the field.
 */
import { badRequest } from './errors.js'
import type { ChatMessage, ChatRequest } from '../exec/backend.js'
import type { RouteConstraints, RoutedResult } from '../market/router-types.js'
import { assistantMessage, messageChars, parseChatMessage, parseToolFields } from './openai-tools.js'
import { requiredCapabilities } from '../exec/tools.js'
import { MAX_TOP_LOGPROBS, type TokenLogprob } from '../wire/logprobs.js'

/** bounds on one request: enough for real agent prompts, small enough to refuse abuse */
export const MAX_MESSAGES = 512
export const MAX_CONTENT_CHARS = 512 * 1024
export const MAX_TOKENS_LIMIT = 32_768
export const MAX_MODEL_CHARS = 256
export const MAX_TAG_CHARS = 64
export const MAX_RACE = 4
/** choices of one request (each is a purchase): a client asking for more is refused, not throttled */
export const MAX_CHOICES = 8
/** prompts of one text completion (each gives its own choices) */
export const MAX_PROMPTS = 16
/** OpenAI's default max_tokens for /v1/completions */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16

/**
 * The top-level body fields each route accepts, in one place. Some are accepted only at their
 * neutral value (checked by the parser: frequency_penalty 0, logprobs false, echo false, …);
 * harmless metadata (user, metadata, store, service_tier, …) is accepted and not sent to sellers.
 */
export const ROUTE_FIELDS = {
  chat: new Set([
    'model', 'messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'seed', 'stop', 'stream', 'stream_options', 'n',
    'user', 'metadata', 'store', 'service_tier', 'safety_identifier', 'prompt_cache_key',
    'frequency_penalty', 'presence_penalty', 'logprobs', 'top_logprobs', 'logit_bias',
    // tool calling and structured output (their parsing: see parseChatRequest)
    'tools', 'tool_choice', 'parallel_tool_calls', 'response_format',
    'tally'
  ]),
  completions: new Set([
    'model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'seed', 'stop', 'stream', 'stream_options', 'n', 'user',
    'frequency_penalty', 'presence_penalty', 'logprobs', 'logit_bias', 'echo', 'suffix', 'best_of',
    'tally'
  ])
} as const

/** fields OpenAI's API defines that Tally does not do: refused as unsupported rather than unrecognized */
const OPENAI_UNSUPPORTED = new Set(['audio', 'modalities', 'prediction', 'functions', 'function_call', 'web_search_options', 'reasoning_effort', 'verbosity'])

/** a 400 naming the first body field the route does not accept */
export function refuseUnknownFields (body: Record<string, unknown>, route: keyof typeof ROUTE_FIELDS): void {
  for (const k of Object.keys(body)) {
    if (ROUTE_FIELDS[route].has(k)) continue
    if (OPENAI_UNSUPPORTED.has(k)) throw badRequest(`${k} is not supported by Tally`, k)
    throw badRequest(`Unrecognized request argument supplied: ${k.slice(0, 64)}`, k.slice(0, 64))
  }
}

/** a field Tally accepts only at OpenAI's default (the value that changes nothing) */
function neutralOnly (body: Record<string, unknown>, field: string, neutral: (v: unknown) => boolean, what: string): void {
  const v = body[field]
  if (v === undefined || v === null || neutral(v)) return
  throw badRequest(`${field} is not supported by Tally (only ${what} is accepted)`, field)
}

const isZero = (v: unknown): boolean => v === 0
const isFalse = (v: unknown): boolean => v === false
const isEmptyObject = (v: unknown): boolean => isObject(v) && Object.keys(v).length === 0

/** `stream_options`: include_usage (honoured), include_obfuscation (accepted: Tally never pads chunks) */
function parseStreamOptions (v: unknown, stream: boolean): boolean {
  if (v === undefined || v === null) return false
  if (!isObject(v)) throw badRequest('stream_options must be an object', 'stream_options')
  if (!stream) throw badRequest('stream_options is only allowed when stream is true', 'stream_options')
  for (const k of Object.keys(v)) {
    if (k !== 'include_usage' && k !== 'include_obfuscation') throw badRequest(`Unrecognized request argument supplied: stream_options.${k.slice(0, 64)}`, `stream_options.${k.slice(0, 64)}`)
    if (v[k] !== undefined && v[k] !== null && typeof v[k] !== 'boolean') throw badRequest(`stream_options.${k} must be a boolean`, `stream_options.${k}`)
  }
  return v.include_usage === true
}

/**
 * `logprobs` / `top_logprobs` (0..20, only with logprobs: true, as OpenAI requires): served by
 * sellers whose offer lists the `logprobs` capability (an HTTP backend whose server returns them).
 */
function parseLogprobFields (body: Record<string, unknown>): { logprobs?: boolean, topLogprobs?: number } {
  if (body.logprobs !== undefined && body.logprobs !== null && typeof body.logprobs !== 'boolean') throw badRequest('logprobs must be a boolean', 'logprobs')
  const top = optNumber(body.top_logprobs, 'top_logprobs', 0, MAX_TOP_LOGPROBS, true)
  if (top !== undefined && body.logprobs !== true) throw badRequest('top_logprobs needs logprobs: true', 'top_logprobs')
  if (body.logprobs !== true) return {}
  return top !== undefined ? { logprobs: true, topLogprobs: top } : { logprobs: true }
}

/** harmless metadata: checked for shape, then not used (never sent to a seller, a stranger) */
function checkMetadata (body: Record<string, unknown>): void {
  optString(body.user, 'user', 256)
  optString(body.safety_identifier, 'safety_identifier', 256)
  optString(body.prompt_cache_key, 'prompt_cache_key', 256)
  if (body.metadata !== undefined && body.metadata !== null && !isObject(body.metadata)) throw badRequest('metadata must be an object', 'metadata')
  if (body.store !== undefined && body.store !== null && typeof body.store !== 'boolean') throw badRequest('store must be a boolean', 'store')
  if (body.service_tier !== undefined && body.service_tier !== null && typeof body.service_tier !== 'string') throw badRequest('service_tier must be a string', 'service_tier')
}

/** the sampling fields chat and text completions share */
function parseSampling (body: Record<string, unknown>): { n: number, stream: boolean, includeUsage: boolean, stop?: string[] } {
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw badRequest('stream must be a boolean', 'stream')
  const stream = body.stream === true
  neutralOnly(body, 'frequency_penalty', isZero, '0')
  neutralOnly(body, 'presence_penalty', isZero, '0')
  neutralOnly(body, 'logit_bias', isEmptyObject, '{}')
  checkMetadata(body)
  return {
    n: optNumber(body.n, 'n', 1, MAX_CHOICES, true) ?? 1,
    stream,
    includeUsage: parseStreamOptions(body.stream_options, stream),
    stop: body.stop === undefined || body.stop === null ? undefined : optStringList(typeof body.stop === 'string' ? [body.stop] : body.stop, 'stop', 4, 64)
  }
}

export interface ParsedChatRequest {
  model: string
  stream: boolean
  /** choices asked for (each one a purchase) */
  n: number
  /** stream_options.include_usage: the usage chunk is sent only then */
  includeUsage: boolean
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
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'tool') throw badRequest(`${field}.role must be system, user, assistant or tool`, `${field}.role`)
    const message = parseChatMessage(m, field, role, messageContent)
    chars += messageChars(message)
    if (chars > MAX_CONTENT_CHARS) throw badRequest(`messages exceed ${MAX_CONTENT_CHARS} characters in total`, 'messages')
    return message
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
export function parseConstraints (body: unknown, headers: Record<string, string | string[] | undefined>): RouteConstraints {
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
  refuseUnknownFields(body, 'chat')
  const model = optString(body.model, 'model', MAX_MODEL_CHARS)
  if (model === undefined) throw badRequest('model is required', 'model')
  const messages = parseMessages(body.messages)
  const toolFields = parseToolFields(body)
  const logprobFields = parseLogprobFields(body)
  const needs = requiredCapabilities({ ...toolFields, ...logprobFields })
  const { n, stream, includeUsage, stop } = parseSampling(body)
  const maxTokens = optNumber(body.max_completion_tokens ?? body.max_tokens, body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens', 1, MAX_TOKENS_LIMIT, true)
  return {
    model,
    stream,
    n,
    includeUsage,
    request: {
      messages,
      maxTokens,
      temperature: optNumber(body.temperature, 'temperature', 0, 2, false),
      topP: optNumber(body.top_p, 'top_p', 0, 1, false),
      seed: optNumber(body.seed, 'seed', 0, 2 ** 32 - 1, true),
      stop,
      ...toolFields,
      ...logprobFields
    },
    constraints: { ...parseConstraints(body.tally, headers), ...(needs.length > 0 ? { capabilities: needs } : {}) }
  }
}

export interface ParsedCompletionRequest {
  model: string
  stream: boolean
  includeUsage: boolean
  /** one request per choice, in OpenAI's order: prompt 0's n choices, then prompt 1's, … */
  requests: ChatRequest[]
  constraints: RouteConstraints
}

/**
 * `/v1/completions` (legacy text completion): `prompt` a string or a list of strings (each gives n
 * choices), max_tokens defaulting to OpenAI's 16. echo, suffix, best_of > 1, logprobs and token-id
 * prompts are refused (400 naming the field): Tally does not do them.
 */
export function parseCompletionRequest (body: unknown, headers: Record<string, string | string[] | undefined> = {}): ParsedCompletionRequest {
  if (!isObject(body)) throw badRequest('request body must be a JSON object')
  refuseUnknownFields(body, 'completions')
  const model = optString(body.model, 'model', MAX_MODEL_CHARS)
  if (model === undefined) throw badRequest('model is required', 'model')
  const p = body.prompt
  const prompts = typeof p === 'string' ? [p] : p
  if (!Array.isArray(prompts) || prompts.length === 0 || prompts.length > MAX_PROMPTS) throw badRequest(`prompt must be a string or a list of 1..${MAX_PROMPTS} strings`, 'prompt')
  let chars = 0
  prompts.forEach((x, i) => {
    if (typeof x !== 'string') throw badRequest(`prompt[${i}] must be a string (token-id prompts are not supported by Tally)`, 'prompt')
    if (x.length === 0) throw badRequest(`prompt[${i}] must not be empty`, 'prompt')
    chars += x.length
  })
  if (chars > MAX_CONTENT_CHARS) throw badRequest(`prompt exceeds ${MAX_CONTENT_CHARS} characters in total`, 'prompt')
  const { n, stream, includeUsage, stop } = parseSampling(body)
  neutralOnly(body, 'echo', isFalse, 'false')
  neutralOnly(body, 'suffix', v => v === '', 'null or ""')
  neutralOnly(body, 'best_of', v => v === 1 || v === n, '1 (or n)')
  neutralOnly(body, 'logprobs', () => false, 'null')
  const maxTokens = optNumber(body.max_tokens, 'max_tokens', 1, MAX_TOKENS_LIMIT, true) ?? COMPLETIONS_DEFAULT_MAX_TOKENS
  if (prompts.length * n > MAX_CHOICES * 2) throw badRequest(`prompts × n must be at most ${MAX_CHOICES * 2}, got ${prompts.length * n}`, 'n')
  const seed = optNumber(body.seed, 'seed', 0, 2 ** 32 - 1, true)
  const requests: ChatRequest[] = []
  for (const prompt of prompts as string[]) {
    for (let i = 0; i < n; i++) {
      requests.push({
        messages: [],
        prompt,
        maxTokens,
        temperature: optNumber(body.temperature, 'temperature', 0, 2, false),
        topP: optNumber(body.top_p, 'top_p', 0, 1, false),
        // as for chat's n: choice i of a prompt samples with seed + i
        seed: seed === undefined ? undefined : (seed + i) % 2 ** 32,
        stop
      })
    }
  }
  return { model, stream, includeUsage, requests, constraints: parseConstraints(body.tally, headers) }
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
    attempts: r.attempts,
    ...(r.abandonedCostUc != null ? { abandoned_cost_uc: safeNumber(r.abandonedCostUc) } : {})
  }
}

export function usageField (r: RoutedResult | RoutedResult[]): { prompt_tokens: number, completion_tokens: number, total_tokens: number } {
  const rs = Array.isArray(r) ? r : [r]
  const prompt = rs.reduce((a, x) => a + x.inputTokens, 0)
  const completion = rs.reduce((a, x) => a + x.outputTokens, 0)
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

/** the sum of exact decimal strings (Bpt), exact */
function sumDecimals (values: string[]): string {
  const scale = Math.max(0, ...values.map(v => (v.split('.')[1] ?? '').length))
  let total = 0n
  for (const v of values) {
    const [whole, frac = ''] = v.split('.')
    total += BigInt(whole + frac.padEnd(scale, '0'))
  }
  const digits = total.toString().padStart(scale + 1, '0')
  const whole = digits.slice(0, digits.length - scale)
  const frac = digits.slice(digits.length - scale).replace(/0+$/, '')
  return frac === '' ? whole : `${whole}.${frac}`
}

function abandonedField (uc: bigint): { abandoned_cost_uc?: number } {
  return uc > 0n ? { abandoned_cost_uc: safeNumber(uc) } : {}
}

/**
 * The `tally` field of an answer of several choices (n > 1): each choice was its own purchase, so
 * cost, Bpt and attempts are the sums and `choices` holds each one's own field; the seller and
 * price shown at the top are the first choice's.
 */
export function tallyFieldOf (rs: RoutedResult[]): Record<string, unknown> {
  if (rs.length === 1) return tallyField(rs[0])
  return {
    ...tallyField(rs[0]),
    cost_uc: safeNumber(rs.reduce((a, r) => a + r.costUc, 0n)),
    bpt: sumDecimals(rs.map(r => r.bpt)),
    attempts: rs.reduce((a, r) => a + r.attempts, 0),
    ...abandonedField(rs.reduce((a, r) => a + (r.abandonedCostUc ?? 0n), 0n)),
    choices: rs.map(tallyField)
  }
}

function finishReason (r: RoutedResult): string {
  if (r.finishReason === 'tool_calls' || (r.toolCalls?.length ?? 0) > 0) return 'tool_calls'
  return r.finishReason === 'length' ? 'length' : 'stop'
}

/** chat completions and legacy text completions share everything but the object names and the choice's text field */
export type CompletionKind = 'chat' | 'text'

export function completionBody (id: string, createdS: number, r: RoutedResult | RoutedResult[], kind: CompletionKind = 'chat'): Record<string, unknown> {
  const rs = Array.isArray(r) ? r : [r]
  return {
    id,
    object: kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: createdS,
    model: rs[0].model,
    choices: rs.map((x, index) => kind === 'chat'
      ? { index, message: assistantMessage(x), logprobs: logprobsField(x.logprobs), finish_reason: finishReason(x) }
      : { index, text: x.text, logprobs: null, finish_reason: finishReason(x) }),
    usage: usageField(rs),
    tally: tallyFieldOf(rs)
  }
}

/** a chat choice's `logprobs`: OpenAI's `{content, refusal}` when they were asked for, else null */
function logprobsField (lps: TokenLogprob[] | undefined): { content: TokenLogprob[], refusal: null } | null {
  return lps != null ? { content: lps, refusal: null } : null
}

/** one stream chunk of choice `index`: a chat delta (with its tokens' logprobs when asked), or the text piece of a text completion */
export function chunkBody (id: string, createdS: number, model: string, delta: Record<string, unknown>, finish: string | null, index = 0, kind: CompletionKind = 'chat', logprobs?: TokenLogprob[]): Record<string, unknown> {
  if (kind === 'text') return { id, object: 'text_completion', created: createdS, model, choices: [{ index, text: delta.content ?? '', logprobs: null, finish_reason: finish }] }
  return { id, object: 'chat.completion.chunk', created: createdS, model, choices: [{ index, delta, logprobs: logprobsField(logprobs), finish_reason: finish }] }
}

/**
 * The chunk that ends choice `index` (its finish_reason). Without stream_options.include_usage it
 * carries that choice's `tally` field, so Tally's figures stay reachable without the usage chunk.
 */
export function finishChunk (id: string, createdS: number, r: RoutedResult, index: number, includeUsage: boolean, kind: CompletionKind = 'chat'): Record<string, unknown> {
  const c = chunkBody(id, createdS, r.model, {}, finishReason(r), index, kind)
  return includeUsage ? c : { ...c, tally: tallyField(r) }
}

/** the usage chunk (choices: []), sent last and only when stream_options.include_usage asked for it */
export function usageChunk (id: string, createdS: number, rs: RoutedResult[], kind: CompletionKind = 'chat'): Record<string, unknown> {
  return { id, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: createdS, model: rs[0].model, choices: [], usage: usageField(rs), tally: tallyFieldOf(rs) }
}

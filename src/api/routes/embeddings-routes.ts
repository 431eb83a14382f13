/**
 * `POST /v1/embeddings` in OpenAI's shape: the request is parsed once into an EmbedRequest, bought
 * on the market from a seller whose offer lists `embeddings` (protocols/infer.md § Embeddings), and
 * answered with the vectors (float or base64 little-endian float32), usage and the `tally` field.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { badRequest, HttpApiError } from '../errors.js'
import { MAX_MODEL_CHARS, parseConstraints } from '../openai.js'
import { send } from '../http-util.js'
import type { GatewayBuyer } from '../gateway.js'
import type { EmbedRequest } from '../../exec/backend.js'
import { MAX_EMBED_INPUT_BYTES, MAX_EMBED_INPUTS } from '../../exec/infer/codec.js'
import type { RouteConstraints } from '../../market/router-types.js'
import type { EmbedRoutedResult } from '../../node/buyer.js'

/** the body fields `/v1/embeddings` accepts; any other is a 400 naming it */
const EMBEDDINGS_FIELDS = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user', 'tally'])
/** OpenAI's own bound on `user` */
const MAX_USER_CHARS = 256

/** what the route needs from the node besides the gateway's buyer surface */
export interface EmbeddingsBuyer {
  embed(model: string, request: EmbedRequest, constraints: RouteConstraints, opts: { signal?: AbortSignal }): Promise<EmbedRoutedResult>
}

export interface ParsedEmbeddingsRequest {
  model: string
  request: EmbedRequest
  encoding: 'float' | 'base64'
  constraints: RouteConstraints
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** `input`: a string or a list of strings, each non-empty, within the protocol's bounds */
function parseInput (v: unknown): string[] {
  if (v === undefined || v === null) throw badRequest('input is required', 'input')
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list)) throw badRequest('input must be a string or a list of strings', 'input')
  if (list.length === 0 || list.length > MAX_EMBED_INPUTS) throw badRequest(`input must hold 1..${MAX_EMBED_INPUTS} strings`, 'input')
  let bytes = 0
  list.forEach((s, i) => {
    if (typeof s === 'number' || (Array.isArray(s) && s.every(x => typeof x === 'number'))) throw badRequest('input as token ids is not supported: send the text', 'input')
    if (typeof s !== 'string') throw badRequest(`input[${i}] must be a string`, 'input')
    if (s.length === 0) throw badRequest(`input[${i}] must not be empty`, 'input')
    bytes += Buffer.byteLength(s)
  })
  if (bytes > MAX_EMBED_INPUT_BYTES) throw badRequest(`input exceeds ${MAX_EMBED_INPUT_BYTES} bytes in total`, 'input')
  return list as string[]
}

export function parseEmbeddingsRequest (body: unknown, headers: Record<string, string | string[] | undefined> = {}): ParsedEmbeddingsRequest {
  if (!isObject(body)) throw badRequest('request body must be a JSON object')
  for (const k of Object.keys(body)) if (!EMBEDDINGS_FIELDS.has(k)) throw badRequest(`Unrecognized request argument supplied: ${k.slice(0, 64)}`, k.slice(0, 64))
  const model = body.model
  if (typeof model !== 'string' || model.length === 0 || model.length > MAX_MODEL_CHARS) throw badRequest(`model is required: a string of 1..${MAX_MODEL_CHARS} chars`, 'model')
  const inputs = parseInput(body.input)
  const encoding = body.encoding_format ?? 'float'
  if (encoding !== 'float' && encoding !== 'base64') throw badRequest('encoding_format must be "float" or "base64"', 'encoding_format')
  // sellers return their model's own vector length; none shortens vectors yet, so asking for another is refused, never ignored
  if (body.dimensions !== undefined && body.dimensions !== null) throw badRequest('dimensions is not supported: sellers return their model\'s own vector length', 'dimensions')
  if (body.user !== undefined && body.user !== null && (typeof body.user !== 'string' || body.user.length > MAX_USER_CHARS)) throw badRequest(`user must be a string of at most ${MAX_USER_CHARS} chars`, 'user')
  return { model, request: { inputs }, encoding, constraints: parseConstraints(body.tally, headers) }
}

/** a vector as OpenAI's base64 encoding: little-endian float32 bytes */
export function base64Vector (v: Float32Array): string {
  const bytes = Buffer.alloc(v.length * 4)
  for (let i = 0; i < v.length; i++) bytes.writeFloatLE(v[i], i * 4)
  return bytes.toString('base64')
}

function safeNumber (v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`amount ${v} exceeds the JSON safe integer range`)
  return Number(v)
}

export function embeddingsBody (r: EmbedRoutedResult, encoding: 'float' | 'base64'): Record<string, unknown> {
  return {
    object: 'list',
    data: r.vectors.map((v, index) => ({ object: 'embedding', index, embedding: encoding === 'base64' ? base64Vector(v) : Array.from(v) })),
    model: r.model,
    usage: { prompt_tokens: r.inputTokens, total_tokens: r.inputTokens },
    tally: {
      seller: r.seller,
      model: r.model,
      fingerprint: r.fingerprint,
      fingerprint_verified: r.fingerprintVerified,
      price: { in_per_mtok_uc: safeNumber(r.priceInPerMTokUc) },
      cost_uc: safeNumber(r.costUc),
      bpt: r.bpt,
      usage_source: r.usageSource,
      input_bound: r.inputBound,
      attempts: r.attempts
    }
  }
}

/** `POST /v1/embeddings` (a node without an embed method answers 404, as for any missing route) */
export function embeddingsRoutes (app: FastifyInstance, buyer: GatewayBuyer): void {
  app.post('/v1/embeddings', async (req: FastifyRequest, reply: FastifyReply) => {
    const embed = (buyer as Partial<EmbeddingsBuyer>).embed
    if (embed == null) return send(reply, 404, new HttpApiError(404, 'invalid_request_error', 'this node does not buy embeddings', null, 'not_found').toJSON())
    const parsed = parseEmbeddingsRequest(req.body, req.headers)
    const controller = new AbortController()
    const onClose = (): void => { if (!reply.raw.writableFinished) controller.abort() }
    reply.raw.on('close', onClose)
    try {
      const r = await embed.call(buyer, parsed.model, parsed.request, parsed.constraints, { signal: controller.signal })
      return send(reply, 200, embeddingsBody(r, parsed.encoding))
    } finally {
      reply.raw.off('close', onClose)
    }
  })
}

/**
 * The OpenAI-compatible routes: `/v1/models` and `/v1/models/{id}`, `/v1/chat/completions` and
 * (completions-routes.ts) `/v1/completions`, whole or streamed, with n choices (each one a
 * purchase) and idempotent retries of non-streamed requests (idempotency.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { randomBytes } from 'node:crypto'
import { HttpApiError, toHttpError } from '../errors.js'
import type { TokenLogprob, ToolCallDelta } from '../../exec/backend.js'
import { chunkBody, completionBody, finishChunk, parseChatRequest, usageChunk, type CompletionKind } from '../openai.js'
import { modelBody, modelsBody } from '../tally-requests.js'
import { jsonReplacer, send } from '../http-util.js'
import { IdempotencyStore, idempotencyKeyOf, requestFingerprint, type StoredAnswer } from '../idempotency.js'
import { completionsRoutes } from './completions-routes.js'
import type { GatewayMetrics } from '../metrics.js'
import type { GatewayBuyer } from '../gateway.js'
import type { ChatRequest } from '../../exec/backend.js'
import type { RouteConstraints, RoutedResult } from '../../market/router-types.js'

/** the OpenAI-compatible routes; one idempotency store per gateway */
export function openAiRoutes (app: FastifyInstance, buyer: GatewayBuyer, metrics: GatewayMetrics, store = new IdempotencyStore()): void {
  app.get('/v1/models', async (_req, reply) => send(reply, 200, modelsBody(buyer.models())))

  // a wildcard, so that ids holding a slash (org/model) are found too
  app.get('/v1/models/*', async (req: FastifyRequest, reply) => {
    const id = (req.params as Record<string, string>)['*']
    const m = buyer.models().find(x => x.id === id)
    if (m == null) return send(reply, 404, new HttpApiError(404, 'invalid_request_error', `The model '${id.slice(0, 256)}' does not exist on the market (no live offer)`, 'model', 'model_not_found').toJSON())
    return send(reply, 200, modelBody(m))
  })

  app.post('/v1/chat/completions', async (req: FastifyRequest, reply: FastifyReply) => {
    const parsed = parseChatRequest(req.body, req.headers)
    return await answerPurchase(req, reply, buyer, metrics, store, {
      route: '/v1/chat/completions',
      kind: 'chat',
      model: parsed.model,
      requests: choiceRequests(parsed.request, parsed.n),
      constraints: parsed.constraints,
      stream: parsed.stream,
      includeUsage: parsed.includeUsage
    })
  })

  completionsRoutes(app, buyer, metrics, store)
}

/**
 * The n requests of n choices: with a seed, choice i samples with seed + i, so that the choices
 * differ (as OpenAI's do) and each is reproducible.
 */
export function choiceRequests (request: ChatRequest, n: number): ChatRequest[] {
  return Array.from({ length: n }, (_, i) => request.seed === undefined || i === 0 ? request : { ...request, seed: (request.seed + i) % 2 ** 32 })
}

/** what one answered request buys: one purchase per entry of `requests`, answered as choices 0..n-1 */
export interface Purchase {
  route: string
  kind: CompletionKind
  model: string
  requests: ChatRequest[]
  constraints: RouteConstraints
  stream: boolean
  includeUsage: boolean
}

/**
 * Answer a purchase. A non-streamed one with an idempotency key (idempotency.ts) is answered from
 * the store when it was already bought, and is not cancelled when its client goes away (its retry
 * will want the answer); any other is cancelled (and pays what was streamed) when the client does.
 */
export async function answerPurchase (req: FastifyRequest, reply: FastifyReply, buyer: GatewayBuyer, metrics: GatewayMetrics, store: IdempotencyStore, p: Purchase): Promise<FastifyReply> {
  const fingerprint = requestFingerprint(p.route, req.body)
  const key = idempotencyKeyOf(req.headers, p.route, fingerprint, p.stream)
  const id = `${p.kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`
  const created = Math.floor(Date.now() / 1000)
  const controller = new AbortController()
  const onClose = (): void => { if (!reply.raw.writableFinished && key.kind === 'none') controller.abort() }
  reply.raw.on('close', onClose)
  try {
    if (p.stream) {
      await streamPurchase(reply, buyer, metrics, p, id, created, controller.signal)
      return reply
    }
    const produce = async (): Promise<StoredAnswer> => ({ status: 200, body: completionBody(id, created, await buyChoices(buyer, metrics, p, controller.signal), p.kind) })
    if (key.kind === 'none') return send(reply, 200, (await produce()).body)
    const answer = await store.run(key.key, fingerprint, produce, { fresh: key.kind === 'first' })
    if (answer.replayed) reply.header('idempotent-replayed', 'true')
    return send(reply, answer.status, answer.body)
  } finally {
    reply.raw.off('close', onClose)
  }
}

/**
 * Buy every choice at once; the first failure cancels the others (they pay what they streamed)
 * and is the answer. `onDelta(i, text)` gets choice i's text as it arrives, `onDone(i, r)` its end.
 */
async function buyChoices (buyer: GatewayBuyer, metrics: GatewayMetrics, p: Purchase, signal: AbortSignal, onDelta?: (index: number, text: string, toolCalls?: ToolCallDelta[], logprobs?: TokenLogprob[]) => void, onDone?: (index: number, r: RoutedResult) => void): Promise<RoutedResult[]> {
  const all = new AbortController()
  const onAbort = (): void => { all.abort(signal.reason) }
  signal.addEventListener('abort', onAbort, { once: true })
  let first: { err: unknown } | undefined
  try {
    const runs = p.requests.map(async (request, i) => {
      try {
        const r = await buyer.infer(p.model, request, p.constraints, { signal: all.signal, onDelta: onDelta != null ? (text, toolCalls, logprobs) => { onDelta(i, text, toolCalls, logprobs) } : undefined })
        metrics.completed(r)
        onDone?.(i, r)
        return r
      } catch (err) {
        if (first === undefined) {
          first = { err }
          metrics.failed(toHttpError(err).status)
          all.abort(err)
        }
        throw err
      }
    })
    const settled = await Promise.allSettled(runs)
    if (first !== undefined) throw first.err
    return settled.map(s => (s as PromiseFulfilledResult<RoutedResult>).value)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * A streamed purchase: the status line is sent at the first delta, so a failure before any token
 * still gets its proper HTTP code; after that, errors travel as an SSE error event. Choices are
 * interleaved as their tokens arrive, each ends with its own finish chunk; the usage chunk
 * (choices: []) comes last, only when stream_options.include_usage asked for it.
 */
async function streamPurchase (reply: FastifyReply, buyer: GatewayBuyer, metrics: GatewayMetrics, p: Purchase, id: string, created: number, signal: AbortSignal): Promise<void> {
  let started = false
  const write = (obj: unknown): void => { reply.raw.write(`data: ${JSON.stringify(obj, jsonReplacer)}\n\n`) }
  const start = (): void => {
    if (started) return
    started = true
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' })
    if (p.kind === 'chat') for (let i = 0; i < p.requests.length; i++) write(chunkBody(id, created, p.model, { role: 'assistant', content: '' }, null, i))
  }
  try {
    const rs = await buyChoices(buyer, metrics, p, signal,
      (i, text, toolCalls, logprobs) => {
        start()
        if (text !== '' || logprobs != null) write(chunkBody(id, created, p.model, { content: text }, null, i, p.kind, logprobs))
        // tool calls stream as OpenAI streams them: delta.tool_calls with index, id, type, function{name, arguments}
        if (toolCalls != null && toolCalls.length > 0) write(chunkBody(id, created, p.model, { tool_calls: toolCalls }, null, i, p.kind))
      },
      (i, r) => { start(); write(finishChunk(id, created, r, i, p.includeUsage, p.kind)) })
    start()
    if (p.includeUsage) write(usageChunk(id, created, rs, p.kind))
    reply.raw.end('data: [DONE]\n\n')
  } catch (err) {
    if (!started) throw err
    write(toHttpError(err).toJSON())
    reply.raw.end('data: [DONE]\n\n')
  }
}

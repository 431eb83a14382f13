/**
 * The buyer's HTTP face: an OpenAI-compatible gateway (`/v1/chat/completions`, `/v1/models`),
 * Tally JSON endpoints (`/tally/*`), Prometheus `/metrics` and a dashboard page. It owns HTTP
 * only; routing, payment and accounting are the `GatewayBuyer`'s job.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { HttpApiError, badRequest, toHttpError } from './errors.js'
import { chunkBody, completionBody, finalChunks, parseChatRequest } from './openai.js'
import { dashboardHtml } from './dashboard.js'
import type { ChatRequest } from '../exec/backend.js'
import type { RouteConstraints, RoutedResult } from '../market/router-types.js'
import { ErrorCode, TallyError } from '../errors/index.js'
import type { ModelListing } from '../node/tally.js'

/** a chat request larger than this is refused before parsing */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024

export type { ModelListing }

/** What the gateway needs from the node (the SDK implements it; tests may use any real one). */
export interface GatewayBuyer {
  readonly account: string
  models(): ModelListing[]
  infer(model: string, request: ChatRequest, constraints: RouteConstraints, opts: { signal: AbortSignal, onDelta?: (text: string) => void }): Promise<RoutedResult>
  balance(account?: string): Promise<unknown>
  /** every account the ledger knows, with Σ */
  balances(): unknown[]
  pay(to: string, amountUc: bigint, opts: { memo?: string, tag?: string }): Promise<unknown>
  report(opts: { by?: string, sinceMs?: number }): Promise<unknown>
  offers(model?: string): Promise<unknown>
  history?(account?: string): Promise<unknown>
}

export interface GatewayInit {
  host?: string
  port?: number
  /** required when host is not a loopback address */
  token?: string
  bodyLimitBytes?: number
}

export interface Gateway {
  readonly url: string
  readonly app: FastifyInstance
  close(): Promise<void>
}

export class GatewayConfigError extends TallyError {
  override name = 'GatewayConfigError'
  override readonly code: ErrorCode = ErrorCode.gatewayConfig
}

/** process-wide metrics (CPU, memory, event loop), registered once however many gateways a process starts */
let processMetrics: Registry | undefined
function processRegistry (): Registry {
  if (processMetrics == null) {
    processMetrics = new Registry()
    collectDefaultMetrics({ register: processMetrics, prefix: 'tally_' })
  }
  return processMetrics
}

function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}

/** JSON with bigints as numbers when safe, else decimal strings */
function jsonReplacer (_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString()
  return v
}

function send (reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body, jsonReplacer))
}

export async function startGateway (buyer: GatewayBuyer, init: GatewayInit = {}): Promise<Gateway> {
  const host = init.host ?? '127.0.0.1'
  const port = init.port ?? 8080
  if (!isLoopback(host) && (init.token == null || init.token.length < 16)) {
    throw new GatewayConfigError(`gateway bound to ${host} needs a bearer token of at least 16 chars (loopback needs none)`)
  }
  const token = init.token != null ? Buffer.from(init.token) : undefined
  const app = Fastify({ bodyLimit: init.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES, logger: false })

  const registry = new Registry()
  const requests = new Counter({ name: 'tally_gateway_requests_total', help: 'chat requests by outcome', labelNames: ['status'], registers: [registry] })
  const tokens = new Counter({ name: 'tally_gateway_tokens_total', help: 'tokens bought', labelNames: ['direction'], registers: [registry] })
  const spent = new Counter({ name: 'tally_gateway_spent_uc_total', help: 'micro-credits spent through the gateway', registers: [registry] })
  const ttft = new Histogram({ name: 'tally_gateway_ttft_seconds', help: 'time to first token of routed requests', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] })

  app.addHook('onRequest', async (req, reply) => {
    if (token == null) return
    const auth = req.headers.authorization ?? ''
    const given = Buffer.from(auth.startsWith('Bearer ') ? auth.slice(7) : '')
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      return send(reply, 401, new HttpApiError(401, 'invalid_request_error', 'missing or wrong bearer token', null, 'invalid_api_key').toJSON())
    }
  })

  app.setErrorHandler((err: any, _req, reply) => {
    // Fastify's own errors: bad JSON, body too large, wrong content type
    if (err?.statusCode === 413) return send(reply, 413, new HttpApiError(413, 'invalid_request_error', `request body exceeds ${init.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES} bytes`, null, 'body_too_large').toJSON())
    if (err?.statusCode === 400 || err?.statusCode === 415) return send(reply, err.statusCode, badRequest(`malformed request: ${err.message}`).toJSON())
    const e = toHttpError(err)
    return send(reply, e.status, e.toJSON())
  })
  app.setNotFoundHandler((req, reply) => send(reply, 404, new HttpApiError(404, 'invalid_request_error', `no route ${req.method} ${req.url}`, null, 'not_found').toJSON()))

  app.get('/v1/models', async (_req, reply) => {
    const data = buyer.models().map(m => ({
      id: m.id,
      object: 'model',
      created: 0,
      owned_by: 'tally-market',
      tally: { sellers: m.sellers, params: m.params, best_price_in_per_mtok_uc: m.bestPriceInPerMTokUc, best_price_out_per_mtok_uc: m.bestPriceOutPerMTokUc }
    }))
    return send(reply, 200, { object: 'list', data })
  })

  app.post('/v1/chat/completions', async (req: FastifyRequest, reply: FastifyReply) => {
    const parsed = parseChatRequest(req.body, req.headers)
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`
    const created = Math.floor(Date.now() / 1000)
    const controller = new AbortController()
    const onClose = (): void => { if (!reply.raw.writableFinished) controller.abort() }
    reply.raw.on('close', onClose)

    if (!parsed.stream) {
      try {
        const r = await buyer.infer(parsed.model, parsed.request, parsed.constraints, { signal: controller.signal })
        record(r, 'ok')
        return send(reply, 200, completionBody(id, created, r))
      } catch (err) {
        requests.inc({ status: toHttpError(err).status })
        throw err
      } finally {
        reply.raw.off('close', onClose)
      }
    }

    // Streaming: the status line is sent at the first delta, so a failure before any token
    // still gets its proper HTTP code; after that, errors travel as an SSE error event.
    let started = false
    const start = (): void => {
      if (started) return
      started = true
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' })
      write(chunkBody(id, created, parsed.model, { role: 'assistant', content: '' }, null))
    }
    const write = (obj: unknown): void => { reply.raw.write(`data: ${JSON.stringify(obj, jsonReplacer)}\n\n`) }
    try {
      const r = await buyer.infer(parsed.model, parsed.request, parsed.constraints, {
        signal: controller.signal,
        onDelta: (text) => { start(); if (text !== '') write(chunkBody(id, created, parsed.model, { content: text }, null)) }
      })
      start()
      for (const c of finalChunks(id, created, r)) write(c)
      reply.raw.end('data: [DONE]\n\n')
      record(r, 'ok')
    } catch (err) {
      const e = toHttpError(err)
      requests.inc({ status: e.status })
      if (!started) throw err
      write(e.toJSON())
      reply.raw.end('data: [DONE]\n\n')
    } finally {
      reply.raw.off('close', onClose)
    }
    return reply
  })

  function record (r: RoutedResult, status: string): void {
    requests.inc({ status })
    tokens.inc({ direction: 'in' }, r.inputTokens)
    tokens.inc({ direction: 'out' }, r.outputTokens)
    spent.inc(Number(r.costUc))
    ttft.observe(r.ttftMs / 1000)
  }

  app.get('/tally/balance', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>
    if (q.all === 'true' || q.all === '1') {
      const all = buyer.balances() as Array<{ balanceUc: bigint }>
      return send(reply, 200, { balances: all, sumUc: all.reduce((s, b) => s + b.balanceUc, 0n) })
    }
    return send(reply, 200, await buyer.balance(q.account))
  })
  app.get('/tally/offers', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>
    return send(reply, 200, await buyer.offers(q.model))
  })
  app.get('/tally/report', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>
    const by = q.by ?? 'tag'
    if (!['tag', 'model', 'seller'].includes(by)) throw badRequest('by must be tag, model or seller', 'by')
    const sinceMs = q.since !== undefined ? Number(q.since) : undefined
    if (sinceMs !== undefined && !Number.isSafeInteger(sinceMs)) throw badRequest('since must be a unix time in ms', 'since')
    return send(reply, 200, await buyer.report({ by, sinceMs }))
  })
  app.get('/tally/history', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>
    if (buyer.history == null) throw new HttpApiError(404, 'invalid_request_error', 'history is not available', null, 'not_found')
    return send(reply, 200, await buyer.history(q.account))
  })
  app.post('/tally/pay', async (req, reply) => {
    const b = req.body as Record<string, unknown> | undefined
    if (b == null || typeof b !== 'object') throw badRequest('body must be a JSON object')
    if (typeof b.to !== 'string') throw badRequest('to must be an account id', 'to')
    const amount = typeof b.amount_uc === 'number' && Number.isSafeInteger(b.amount_uc) && b.amount_uc > 0
      ? BigInt(b.amount_uc)
      : typeof b.amount_uc === 'string' && /^[1-9][0-9]{0,18}$/.test(b.amount_uc) ? BigInt(b.amount_uc) : undefined
    if (amount === undefined) throw badRequest('amount_uc must be a positive integer', 'amount_uc')
    if (b.memo !== undefined && (typeof b.memo !== 'string' || b.memo.length > 256)) throw badRequest('memo must be a string of at most 256 chars', 'memo')
    if (b.tag !== undefined && (typeof b.tag !== 'string' || b.tag.length > 64)) throw badRequest('tag must be a string of at most 64 chars', 'tag')
    return send(reply, 200, await buyer.pay(b.to, amount, { memo: b.memo as string | undefined, tag: b.tag as string | undefined }))
  })
  app.get('/metrics', async (_req, reply) => {
    const merged = Registry.merge([processRegistry(), registry])
    return reply.header('content-type', merged.contentType).send(await merged.metrics())
  })
  app.get('/', async (_req, reply) => reply.header('content-type', 'text/html; charset=utf-8').send(dashboardHtml(buyer.account)))

  await app.listen({ host, port })
  const addr = app.server.address()
  const boundPort = typeof addr === 'object' && addr != null ? addr.port : port
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${boundPort}`,
    app,
    close: async () => { await app.close() }
  }
}

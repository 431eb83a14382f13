/**
 * The buyer's HTTP face: an OpenAI-compatible gateway (`/v1/chat/completions`, `/v1/models`),
 * Tally JSON endpoints (`/tally/*`), Prometheus `/metrics` and a dashboard page. It owns HTTP
 * only; routing, payment and accounting are the `GatewayBuyer`'s job.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type RequestListener, type Server } from 'node:http'
import { isIP } from 'node:net'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { HttpApiError, badRequest, toHttpError } from './errors.js'
import { chunkBody, completionBody, finalChunks, parseChatRequest, type ParsedChatRequest } from './openai.js'
import { modelsBody, parseGrantBody, parsePayBody, parseReportQuery, parseRevokeBody, wantsAllBalances, type Query } from './tally-requests.js'
import { dashboardHtml } from './dashboard.js'
import type { ChatRequest } from '../exec/backend.js'
import type { RouteConstraints, RoutedResult } from '../market/router-types.js'
import { ErrorCode, TallyError } from '../errors/index.js'
import type { ModelListing } from '../node/tally.js'
import { ConfigError, resolveGatewayHost, type HostResolver } from '../node/config.js'
import { ConnectionGuard, type ConnectionEvent } from './connections.js'
import { gatewayConnectionBudget, openFileLimit } from './fd-budget.js'

/** a chat request larger than this is refused before parsing */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024
/** a client has this long from connecting (or from its previous request) to send its headers */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
/** and this long to send the whole request, body included; the answer (a stream) is not timed here */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** an idle keep-alive connection is closed after this */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000
/** connections one client address may hold (on loopback every local client shares one address) */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 64

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
  /** explicit credit lines (ledger.md, grant and revoke) */
  grant?(to: string, amountUc: bigint): Promise<unknown>
  revoke?(grantId: string, amountUc: bigint): Promise<unknown>
  report(opts: { by?: string, sinceMs?: number }): Promise<unknown>
  offers(model?: string): Promise<unknown>
  history?(account?: string): Promise<unknown>
}

export interface GatewayInit {
  host?: string
  port?: number
  /** required unless every address the host resolves to is loopback */
  token?: string
  bodyLimitBytes?: number
  /** browser origins allowed to call the gateway besides its own (CORS); none by default */
  allowOrigins?: string[]
  headersTimeoutMs?: number
  /** receiving the whole request, headers and body; never the response */
  requestTimeoutMs?: number
  keepAliveTimeoutMs?: number
  /** default: derived from the process's open-file limit (fd-budget.ts) */
  maxConnections?: number
  maxConnectionsPerAddress?: number
  /** resolves the host for the bind rule; the system's dns.lookup by default */
  resolver?: HostResolver
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

/** JSON with bigints as numbers when safe, else decimal strings */
function jsonReplacer (_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString()
  return v
}

function send (reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body, jsonReplacer))
}

/** the gateway's own metrics; /metrics serves them with the process's */
class GatewayMetrics {
  readonly registry = new Registry()
  private readonly requests = new Counter({ name: 'tally_gateway_requests_total', help: 'chat requests by outcome', labelNames: ['status'], registers: [this.registry] })
  private readonly tokens = new Counter({ name: 'tally_gateway_tokens_total', help: 'tokens bought', labelNames: ['direction'], registers: [this.registry] })
  private readonly spent = new Counter({ name: 'tally_gateway_spent_uc_total', help: 'micro-credits spent through the gateway', registers: [this.registry] })
  private readonly capped = new Counter({ name: 'tally_gateway_connections_capped_total', help: 'connections closed to make room (evicted) or refused at the connection caps', labelNames: ['action'], registers: [this.registry] })
  private readonly ttft = new Histogram({ name: 'tally_gateway_ttft_seconds', help: 'time to first token of routed requests', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] })

  /** a completed chat request */
  completed (r: RoutedResult): void {
    this.requests.inc({ status: 'ok' })
    this.tokens.inc({ direction: 'in' }, r.inputTokens)
    this.tokens.inc({ direction: 'out' }, r.outputTokens)
    this.spent.inc(Number(r.costUc))
    this.ttft.observe(r.ttftMs / 1000)
  }

  /** a connection closed or refused at the caps (connections.ts) */
  connectionCapped (action: ConnectionEvent): void {
    this.capped.inc({ action })
  }

  /** a chat request that failed with this HTTP status */
  failed (status: number): void {
    this.requests.inc({ status })
  }
}

/** every request carries `Authorization: Bearer <token>` (compared in constant time), or gets 401 */
function requireBearer (app: FastifyInstance, token: Buffer): void {
  app.addHook('onRequest', async (req, reply) => {
    const auth = req.headers.authorization ?? ''
    const given = Buffer.from(auth.startsWith('Bearer ') ? auth.slice(7) : '')
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      return send(reply, 401, new HttpApiError(401, 'invalid_request_error', 'missing or wrong bearer token', null, 'invalid_api_key').toJSON())
    }
  })
}

/**
 * DNS-rebinding defence of a loopback gateway: a browser tricked into sending a page's requests
 * to 127.0.0.1 still sends the page's own name in Host, so only loopback names (and the name the
 * gateway was bound by) with the gateway's port are answered; the rest get 421.
 */
function requireLoopbackHost (app: FastifyInstance, allowed: ReadonlySet<string>): void {
  app.addHook('onRequest', async (req, reply) => {
    const host = req.headers.host?.toLowerCase()
    if (host == null || !allowed.has(host)) {
      return send(reply, 421, new HttpApiError(421, 'invalid_request_error', `Host ${JSON.stringify(host ?? '')} is not this gateway: a loopback gateway answers only to ${[...allowed].join(', ')}`, null, 'misdirected_request').toJSON())
    }
  })
}

/**
 * Browser requests (they carry Origin) are served only for the gateway's own origin and the
 * configured `allowOrigins`, which also get CORS headers and preflight answers; others get 403,
 * so a web page cannot spend the user's credits through `POST /tally/pay`.
 */
function checkOrigin (app: FastifyInstance, allowOrigins: ReadonlySet<string>): void {
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin
    if (origin == null) return
    const own = origin === `http://${req.headers.host ?? ''}`
    if (!own && !allowOrigins.has(origin)) {
      return send(reply, 403, new HttpApiError(403, 'invalid_request_error', `origin ${JSON.stringify(origin.slice(0, 200))} is not allowed (gateway.allowOrigins)`, null, 'origin_not_allowed').toJSON())
    }
    if (!own) {
      // raw headers, so that streamed (hijacked) answers carry them too
      reply.raw.setHeader('access-control-allow-origin', origin)
      reply.raw.setHeader('vary', 'Origin')
    }
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] != null) {
      return reply.code(204)
        .header('access-control-allow-methods', 'GET, POST')
        .header('access-control-allow-headers', 'authorization, content-type')
        .header('access-control-max-age', '600')
        .send()
    }
  })
}

/** every error answers in OpenAI's error shape, with the status its code maps to */
function answerErrors (app: FastifyInstance, bodyLimitBytes: number): void {
  app.setErrorHandler((err: any, _req, reply) => {
    // Fastify's own errors: bad JSON, body too large, wrong content type
    if (err?.statusCode === 413) return send(reply, 413, new HttpApiError(413, 'invalid_request_error', `request body exceeds ${bodyLimitBytes} bytes`, null, 'body_too_large').toJSON())
    if (err?.statusCode === 400 || err?.statusCode === 415) return send(reply, err.statusCode, badRequest(`malformed request: ${err.message}`).toJSON())
    const e = toHttpError(err)
    return send(reply, e.status, e.toJSON())
  })
  app.setNotFoundHandler((req, reply) => send(reply, 404, new HttpApiError(404, 'invalid_request_error', `no route ${req.method} ${req.url}`, null, 'not_found').toJSON()))
}

/** the OpenAI-compatible routes: `/v1/models`, `/v1/chat/completions` (whole or streamed) */
function openAiRoutes (app: FastifyInstance, buyer: GatewayBuyer, metrics: GatewayMetrics): void {
  app.get('/v1/models', async (_req, reply) => send(reply, 200, modelsBody(buyer.models())))

  app.post('/v1/chat/completions', async (req: FastifyRequest, reply: FastifyReply) => {
    const parsed = parseChatRequest(req.body, req.headers)
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`
    const created = Math.floor(Date.now() / 1000)
    const controller = new AbortController()
    const onClose = (): void => { if (!reply.raw.writableFinished) controller.abort() }
    reply.raw.on('close', onClose)
    try {
      if (!parsed.stream) {
        try {
          const r = await buyer.infer(parsed.model, parsed.request, parsed.constraints, { signal: controller.signal })
          metrics.completed(r)
          return send(reply, 200, completionBody(id, created, r))
        } catch (err) {
          metrics.failed(toHttpError(err).status)
          throw err
        }
      }
      await streamCompletion(reply, buyer, metrics, parsed, id, created, controller.signal)
      return reply
    } finally {
      reply.raw.off('close', onClose)
    }
  })
}

/**
 * A streamed completion: the status line is sent at the first delta, so a failure before any
 * token still gets its proper HTTP code; after that, errors travel as an SSE error event.
 */
async function streamCompletion (reply: FastifyReply, buyer: GatewayBuyer, metrics: GatewayMetrics, parsed: ParsedChatRequest, id: string, created: number, signal: AbortSignal): Promise<void> {
  let started = false
  const write = (obj: unknown): void => { reply.raw.write(`data: ${JSON.stringify(obj, jsonReplacer)}\n\n`) }
  const start = (): void => {
    if (started) return
    started = true
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' })
    write(chunkBody(id, created, parsed.model, { role: 'assistant', content: '' }, null))
  }
  try {
    const r = await buyer.infer(parsed.model, parsed.request, parsed.constraints, {
      signal,
      onDelta: (text) => { start(); if (text !== '') write(chunkBody(id, created, parsed.model, { content: text }, null)) }
    })
    start()
    for (const c of finalChunks(id, created, r)) write(c)
    reply.raw.end('data: [DONE]\n\n')
    metrics.completed(r)
  } catch (err) {
    const e = toHttpError(err)
    metrics.failed(e.status)
    if (!started) throw err
    write(e.toJSON())
    reply.raw.end('data: [DONE]\n\n')
  }
}

/** Tally's JSON routes (`/tally/*`), `/metrics` and the dashboard */
function tallyRoutes (app: FastifyInstance, buyer: GatewayBuyer, metrics: GatewayMetrics): void {
  app.get('/tally/balance', async (req, reply) => {
    const q = req.query as Query
    if (wantsAllBalances(q)) {
      const all = buyer.balances() as Array<{ balanceUc: bigint }>
      return send(reply, 200, { balances: all, sumUc: all.reduce((s, b) => s + b.balanceUc, 0n) })
    }
    return send(reply, 200, await buyer.balance(q.account))
  })
  app.get('/tally/offers', async (req, reply) => send(reply, 200, await buyer.offers((req.query as Query).model)))
  app.get('/tally/report', async (req, reply) => send(reply, 200, await buyer.report(parseReportQuery(req.query as Query))))
  app.get('/tally/history', async (req, reply) => {
    if (buyer.history == null) throw new HttpApiError(404, 'invalid_request_error', 'history is not available', null, 'not_found')
    return send(reply, 200, await buyer.history((req.query as Query).account))
  })
  app.post('/tally/pay', async (req, reply) => {
    const p = parsePayBody(req.body)
    return send(reply, 200, await buyer.pay(p.to, p.amountUc, { memo: p.memo, tag: p.tag }))
  })
  app.post('/tally/grant', async (req, reply) => {
    if (buyer.grant == null) throw new HttpApiError(404, 'invalid_request_error', 'grants are not available', null, 'not_found')
    const p = parseGrantBody(req.body)
    return send(reply, 200, await buyer.grant(p.to, p.amountUc))
  })
  app.post('/tally/revoke', async (req, reply) => {
    if (buyer.revoke == null) throw new HttpApiError(404, 'invalid_request_error', 'grants are not available', null, 'not_found')
    const p = parseRevokeBody(req.body)
    return send(reply, 200, await buyer.revoke(p.grantId, p.amountUc))
  })
  app.get('/metrics', async (_req, reply) => {
    const merged = Registry.merge([processRegistry(), metrics.registry])
    return reply.header('content-type', merged.contentType).send(await merged.metrics())
  })
  app.get('/', async (_req, reply) => reply.header('content-type', 'text/html; charset=utf-8').send(dashboardHtml(buyer.account)))
}

function positiveInt (v: number | undefined, fallback: number, name: string): number {
  const ms = v ?? fallback
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new GatewayConfigError(`${name} must be a positive integer, got ${ms}`)
  return ms
}

/** the Host values a loopback gateway answers to: loopback names and the bind name, with the port */
function loopbackHosts (bindHost: string, port: number): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]', isIP(bindHost) === 6 ? `[${bindHost}]` : bindHost.toLowerCase()])
  const hosts = new Set<string>()
  for (const n of names) {
    hosts.add(`${n}:${port}`)
    if (port === 80) hosts.add(n)
  }
  return hosts
}

export async function startGateway (buyer: GatewayBuyer, init: GatewayInit = {}): Promise<Gateway> {
  const host = init.host ?? '127.0.0.1'
  const port = init.port ?? 8080
  let resolved: { addresses: string[], loopback: boolean }
  try {
    resolved = await resolveGatewayHost(host, init.resolver)
  } catch (err) {
    if (err instanceof ConfigError) throw new GatewayConfigError(err.message)
    throw err
  }
  if (!resolved.loopback && (init.token == null || init.token.length < 16)) {
    throw new GatewayConfigError(`gateway bound to ${host} (${resolved.addresses.join(', ')}) needs a bearer token of at least 16 chars (only a loopback address needs none)`)
  }
  const headersTimeoutMs = positiveInt(init.headersTimeoutMs, DEFAULT_HEADERS_TIMEOUT_MS, 'headersTimeoutMs')
  const requestTimeoutMs = positiveInt(init.requestTimeoutMs, Math.max(DEFAULT_REQUEST_TIMEOUT_MS, headersTimeoutMs), 'requestTimeoutMs')
  if (headersTimeoutMs > requestTimeoutMs) throw new GatewayConfigError(`headersTimeoutMs (${headersTimeoutMs}) must not exceed requestTimeoutMs (${requestTimeoutMs})`)
  const keepAliveTimeoutMs = positiveInt(init.keepAliveTimeoutMs, DEFAULT_KEEP_ALIVE_TIMEOUT_MS, 'keepAliveTimeoutMs')
  const maxConnections = positiveInt(init.maxConnections, init.maxConnections ?? gatewayConnectionBudget(openFileLimit()), 'maxConnections')
  const maxConnectionsPerAddress = positiveInt(init.maxConnectionsPerAddress, Math.min(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, maxConnections), 'maxConnectionsPerAddress')
  const bodyLimitBytes = init.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES
  const metrics = new GatewayMetrics()
  const guard = new ConnectionGuard({ maxTotal: maxConnections, maxPerAddress: maxConnectionsPerAddress }, (e) => { metrics.connectionCapped(e) })
  const serverFactory = (handler: RequestListener): Server => {
    const server = createServer({
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // Node checks the two deadlines on this period (30 s by default): a fraction of the shorter
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
      keepAliveTimeout: keepAliveTimeoutMs
    }, handler)
    guard.attach(server)
    return server
  }
  const app = Fastify({ bodyLimit: bodyLimitBytes, logger: false, serverFactory, requestTimeout: requestTimeoutMs, keepAliveTimeout: keepAliveTimeoutMs })
  const hosts = new Set<string>()
  if (resolved.loopback) requireLoopbackHost(app, hosts)
  checkOrigin(app, new Set(init.allowOrigins ?? []))
  if (init.token != null) requireBearer(app, Buffer.from(init.token))
  answerErrors(app, bodyLimitBytes)
  openAiRoutes(app, buyer, metrics)
  tallyRoutes(app, buyer, metrics)

  // a loopback name is bound by the address it was checked by, so a second lookup cannot move it
  await app.listen({ host: resolved.loopback ? resolved.addresses[0] : host, port })
  const addr = app.server.address()
  const boundPort = typeof addr === 'object' && addr != null ? addr.port : port
  for (const h of loopbackHosts(host, boundPort)) hosts.add(h)
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${boundPort}`,
    app,
    close: async () => {
      const closing = app.close()
      // sockets that never sent a whole request would hold close() until their deadline
      guard.closeWaiting()
      await closing
    }
  }
}

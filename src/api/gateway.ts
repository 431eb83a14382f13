/**
 * The buyer's HTTP face: an OpenAI-compatible gateway (`/v1/chat/completions`, `/v1/models`),
 * Tally JSON endpoints (`/tally/*`), Prometheus `/metrics` and a dashboard page. It owns HTTP
 * only; routing, payment and accounting are the `GatewayBuyer`'s job.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { timingSafeEqual } from 'node:crypto'
import { createServer, type RequestListener, type Server } from 'node:http'
import { isIP } from 'node:net'
import { HttpApiError, badRequest, toHttpError } from './errors.js'
import { send } from './http-util.js'
import { GatewayMetrics } from './metrics.js'
import { openAiRoutes } from './routes/openai-routes.js'
import { embeddingsRoutes } from './routes/embeddings-routes.js'
import { operatorRoutes, tallyRoutes } from './routes/tally-routes.js'
import { batchRoutes } from './routes/batch-routes.js'
import type { ChatRequest, TokenLogprob, ToolCallDelta } from '../exec/backend.js'
import type { RouteConstraints, RoutedResult } from '../market/router-types.js'
import { ErrorCode, TallyError } from '../errors/index.js'
import type { ModelListing } from '../node/tally.js'
import { ConfigError, resolveGatewayHost, type HostResolver } from '../node/config.js'
import { ConnectionGuard } from './connections.js'
import { isDashboardFile } from './dashboard.js'
import { gatewayConnectionBudget, openFileLimit } from './fd-budget.js'

/** a chat request larger than this is refused before parsing */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024
/** a client has this long from connecting (or from its previous request) to send its headers */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
/** and this long to send the whole request, body included; the answer (a stream) is not timed here */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** an idle keep-alive connection is closed after this */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000
/** connections one client address may hold (on loopback every local client shares one address: 256 leaves room for a
 * stock client pool at 64 requests in flight, which opens a few more than 64 connections and would otherwise be
 * sent on one this cap just evicted) */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256

export type { ModelListing }

/** What the gateway needs from the node (the SDK implements it; tests may use any real one). */
export interface GatewayBuyer {
  readonly account: string
  models(): ModelListing[]
  infer(model: string, request: ChatRequest, constraints: RouteConstraints, opts: { signal: AbortSignal, onDelta?: (text: string, toolCalls?: ToolCallDelta[], logprobs?: TokenLogprob[]) => void }): Promise<RoutedResult>
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
  /** the operator's view (src/node/operator.ts); a TallyNode has one */
  operator?: OperatorView
  /** the book's offers of a model with their posted prices: a batch's quotes (src/node/batch) */
  offerList?(model?: string): Array<{ seller: string, priceInPerMTokUc: bigint, priceOutPerMTokUc: bigint }>
  /** where batch files and jobs live (`<dataDir>/batch`); none: no /v1/files, /v1/batches */
  batchDir?(): string | undefined
}

/** what the operator routes read: the JSON shapes are src/node/operator.ts's */
export interface OperatorView {
  status(): unknown
  market(): unknown
  sessions(): unknown
  receipts(limit: number): unknown
  timeseries(sinceMs: number): unknown
  diagnosis(): unknown
  /** `/tally/network` (src/node/operator-network.ts); probe asks peers whether they hold my offer */
  network?(opts: { probe?: boolean }): Promise<unknown>
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
  /** batch files and jobs (docs/batch.md) under this dir; default: the buyer's batchDir() */
  batchDir?: string
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

/** every request but a GET of the dashboard's files carries `Authorization: Bearer <token>` (compared in constant time), or gets 401 */
function requireBearer (app: FastifyInstance, token: Buffer): void {
  app.addHook('onRequest', async (req, reply) => {
    if (isDashboardFile(req)) return
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
        .header('access-control-allow-headers', 'authorization, content-type, idempotency-key')
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
    if (e.retryAfterMs > 0) reply.header('retry-after', String(Math.ceil(e.retryAfterMs / 1000)))
    return send(reply, e.status, e.toJSON())
  })
  app.setNotFoundHandler((req, reply) => send(reply, 404, new HttpApiError(404, 'invalid_request_error', `no route ${req.method} ${req.url}`, null, 'not_found').toJSON()))
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
  // first, so answers the guards refuse are timed too
  metrics.observe(app, buyer)
  const hosts = new Set<string>()
  if (resolved.loopback) requireLoopbackHost(app, hosts)
  checkOrigin(app, new Set(init.allowOrigins ?? []))
  if (init.token != null) requireBearer(app, Buffer.from(init.token))
  answerErrors(app, bodyLimitBytes)
  openAiRoutes(app, buyer, metrics)
  embeddingsRoutes(app, buyer)
  tallyRoutes(app, buyer, metrics)
  operatorRoutes(app, buyer)
  const batchDir = init.batchDir ?? buyer.batchDir?.()
  const batches = batchDir != null && buyer.offerList != null ? batchRoutes(app, buyer, batchDir) : undefined

  // a loopback name is bound by the address it was checked by, so a second lookup cannot move it
  try {
    await app.listen({ host: resolved.loopback ? resolved.addresses[0] : host, port })
  } catch (err) {
    // a taken port: nothing stays open behind the error
    await app.close().catch(() => {})
    throw err
  }
  const addr = app.server.address()
  const boundPort = typeof addr === 'object' && addr != null ? addr.port : port
  for (const h of loopbackHosts(host, boundPort)) hosts.add(h)
  // batches that were running when the node stopped (or was killed) go on
  batches?.start()
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${boundPort}`,
    app,
    close: async () => {
      await batches?.stop()
      const closing = app.close()
      // sockets that never sent a whole request would hold close() until their deadline
      guard.closeWaiting()
      await closing
    }
  }
}

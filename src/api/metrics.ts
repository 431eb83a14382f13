/**
 * The HTTP API's Prometheus metrics: the gateway's own series, HTTP latency by route, the
 * process's defaults, and, when the API serves a TallyNode, the node's series and libp2p's
 * (src/node/metrics.ts), merged into one `/metrics` answer. Names follow Prometheus' rules,
 * checked by test/unit/api/metrics-lint.test.ts: counters end in `_total`, nothing else does,
 * base units, bounded labels.
 */
import type { FastifyInstance } from 'fastify'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { RoutedResult } from '../market/router-types.js'
import type { ConnectionEvent } from './connections.js'
import { TallyNode } from '../node/tally.js'
import { nodeMetricsOf, nodeMetricsText } from '../node/metrics.js'

/** process-wide metrics (CPU, memory, event loop), registered once however many gateways a process starts */
let processMetrics: Registry | undefined
export function processRegistry (): Registry {
  if (processMetrics == null) {
    processMetrics = new Registry()
    collectDefaultMetrics({ register: processMetrics, prefix: 'tally_' })
    // gauges named *_total (promtool refuses them); each is the sum of a family kept beside it
    // (tally_nodejs_active_handles{type}, tally_nodejs_active_requests{type}, tally_nodejs_active_resources{type})
    for (const name of ['tally_nodejs_active_handles_total', 'tally_nodejs_active_requests_total', 'tally_nodejs_active_resources_total']) processMetrics.removeSingleMetric(name)
  }
  return processMetrics
}

/** HTTP latency buckets, seconds: a JSON answer takes milliseconds, a streamed completion seconds */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
/** the route label of a request no route matched (its URL is free text) */
const UNMATCHED_ROUTE = 'unmatched'

/** the gateway's own metrics; /metrics serves them with the process's and the node's */
export class GatewayMetrics {
  readonly registry = new Registry()
  private readonly requests = new Counter({ name: 'tally_gateway_requests_total', help: 'chat requests by outcome: ok, or the HTTP status of the failure', labelNames: ['status'], registers: [this.registry] })
  private readonly tokens = new Counter({ name: 'tally_gateway_tokens_total', help: 'tokens bought through the gateway, by direction (in: prompt, out: completion)', labelNames: ['direction'], registers: [this.registry] })
  private readonly spent = new Counter({ name: 'tally_gateway_spent_microcredits_total', help: 'µc (1e-6 credit) the gateway\'s requests cost, as a float: exact below 2^53 µc; for display and alerts, never for accounting', registers: [this.registry] })
  private readonly capped = new Counter({ name: 'tally_gateway_connections_capped_total', help: 'connections closed to make room (evicted) or refused at the connection caps', labelNames: ['action'], registers: [this.registry] })
  private readonly ttft = new Histogram({ name: 'tally_gateway_ttft_seconds', help: 'time to first token of routed requests', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] })
  private readonly http = new Histogram({ name: 'tally_http_request_duration_seconds', help: 'HTTP requests from arrival to the last byte of the answer (streams included), by route pattern, method and status', labelNames: ['route', 'method', 'status'], buckets: HTTP_BUCKETS, registers: [this.registry] })
  private node?: TallyNode

  /**
   * times every request of `app` (from the raw response's finish, so streamed answers count
   * whole) and, when the API serves a TallyNode, adds the node's metrics to the scrape
   */
  observe (app: FastifyInstance, served: unknown): void {
    if (served instanceof TallyNode) {
      this.node = served
      nodeMetricsOf(served)
    }
    app.addHook('onRequest', async (req, reply) => {
      const end = this.http.startTimer()
      reply.raw.once('finish', () => {
        // the route's pattern (bounded), never the URL; only the methods the API routes
        const route = req.routeOptions.url ?? UNMATCHED_ROUTE
        const method = req.method === 'GET' || req.method === 'POST' || req.method === 'OPTIONS' || req.method === 'HEAD' ? req.method : 'other'
        end({ route, method, status: String(reply.raw.statusCode) })
      })
    })
  }

  /** the whole `/metrics` answer: process, gateway, node and libp2p series */
  async scrape (): Promise<{ contentType: string, text: string }> {
    const merged = Registry.merge([processRegistry(), this.registry])
    const text = await merged.metrics()
    return { contentType: merged.contentType, text: this.node != null ? `${text}\n${await nodeMetricsText(this.node)}` : text }
  }

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

/** The HTTP API's Prometheus metrics: the gateway's own series and the process's defaults. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { RoutedResult } from '../market/router-types.js'
import type { ConnectionEvent } from './connections.js'

/** process-wide metrics (CPU, memory, event loop), registered once however many gateways a process starts */
let processMetrics: Registry | undefined
export function processRegistry (): Registry {
  if (processMetrics == null) {
    processMetrics = new Registry()
    collectDefaultMetrics({ register: processMetrics, prefix: 'tally_' })
  }
  return processMetrics
}

/** the gateway's own metrics; /metrics serves them with the process's */
export class GatewayMetrics {
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

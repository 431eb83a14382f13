/**
 * `/v1/completions`, OpenAI's legacy text completion: each prompt is continued as raw text (no
 * chat template) by a seller that offers `completions` (market.md § Capabilities). Answered like
 * chat completions (openai-routes.ts): n choices, streaming, usage chunk on request, idempotency.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseCompletionRequest } from '../openai.js'
import { answerPurchase } from './openai-routes.js'
import type { IdempotencyStore } from '../idempotency.js'
import type { GatewayMetrics } from '../metrics.js'
import type { GatewayBuyer } from '../gateway.js'

export function completionsRoutes (app: FastifyInstance, buyer: GatewayBuyer, metrics: GatewayMetrics, store: IdempotencyStore): void {
  app.post('/v1/completions', async (req: FastifyRequest, reply: FastifyReply) => {
    const parsed = parseCompletionRequest(req.body, req.headers)
    return await answerPurchase(req, reply, buyer, metrics, store, {
      route: '/v1/completions',
      kind: 'text',
      model: parsed.model,
      requests: parsed.requests,
      constraints: parsed.constraints,
      stream: parsed.stream,
      includeUsage: parsed.includeUsage
    })
  })
}

/** The OpenAI-compatible routes: `/v1/models`, `/v1/chat/completions` (whole or streamed). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { randomBytes } from 'node:crypto'
import { toHttpError } from '../errors.js'
import { chunkBody, completionBody, finalChunks, parseChatRequest, type ParsedChatRequest } from '../openai.js'
import { modelsBody } from '../tally-requests.js'
import { jsonReplacer, send } from '../http-util.js'
import type { GatewayMetrics } from '../metrics.js'
import type { GatewayBuyer } from '../gateway.js'

/** the OpenAI-compatible routes: `/v1/models`, `/v1/chat/completions` (whole or streamed) */
export function openAiRoutes (app: FastifyInstance, buyer: GatewayBuyer, metrics: GatewayMetrics): void {
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

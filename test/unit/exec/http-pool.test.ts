/**
 * The HTTP backend's pooled client (undici, keep-alive): sequential requests share one
 * connection, also after an error status and after trailing bytes behind [DONE]; a cancelled
 * stream closes its upstream request at once; transport failures map to the backend's errors.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { BackendEvent, ChatRequest } from '../../../src/exec/backend.js'
import { BackendHttpError, createHttpBackend } from '../../../src/exec/backends/http/index.js'
import { waitFor } from '../../helpers/wait.js'

interface Upstream { baseUrl: string, connections: number, requests: number, closedEarly: number, server: Server, sockets: Set<Socket> }

const servers: Upstream[] = []
afterEach(async () => {
  for (const u of servers.splice(0)) {
    for (const s of u.sockets) s.destroy()
    await new Promise<void>(resolve => u.server.close(() => { resolve() }))
  }
})

const chunk = (content: string): string => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`
const usage = `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } })}\n\n`

/** a server whose handler decides each answer; counts TCP connections and requests */
async function upstream (handler: (req: IncomingMessage, res: ServerResponse, u: Upstream) => void): Promise<Upstream> {
  const server = createServer()
  const u: Upstream = { baseUrl: '', connections: 0, requests: 0, closedEarly: 0, server, sockets: new Set() }
  server.keepAliveTimeout = 60_000
  server.on('connection', (s: Socket) => { u.connections++; u.sockets.add(s); s.on('close', () => u.sockets.delete(s)) })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    u.requests++
    res.on('close', () => { if (!res.writableFinished) u.closedEarly++ })
    req.resume()
    req.on('end', () => { handler(req, res, u) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  u.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  servers.push(u)
  return u
}

const request: ChatRequest = { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 8 }
const backendFor = (u: Upstream, extra: Record<string, unknown> = {}): ReturnType<typeof createHttpBackend> =>
  createHttpBackend({ baseUrl: u.baseUrl, model: 'm', params: 1e9, tokenizerUrl: false, firstByteTimeoutMs: 5000, idleTimeoutMs: 5000, ...extra })

async function drain (stream: AsyncIterable<BackendEvent>, onChunk?: () => void): Promise<Extract<BackendEvent, { type: 'done' }>> {
  for await (const ev of stream) {
    if (ev.type === 'done') return ev
    onChunk?.()
  }
  throw new Error('no done event')
}

describe('http backend: pooled keep-alive client', () => {
  it('sequential requests reuse one connection, also past an error status and bytes after [DONE]', async () => {
    const u = await upstream((_req, res, up) => {
      // the third request gets a 503 with a body; every other one a stream with a comment after [DONE]
      if (up.requests === 3) { res.writeHead(503, { 'retry-after': '2', 'content-type': 'application/json' }).end('{"error":{"message":"overloaded"}}'); return }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(chunk('a') + chunk('b') + usage + 'data: [DONE]\n\n' + ': trailing comment\n\n')
    })
    // one connection per request the backend runs at once: with 1, a second connection would mean one was not reused
    const b = backendFor(u, { maxConcurrency: 1 })
    try {
      for (let i = 0; i < 6; i++) {
        if (i === 2) {
          const err = await drain(b.stream(request, new AbortController().signal)).catch(e => e)
          expect(err).toBeInstanceOf(BackendHttpError)
          expect(err).toMatchObject({ status: 503, retryAfterMs: 2000 })
          continue
        }
        const done = await drain(b.stream(request, new AbortController().signal))
        expect(done.usage).toEqual({ inputTokens: 3, outputTokens: 2, source: 'reported' })
      }
      expect(u.requests).toBe(6)
      expect(u.connections).toBe(1)
    } finally {
      await b.close()
    }
  })

  it('aborting mid-stream ends the stream as cancelled and closes the upstream request at once', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(chunk('first'))
      // then nothing more: only the cancel can end it
    })
    const b = backendFor(u, { maxConcurrency: 1 })
    try {
      const ac = new AbortController()
      const done = await drain(b.stream(request, ac.signal), () => { ac.abort() })
      expect(done.finishReason).toBe('cancelled')
      await waitFor(() => u.closedEarly === 1, 'the upstream to see its request closed')
      // the slot and the pool's one connection are free again: a next request is served
      const ac2 = new AbortController()
      const again = await drain(b.stream(request, ac2.signal), () => { ac2.abort() })
      expect(again.finishReason).toBe('cancelled')
      expect(u.requests).toBe(2)
      await waitFor(() => u.closedEarly === 2, 'the second request closed too')
    } finally {
      await b.close()
    }
  })

  it('a connection reset mid-stream and no server at all are BackendHttpError status 0', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(chunk('x'), () => { setImmediate(() => res.socket?.destroy()) })
    })
    const b = backendFor(u)
    const chunks: string[] = []
    const err = await (async () => { for await (const ev of b.stream(request, new AbortController().signal)) if (ev.type === 'chunk') chunks.push(ev.text) })().catch(e => e)
    expect(chunks).toEqual(['x'])
    expect(err).toBeInstanceOf(BackendHttpError)
    expect(err.status).toBe(0)
    await b.close()

    const port = (u.server.address() as AddressInfo).port
    await new Promise<void>(resolve => { for (const s of u.sockets) s.destroy(); u.server.close(() => { resolve() }) })
    servers.splice(servers.indexOf(u), 1)
    const gone = createHttpBackend({ baseUrl: `http://127.0.0.1:${port}/v1`, model: 'm', params: 1e9, tokenizerUrl: false })
    const err2 = await drain(gone.stream(request, new AbortController().signal)).catch(e => e)
    expect(err2).toBeInstanceOf(BackendHttpError)
    expect(err2.status).toBe(0)
    await gone.close()
  })

  it('a closed backend refuses new requests and closes its pooled connections', async () => {
    const u = await upstream((_req, res) => { res.writeHead(200, { 'content-type': 'text/event-stream' }).end(chunk('a') + usage + 'data: [DONE]\n\n') })
    const b = backendFor(u)
    await drain(b.stream(request, new AbortController().signal))
    expect(u.sockets.size).toBe(1)
    await b.close()
    await waitFor(() => u.sockets.size === 0, 'the pooled connection to close')
    await expect(drain(b.stream(request, new AbortController().signal))).rejects.toBeInstanceOf(BackendHttpError)
  })
})

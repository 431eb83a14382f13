/**
 * The HTTP backend's embeddings: a real local server speaking OpenAI's `/v1/embeddings`; the
 * vectors in input order whatever order the server lists them, the server's usage when it
 * reports one, an estimate otherwise, and every malformed answer a typed error.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BackendHttpError, BackendStreamError, createHttpBackend, estimateTokens } from '../../../src/exec/backends/http/index.js'

type Answer = (body: any) => { status?: number, json: unknown }

const servers: Server[] = []
afterEach(async () => { await Promise.all(servers.splice(0).map(async s => await new Promise(resolve => s.close(resolve)))) })

async function upstream (answer: Answer): Promise<{ baseUrl: string, requests: any[] }> {
  const requests: any[] = []
  const server = createServer((req, res) => {
    let raw = ''
    req.on('data', (c) => { raw += String(c) })
    req.on('end', () => {
      if (req.url !== '/v1/embeddings' || req.method !== 'POST') { res.writeHead(404).end(); return }
      const body = JSON.parse(raw)
      requests.push(body)
      const a = answer(body)
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(a.json))
    })
  })
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests }
}

const signal = new AbortController().signal
const backend = (baseUrl: string, capabilities = ['chat', 'embeddings']): ReturnType<typeof createHttpBackend> =>
  createHttpBackend({ baseUrl, model: 'nomic-embed-text', params: 137e6, capabilities, firstByteTimeoutMs: 2000 })

describe('http backend embeddings', () => {
  it('sends the inputs, returns the vectors in input order with the reported usage', async () => {
    const up = await upstream((body) => ({
      json: { object: 'list', data: [{ object: 'embedding', index: 1, embedding: [0.5, -1] }, { object: 'embedding', index: 0, embedding: [1, 2] }], model: body.model, usage: { prompt_tokens: 9, total_tokens: 9 } }
    }))
    const b = backend(up.baseUrl)
    expect(b.capabilities).toContain('embeddings')
    const r = await b.embed!({ inputs: ['first', 'second'] }, signal)
    expect(r.vectors.map(v => [...v])).toEqual([[1, 2], [0.5, -1]])
    expect(r.usage).toEqual({ inputTokens: 9, source: 'reported' })
    expect(up.requests[0]).toEqual({ model: 'nomic-embed-text', input: ['first', 'second'], encoding_format: 'float' })
  })

  it('estimates the tokens when the server reports none', async () => {
    const up = await upstream(() => ({ json: { data: [{ index: 0, embedding: [1] }] } }))
    const r = await backend(up.baseUrl).embed!({ inputs: ['twelve chars'] }, signal)
    expect(r.usage).toEqual({ inputTokens: estimateTokens('twelve chars'), source: 'estimated' })
  })

  it('a server that is not asked to embed is not listed as embedding', () => {
    expect(backend('http://127.0.0.1:1/v1', ['chat']).capabilities).toEqual(['chat'])
  })

  it('refuses malformed answers and passes errors on typed', async () => {
    const bad: unknown[] = [
      { data: [{ index: 0, embedding: [1] }] },
      { data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [2] }] },
      { data: [{ index: 0, embedding: [1] }, { index: 5, embedding: [2] }] },
      { data: [{ index: 0, embedding: 'AAAA' }, { index: 1, embedding: [2] }] },
      { data: [{ index: 0, embedding: [1, null] }, { index: 1, embedding: [2] }] },
      { nothing: true }
    ]
    for (const json of bad) {
      const up = await upstream(() => ({ json }))
      await expect(backend(up.baseUrl).embed!({ inputs: ['a', 'b'] }, signal)).rejects.toBeInstanceOf(BackendStreamError)
    }
    const failing = await upstream(() => ({ status: 503, json: { error: { message: 'loading' } } }))
    const err = await backend(failing.baseUrl).embed!({ inputs: ['a'] }, signal).catch(e => e)
    expect(err).toBeInstanceOf(BackendHttpError)
    expect(err.status).toBe(503)
  })
})

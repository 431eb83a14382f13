/**
 * UPnP's SOAP calls on Node 20 (docs/network.md § UPnP): once undici 7 is imported (the HTTP
 * backend does) its Agent is the global dispatcher of Node's fetch and refuses a request with an
 * explicit Content-Length beside a string body, which is what the UPnP client sends; the fix
 * drops the explicit header (fetch computes it) and the request reaches a real HTTP server.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import 'undici'
import { fetchWithoutExplicitContentLength } from '../../../src/node/network/services.js'

describe('fetch with an explicit Content-Length (UPnP SOAP) under undici 7', () => {
  let server: Server
  let url = ''
  const bodies: string[] = []
  beforeAll(async () => {
    server = createServer((req, res) => {
      let b = ''
      req.on('data', (d) => { b += String(d) })
      req.on('end', () => { bodies.push(`${req.headers['content-length'] ?? '-'} ${b}`); res.setHeader('content-type', 'text/xml'); res.end('<ok/>') })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/ctl`
  })
  afterAll(async () => { await new Promise<void>(resolve => server.close(() => resolve())) })

  const soap = async (): Promise<Response> => await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/xml', 'Content-Length': '6', SOAPAction: '"x#y"' }, body: '<x/>\n\n' })

  it('is refused before the fix and reaches the server after it, with the body\'s own length', async () => {
    await expect(soap()).rejects.toThrow(/fetch failed/)
    fetchWithoutExplicitContentLength()
    const res = await soap()
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('<ok/>')
    expect(bodies).toEqual(['6 <x/>\n\n'])
  })
})

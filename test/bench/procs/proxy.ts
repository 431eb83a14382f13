/**
 * A bare reverse proxy for the proxy bench (proxy.bench.ts), in its own process: every request
 * goes to the upstream (argv[2], an origin) over an undici Pool (keep-alive), and the response
 * body streams back chunk by chunk as it arrives. The floor any local LLM proxy pays. Prints
 * {"port": N} on stdout when it listens.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

const upstream = new Pool(process.argv[2], { connections: 256, keepAliveTimeout: 60_000, pipelining: 1 })
const server = createServer((req, res) => {
  const ac = new AbortController()
  res.on('close', () => { if (!res.writableFinished) ac.abort() })
  upstream.request({ method: req.method as 'POST', path: req.url ?? '/', headers: { 'content-type': req.headers['content-type'] ?? 'application/json' }, body: req, signal: ac.signal })
    .then(async up => {
      res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/octet-stream') })
      for await (const b of up.body) res.write(b)
      res.end()
    })
    .catch(err => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: String(err?.message ?? err) } }))
      else res.destroy()
    })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n') })
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(); void upstream.close(); process.exit(0) })

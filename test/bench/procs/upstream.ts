/**
 * A deterministic OpenAI-compatible upstream for the proxy bench (proxy.bench.ts), in its own
 * process: POST /v1/chat/completions streams max_tokens content chunks ("t0 ", "t1 ", …), a
 * finish chunk, a usage chunk and [DONE]. The last message's content picks the pace: "pace:<ms>"
 * spaces the tokens <ms> apart on an absolute schedule (so timer slack does not add up), anything
 * else writes them all at once. Prints {"port": N} on stdout when it listens.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const sleepUntil = async (t: number): Promise<void> => {
  const ms = t - performance.now()
  if (ms > 0) await new Promise(resolve => setTimeout(resolve, ms))
}

let seq = 0
const server = createServer((req, res) => {
  const parts: Buffer[] = []
  req.on('data', (b: Buffer) => parts.push(b))
  req.on('end', () => {
    void (async () => {
      if (req.method !== 'POST' || !(req.url ?? '').endsWith('/chat/completions')) { res.writeHead(404).end(); return }
      let body: any
      try { body = JSON.parse(Buffer.concat(parts).toString()) } catch { res.writeHead(400).end('{"error":{"message":"not JSON"}}'); return }
      const n = Number.isInteger(body.max_tokens) ? body.max_tokens : 16
      const last = String(body.messages?.at(-1)?.content ?? '')
      const pace = /^pace:(\d+(\.\d+)?)/.exec(last)
      const paceMs = pace != null ? Number(pace[1]) : 0
      const id = `chatcmpl-up${seq++}`
      const model = String(body.model ?? 'm')
      const chunk = (delta: unknown, finish: string | null): string => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      res.write(chunk({ role: 'assistant', content: '' }, null))
      const t0 = performance.now()
      for (let i = 0; i < n; i++) {
        if (paceMs > 0) await sleepUntil(t0 + (i + 1) * paceMs)
        if (res.destroyed) return
        res.write(chunk({ content: `t${i} ` }, null))
      }
      let tail = chunk({}, 'length')
      if (body.stream_options?.include_usage === true) tail += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 0, model, choices: [], usage: { prompt_tokens: 8, completion_tokens: n, total_tokens: 8 + n } })}\n\n`
      res.end(tail + 'data: [DONE]\n\n')
    })()
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n') })
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(); process.exit(0) })

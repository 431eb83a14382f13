/**
 * The gateway's SSE writes on a real socket (issue 17.3): the head, the role chunk and the first
 * content chunk leave in one socket write; the finish chunk, the usage chunk and [DONE] in one
 * more. Every flush the gateway's socket makes is recorded by wrapping that socket's _write and
 * _writev (what a Writable calls once per flush).
 */
import { describe, expect, it } from 'vitest'
import type { Socket } from 'node:net'
import { startGateway } from '../../src/api/gateway.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { startNode, trackGateway, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

type WritevChunk = { chunk: Buffer | string, encoding: BufferEncoding | 'buffer' }
const bytesOf = (c: Buffer | string, encoding: BufferEncoding | 'buffer'): Buffer => typeof c === 'string' ? Buffer.from(c, encoding === 'buffer' ? 'utf8' : encoding) : c

/** records each flush of every socket the server accepts */
function recordFlushes (socket: Socket, flushes: string[]): void {
  const s = socket as Socket & { _write: Function, _writev: Function }
  const write = s._write.bind(s)
  const writev = s._writev.bind(s)
  s._write = (chunk: Buffer | string, encoding: BufferEncoding | 'buffer', cb: (err?: Error) => void) => { flushes.push(bytesOf(chunk, encoding).toString()); return write(chunk, encoding, cb) }
  s._writev = (chunks: WritevChunk[], cb: (err?: Error) => void) => { flushes.push(Buffer.concat(chunks.map(c => bytesOf(c.chunk, c.encoding))).toString()); return writev(chunks, cb) }
}

describe('gateway SSE writes', () => {
  it('head + role chunk + first content chunk in one socket write; finish + usage + [DONE] in one', async () => {
    const backend = new SimulatedBackend({ modelId: 'sim-8b', params: 8_000_000_000, tokensPerChunk: 2 })
    const seller = await startNode({}, { sell: { backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n } })
    const buyer = await startNode({ bootstrap: seller.addrs() })
    const gw = trackGateway(await startGateway(buyer, { port: 0 }))
    await waitFor(() => buyer.offerList('sim-8b').length === 1, 'the offer in the buyer book')
    const flushes: string[] = []
    gw.app.server.on('connection', (s: Socket) => { recordFlushes(s, flushes) })

    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-8b', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 8, stream: true, stream_options: { include_usage: true } })
    })
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text).toContain('data: [DONE]')

    expect(flushes.length).toBeGreaterThanOrEqual(2)
    const first = flushes[0]
    expect(first).toMatch(/^HTTP\/1\.1 200/)
    expect(first).toContain('"role":"assistant"')
    expect(first).toMatch(/"delta":\{"content":"[^"]+"/)
    const last = flushes[flushes.length - 1]
    expect(last).toContain('"finish_reason":"length"')
    expect(last).toContain('"usage":')
    expect(last).toContain('data: [DONE]')
  })
})

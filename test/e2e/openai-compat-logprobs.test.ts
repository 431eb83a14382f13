/**
 * logprobs / top_logprobs through the market: a seller whose HTTP backend's server returns them
 * (offer capability `logprobs`) streams them with its chunks, the buyer checks and passes them on,
 * and the gateway answers in OpenAI's shape, whole and streamed. A model no seller serves them for
 * is a 400 naming `logprobs`. The upstream is a fixture server sending OpenAI's documented
 * chunk shape (choices[].logprobs.content) — no local model server here computes logprobs.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import { startGateway } from '../../src/api/gateway.js'
import { createHttpBackend } from '../../src/exec/backends/http/index.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { startNode, trackGateway, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

const PIECES = ['Down', ' the', ' hole']
const entry = (t: string, i: number, top: number): Record<string, unknown> => ({
  token: t,
  logprob: -0.25 * (i + 1),
  bytes: [...Buffer.from(t)],
  top_logprobs: Array.from({ length: top }, (_, j) => ({ token: j === 0 ? t : `alt${j}`, logprob: -0.25 * (i + 1) - j, bytes: null }))
})

/** an OpenAI-shaped streaming upstream that returns logprobs when asked */
async function upstream (): Promise<{ url: string, bodies: any[], server: Server }> {
  const bodies: any[] = []
  const server = createServer((req, res) => {
    let raw = ''
    req.on('data', (d: Buffer) => { raw += d.toString() })
    req.on('end', () => {
      const body = JSON.parse(raw)
      bodies.push(body)
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const send = (o: unknown): void => { res.write(`data: ${JSON.stringify(o)}\n\n`) }
      const base = { id: 'x', object: 'chat.completion.chunk', created: 1, model: body.model }
      PIECES.forEach((p, i) => send({ ...base, choices: [{ index: 0, delta: { content: p }, logprobs: body.logprobs === true ? { content: [entry(p, i, body.top_logprobs ?? 0)] } : null, finish_reason: null }] }))
      send({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] })
      send({ ...base, choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } })
      res.end('data: [DONE]\n\n')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, bodies, server }
}

const servers: Server[] = []
afterAll(async () => { for (const s of servers) await new Promise(resolve => s.close(resolve)) })

describe('logprobs', () => {
  it('served by a seller whose backend returns them, whole and streamed; refused (400 logprobs) where no seller does', async () => {
    const up = await upstream()
    servers.push(up.server)
    const backend = createHttpBackend({ baseUrl: up.url, model: 'upstream-model', modelId: 'lp-8b', params: 8_000_000_000, tokenizerUrl: false, capabilities: ['chat', 'logprobs'] })
    const seller = await startNode({}, { sell: { backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n } })
    await startNode({ bootstrap: seller.addrs() }, { sell: { backend: new SimulatedBackend({ modelId: 'plain-8b', params: 8_000_000_000 }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n } })
    const buyer = await startNode({ bootstrap: seller.addrs() })
    const gw = trackGateway(await startGateway(buyer, { port: 0 }))
    await waitFor(() => buyer.offerList('lp-8b').length === 1 && buyer.offerList('plain-8b').length === 1, 'both offers in the buyer book')
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 })
    const ask = { model: 'lp-8b', messages: [{ role: 'user' as const, content: 'Where did Alice go?' }], logprobs: true, top_logprobs: 2 }

    const whole = await client.chat.completions.create(ask)
    expect(up.bodies.at(-1)).toMatchObject({ logprobs: true, top_logprobs: 2 })
    expect(whole.choices[0].message.content).toBe(PIECES.join(''))
    expect(whole.choices[0].logprobs?.content).toEqual(PIECES.map((p, i) => entry(p, i, 2)))

    const streamed: unknown[] = []
    for await (const c of await client.chat.completions.create({ ...ask, stream: true })) streamed.push(...(c.choices[0]?.logprobs?.content ?? []))
    expect(streamed).toEqual(PIECES.map((p, i) => entry(p, i, 2)))

    const plain = await client.chat.completions.create({ ...ask, logprobs: false, top_logprobs: undefined })
    expect(plain.choices[0].logprobs).toBeNull()
    expect(up.bodies.at(-1).logprobs).toBeUndefined()

    const none = await client.chat.completions.create({ ...ask, model: 'plain-8b' }).catch(e => e)
    expect(none).toBeInstanceOf(OpenAI.BadRequestError)
    expect(none.param).toBe('logprobs')
    const topOnly = await client.chat.completions.create({ model: 'lp-8b', messages: ask.messages, top_logprobs: 2 }).catch(e => e)
    expect(topOnly.param).toBe('top_logprobs')
  })
})

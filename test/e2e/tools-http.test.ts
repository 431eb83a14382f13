/**
 * Tool calling end to end against an HTTP backend that supports tools: an agent's tool loop
 * (assistant → tool_calls → tool result → assistant) through the gateway, real nodes and the
 * official `openai` client, whole and streamed; a seller whose offer lacks `tools` is never
 * routed a tools request, even when it is cheaper; a model no seller serves tools for is a 400
 * naming `tools`, never a plain answer. One market for the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTallyNode, type SellInit, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { waitFor } from '../helpers/wait.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { createHttpBackend } from '../../src/exec/backends/http/index.js'
import { CountingBackend } from '../helpers/counting-backend.js'

const MODEL = 'toolbox-1'
const weather = { type: 'function' as const, function: { name: 'get_weather', description: 'current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }
/** the arguments the fixture server streams, in pieces, as OpenAI does */
const ARG_PIECES = ['{"ci', 'ty":"Pa', 'ris"}']
const ANSWER_PIECES = ['It is', ' 21 C', ' in Paris.']

/**
 * A deterministic OpenAI-compatible server that supports tools: with tools and no tool result yet
 * it calls the first tool (streamed as OpenAI streams tool calls); after a tool result it answers
 * in text. It records every request body.
 */
async function toolServer (): Promise<{ baseUrl: string, bodies: any[], server: Server }> {
  const bodies: any[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      bodies.push(body)
      const base = { id: 'chatcmpl-tools', object: 'chat.completion.chunk', created: 1732600000, model: body.model }
      const send = (o: unknown): void => { res.write(`data: ${JSON.stringify(o)}\n\n`) }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null }, finish_reason: null }] })
      const last = body.messages[body.messages.length - 1]
      let n = 0
      if (Array.isArray(body.tools) && last.role !== 'tool') {
        const name = body.tools[0].function.name
        send({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: `call_${bodies.length}`, type: 'function', function: { name, arguments: '' } }] }, finish_reason: null }] })
        n++
        for (const a of ARG_PIECES) { send({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: a } }] }, finish_reason: null }] }); n++ }
        send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] })
      } else {
        for (const p of ANSWER_PIECES) { send({ ...base, choices: [{ index: 0, delta: { content: p }, finish_reason: null }] }); n++ }
        send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })
      }
      send({ ...base, choices: [], usage: { prompt_tokens: 20, completion_tokens: n, total_tokens: 20 + n } })
      res.end('data: [DONE]\n\n')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, bodies, server }
}

const nodes: TallyNode[] = []
const dirs: string[] = []
let gateway: Gateway
let fixture: Awaited<ReturnType<typeof toolServer>>
let client: OpenAI
let toolSeller: TallyNode
let cheapSeller: TallyNode
const cheap = new CountingBackend({ modelId: MODEL, params: 1_000_000_000, tokensPerChunk: 2 })

async function node (sell?: SellInit, bootstrap: string[] = []): Promise<TallyNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-tools-'))
  dirs.push(dataDir)
  const n = await createTallyNode(parseConfig({ dataDir, transport: 'memory', bootstrap }), { memoryLedger: true, sell })
  nodes.push(n)
  await n.start()
  return n
}

beforeAll(async () => {
  fixture = await toolServer()
  toolSeller = await node({
    backend: createHttpBackend({ baseUrl: fixture.baseUrl, model: 'upstream-model', modelId: MODEL, params: 1_000_000_000, tokenizerUrl: false, capabilities: ['chat', 'tools'] }),
    priceInPerMTokUc: 2_000_000n,
    priceOutPerMTokUc: 4_000_000n
  })
  // cheaper, same model, chat only: it must never see a tools request
  cheapSeller = await node({ backend: cheap, priceInPerMTokUc: 100_000n, priceOutPerMTokUc: 200_000n }, toolSeller.addrs())
  // another model whose only seller serves chat only
  await node({ backend: new SimulatedBackend({ modelId: 'plain-1', params: 1_000_000_000 }), priceInPerMTokUc: 100_000n, priceOutPerMTokUc: 200_000n }, toolSeller.addrs())
  const buyer = await node(undefined, toolSeller.addrs())
  gateway = await startGateway(buyer, { port: 0 })
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
  buyerNode = buyer
}, 60_000)

let buyerNode: TallyNode
/** every offer in the buyer's book (waitFor polls inside a test) */
async function booked (): Promise<void> {
  await waitFor(() => buyerNode.offerList(MODEL).length === 2 && buyerNode.offerList('plain-1').length === 1, 'every offer in the buyer book')
}

afterAll(async () => {
  await gateway?.close()
  await Promise.all(nodes.map(async n => await n.stop().catch(() => {})))
  await new Promise(resolve => fixture?.server.close(resolve))
  await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
})

describe('tool calling through the market (HTTP backend with tools)', () => {
  it('runs the tool loop, whole: tool_calls, then the tool result, then the answer; only the seller that serves tools is asked', async () => {
    await booked()
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }]
    const first = await client.chat.completions.create({ model: MODEL, messages, tools: [weather], tool_choice: 'auto', parallel_tool_calls: false })
    const choice = first.choices[0]
    expect(choice.finish_reason).toBe('tool_calls')
    expect(choice.message.content).toBeNull()
    const call = choice.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall
    expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather' } })
    expect(call.id).toMatch(/^call_/)
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' })
    expect((first as any).tally.seller).toBe(toolSeller.account)
    // the cheaper chat-only seller was not even tried
    expect((first as any).tally.attempts).toBe(1)
    // tool-call tokens are output tokens: billed as the server reported them
    expect(first.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 1 + ARG_PIECES.length })
    expect((first as any).tally.cost_uc).toBe(Math.ceil((20 * 2_000_000 + 4 * 4_000_000) / 1e6))
    // the upstream got the tool fields unchanged
    const sent = fixture.bodies[fixture.bodies.length - 1]
    expect(sent).toMatchObject({ tools: [weather], tool_choice: 'auto', parallel_tool_calls: false })

    messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: '{"celsius":21}' })
    const second = await client.chat.completions.create({ model: MODEL, messages, tools: [weather] })
    expect(second.choices[0].finish_reason).toBe('stop')
    expect(second.choices[0].message.content).toBe(ANSWER_PIECES.join(''))
    const history = fixture.bodies[fixture.bodies.length - 1].messages
    expect(history[1]).toEqual({ role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: { name: 'get_weather', arguments: call.function.arguments } }] })
    expect(history[2]).toEqual({ role: 'tool', content: '{"celsius":21}', tool_call_id: call.id })
    expect(cheap.requests).toBe(0)

    // a plain request goes to the cheaper chat-only seller: it is in the book, just not for tools
    const plain = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
    expect((plain as any).tally.seller).toBe(cheapSeller.account)
    expect(cheap.requests).toBe(1)
  })

  it('streams tool calls as OpenAI does: delta.tool_calls with index, id, type, name, then argument pieces', async () => {
    await booked()
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather], stream: true, stream_options: { include_usage: true } })
    const deltas: any[] = []
    let finish: string | null = null
    for await (const c of stream) {
      for (const ch of c.choices) {
        if (ch.delta.tool_calls != null) deltas.push(...ch.delta.tool_calls)
        if (ch.finish_reason != null) finish = ch.finish_reason
      }
    }
    expect(finish).toBe('tool_calls')
    expect(deltas[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather' } })
    expect(deltas[0].id).toMatch(/^call_/)
    expect(deltas.every(d => d.index === 0)).toBe(true)
    expect(deltas.map(d => d.function?.arguments ?? '').join('')).toBe(ARG_PIECES.join(''))

    // the client's own accumulator rebuilds the call
    const runner = client.chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: 'Weather?' }], tools: [weather] })
    const done = await runner.finalChatCompletion()
    const call = done.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall
    expect(call.function.name).toBe('get_weather')
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' })
    expect(cheap.requests).toBe(1)
  })

  it('a capability no seller of the model offers is a 400 naming the field, never a plain answer', async () => {
    await booked()
    const refused = async (body: any): Promise<any> => await client.chat.completions.create(body).then(() => { throw new Error('expected a 400') }, (err: any) => err)
    const e = await refused({ model: 'plain-1', messages: [{ role: 'user', content: 'x' }], tools: [weather] })
    expect(e.status).toBe(400)
    expect(e.param).toBe('tools')
    expect(e.message).toMatch(/no seller of plain-1 serves tools/)
    const f = await refused({ model: MODEL, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } })
    expect(f.status).toBe(400)
    expect(f.param).toBe('response_format')
    // tool_choice none needs no tools: served as chat
    const none = await client.chat.completions.create({ model: 'plain-1', messages: [{ role: 'user', content: 'x' }], tools: [weather], tool_choice: 'none', max_tokens: 4 })
    expect(none.choices[0].finish_reason).toBe('length')
    expect(none.choices[0].message.tool_calls).toBeUndefined()
    expect(cheap.requests).toBe(1)
  })
})

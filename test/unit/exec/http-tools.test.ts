/**
 * The HTTP backend with tools, over real HTTP (node:http on 127.0.0.1): the tool fields and
 * tool-call histories go upstream in OpenAI's shape, streamed `delta.tool_calls` come back as
 * chunk deltas with their tokens, finish_reason tool_calls is kept, malformed deltas are errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BackendStreamError, createHttpBackend } from '../../../src/exec/backends/http/index.js'
import type { BackendEvent, ChatRequest } from '../../../src/exec/backend.js'

let server: Server
let baseUrl: string
const bodies: any[] = []
/** what the next response streams: each entry one SSE data line */
let script: unknown[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      for (const o of script) res.write(`data: ${JSON.stringify(o)}\n\n`)
      res.end('data: [DONE]\n\n')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
})

afterAll(async () => { await new Promise(resolve => server.close(resolve)) })

const weather = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' } } }
const request: ChatRequest = {
  messages: [
    { role: 'user', content: 'weather?' },
    { role: 'assistant', content: '', toolCalls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
    { role: 'tool', content: '20', toolCallId: 'call_0' }
  ],
  tools: [weather],
  toolChoice: 'required',
  parallelToolCalls: false,
  responseFormat: { type: 'json_object' }
}

async function run (): Promise<BackendEvent[]> {
  const b = createHttpBackend({ baseUrl, model: 'up', params: 1e9, tokenizerUrl: false, capabilities: ['chat', 'tools'] })
  const out: BackendEvent[] = []
  for await (const ev of b.stream(request, new AbortController().signal)) out.push(ev)
  return out
}

const chunk = (delta: unknown, finish: string | null = null): unknown => ({ id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })

describe('HTTP backend: tools', () => {
  it('passes tool fields and tool-call histories upstream and returns the streamed calls', async () => {
    script = [
      chunk({ role: 'assistant', content: null }),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] }),
      chunk({}, 'tool_calls'),
      { id: 'x', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 9, completion_tokens: 2 } }
    ]
    const events = await run()
    const sent = bodies[bodies.length - 1]
    expect(sent).toMatchObject({ tools: [weather], tool_choice: 'required', parallel_tool_calls: false, response_format: { type: 'json_object' } })
    expect(sent.messages).toEqual([
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', content: '20', tool_call_id: 'call_0' }
    ])
    expect(events).toEqual([
      { type: 'chunk', text: '', outputTokens: 1, toolCalls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { type: 'chunk', text: '', outputTokens: 1, toolCalls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] },
      { type: 'done', usage: { inputTokens: 9, outputTokens: 2, source: 'reported' }, finishReason: 'tool_calls' }
    ])
  })

  it('a malformed tool-call delta is a stream error, not ignored', async () => {
    script = [chunk({ tool_calls: [{ index: 'zero', function: { name: 'f' } }] })]
    await expect(run()).rejects.toBeInstanceOf(BackendStreamError)
    script = [chunk({ tool_calls: [{ index: 0, function: { name: 'bad name!' } }] })]
    await expect(run()).rejects.toThrow(/malformed tool calls/)
  })
})

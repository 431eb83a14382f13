import { describe, it, expect } from 'vitest'
import { parseChatRequest, completionBody } from '../../../src/api/openai.js'
import { HttpApiError } from '../../../src/api/errors.js'
import { decodeBuyerFrame, encodeRequest, parseChunkToolCalls, parseRequest } from '../../../src/exec/infer/codec.js'
import { InvalidRequestError } from '../../../src/exec/infer/errors.js'
import { MalformedMessageError } from '../../../src/wire/errors.js'
import { InferRequest } from '../../../src/wire/pb/infer.js'
import { accumulateToolCalls, mergeToolCallDeltas, MAX_TOOLS, requiredCapabilities, type ToolCall } from '../../../src/exec/tools.js'
import { boundMessages, TOOL_PROMPT_ALLOWANCE_TOKENS } from '../../../src/exec/infer/buyer.js'
import { nextChunk } from '../../../src/exec/infer/window.js'
import type { RoutedResult } from '../../../src/market/router-types.js'

const weather = { type: 'function', function: { name: 'get_weather', description: 'weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }
const base = { model: 'm', messages: [{ role: 'user', content: 'weather in Paris?' }] }

function param (body: Record<string, unknown>): string | null {
  try {
    parseChatRequest(body)
  } catch (err) {
    expect(err).toBeInstanceOf(HttpApiError)
    expect((err as HttpApiError).status).toBe(400)
    return (err as HttpApiError).param
  }
  throw new Error('expected a 400')
}

describe('tools and response_format at the gateway', () => {
  it('parses tools, tool_choice, parallel_tool_calls, response_format and asks for the capabilities', () => {
    const p = parseChatRequest({ ...base, tools: [weather], tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false, response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } } })
    expect(p.request.tools).toEqual([weather])
    expect(p.request.toolChoice).toEqual({ type: 'function', function: { name: 'get_weather' } })
    expect(p.request.parallelToolCalls).toBe(false)
    expect(p.request.responseFormat).toEqual({ type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } })
    expect(p.constraints.capabilities).toEqual(['tools', 'json_schema'])
    // tool_choice none needs no tools capability; text needs no json_schema
    const none = parseChatRequest({ ...base, tools: [weather], tool_choice: 'none', response_format: { type: 'text' } })
    expect(none.constraints.capabilities).toBeUndefined()
    expect(parseChatRequest({ ...base, response_format: { type: 'json_object' } }).constraints.capabilities).toEqual(['json_schema'])
  })

  it('accepts a tool-call history: assistant tool_calls (null content) and tool results', () => {
    const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }
    const p = parseChatRequest({ ...base, tools: [weather], messages: [...base.messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1', content: '21 C' }] })
    expect(p.request.messages.slice(1)).toEqual([
      { role: 'assistant', content: '', toolCalls: [call] },
      { role: 'tool', content: '21 C', toolCallId: 'call_1' }
    ])
  })

  it('refuses every malformed shape with a 400 naming the field', () => {
    expect(param({ ...base, tools: 'x' })).toBe('tools')
    expect(param({ ...base, tools: [] })).toBe('tools')
    expect(param({ ...base, tools: Array.from({ length: MAX_TOOLS + 1 }, (_, i) => ({ type: 'function', function: { name: `f${i}` } })) })).toBe('tools')
    expect(param({ ...base, tools: [{ type: 'function', function: { name: 'x', description: 'y'.repeat(70_000) } }] })).toBe('tools')
    expect(param({ ...base, tools: [{ type: 'retrieval' }] })).toBe('tools[0].type')
    expect(param({ ...base, tools: [{ type: 'function' }] })).toBe('tools[0].function')
    expect(param({ ...base, tools: [{ type: 'function', function: { name: 'bad name' } }] })).toBe('tools[0].function.name')
    expect(param({ ...base, tools: [weather, weather] })).toBe('tools[1].function.name')
    expect(param({ ...base, tools: [{ type: 'function', function: { name: 'f', parameters: [] } }] })).toBe('tools[0].function.parameters')
    expect(param({ ...base, tools: [{ type: 'function', function: { name: 'f', strict: 'yes' } }] })).toBe('tools[0].function.strict')
    expect(param({ ...base, tools: [weather], tool_choice: 'sometimes' })).toBe('tool_choice')
    expect(param({ ...base, tool_choice: 'required' })).toBe('tool_choice')
    expect(param({ ...base, tools: [weather], tool_choice: { type: 'function', function: { name: 'other' } } })).toBe('tool_choice.function.name')
    expect(param({ ...base, tools: [weather], parallel_tool_calls: 'yes' })).toBe('parallel_tool_calls')
    expect(param({ ...base, response_format: 'json' })).toBe('response_format')
    expect(param({ ...base, response_format: { type: 'xml' } })).toBe('response_format.type')
    expect(param({ ...base, response_format: { type: 'json_schema' } })).toBe('response_format.json_schema')
    expect(param({ ...base, response_format: { type: 'json_schema', json_schema: { schema: {} } } })).toBe('response_format.json_schema.name')
    expect(param({ ...base, response_format: { type: 'json_schema', json_schema: { name: 'n', schema: 'x' } } })).toBe('response_format.json_schema.schema')
    expect(param({ ...base, messages: [{ role: 'assistant', content: null }] })).toBe('messages[0].content')
    expect(param({ ...base, messages: [{ role: 'assistant', tool_calls: [] }] })).toBe('messages[0].tool_calls')
    expect(param({ ...base, messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: {} } }] }] })).toBe('messages[0].tool_calls[0].function.arguments')
    expect(param({ ...base, messages: [{ role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }] })).toBe('messages[0].tool_calls[0].id')
    expect(param({ ...base, messages: [{ role: 'user', content: 'x', tool_calls: [] }] })).toBe('messages[0].tool_calls')
    expect(param({ ...base, messages: [{ role: 'tool', content: 'x' }] })).toBe('messages[0].tool_call_id')
    expect(param({ ...base, messages: [{ role: 'user', content: 'x', tool_call_id: 'c' }] })).toBe('messages[0].tool_call_id')
    expect(param({ ...base, messages: [{ role: 'tool', tool_call_id: 'c' }] })).toBe('messages[0].content')
    expect(param({ ...base, messages: [{ role: 'function', content: 'x' }] })).toBe('messages[0].role')
  })

  it('answers tool calls as OpenAI does: content null, finish_reason tool_calls', () => {
    const call: ToolCall = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }
    const r = { text: '', toolCalls: [call], finishReason: 'tool_calls', inputTokens: 1, outputTokens: 2, usageSource: 'reported', seller: 's', model: 'm', fingerprint: 'f', fingerprintVerified: false, params: 1, priceInPerMTokUc: 1n, priceOutPerMTokUc: 1n, costUc: 1n, bpt: '0', inputBound: 'bytes', ttftMs: 1, attempts: 1 } as unknown as RoutedResult
    const body = completionBody('id', 1, r) as any
    expect(body.choices[0].message).toEqual({ role: 'assistant', content: null, refusal: null, tool_calls: [call] })
    expect(body.choices[0].finish_reason).toBe('tool_calls')
  })
})

describe('tools on /tally/infer', () => {
  const id = new Uint8Array(32)
  const call: ToolCall = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }
  const req = parseChatRequest({ ...base, tools: [weather], tool_choice: 'required', parallel_tool_calls: true, response_format: { type: 'json_object' }, messages: [...base.messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1', content: '21' }] }).request

  it('round-trips tools, tool_choice, response_format and tool-call histories', () => {
    const back = parseRequest(decodeBuyerFrame(encodeRequest(id, req), true).request!).request
    expect(back).toEqual(JSON.parse(JSON.stringify(req)))
  })

  it('the seller refuses malformed tool JSON as bad-request', () => {
    const pb = decodeBuyerFrame(encodeRequest(id, req), true).request!
    const bad: Array<Partial<InferRequest>> = [
      { toolsJson: 'not json' },
      { toolsJson: '[]' },
      { toolsJson: JSON.stringify([{ type: 'function', function: { name: 'x y' } }]) },
      { toolsJson: 'x'.repeat(64 * 1024 + 1) },
      { toolChoiceJson: JSON.stringify({ type: 'function', function: { name: 'nope' } }) },
      { responseFormatJson: JSON.stringify({ type: 'yaml' }) },
      { messages: [{ role: 'tool', content: 'x' }] },
      { messages: [{ role: 'user', content: 'x', toolCallId: 'c' }] },
      { messages: [{ role: 'assistant', content: '', toolCallsJson: '[{"id":"c"}]' }] }
    ]
    for (const b of bad) expect(() => parseRequest({ ...pb, ...b } as InferRequest)).toThrow(InvalidRequestError)
  })

  it('a chunk\'s tool-call deltas must be OpenAI deltas, else the frame is malformed', () => {
    expect(parseChunkToolCalls(undefined)).toEqual([])
    expect(parseChunkToolCalls('[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":""}}]')).toHaveLength(1)
    for (const s of ['x', '[]', '[{"index":-1}]', '[{"index":0,"function":{"arguments":5}}]', '[{"index":0,"type":"tool"}]']) expect(() => parseChunkToolCalls(s)).toThrow(MalformedMessageError)
  })

  it('deltas merge per call in a chunk and accumulate into whole calls', () => {
    const deltas = [{ index: 0, id: 'c', type: 'function' as const, function: { name: 'f', arguments: '' } }, { index: 0, function: { arguments: '{"a"' } }, { index: 0, function: { arguments: ':1}' } }, { index: 1, id: 'd', type: 'function' as const, function: { name: 'g', arguments: '{}' } }]
    expect(mergeToolCallDeltas(deltas)).toEqual([{ index: 0, id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }, deltas[3]])
    const calls: ToolCall[] = []
    accumulateToolCalls(calls, deltas.slice(0, 2))
    accumulateToolCalls(calls, deltas.slice(2))
    expect(calls).toEqual([{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }, { id: 'd', type: 'function', function: { name: 'g', arguments: '{}' } }])
    // the seller's chunk carries the pending outputs' deltas merged, their tokens summed
    const chunk = nextChunk(deltas.map(d => ({ text: '', outputTokens: 1, toolCalls: [d] })), { inputTokens: 0n, outputTokens: 0n }, { priceInPerMTokUc: 1n, priceOutPerMTokUc: 1n, maxSpendUc: 1000n }, { maxChunkTokens: 64, maxChunkTextBytes: 32 * 1024 })
    expect(chunk.outputTokens).toBe(4)
    expect(chunk.toolCalls).toEqual(mergeToolCallDeltas(deltas))
  })

  it('the buyer\'s input bound covers tools, the format and tool-call histories', () => {
    const ms = boundMessages(req)
    const bytes = ms.reduce((n, m) => n + Buffer.byteLength(m.content), 0)
    expect(bytes).toBeGreaterThan(JSON.stringify(req.tools).length + JSON.stringify(call).length + TOOL_PROMPT_ALLOWANCE_TOKENS)
    expect(boundMessages({ messages: [{ role: 'user', content: 'x' }] })).toEqual([{ role: 'user', content: 'x' }])
  })

  it('needs: tools unless tool_choice is none; json_schema for json formats', () => {
    expect(requiredCapabilities({ tools: req.tools, toolChoice: 'auto' })).toEqual(['tools'])
    expect(requiredCapabilities({ tools: req.tools, toolChoice: 'none' })).toEqual([])
    expect(requiredCapabilities({ responseFormat: { type: 'json_schema', json_schema: { name: 'x' } } })).toEqual(['json_schema'])
  })
})

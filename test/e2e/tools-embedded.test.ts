/**
 * Tool calling and structured output against the embedded engine on the tiny model, through real
 * nodes, the gateway and the official `openai` client: tool_choice "required" (and a named tool)
 * returns a tool call whose arguments parse and validate against the tool's schema, whole and
 * streamed; response_format json_schema returns JSON that parses and validates. The grammars do
 * it: the tiny model alone writes no JSON. One market for the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTallyNode, type SellInit, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { waitFor } from '../helpers/wait.js'
import { createEmbeddedBackend, type EmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'

const MODEL = 'tiny-char-v1'
const weatherParams = {
  type: 'object',
  properties: { city: { type: 'string', enum: ['Paris', 'Rome', 'Oslo'] }, unit: { type: 'string', enum: ['c', 'f'] } },
  required: ['city', 'unit']
}
const tools = [
  { type: 'function' as const, function: { name: 'get_weather', description: 'weather in a city', parameters: weatherParams } },
  { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', enum: ['utc', 'cet'] } }, required: ['zone'] } } }
]
const answerSchema = {
  type: 'object',
  properties: { answer: { type: 'string', enum: ['yes', 'no', 'maybe'] }, sure: { type: 'boolean' } },
  required: ['answer', 'sure']
}

/** the JSON-schema subset the test's schemas use: object (properties, required, no others), string enum, boolean */
function validates (value: unknown, schema: any): boolean {
  if (schema.enum != null) return schema.enum.includes(value)
  if (schema.type === 'boolean') return typeof value === 'boolean'
  if (schema.type === 'string') return typeof value === 'string'
  if (schema.type !== 'object' || typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const v = value as Record<string, unknown>
  if (!(schema.required ?? []).every((k: string) => k in v)) return false
  return Object.entries(v).every(([k, x]) => schema.properties[k] != null && validates(x, schema.properties[k]))
}

const nodes: TallyNode[] = []
const dirs: string[] = []
let backend: EmbeddedBackend
let gateway: Gateway
let client: OpenAI
let buyer: TallyNode

async function node (sell?: SellInit, bootstrap: string[] = []): Promise<TallyNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-tools-emb-'))
  dirs.push(dataDir)
  const n = await createTallyNode(parseConfig({ dataDir, transport: 'memory', bootstrap }), { memoryLedger: true, sell })
  nodes.push(n)
  await n.start()
  return n
}

beforeAll(async () => {
  backend = await createEmbeddedBackend({ modelPath: ensureTinyModel(), maxConcurrency: 1 })
  const seller = await node({ backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n })
  buyer = await node(undefined, seller.addrs())
  gateway = await startGateway(buyer, { port: 0 })
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
}, 120_000)

afterAll(async () => {
  await gateway?.close()
  await Promise.all(nodes.map(async n => await n.stop().catch(() => {})))
  await backend?.close()
  await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
})

let seen = false
/** the offer reached the buyer's book (once: while the buyer holds the seller's only session, the full seller withdraws it) */
async function booked (): Promise<void> {
  if (!seen) await waitFor(() => buyer.offerList(MODEL).length === 1, 'the embedded offer in the buyer book')
  seen = true
}

describe('tools and structured output on the embedded engine (tiny model)', () => {
  it('offers chat, tools and json_schema', async () => {
    await booked()
    expect(buyer.models().find(m => m.id === MODEL)?.capabilities).toEqual(expect.arrayContaining(['chat', 'tools', 'json_schema']))
  })

  it('tool_choice required: a tool call whose arguments validate against the tool\'s schema, billed as output', async () => {
    await booked()
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools, tool_choice: 'required', max_tokens: 300, seed: 7, temperature: 0.8 })
    const choice = r.choices[0]
    expect(choice.finish_reason).toBe('tool_calls')
    const call = choice.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall
    expect(call.id).toMatch(/^call_/)
    const tool = tools.find(t => t.function.name === call.function.name)
    expect(tool).toBeDefined()
    expect(validates(JSON.parse(call.function.arguments), tool!.function.parameters)).toBe(true)
    expect(r.usage!.completion_tokens).toBeGreaterThan(0)
    expect((r as any).tally.cost_uc).toBe(Math.ceil((r.usage!.prompt_tokens * 1_000_000 + r.usage!.completion_tokens * 2_000_000) / 1e6))

    // the tool loop goes on: the call and its result in the history, a plain answer back
    const next = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }, choice.message, { role: 'tool', tool_call_id: call.id, content: '21 C' }],
      tools,
      tool_choice: 'none',
      max_tokens: 8,
      seed: 7
    })
    expect(next.choices[0].message.tool_calls).toBeUndefined()
    expect(next.choices[0].message.content!.length).toBeGreaterThan(0)
  })

  it('tool_choice auto: node-llama-cpp function calling; whatever the model does, the seller\'s prompt count stays within the buyer\'s bound', async () => {
    await booked()
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'weather?' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }], tool_choice: 'auto', max_tokens: 20, seed: 5 })
    // the function-calling preamble is long on a one-byte-per-token model: it is billed, not refused as an overclaim
    expect(r.usage!.prompt_tokens).toBeGreaterThan(500)
    for (const c of r.choices[0].message.tool_calls ?? []) {
      const call = c as OpenAI.Chat.ChatCompletionMessageFunctionToolCall
      expect(call.function.name).toBe('f')
      expect(typeof JSON.parse(call.function.arguments)).toBe('object')
    }
  })

  it('a named tool, streamed: delta.tool_calls carries that tool\'s call with valid arguments', async () => {
    await booked()
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'time?' }], tools, tool_choice: { type: 'function', function: { name: 'get_time' } }, max_tokens: 300, seed: 3, stream: true })
    const deltas: any[] = []
    let finish: string | null = null
    for await (const c of stream) {
      for (const ch of c.choices) {
        if (ch.delta.tool_calls != null) deltas.push(...ch.delta.tool_calls)
        if (ch.finish_reason != null) finish = ch.finish_reason
      }
    }
    expect(finish).toBe('tool_calls')
    expect(deltas[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_time' } })
    const args = JSON.parse(deltas.map(d => d.function?.arguments ?? '').join(''))
    expect(validates(args, tools[1].function.parameters)).toBe(true)
  })

  it('response_format json_schema: the answer parses and validates against the schema', async () => {
    await booked()
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Is Alice here?' }], response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: answerSchema, strict: true } }, max_tokens: 300, seed: 11, temperature: 0.8 })
    expect(r.choices[0].finish_reason).toBe('stop')
    const value = JSON.parse(r.choices[0].message.content!)
    expect(validates(value, answerSchema)).toBe(true)
    // the tokens of the JSON are billed exactly as text: one per byte on this char-level model
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(Buffer.byteLength(r.choices[0].message.content!))
  })
})

/**
 * OpenAI compatibility as a client sees it: the official `openai` client against a real market
 * whose two sellers (the embedded engine on the tiny model) run in other processes, over TCP.
 * Models list and retrieve, chat whole and streamed (usage chunk only when asked), n choices,
 * legacy text completions (also through an HTTP backend), a tool loop, structured output,
 * embeddings, refused fields, and idempotent retries (the SDK's own and by key).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { createTallyNode, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { waitFor } from '../helpers/wait.js'
import { createHttpBackend } from '../../src/exec/backends/http/index.js'

const MODEL = 'tiny-char-v1'
const SELLER = join(import.meta.dirname, 'openai-compat-seller.ts')

interface Seller { proc: ChildProcessWithoutNullStreams, addr: string, exited: Promise<unknown> }

async function startSeller (dataDir: string, priceOut: bigint): Promise<Seller> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SELLER, dataDir, String(priceOut)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stderr.on('data', (d: Buffer) => { err += d.toString() })
  proc.stdin.on('error', () => {})
  const exited = new Promise(resolve => proc.on('exit', resolve))
  const addr = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /^ready (\S+)/m.exec(out)
      if (m != null) resolve(m[1])
    })
    void exited.then(code => { reject(new Error(`seller exited (${String(code)}) before ready: ${err.slice(-2000)}`)) })
  })
  return { proc, addr, exited }
}

const dirs: string[] = []
const sellers: Seller[] = []
let buyer: TallyNode
let gateway: Gateway
let client: OpenAI

let seen = false
/**
 * Every test starts once both sellers' offers have reached the buyer's book (checked once: a
 * seller whose sessions this buyer all holds withdraws its offer, and the buyer keeps using them).
 */
async function ready (): Promise<void> {
  if (!seen) await waitFor(() => buyer.offerList(MODEL).length === 2, 'both sellers\' offers in the buyer\'s book')
  seen = true
}

/** purchases the buyer has booked for the model */
async function purchases (): Promise<number> {
  return (await buyer.report({ by: 'model' })).rows.find(r => r.key === MODEL)?.requests ?? 0
}

beforeAll(async () => {
  for (let i = 0; i < 3; i++) dirs.push(await mkdtemp(join(tmpdir(), 'tally-compat-')))
  sellers.push(...await Promise.all([startSeller(dirs[0], 2_000_000n), startSeller(dirs[1], 3_000_000n)]))
  buyer = await createTallyNode(parseConfig({ dataDir: dirs[2], transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: sellers.map(s => s.addr) }), { memoryLedger: true })
  await buyer.start()
  gateway = await startGateway(buyer, { port: 0 })
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
}, 60_000)

afterAll(async () => {
  await gateway?.close()
  await buyer?.stop().catch(() => {})
  for (const s of sellers) s.proc.stdin.end()
  await Promise.all(sellers.map(async s => await s.exited))
  await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
})

const ask = { model: MODEL, messages: [{ role: 'user' as const, content: 'Who is Alice?' }], max_tokens: 12, seed: 42, temperature: 0.8 }

describe('the official openai client against sellers in other processes', () => {
  it('models: list shows capabilities and context length; retrieve finds a model or answers 404 model_not_found', async () => {
    await ready()
    const list = await client.models.list()
    expect(list.data.map(m => m.id)).toEqual([MODEL])
    expect((list.data[0] as any).tally).toMatchObject({ sellers: 2, capabilities: expect.arrayContaining(['chat', 'completions', 'tools', 'json_schema', 'embeddings']) })
    expect((list.data[0] as any).tally.context_length).toBeGreaterThan(0)
    const one = await client.models.retrieve(MODEL)
    expect(one).toMatchObject({ id: MODEL, object: 'model', owned_by: 'tally-market' })
    const missing = await client.models.retrieve('no-such-model').catch(e => e)
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
    expect(missing.code).toBe('model_not_found')
  })

  it('chat: whole and streamed; the usage chunk comes only when asked, else tally rides on the finish chunk', async () => {
    await ready()
    const full = await client.chat.completions.create({ ...ask, user: 'end-user-1', stop: ['\n\n'] })
    expect(full.choices[0].message.content?.length).toBeGreaterThan(0)
    expect((full as any).tally).toMatchObject({ model: MODEL, fingerprint_verified: true })

    const plain: any[] = []
    for await (const c of await client.chat.completions.create({ ...ask, stream: true })) plain.push(c)
    expect(plain.some(c => c.usage != null)).toBe(false)
    const finish = plain.filter(c => c.choices[0]?.finish_reason != null)
    expect(finish).toHaveLength(1)
    expect(finish[0].tally).toMatchObject({ model: MODEL })
    expect(plain.map(c => c.choices[0]?.delta?.content ?? '').join('')).toBe(full.choices[0].message.content)

    const withUsage: any[] = []
    for await (const c of await client.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } })) withUsage.push(c)
    const last = withUsage.at(-1)
    expect(last.choices).toEqual([])
    expect(last.usage.completion_tokens).toBe(full.usage?.completion_tokens)
    expect(last.tally).toMatchObject({ model: MODEL })
    expect(withUsage.filter(c => c.usage != null)).toHaveLength(1)
    expect(withUsage.find(c => c.choices[0]?.finish_reason != null).tally).toBeUndefined()
  })

  it('n = 2: two purchases, two choices with their indexes, usage and cost summed; streamed choices interleave by index', async () => {
    await ready()
    const before = await purchases()
    const two = await client.chat.completions.create({ ...ask, n: 2 })
    expect(two.choices.map(c => c.index)).toEqual([0, 1])
    const t = (two as any).tally
    expect(t.choices).toHaveLength(2)
    expect(t.cost_uc).toBe(t.choices[0].cost_uc + t.choices[1].cost_uc)
    expect(two.usage?.completion_tokens).toBe(two.choices.reduce((n, c) => n + Buffer.byteLength(c.message.content ?? ''), 0))
    // choice i samples with seed + i
    expect(two.choices[0].message.content).not.toBe(two.choices[1].message.content)
    expect(await purchases()).toBe(before + 2)

    const text = ['', '']
    const finished: number[] = []
    for await (const c of await client.chat.completions.create({ ...ask, n: 2, stream: true })) {
      for (const ch of c.choices) {
        text[ch.index] += ch.delta?.content ?? ''
        if (ch.finish_reason != null) finished.push(ch.index)
      }
    }
    expect(finished.sort()).toEqual([0, 1])
    expect(text).toEqual(two.choices.map(c => c.message.content))
  })

  it('/v1/completions: the prompt is continued raw (no chat template), one choice per prompt, streamed too', async () => {
    await ready()
    const prompt = 'Alice was beginning'
    const r = await client.completions.create({ model: MODEL, prompt, max_tokens: 10, seed: 7, temperature: 0.8 })
    expect(r.object).toBe('text_completion')
    expect(r.choices[0].text.length).toBeGreaterThan(0)
    expect(r.usage?.completion_tokens).toBe(Buffer.byteLength(r.choices[0].text))
    // the tiny model's tokenizer is one token per byte: the raw prompt, plus at most a beginning token
    expect(r.usage!.prompt_tokens - Buffer.byteLength(prompt)).toBeGreaterThanOrEqual(0)
    expect(r.usage!.prompt_tokens - Buffer.byteLength(prompt)).toBeLessThanOrEqual(1)
    const chat = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: prompt }], max_tokens: 1 })
    expect(chat.usage!.prompt_tokens).toBeGreaterThan(r.usage!.prompt_tokens)

    const many = await client.completions.create({ model: MODEL, prompt: ['The Queen', 'The Hatter'], max_tokens: 4 })
    expect(many.choices.map(c => c.index)).toEqual([0, 1])
    expect(many.choices[0].finish_reason).toBe('length')

    let streamed = ''
    let usage: OpenAI.CompletionUsage | undefined
    for await (const c of await client.completions.create({ model: MODEL, prompt, max_tokens: 10, seed: 7, temperature: 0.8, stream: true, stream_options: { include_usage: true } })) {
      streamed += c.choices[0]?.text ?? ''
      if (c.usage != null) usage = c.usage
    }
    expect(streamed).toBe(r.choices[0].text)
    expect(usage?.completion_tokens).toBe(r.usage?.completion_tokens)
  })

  it('/v1/completions through an HTTP backend: a reseller forwards the raw prompt to its upstream\'s /v1/completions', async () => {
    await ready()
    // the upstream is this market's own gateway: the reseller sells `tiny-resold` and buys tiny-char-v1 there
    dirs.push(await mkdtemp(join(tmpdir(), 'tally-compat-')))
    const backend = createHttpBackend({ baseUrl: `${gateway.url}/v1`, model: MODEL, modelId: 'tiny-resold', params: 168_832, capabilities: ['chat', 'completions'] })
    const reseller = await createTallyNode(parseConfig({ dataDir: dirs.at(-1)!, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: sellers.map(s => s.addr) }), {
      memoryLedger: true,
      sell: { backend, priceInPerMTokUc: 4_000_000n, priceOutPerMTokUc: 8_000_000n }
    })
    await reseller.start()
    try {
      await waitFor(() => buyer.offerList('tiny-resold').length === 1, 'the reseller\'s offer in the buyer\'s book')
      expect((await client.models.retrieve('tiny-resold') as any).tally.capabilities).toEqual(['chat', 'completions'])
      const prompt = 'The Cheshire Cat'
      const direct = await client.completions.create({ model: MODEL, prompt, max_tokens: 8, seed: 9, temperature: 0.8 })
      const resold = await client.completions.create({ model: 'tiny-resold', prompt, max_tokens: 8, seed: 9, temperature: 0.8 })
      expect(resold.choices[0].text).toBe(direct.choices[0].text)
      expect(resold.usage).toEqual(direct.usage)
      expect((resold as any).tally).toMatchObject({ seller: reseller.account, usage_source: 'reported' })
    } finally {
      await reseller.stop()
    }
  })

  it('an agent\'s tool loop, structured output and embeddings, as the client sends them', async () => {
    await ready()
    const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'London'] } }, required: ['city'], additionalProperties: false } } }]
    const question = { role: 'user' as const, content: 'What is the weather in Paris?' }
    const call = await client.chat.completions.create({ model: MODEL, messages: [question], tools, tool_choice: 'required', max_tokens: 200, seed: 7 })
    expect(call.choices[0].finish_reason).toBe('tool_calls')
    const tc = call.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall
    expect(tc.function.name).toBe('get_weather')
    expect(['Paris', 'London']).toContain(JSON.parse(tc.function.arguments).city)
    const answer = await client.chat.completions.create({ model: MODEL, messages: [question, call.choices[0].message, { role: 'tool', tool_call_id: tc.id, content: '21 C' }], tools, max_tokens: 8, seed: 7, tool_choice: 'none' })
    expect(answer.choices[0].message.content!.length).toBeGreaterThan(0)

    const schema = { type: 'object', properties: { here: { type: 'boolean' }, where: { type: 'string', enum: ['garden', 'hall'] } }, required: ['here', 'where'], additionalProperties: false }
    const json = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Is Alice here?' }], response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } }, max_tokens: 200, seed: 11 })
    const value = JSON.parse(json.choices[0].message.content!)
    expect(Object.keys(value).sort()).toEqual(['here', 'where'])
    expect(typeof value.here).toBe('boolean')
    expect(['garden', 'hall']).toContain(value.where)

    const emb = await client.embeddings.create({ model: MODEL, input: ['the White Rabbit', 'the Queen of Hearts'] })
    expect(emb.data.map(d => d.index)).toEqual([0, 1])
    expect(emb.data[0].embedding.length).toBeGreaterThan(0)
    expect(emb.data[1].embedding.length).toBe(emb.data[0].embedding.length)
    expect(emb.usage.prompt_tokens).toBeGreaterThan(0)
  })

  it('refused fields are 400s naming them, in OpenAI\'s words', async () => {
    await ready()
    const unknown = await client.chat.completions.create({ ...ask, foo: 1 } as any).catch(e => e)
    expect(unknown).toBeInstanceOf(OpenAI.BadRequestError)
    expect(unknown.message).toMatch(/Unrecognized request argument supplied: foo/)
    expect(unknown.param).toBe('foo')
    const echo = await client.completions.create({ model: MODEL, prompt: 'x', echo: true }).catch(e => e)
    expect(echo.param).toBe('echo')
    const logprobs = await client.chat.completions.create({ ...ask, logprobs: true }).catch(e => e)
    expect(logprobs.param).toBe('logprobs')
  })

  it('idempotency: the SDK\'s retry of a lost answer is not bought again; a key replays, and a reused key with another body is a 422', async () => {
    await ready()
    // the first answer is lost on its way back (the connection drops after the gateway answered): the SDK retries
    let calls = 0
    const lossy = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: 'x',
      maxRetries: 2,
      fetch: async (url, init) => {
        const res = await fetch(url, init)
        if (++calls === 1) { await res.arrayBuffer(); throw new TypeError('fetch failed: connection reset') }
        return res
      }
    })
    const before = await purchases()
    const { data, response } = await lossy.chat.completions.create(ask).withResponse()
    expect(calls).toBe(2)
    expect(response.headers.get('idempotent-replayed')).toBe('true')
    expect(data.choices[0].message.content?.length).toBeGreaterThan(0)
    expect(await purchases()).toBe(before + 1)

    const keyed = { headers: { 'Idempotency-Key': `order-${Date.now()}` } }
    const a = await client.chat.completions.create(ask, keyed)
    const b = await client.chat.completions.create(ask, keyed)
    expect(b.id).toBe(a.id)
    expect(await purchases()).toBe(before + 2)
    const reused = await client.chat.completions.create({ ...ask, max_tokens: 5 }, keyed).catch(e => e)
    expect(reused).toBeInstanceOf(OpenAI.UnprocessableEntityError)
    expect(reused.code).toBe('idempotency_key_reused')
  })
})

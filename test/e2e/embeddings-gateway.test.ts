/**
 * Embeddings bought on the market: the official `openai` client's `embeddings.create` (float and
 * base64) through the gateway, served by a real seller node on the tiny embedded model and paid
 * by one voucher per request; the ledger's payment equals the reported cost and `tally report`
 * counts it; a cheaper seller whose offer does not list `embeddings` is never routed; bad
 * requests are 400s naming the field. One market for the whole file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { createTallyNode, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { createEmbeddedBackend, type EmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { BackendEvent, ChatRequest } from '../../src/exec/backend.js'
import { waitFor } from '../helpers/wait.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const MODEL = 'tiny-char-v1'
const PRICE_IN = 3_000_000n

/** a chat-only seller of the same model id, far cheaper: it must never get an embeddings request */
class CountingChatBackend extends SimulatedBackend {
  requests = 0
  override async * stream (request: ChatRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    this.requests++
    yield * super.stream(request, signal)
  }
}

let engine: EmbeddedBackend
let chatOnly: CountingChatBackend
let embedder: TallyNode
let cheapChat: TallyNode
let buyer: TallyNode
let gw: Gateway
let client: OpenAI
const nodes: TallyNode[] = []
const dirs: string[] = []

async function node (init: Parameters<typeof createTallyNode>[1], bootstrap: string[] = []): Promise<TallyNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-embed-'))
  dirs.push(dataDir)
  const n = await createTallyNode(parseConfig({ dataDir, transport: 'memory', bootstrap }), { memoryLedger: true, ...init })
  nodes.push(n)
  await n.start()
  return n
}

beforeAll(async () => {
  engine = await createEmbeddedBackend({ modelPath: ensureTinyModel() })
  chatOnly = new CountingChatBackend({ modelId: MODEL, params: engine.model.params, tokensPerChunk: 2 })
  embedder = await node({ sell: { backend: engine, priceInPerMTokUc: PRICE_IN, priceOutPerMTokUc: 5_000_000n } })
  cheapChat = await node({ sell: { backend: chatOnly, priceInPerMTokUc: 1n, priceOutPerMTokUc: 1n } }, embedder.addrs())
  // a model only a chat-only seller offers
  await node({ sell: { backend: new SimulatedBackend({ modelId: 'chat-only-1b' }), priceInPerMTokUc: 1n, priceOutPerMTokUc: 1n } }, embedder.addrs())
  // the buyer holds the model file: it counts the inputs' tokens exactly
  buyer = await node({ tokenizers: [ensureTinyModel()] }, embedder.addrs())
  gw = await startGateway(buyer, { port: 0 })
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
}, 60_000)

async function offersArrived (): Promise<void> {
  await waitFor(() => buyer.offerList(MODEL).length === 2 && buyer.offerList('chat-only-1b').length === 1, 'every offer in the buyer book')
}

afterAll(async () => {
  await gw?.close()
  await Promise.all(nodes.map(async n => await n.stop().catch(() => {})))
  await engine?.close()
  await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
})

async function post (body: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() }
}

describe('POST /v1/embeddings on the market', () => {
  it('the openai client buys vectors (float and base64), paid like chat, counted by the report, never from a chat-only seller', async () => {
    await offersArrived()
    // /v1/models says which models some seller embeds
    const models = await client.models.list()
    expect((models.data.find(m => m.id === MODEL) as any).tally.capabilities).toContain('embeddings')
    expect((models.data.find(m => m.id === 'chat-only-1b') as any).tally.capabilities).not.toContain('embeddings')
    const inputs = ['Alice was beginning to get very tired', 'the White Rabbit', 'Alice was beginning to get very tired']
    const float = await client.embeddings.create({ model: MODEL, input: inputs, encoding_format: 'float' }, { headers: { 'x-tally-tag': 'rag' } })
    expect(float.object).toBe('list')
    expect(float.model).toBe(MODEL)
    expect(float.data.map(d => d.index)).toEqual([0, 1, 2])
    for (const d of float.data) {
      expect(d.object).toBe('embedding')
      expect(d.embedding).toHaveLength(128)
    }
    // equal inputs, equal vectors
    expect(float.data[2].embedding).toEqual(float.data[0].embedding)
    const tally = (float as any).tally
    expect(tally.seller).toBe(embedder.account)
    // the cheaper chat-only seller was not even tried
    expect(tally.attempts).toBe(1)
    expect(tally.fingerprint_verified).toBe(true)
    expect(tally.input_bound).toBe('exact')
    // each input costs its chars plus the model's beginning token (the tiny vocabulary: one token per ASCII char)
    const tokens = inputs.reduce((n, s) => n + s.length + 1, 0)
    expect(float.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens })
    expect(tally.cost_uc).toBe(Math.ceil(tokens * Number(PRICE_IN) / 1e6))
    expect(tally.bpt).toBe((tokens * engine.model.params / 1e9).toString())

    // the client's default: base64, which it decodes to the same floats
    const b64 = await client.embeddings.create({ model: MODEL, input: 'the White Rabbit' }, { headers: { 'x-tally-tag': 'rag' } })
    expect(b64.data).toHaveLength(1)
    expect(b64.data[0].embedding).toEqual(float.data[1].embedding)
    const cost2 = (b64 as any).tally.cost_uc as number
    // the session is warm: the second request's amount is the rule on the session's cumulative tokens
    expect(cost2).toBe(Math.ceil((tokens + b64.usage.prompt_tokens) * Number(PRICE_IN) / 1e6) - tally.cost_uc)

    expect(chatOnly.requests).toBe(0)
    const seller = embedder.meterRecords
    expect(seller.map(m => m.outputTokens)).toEqual([0, 0])

    // settle: the ledger's payment equals what the gateway reported, and the report counts both requests
    expect(await buyer.closeSessions(AbortSignal.timeout(10_000))).toBe(1)
    const paid = BigInt(tally.cost_uc + cost2)
    await waitFor(async () => (await buyer.balance(embedder.account)).balanceUc === paid, 'the seller\'s settle in the buyer ledger')
    expect((await buyer.balance()).balanceUc).toBe(-paid)
    const report = await buyer.report({ by: 'tag' })
    const rag = report.rows.find(r => r.key === 'rag')!
    expect(rag).toMatchObject({ requests: 2, inputTokens: tokens + b64.usage.prompt_tokens, outputTokens: 0, spentUc: paid, pendingUc: 0n })
    // the operator view and /metrics count them as purchases too
    const receipts = await (await fetch(`${gw.url}/tally/receipts`)).json() as any
    expect(receipts.filter((r: any) => r.role === 'buyer' && r.model === MODEL).map((r: any) => r.inputTokens).sort()).toEqual([b64.usage.prompt_tokens, tokens].sort())
    const metrics = await (await fetch(`${gw.url}/metrics`)).text()
    expect(metrics).toMatch(new RegExp(`tally_tokens_total\\{role="buyer",direction="input"\\} ${tokens + b64.usage.prompt_tokens}\\b`))
  }, 30_000)

  it('refuses what it cannot serve with a 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ model: MODEL, input: [1, 2, 3] }, 'input'],
      [{ model: MODEL, input: [[1, 2], [3]] }, 'input'],
      [{ model: MODEL, input: '' }, 'input'],
      [{ model: MODEL, input: [] }, 'input'],
      [{ model: MODEL, input: Array(2049).fill('a') }, 'input'],
      [{ model: MODEL }, 'input'],
      [{ model: MODEL, input: 'x', encoding_format: 'int8' }, 'encoding_format'],
      [{ model: MODEL, input: 'x', dimensions: 64 }, 'dimensions'],
      [{ model: MODEL, input: 'x', user: 7 }, 'user'],
      [{ model: MODEL, input: 'x', temperature: 1 }, 'temperature'],
      [{ input: 'x' }, 'model']
    ]
    for (const [body, param] of cases) {
      const r = await post(body)
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      expect(r.json.error.param).toBe(param)
    }
    // `user` is accepted
    expect((await post({ model: MODEL, input: 'hi', user: 'u-1', encoding_format: 'float' })).status).toBe(200)
  })

  it('a model no seller embeds is a 400 naming the capability; an unknown model a 404', async () => {
    const none = await post({ model: 'chat-only-1b', input: 'hello' })
    expect(none.status).toBe(400)
    expect(none.json.error.code).toBe('capability_unavailable')
    expect(none.json.error.message).toMatch(/chat-only-1b.*embeddings/)
    const unknown = await post({ model: 'no-such-model', input: 'hello' })
    expect(unknown.status).toBe(404)
  })
})

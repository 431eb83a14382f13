/**
 * The gateway driven by the official `openai` client against real seller nodes: streaming and
 * not, the embedded tiny model, bad requests, fallback when the cheapest seller dies mid-run,
 * and racing two sellers for the first token.
 */
import { describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import type { SellInit, TallyNode } from '../../src/node/tally.js'
import { startGateway } from '../../src/api/gateway.js'
import { startNode, trackGateway, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { BackendEvent, ChatRequest, FinishReason } from '../../src/exec/backend.js'
import { createEmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'

useTallyCleanup()

async function node (sell?: SellInit, bootstrap: string[] = [], genesis?: Record<string, unknown>): Promise<TallyNode> {
  return await startNode({ bootstrap, genesis }, { sell })
}

async function market (sells: SellInit[], genesis?: Record<string, unknown>): Promise<{ sellers: TallyNode[], buyer: TallyNode, client: OpenAI, url: string }> {
  const sellers: TallyNode[] = []
  for (const s of sells) sellers.push(await node(s, sellers.length > 0 ? sellers[0].addrs() : [], genesis))
  const buyer = await node(undefined, sellers[0].addrs(), genesis)
  const gw = trackGateway(await startGateway(buyer, { port: 0 }))
  const model = sells[0].backend.model.id
  await waitFor(() => buyer.offerList(model).length === sells.length, 'every offer in the buyer book')
  return { sellers, buyer, client: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 }), url: gw.url }
}

/**
 * A simulated backend that records each request it receives (tokens generated, how it ended) and
 * can hold its output until another event: `received` resolves when its first request arrives.
 */
class WatchedBackend extends SimulatedBackend {
  readonly requests: Array<{ outputTokens: number, finishReason?: FinishReason }> = []
  private readonly arrived = Promise.withResolvers<void>()
  readonly received = this.arrived.promise

  constructor (init: ConstructorParameters<typeof SimulatedBackend>[0], private readonly startAfter?: Promise<void>) {
    super(init)
  }

  override async * stream (request: ChatRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    const seen: { outputTokens: number, finishReason?: FinishReason } = { outputTokens: 0 }
    this.requests.push(seen)
    this.arrived.resolve()
    await this.startAfter
    for await (const ev of super.stream(request, signal)) {
      if (ev.type === 'chunk') seen.outputTokens += ev.outputTokens
      else seen.finishReason = ev.finishReason
      yield ev
    }
  }
}

const sim = (priceOut: bigint, init: ConstructorParameters<typeof SimulatedBackend>[0] = {}): SellInit => ({
  backend: new SimulatedBackend({ modelId: 'sim-8b', params: 8_000_000_000, tokensPerChunk: 2, ...init }),
  priceInPerMTokUc: priceOut / 2n,
  priceOutPerMTokUc: priceOut
})

describe('gateway with the openai client', () => {
  it('the embedded tiny model: non-stream and stream give the same seeded text, usage and the tally field', async () => {
    const backend = await createEmbeddedBackend({ modelPath: ensureTinyModel(), maxConcurrency: 2 })
    const { client } = await market([{ backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n }])
    const models = await client.models.list()
    expect(models.data.map(m => m.id)).toEqual(['tiny-char-v1'])

    const body = { model: 'tiny-char-v1', messages: [{ role: 'user' as const, content: 'Who is Alice?' }], max_tokens: 30, temperature: 0.8, seed: 42 }
    const full = await client.chat.completions.create(body)
    const text = full.choices[0].message.content ?? ''
    expect(text.length).toBeGreaterThan(0)
    expect(full.usage?.completion_tokens).toBe(Buffer.byteLength(text))
    expect(full.usage?.prompt_tokens).toBeGreaterThan(10)
    const tally = (full as any).tally
    expect(tally).toMatchObject({ model: 'tiny-char-v1', fingerprint_verified: true, usage_source: 'reported' })
    expect(tally.cost_uc).toBe(Math.ceil((full.usage!.prompt_tokens * 1_000_000 + full.usage!.completion_tokens * 2_000_000) / 1e6))

    const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })
    let streamed = ''
    let usage: OpenAI.CompletionUsage | undefined
    let finish: string | null = null
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta?.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      if (chunk.usage != null) usage = chunk.usage
    }
    expect(streamed).toBe(text)
    expect(usage?.completion_tokens).toBe(full.usage?.completion_tokens)
    expect(finish).not.toBeNull()
  })

  it('bad requests get OpenAI-shaped errors with the right status; the gateway keeps serving', async () => {
    const { client, url } = await market([sim(3_000_000n)])
    await expect(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 404 })
    await expect(client.chat.completions.create({ model: 'sim-8b', messages: [{ role: 'user', content: 'x' }], max_tokens: -3 })).rejects.toMatchObject({ status: 400 })
    await expect(client.chat.completions.create({ model: 'sim-8b', messages: 'hello' as any })).rejects.toMatchObject({ status: 400 })
    const raw = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "sim-8b", "messages": [' })
    expect(raw.status).toBe(400)
    expect(((await raw.json()) as any).error).toMatchObject({ type: 'invalid_request_error' })
    const huge = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sim-8b', messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }] }) })
    expect(huge.status).toBe(413)
    const ok = await client.chat.completions.create({ model: 'sim-8b', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 5, user: 'ignored-field' } as any)
    expect(ok.usage?.completion_tokens).toBeGreaterThan(0)
  })

  it('falls back when the cheapest seller dies mid-run; a mid-stream death ends that stream with an error', async () => {
    const { sellers, buyer, client } = await market([sim(1_000_000n, { tokensPerSec: 100 }), sim(5_000_000n)])
    const [cheap, dear] = sellers
    const stream = await client.chat.completions.create({ model: 'sim-8b', messages: [{ role: 'user', content: 'long answer please' }], max_tokens: 200, stream: true })
    let got = ''
    const consume = (async () => { for await (const c of stream) { got += c.choices[0]?.delta?.content ?? ''; if (got.length > 0 && cheap.base.started) void cheap.stop() } })()
    await expect(consume).rejects.toThrow()
    expect(got.length).toBeGreaterThan(0)
    // the buyer paid the dead seller only for what it received: at 1 µc per output token and at
    // most one token per UTF-8 byte, never more µc than bytes streamed to the client
    const paidToCheap = buyer.costs.all().filter(e => e.counterparty === cheap.account).reduce((s, e) => s + e.amountUc, 0n)
    expect(paidToCheap).toBeGreaterThan(0n)
    expect(paidToCheap).toBeLessThanOrEqual(BigInt(Buffer.byteLength(got)))

    const r = await client.chat.completions.create({ model: 'sim-8b', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 })
    expect((r as any).tally.seller).toBe(dear.account)
    expect(r.usage?.completion_tokens).toBeGreaterThan(0)
  })

  it('races two sellers: the first token wins, the loser is cancelled and pays for what it streamed', async () => {
    const backend = (ttftMs: number, startAfter?: Promise<void>): WatchedBackend => new WatchedBackend({ modelId: 'sim-8b', params: 8_000_000_000, tokensPerChunk: 2, ttftMs }, startAfter)
    const slowBackend = backend(1_500)
    // the fast seller answers only once the slow one has the request too: both really run
    const fastBackend = backend(5, slowBackend.received)
    const { sellers, buyer, client } = await market([{ ...sim(1_000_000n), backend: slowBackend }, { ...sim(2_000_000n), backend: fastBackend }])
    const [slowCheap, fast] = sellers
    const r = await client.chat.completions.create({ model: 'sim-8b', messages: [{ role: 'user', content: 'race' }], max_tokens: 10, tally: { race: 2 } } as any)
    expect((r as any).tally.seller).toBe(fast.account)
    expect(fastBackend.requests).toHaveLength(1)
    // the loser's backend sees its request cancelled (uncancelled, it would finish with 'length')
    await expect.poll(() => slowBackend.requests.map(q => q.finishReason), { timeout: 15_000 }).toEqual(['cancelled'])
    // cancelled within its 1.5 s to first token, it streamed nothing, is paid nothing, meters nothing
    expect(slowBackend.requests[0].outputTokens).toBe(0)
    const paidToSlow = buyer.costs.all().filter(e => e.counterparty === slowCheap.account).reduce((s, e) => s + e.amountUc, 0n)
    expect(paidToSlow).toBe(0n)
    expect(slowCheap.meterRecords).toHaveLength(0)
  })

  it('402 when the buyer cannot lock the session, 504 when no seller produces a first token in time', async () => {
    const tight = { name: 'tight-credit', issuers: [], defaultCreditLimitUc: '10', maxSessionLockUc: '5000000', development: true }
    const { client } = await market([sim(2_000_000n)], tight)
    await expect(client.chat.completions.create({ model: 'sim-8b', messages: [{ role: 'user', content: 'please' }], max_tokens: 50 })).rejects.toMatchObject({ status: 402 })

    const slow = await market([sim(2_000_000n, { ttftMs: 3_000 })])
    await expect(slow.client.chat.completions.create({ model: 'sim-8b', messages: [{ role: 'user', content: 'quick' }], max_tokens: 5, tally: { max_ttft_ms: 300 } } as any)).rejects.toMatchObject({ status: 504 })
  })

  it('serves the dashboard page, Prometheus metrics and the /tally JSON routes', async () => {
    const { buyer, client, url } = await market([sim(3_000_000n)])
    await client.chat.completions.create({ model: 'sim-8b', messages: [{ role: 'user', content: 'count me' }], max_tokens: 4 })
    const page = await fetch(`${url}/`)
    expect(page.headers.get('content-type')).toMatch(/text\/html/)
    // the page is static files; the account comes from the JSON it polls
    expect(await page.text()).toMatch(/<title>[^<]*Tally/)
    expect(((await (await fetch(`${url}/tally/status`)).json()) as any).account).toBe(buyer.account)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toMatch(/tally_gateway_requests_total\{status="ok"\} 1/)
    expect(metrics).toMatch(/tally_gateway_tokens_total\{direction="out"\} [1-9]/)
    const offers: any = await (await fetch(`${url}/tally/offers`)).json()
    expect(offers.offers).toHaveLength(1)
    const bad = await fetch(`${url}/tally/report?by=color`)
    expect(bad.status).toBe(400)
    const pay = await fetch(`${url}/tally/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: 'not-an-account', amount_uc: 5 }) })
    expect(pay.status).toBe(400)
    expect((await pay.json() as any).error.message).toMatch(/account/)
  })
})

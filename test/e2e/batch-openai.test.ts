/**
 * OpenAI's batch API on a buyer node, driven by the official `openai` client against one market
 * of real seller nodes (memory transport): three sellers of sim-8b, the cheapest of which fails
 * every request, and one slow seller of slow-1b. Upload, create, poll, read the output and error
 * files; bad lines reported per line while the rest runs; a failing seller's lines move to the
 * others and it is paid nothing; the budget, the deadline, cancel, a node that stops mid-job
 * (lines in flight finish first) and bad requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI, { toFile } from 'openai'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTallyNode, type SellInit, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { CountingBackend } from '../helpers/counting-backend.js'
import { MAX_BATCH_FILE_BYTES } from '../../src/node/batch/index.js'
import { waitFor } from '../helpers/wait.js'

const nodes: TallyNode[] = []
const dirs: string[] = []
let gateway: Gateway
let client: OpenAI
let buyer: TallyNode
const failing = new CountingBackend({ modelId: 'sim-8b', params: 8_000_000_000, tokensPerChunk: 2, failAfterTokens: 0 })
const good = [new CountingBackend({ modelId: 'sim-8b', params: 8_000_000_000, tokensPerChunk: 2 }), new CountingBackend({ modelId: 'sim-8b', params: 8_000_000_000, tokensPerChunk: 2 })]
const slow = new CountingBackend({ modelId: 'slow-1b', params: 1_000_000_000, tokensPerSec: 4, tokensPerChunk: 1 })
let failingSeller: string

async function dir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tally-batch-'))
  dirs.push(d)
  return d
}

async function node (sell?: SellInit, bootstrap: string[] = []): Promise<TallyNode> {
  const n = await createTallyNode(parseConfig({ dataDir: await dir(), transport: 'memory', bootstrap }), { memoryLedger: true, sell })
  nodes.push(n)
  await n.start()
  return n
}

function jsonl (lines: unknown[]): string {
  return lines.map(l => typeof l === 'string' ? l : JSON.stringify(l)).join('\n') + '\n'
}

function chatLine (id: string, content: string, model = 'sim-8b', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content }], max_tokens: 8, ...extra } }
}

async function upload (text: string | Buffer): Promise<string> {
  const f = await client.files.create({ file: await toFile(Buffer.from(text), 'input.jsonl'), purpose: 'batch' })
  return f.id
}

async function finished (id: string): Promise<OpenAI.Batches.Batch> {
  await waitFor(async () => ['completed', 'failed', 'expired', 'cancelled'].includes((await client.batches.retrieve(id)).status), `batch ${id} finished`)
  return await client.batches.retrieve(id)
}

async function lines (fileId: string | null | undefined): Promise<any[]> {
  if (fileId == null) return []
  const text = await (await client.files.content(fileId)).text()
  return text.split('\n').filter(l => l !== '').map(l => JSON.parse(l))
}

beforeAll(async () => {
  // the failing seller is the cheapest: the runner tries it first
  const a = await node({ backend: failing, priceInPerMTokUc: 100_000n, priceOutPerMTokUc: 200_000n })
  failingSeller = a.account
  await node({ backend: good[0], priceInPerMTokUc: 500_000n, priceOutPerMTokUc: 1_000_000n }, a.addrs())
  await node({ backend: good[1], priceInPerMTokUc: 600_000n, priceOutPerMTokUc: 1_200_000n }, a.addrs())
  await node({ backend: slow, priceInPerMTokUc: 500_000n, priceOutPerMTokUc: 1_000_000n }, a.addrs())
  buyer = await node(undefined, a.addrs())
  gateway = await startGateway(buyer, { port: 0, batchDir: join(await dir(), 'batch') })
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
  // expect.poll (waitFor) works inside a test only
  for (let i = 0; !(buyer.offerList('sim-8b').length === 3 && buyer.offerList('slow-1b').length === 1); i++) {
    if (i > 1200) throw new Error('the offers did not reach the buyer\'s book')
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}, 60_000)

afterAll(async () => {
  await gateway?.close()
  await Promise.all(nodes.map(async n => await n.stop().catch(() => {})))
  await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
})

describe('batches through the openai client', () => {
  it('runs the good lines, reports each bad line on its own, moves the failing seller\'s lines and pays it nothing', async () => {
    const good10 = Array.from({ length: 10 }, (_, i) => chatLine(`req-${i}`, `line ${i}: say something`))
    const input = jsonl([
      ...good10.slice(0, 5),
      '{"custom_id": "broken", "method": "POST",',
      { ...chatLine('wrong-url', 'x'), url: '/v1/embeddings' },
      { ...chatLine('wrong-method', 'x'), method: 'GET' },
      chatLine('bad-body', 'x', 'sim-8b', { frobnicate: 1 }),
      chatLine('streamed', 'x', 'sim-8b', { stream: true }),
      chatLine('req-0', 'the same custom_id again'),
      ...good10.slice(5)
    ])
    const fileId = await upload(input)
    expect((await client.files.retrieve(fileId)).purpose).toBe('batch')
    expect(await (await client.files.content(fileId)).text()).toBe(input)

    const created = await client.batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { job: 'e2e' } })
    expect(created).toMatchObject({ object: 'batch', status: 'validating', endpoint: '/v1/chat/completions', metadata: { job: 'e2e' } })
    const b = await finished(created.id)
    expect(b.status).toBe('completed')
    expect(b.request_counts).toEqual({ total: 16, completed: 10, failed: 6 })
    expect(b.in_progress_at).not.toBeNull()
    expect(b.finalizing_at).not.toBeNull()
    expect(b.completed_at).not.toBeNull()

    const out = await lines(b.output_file_id)
    expect(out.map(o => o.custom_id).sort()).toEqual(good10.map(l => l.custom_id).sort())
    for (const o of out) {
      expect(o.id).toMatch(/^batch_req_/)
      expect(o.error).toBeNull()
      expect(o.response.status_code).toBe(200)
      expect(o.response.body).toMatchObject({ object: 'chat.completion', model: 'sim-8b' })
      expect(o.response.body.choices[0].message.content.length).toBeGreaterThan(0)
      const t = o.response.body.tally
      expect(t.seller).not.toBe(failingSeller)
      expect(t.fingerprint).toMatch(/.+/)
      expect(t.cost_uc).toBeGreaterThan(0)
      expect(Number(t.bpt)).toBeGreaterThan(0)
      expect(o.response.body.usage.completion_tokens).toBeGreaterThan(0)
    }
    const errs = await lines(b.error_file_id)
    const byLine = Object.fromEntries(errs.map(e => [e.error.line, e.error.code]))
    expect(byLine).toEqual({ 6: 'invalid_json_line', 7: 'invalid_url', 8: 'invalid_method', 9: 'invalid_request', 10: 'invalid_request', 11: 'duplicate_custom_id' })
    expect(errs.find(e => e.custom_id === 'bad-body').response.body.error.param).toBe('frobnicate')
    expect(b.errors?.data?.length).toBe(6)

    // the failing seller got lines (it was the cheapest) and answered none: they moved, unpaid
    expect(failing.requests).toBeGreaterThan(0)
    const entries = buyer.costs.all().filter(e => e.tag === `batch:${b.id}`)
    expect(entries.length).toBe(10)
    expect(entries.some(e => e.counterparty === failingSeller)).toBe(false)
    expect(buyer.costs.all().some(e => e.counterparty === failingSeller)).toBe(false)
    const tally = (b as any).tally
    expect(Object.keys(tally.sellers)).not.toContain(failingSeller)
    expect(BigInt(tally.spent_uc)).toBe(entries.reduce((a, e) => a + e.amountUc, 0n))
    expect((await client.batches.list()).data.map(x => x.id)).toContain(b.id)
  })

  it('stops at the budget: lines past it fail with budget_exceeded', async () => {
    const input = jsonl(Array.from({ length: 8 }, (_, i) => chatLine(`b-${i}`, `budget line ${i}`)))
    // a line costs 13 µc at the 1_000_000 seller and is reserved at its estimate (55 µc, prompt chars bound its tokens): a few fit in 100
    const b0 = await client.batches.create({ input_file_id: await upload(input), endpoint: '/v1/chat/completions', completion_window: '1h', tally: { budget_uc: 100, max_price: 1_000_000, concurrency_per_seller: 1 } } as any)
    const b = await finished(b0.id)
    expect(b.status).toBe('completed')
    const errs = await lines(b.error_file_id)
    expect(errs.length).toBeGreaterThan(0)
    expect(errs.every(e => e.error.code === 'budget_exceeded' && e.response.status_code === 402)).toBe(true)
    expect(b.request_counts!.completed + b.request_counts!.failed).toBe(8)
    expect(b.request_counts!.completed).toBeGreaterThan(0)
    expect(BigInt((b as any).tally.spent_uc)).toBeLessThanOrEqual(100n)
    // max_price 1_000_000 leaves only the 1_000_000 seller (the failing one is cheaper, and is tried too)
    for (const o of await lines(b.output_file_id)) expect(o.response.body.tally.price.out_per_mtok_uc).toBeLessThanOrEqual(1_000_000)
  })

  it('honours the deadline (batch_expired) and cancel', async () => {
    const slowLines = (p: string, n: number): string => jsonl(Array.from({ length: n }, (_, i) => chatLine(`${p}-${i}`, 'slow', 'slow-1b', { max_tokens: 200 })))
    const expiring = await client.batches.create({ input_file_id: await upload(slowLines('e', 3)), endpoint: '/v1/chat/completions', completion_window: '5s' as any })
    const cancelled = await client.batches.create({ input_file_id: await upload(slowLines('c', 3)), endpoint: '/v1/chat/completions', completion_window: '1h' as any })
    await waitFor(async () => (await client.batches.retrieve(cancelled.id)).status === 'in_progress', 'the batch to cancel runs')
    const c = await client.batches.cancel(cancelled.id)
    expect(['cancelling', 'cancelled']).toContain(c.status)
    const cb = await finished(cancelled.id)
    expect(cb.status).toBe('cancelled')
    expect(cb.cancelled_at).not.toBeNull()

    const eb = await finished(expiring.id)
    expect(eb.status).toBe('expired')
    expect(eb.expired_at).not.toBeNull()
    const errs = await lines(eb.error_file_id)
    expect(errs.map(e => [e.error.code, e.response.status_code])).toEqual([['batch_expired', 408], ['batch_expired', 408], ['batch_expired', 408]])
    expect(errs.map(e => e.custom_id).sort()).toEqual(['e-0', 'e-1', 'e-2'])
  }, 30_000)

  it('a node that stops lets the lines in flight finish and resumes the rest: no line bought twice', async () => {
    const batchDir = join(await dir(), 'batch')
    let gw = await startGateway(buyer, { port: 0, batchDir })
    const c = (g: Gateway): OpenAI => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'x', maxRetries: 0 })
    const input = jsonl(Array.from({ length: 6 }, (_, i) => chatLine(`s-${i}`, `stop ${i}`, 'slow-1b')))
    const f = await c(gw).files.create({ file: await toFile(Buffer.from(input), 'in.jsonl'), purpose: 'batch' })
    const b0 = await c(gw).batches.create({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '1h' as any })
    await waitFor(async () => (await c(gw).batches.retrieve(b0.id)).request_counts!.completed >= 2, 'two lines done')
    // lines are in flight now (2 at a time at the slow seller, 2 s each)
    await gw.close()
    gw = await startGateway(buyer, { port: 0, batchDir })
    try {
      await waitFor(async () => (await c(gw).batches.retrieve(b0.id)).status === 'completed', 'the resumed batch completed')
      const out = (await (await c(gw).files.content(`file-${b0.id.slice('batch-'.length)}-output`)).text()).split('\n').filter(l => l !== '').map(l => JSON.parse(l))
      expect(out.map(o => o.custom_id).sort()).toEqual(['s-0', 's-1', 's-2', 's-3', 's-4', 's-5'])
      expect(buyer.costs.all().filter(e => e.tag === `batch:${b0.id}`).length).toBe(6)
    } finally {
      await gw.close()
    }
  })

  it('bad requests answer 4xx naming the field', async () => {
    const fileId = await upload(jsonl([chatLine('x', 'x')]))
    const refused = async (p: Promise<unknown>): Promise<any> => await p.then(() => { throw new Error('accepted') }, (e: unknown) => e)
    let e = await refused(client.batches.create({ input_file_id: fileId, endpoint: '/v1/embeddings', completion_window: '24h' }))
    expect([e.status, e.param], 'check 1: ' + String(e?.message)).toEqual([400, 'endpoint'])
    e = await refused(client.batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: 'soon' as any }))
    expect([e.status, e.param], 'check 2: ' + String(e?.message)).toEqual([400, 'completion_window'])
    e = await refused(client.batches.create({ input_file_id: 'file-000000000000000000000000', endpoint: '/v1/chat/completions', completion_window: '24h' }))
    expect(e.status, 'check 5: ' + String(e?.message)).toBe(404)
    e = await refused(client.batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', tally: { budget_uc: -5 } } as any))
    expect([e.status, e.param], 'check 3: ' + String(e?.message)).toEqual([400, 'tally.budget_uc'])
    e = await refused(client.batches.retrieve('batch-000000000000000000000000'))
    expect(e.status, 'check 6: ' + String(e?.message)).toBe(404)
    e = await refused(client.batches.retrieve('../../etc'))
    expect(e.status, 'check 7: ' + String(e?.message)).toBe(404)
    e = await refused(client.files.create({ file: await toFile(Buffer.from('{}\n'), 'x.jsonl'), purpose: 'fine-tune' }))
    expect([e.status, e.param], 'check 4: ' + String(e?.message)).toEqual([400, 'purpose'])
    e = await refused(client.files.create({ file: await toFile(Buffer.alloc(MAX_BATCH_FILE_BYTES + 1, 0x20), 'big.jsonl'), purpose: 'batch' }))
    expect(e.status, 'check 8: ' + String(e?.message)).toBe(413)
    // a finished batch cannot be cancelled
    const done = await finished((await client.batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' })).id)
    e = await refused(client.batches.cancel(done.id))
    expect(e.status, 'check 9: ' + String(e?.message)).toBe(409)
    // a file that holds no valid line: the batch fails in validation, with its errors listed
    const bad = await finished((await client.batches.create({ input_file_id: await upload('not json\n'), endpoint: '/v1/chat/completions', completion_window: '24h' })).id)
    expect(bad.status).toBe('failed')
    expect(bad.errors?.data?.[0]).toMatchObject({ code: 'invalid_json_line', line: 1 })
  })
})

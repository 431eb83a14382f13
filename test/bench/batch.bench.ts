/**
 * Batch benchmark (issue 20's target): a 1,000-line batch bought through the node's OpenAI batch
 * API from 3 demo sellers (the tiny model on the embedded engine, one request at a time each, at
 * the demo's posted prices), stopped part-way (the node shuts its batches down: lines in flight are
 * not written) and resumed by a new gateway on the same data dir. Figures: wall time, lines per
 * second, lines per seller, total Bpt and credits, the cost of the same lines at each seller's
 * posted price, and how many lines were bought more than once (from the buyer's cost records).
 * Env BATCH_LINES overrides the 1,000. Prints figures, never fails on time.
 */
import '../../src/polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTallyNode, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { createEmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'

const LINES = Number(process.env.BATCH_LINES ?? 1000)
const SELLERS = 3
/** the demo's prices: seller i sells output at 1_000_000 × (1 + i/2) µc per 1M tokens, input at half */
const BASE_PRICE_OUT_UC = 1_000_000n
/** the job is stopped once this share of its lines is done */
const STOP_AT = 0.3

async function until (cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

export default async function (): Promise<Record<string, unknown>> {
  const root = await mkdtemp(join(tmpdir(), 'tally-bench-batch-'))
  const nodes: TallyNode[] = []
  let gateway: Gateway | undefined
  try {
    const modelPath = ensureTinyModel()
    const prices = new Map<string, bigint>()
    for (let i = 0; i < SELLERS; i++) {
      const backend = await createEmbeddedBackend({ modelPath, threads: 1, maxConcurrency: 1 })
      const priceOut = BASE_PRICE_OUT_UC + (BASE_PRICE_OUT_UC * BigInt(i)) / 2n
      const n = await createTallyNode(parseConfig({ dataDir: join(root, `seller-${i}`), transport: 'memory', bootstrap: nodes.length > 0 ? [nodes[0].addrs()[0]] : [] }), { memoryLedger: true, sell: { backend, priceInPerMTokUc: priceOut / 2n, priceOutPerMTokUc: priceOut, maxSessions: 1 } })
      await n.start()
      nodes.push(n)
      prices.set(n.account, priceOut)
    }
    const buyer = await createTallyNode(parseConfig({ dataDir: join(root, 'buyer'), transport: 'memory', bootstrap: [nodes[0].addrs()[0]] }), { memoryLedger: true })
    await buyer.start()
    nodes.push(buyer)
    const batchDir = join(root, 'buyer', 'batch')
    gateway = await startGateway(buyer, { port: 0, batchDir })
    await until(() => buyer.offerList('tiny-char-v1').length === SELLERS, 60_000)

    const input = Array.from({ length: LINES }, (_, i) => JSON.stringify({ custom_id: `doc-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'tiny-char-v1', messages: [{ role: 'user', content: `Summarise document ${i} in a few words.` }], max_tokens: 16, seed: i + 1 } })).join('\n') + '\n'
    const form = new FormData()
    form.append('purpose', 'batch')
    form.append('file', new Blob([input]), 'docs.jsonl')
    const file: any = await (await fetch(`${gateway.url}/v1/files`, { method: 'POST', body: form })).json()
    const t0 = performance.now()
    const created: any = await (await fetch(`${gateway.url}/v1/batches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '2h', tally: { concurrency_per_seller: 1 } }) })).json()
    const get = async (g: Gateway): Promise<any> => await (await fetch(`${g.url}/v1/batches/${created.id as string}`)).json()
    await until(async () => (await get(gateway!)).request_counts.completed >= LINES * STOP_AT, 30 * 60_000)
    const stopAtMs = performance.now() - t0
    await gateway.close()
    const doneAtStop = (await import('node:fs')).readFileSync(join(batchDir, 'batches', created.id, 'output.jsonl'), 'utf8').split('\n').filter(l => l !== '').length
    const t1 = performance.now()
    gateway = await startGateway(buyer, { port: 0, batchDir })
    await until(async () => ['completed', 'failed', 'expired'].includes((await get(gateway!)).status), 30 * 60_000)
    const wallMs = stopAtMs + (performance.now() - t1)
    const b = await get(gateway)

    const purchases = buyer.costs.all().filter(e => e.tag === `batch:${created.id as string}`)
    const lines: any[] = (await (await fetch(`${gateway.url}/v1/files/${b.output_file_id as string}/content`)).text()).split('\n').filter(l => l !== '').map(l => JSON.parse(l))
    const ids = new Set(lines.map(l => l.custom_id))
    // the same lines at each seller's posted price (what batch discounts will be measured against)
    const tokens = lines.reduce((a, l) => ({ in: a.in + BigInt(l.response.body.usage.prompt_tokens), out: a.out + BigInt(l.response.body.usage.completion_tokens) }), { in: 0n, out: 0n })
    const atPosted = Object.fromEntries([...prices.entries()].map(([s, p], i) => [`seller${i}`, { priceOutPerMTokUc: Number(p), allLinesUc: Number((tokens.in * (p / 2n) + tokens.out * p + 999_999n) / 1_000_000n) }]))
    return {
      lines: LINES,
      status: b.status,
      completed: b.request_counts.completed,
      failed: b.request_counts.failed,
      wallS: Math.round(wallMs / 100) / 10,
      linesPerS: Math.round(b.request_counts.completed / (wallMs / 1000) * 10) / 10,
      stoppedAfterLines: doneAtStop,
      purchases: purchases.length,
      distinctLinesInOutput: ids.size,
      // one purchase per line in the output; any more is a line bought twice
      extraPurchases: purchases.length - ids.size,
      spentUc: b.tally.spent_uc,
      spentCredits: Number(b.tally.spent_uc) / 1e6,
      bpt: b.tally.bpt,
      tokensIn: Number(tokens.in),
      tokensOut: Number(tokens.out),
      linesPerSeller: Object.values(b.tally.sellers),
      atPostedPrices: atPosted
    }
  } finally {
    await gateway?.close()
    await Promise.all(nodes.map(async n => await n.stop().catch(() => {})))
    await rm(root, { recursive: true, force: true })
  }
}

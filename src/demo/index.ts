/**
 * The demo: a small real market in one process. Several seller nodes serve the repo's tiny
 * GGUF through the real embedded engine at different prices; one buyer node runs the
 * OpenAI-compatible gateway; requests go through the gateway over real HTTP; sessions settle
 * on the CRDT ledger and the run ends when every node's ledger agrees. Kept running, every node
 * serves its API (the buyer's page is the dashboard) and the buyer keeps buying, slowly, until stopped.
 */
import '../polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTallyNode, type TallyNode } from '../node/tally.js'
import { parseConfig } from '../node/config.js'
import { startGateway, type Gateway } from '../api/gateway.js'
import { createEmbeddedBackend } from '../exec/backends/embedded/index.js'
import { ensureTinyModel } from '../exec/model/tiny.js'
import { formatNanoBpt } from '../exec/pricing.js'
import { createSigner, generateSeed, type Ed25519Signer } from '../identity/ed25519.js'
import { accountIdFromPublicKey } from '../identity/account.js'
import { signRecord } from '../ledger/record.js'
import { netId, type Genesis } from '../ledger/genesis.js'

export interface DemoInit {
  sellers?: number
  requests?: number
  /** requests in flight at once (default 1; above 1 the cheapest seller is sometimes busy and the next earns) */
  concurrency?: number
  maxTokens?: number
  onProgress?: (line: string) => void
  /** leave the market up after the demo's requests, until `signal` aborts */
  keepRunning?: DemoKeepRunning
}

export interface DemoKeepRunning {
  signal: AbortSignal
  /** the market is up: the demo's result and every node's API */
  onUp: (result: DemoResult, apis: DemoApis) => void
  /** one more request every this many ms while up (default 5 s; 0: none) */
  requestEveryMs?: number
}

export interface DemoApis {
  /** the buyer's API: its page is the dashboard */
  dashboardUrl: string
  sellers: Array<{ account: string, url: string }>
}

export interface DemoSeller {
  account: string
  priceInPerMTokUc: string
  priceOutPerMTokUc: string
  served: number
  outputTokens: number
  bpt: string
  earnedUc: string
}

export interface DemoResult {
  model: string
  params: number
  requests: number
  completed: number
  failed: number
  sellers: DemoSeller[]
  buyer: { account: string, spentUc: string, bpt: string }
  balancesAgree: boolean
  sumOfBalancesUc: string
  gatewayUrl: string
  sample: string
  /** one embeddings request bought through the gateway (absent when it failed: see the progress lines) */
  embeddings?: { inputs: number, dimensions: number, promptTokens: number, costUc: number, seller: string }
  elapsedMs: number
}

/** what the demo treasury issues the buyer at the start: the demo's only source of credit */
export const DEMO_STARTING_CREDIT_UC = 10_000_000n
/** the demo network's genesis rule for one session's lock */
const DEMO_MAX_SESSION_LOCK_UC = 5_000_000n

/**
 * The demo's network: a development network with no default credit line, whose one issuer (a
 * treasury key made for this run) openly issues the buyer its starting credit.
 */
function demoGenesis (treasury: Ed25519Signer): { raw: Record<string, unknown>, genesis: Genesis } {
  const genesis: Genesis = { name: 'tally-demo', issuers: [{ publicKey: treasury.publicKey, capUc: DEMO_STARTING_CREDIT_UC }], defaultCreditLimitUc: 0n, maxSessionLockUc: DEMO_MAX_SESSION_LOCK_UC, development: true }
  const raw = { name: genesis.name, issuers: [{ account: accountIdFromPublicKey(treasury.publicKey), capUc: DEMO_STARTING_CREDIT_UC.toString() }], defaultCreditLimitUc: '0', maxSessionLockUc: DEMO_MAX_SESSION_LOCK_UC.toString(), development: true }
  return { raw, genesis }
}

/** a kept-running demo buys this often, so the dashboard moves */
const KEEP_RUNNING_REQUEST_EVERY_MS = 5_000

/** seller i asks base × (1 + i/2): a spread the router can arbitrage */
const BASE_PRICE_OUT_UC = 2_000_000n
/** every node listens on a free local TCP port */
const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const PROMPTS = ['Tell me a story about a rabbit.', 'What did Alice see?', 'Write one line about the sea.', 'Describe the garden.', 'Who is the Queen?']

async function waitFor (cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return true
}

function ledgerView (n: TallyNode): string {
  return JSON.stringify(n.balances().map(b => [b.account, b.balanceUc.toString()]))
}

/** seller i's price out, µc per 1M tokens (input at half) */
function demoPriceOutUc (i: number): bigint {
  return BASE_PRICE_OUT_UC + (BASE_PRICE_OUT_UC * BigInt(i)) / 2n
}

/** the chat request the demo sends as its i-th (0-based) */
function demoRequestBody (i: number, model: string, maxTokens: number): unknown {
  return { model, messages: [{ role: 'user', content: PROMPTS[i % PROMPTS.length] }], max_tokens: maxTokens, temperature: 0.8, seed: i + 1, tally: { tag: 'demo' } }
}

/** sellers serving the tiny model through the embedded engine, each bootstrapping to the first */
async function startSellers (root: string, count: number, nodes: TallyNode[], genesis: Record<string, unknown>, progress: (line: string) => void): Promise<TallyNode[]> {
  const modelPath = ensureTinyModel()
  const sellers: TallyNode[] = []
  for (let i = 0; i < count; i++) {
    const backend = await createEmbeddedBackend({ modelPath, threads: 1, maxConcurrency: 1 })
    const priceOut = demoPriceOutUc(i)
    const bootstrap = nodes.length > 0 ? [nodes[0].addrs()[0]] : []
    const n = await createTallyNode(parseConfig({ dataDir: join(root, `seller-${i}`), listen: LISTEN, bootstrap, genesis }), {
      sell: { backend, priceInPerMTokUc: priceOut / 2n, priceOutPerMTokUc: priceOut, maxSessions: 1 }
    })
    await n.start()
    nodes.push(n)
    sellers.push(n)
    progress(`seller ${i + 1} up: ${n.account} sells ${backend.model.id} at ${priceOut} µc per 1M output tokens`)
  }
  return sellers
}

/** `requests` completions through the gateway over HTTP, `concurrency` at a time */
async function sendRequests (gatewayUrl: string, model: string, init: DemoInit, progress: (line: string) => void): Promise<{ completed: number, failed: number, sample: string }> {
  const nRequests = init.requests ?? 10
  let completed = 0
  let failed = 0
  let sample = ''
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < nRequests) {
      const i = next++
      const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(demoRequestBody(i, model, init.maxTokens ?? 48))
      })
      const body: any = await res.json()
      if (res.ok) {
        completed++
        if (sample === '') sample = body.choices[0].message.content
        progress(`request ${i + 1}/${nRequests}: ${body.usage.prompt_tokens} in (${String(body.tally.input_bound)} count) + ${body.usage.completion_tokens} out from ${String(body.tally.seller).slice(-8)} for ${body.tally.cost_uc} µc`)
      } else {
        failed++
        progress(`request ${i + 1}/${nRequests} failed: ${res.status} ${body?.error?.message}`)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, init.concurrency ?? 1) }, worker))
  return { completed, failed, sample }
}

/** one embeddings request through the gateway: the same sellers embed with the same engine, paid per input token */
async function sendEmbeddings (gatewayUrl: string, model: string, progress: (line: string) => void): Promise<DemoResult['embeddings']> {
  const input = PROMPTS.slice(0, 3)
  const res = await fetch(`${gatewayUrl}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, input, encoding_format: 'float', tally: { tag: 'demo' } }) })
  const body: any = await res.json()
  if (!res.ok) { progress(`embeddings failed: ${res.status} ${body?.error?.message}`); return undefined }
  const r = { inputs: body.data.length, dimensions: body.data[0].embedding.length, promptTokens: body.usage.prompt_tokens, costUc: body.tally.cost_uc, seller: body.tally.seller }
  progress(`embeddings: ${r.inputs} inputs → ${r.inputs} vectors of ${r.dimensions}, ${r.promptTokens} input tokens from ${String(r.seller).slice(-8)} for ${r.costUc} µc`)
  return r
}

/** the buyer closes its sessions; true once every ledger agrees and every seller that served has settled */
async function settleAll (buyer: TallyNode, nodes: TallyNode[], sellers: TallyNode[]): Promise<boolean> {
  await buyer.closeSessions(AbortSignal.timeout(10_000))
  return await waitFor(() => {
    const v = ledgerView(nodes[0])
    return nodes.every(n => ledgerView(n) === v) && sellers.every(s => s.meterRecords.length === 0 || s.settledSessions > 0)
  }, 20_000)
}

/** what a seller asked, served and earned (earnings as the buyer's ledger holds them) */
function sellerRow (s: TallyNode, buyer: TallyNode, model: string): DemoSeller {
  const offer = s.market.ownOffers()[0] ?? s.offerList(model).find(o => o.seller === s.account)
  const out = s.meterRecords.reduce((a, m) => a + m.outputTokens, 0)
  const nano = s.meterRecords.reduce((a, m) => a + m.bptNano, 0n)
  return {
    account: s.account,
    priceInPerMTokUc: String(offer?.priceInPerMTokUc ?? ''),
    priceOutPerMTokUc: String(offer?.priceOutPerMTokUc ?? ''),
    served: s.meterRecords.length,
    outputTokens: out,
    bpt: formatNanoBpt(nano),
    earnedUc: buyer.ledger.balance(s.account).balanceUc.toString()
  }
}

/** one request every `requestEveryMs` until the signal aborts (then resolves) */
async function trickle (gatewayUrl: string, model: string, init: DemoInit, keep: DemoKeepRunning, progress: (line: string) => void): Promise<void> {
  const every = keep.requestEveryMs ?? KEEP_RUNNING_REQUEST_EVERY_MS
  const aborted = new Promise<void>(resolve => {
    if (keep.signal.aborted) resolve()
    else keep.signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
  for (let i = init.requests ?? 10; !keep.signal.aborted; i++) {
    if (every <= 0) { await aborted; return }
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([aborted, new Promise(resolve => { timer = setTimeout(resolve, every) })])
    clearTimeout(timer)
    if (keep.signal.aborted) return
    try {
      const res = await fetch(`${gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(demoRequestBody(i, model, init.maxTokens ?? 48)), signal: keep.signal })
      const body: any = await res.json()
      progress(res.ok ? `request ${i + 1}: ${body.usage.completion_tokens} tokens from ${String(body.tally.seller).slice(-8)} for ${body.tally.cost_uc} µc` : `request ${i + 1} failed: ${res.status} ${body?.error?.message}`)
    } catch (err: any) {
      if (!keep.signal.aborted) progress(`request ${i + 1} failed: ${err?.message ?? err}`)
    }
  }
}

export async function runDemo (init: DemoInit = {}): Promise<DemoResult> {
  const started = Date.now()
  const nSellers = init.sellers ?? 3
  const progress = init.onProgress ?? (() => {})
  const root = await mkdtemp(join(tmpdir(), 'tally-demo-'))
  const nodes: TallyNode[] = []
  let gateway: Gateway | undefined
  const sellerGateways: Gateway[] = []
  try {
    const treasury = createSigner(generateSeed())
    const net = demoGenesis(treasury)
    const sellers = await startSellers(root, nSellers, nodes, net.raw, progress)
    // the buyer holds the model file too, so it counts every prompt's input tokens exactly
    const buyer = await createTallyNode(parseConfig({ dataDir: join(root, 'buyer'), listen: LISTEN, bootstrap: [nodes[0].addrs()[0]], genesis: net.raw }), { tokenizers: [ensureTinyModel()] })
    await buyer.start()
    nodes.push(buyer)
    // the treasury's credit record: every node holds it before the buyer spends, as if gossiped
    const credit = signRecord(treasury, { net: netId(net.genesis), seq: 1n, time: BigInt(Date.now()), memo: 'demo starting credit', kind: { type: 'credit', to: buyer.ledger.ledger.signer!.publicKey, amountUc: DEMO_STARTING_CREDIT_UC } })
    for (const n of nodes) n.ledger.add(credit.bytes)
    progress(`treasury ${accountIdFromPublicKey(treasury.publicKey)} issued the buyer ${DEMO_STARTING_CREDIT_UC} µc of starting credit (no default credit line on this network)`)
    gateway = await startGateway(buyer, { host: '127.0.0.1', port: 0 })
    progress(`buyer up: ${buyer.account}, gateway ${gateway.url}/v1`)
    const model = sellers[0].market.ownOffers()[0].modelId
    const params = Number(sellers[0].market.ownOffers()[0].params)
    if (!await waitFor(() => buyer.offerList(model).length === nSellers, 20_000)) throw new Error(`the buyer saw ${buyer.offerList(model).length} of ${nSellers} offers within 20 s`)

    const { completed, failed, sample } = await sendRequests(gateway.url, model, init, progress)
    const embeddings = await sendEmbeddings(gateway.url, model, progress)
    const agree = await settleAll(buyer, nodes, sellers)
    progress(agree ? 'every node\'s ledger agrees' : 'ledgers did not converge within 20 s')

    const rows = sellers.map(s => sellerRow(s, buyer, model))
    const report = await buyer.report({ by: 'tag' })
    const sum = buyer.balances().reduce((a, b) => a + b.balanceUc, 0n)
    const result: DemoResult = {
      model,
      params,
      requests: init.requests ?? 10,
      completed,
      failed,
      sellers: rows,
      buyer: { account: buyer.account, spentUc: (DEMO_STARTING_CREDIT_UC - buyer.ledger.balance(buyer.account).balanceUc).toString(), bpt: report.rows.find(r => r.key === 'demo')?.bpt ?? '0' },
      balancesAgree: agree,
      sumOfBalancesUc: sum.toString(),
      gatewayUrl: gateway.url,
      sample,
      ...(embeddings != null ? { embeddings } : {}),
      elapsedMs: Date.now() - started
    }
    const keep = init.keepRunning
    if (keep != null && !keep.signal.aborted) {
      for (const s of sellers) sellerGateways.push(await startGateway(s, { host: '127.0.0.1', port: 0 }))
      keep.onUp(result, { dashboardUrl: `${gateway.url}/`, sellers: sellers.map((s, i) => ({ account: s.account, url: sellerGateways[i].url })) })
      await trickle(gateway.url, model, init, keep, progress)
    }
    return result
  } finally {
    for (const g of sellerGateways) await g.close().catch(() => {})
    await gateway?.close()
    for (const n of nodes.reverse()) await n.stop().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
}

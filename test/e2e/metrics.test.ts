/**
 * /metrics on a real market: a seller running the embedded tiny model and a buyer, both with
 * on-disk ledgers and their own HTTP API; one paid request, settled. Each scrape is parsed as
 * Prometheus text; every family an operator needs exists with its type; the tokens, sessions,
 * contracts and credits series move by the request's amounts, equal to the node's JSON API; the
 * naming rules hold for every family (libp2p's included), and promtool passes where installed.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTallyNode, type TallyNode, type TallyNodeInit } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { waitFor } from '../helpers/wait.js'
import { createEmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'
import { family, histogramCount, lintScrape, parseScrape, promtoolCheck, value, type Family, type FamilyType } from '../unit/api/metrics-lint.js'

/** every family an operator needs (issue 19 point 2), with its type */
const EXPECTED: Record<string, FamilyType> = {
  tally_peers: 'GAUGE',
  tally_connections: 'GAUGE',
  tally_gossip_messages_total: 'COUNTER',
  tally_offers: 'GAUGE',
  tally_quotes_issued_total: 'COUNTER',
  tally_quotes_refused_total: 'COUNTER',
  tally_contracts_total: 'COUNTER',
  tally_sessions_open: 'GAUGE',
  tally_tokens_total: 'COUNTER',
  tally_bpt_total: 'COUNTER',
  tally_earned_microcredits_total: 'COUNTER',
  tally_spent_microcredits_total: 'COUNTER',
  tally_balance_microcredits: 'GAUGE',
  tally_locked_microcredits: 'GAUGE',
  tally_ledger_records: 'GAUGE',
  tally_ledger_pending_records: 'GAUGE',
  tally_ledger_forks: 'GAUGE',
  tally_sync_sessions_total: 'COUNTER',
  tally_sync_rounds_total: 'COUNTER',
  tally_sync_bytes_total: 'COUNTER',
  tally_engine_tokens_per_second: 'GAUGE',
  tally_http_request_duration_seconds: 'HISTOGRAM',
  tally_gateway_requests_total: 'COUNTER',
  tally_gateway_tokens_total: 'COUNTER',
  tally_gateway_spent_microcredits_total: 'COUNTER',
  tally_gateway_ttft_seconds: 'HISTOGRAM',
  // libp2p's own (@libp2p/prometheus-metrics), and the process's
  libp2p_data_transfer_bytes_total: 'COUNTER',
  libp2p_connection_manager_connections: 'GAUGE',
  tally_process_cpu_seconds_total: 'COUNTER'
}

const MODEL = 'tiny-char-v1'
const PRICE_IN = 1_000_000n
const PRICE_OUT = 2_000_000n

interface Api { url: string, node: TallyNode }

// one market for the file (started in beforeAll, stopped in afterAll)
const cleanups: Array<() => Promise<unknown>> = []

/** a started node on the memory transport with its ledger on disk, and its HTTP API */
async function startApi (bootstrap: string[], init: TallyNodeInit = {}): Promise<Api> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-metrics-'))
  cleanups.push(async () => await rm(dataDir, { recursive: true, force: true }))
  const node = await createTallyNode(parseConfig({ dataDir, transport: 'memory', bootstrap }), init)
  cleanups.push(async () => await node.stop())
  await node.start()
  const gw: Gateway = await startGateway(node, { port: 0 })
  cleanups.push(async () => await gw.close())
  return { node, url: gw.url }
}

async function scrape (api: Api): Promise<{ text: string, families: Family[] }> {
  const res = await fetch(`${api.url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  return { text, families: parseScrape(text) }
}

async function json (api: Api, path: string): Promise<any> {
  const res = await fetch(`${api.url}${path}`)
  expect(res.status).toBe(200)
  return await res.json()
}

/** the HTTP histogram's request count for one route and status */
function httpCount (text: string, route: string, status: string): number {
  return histogramCount(text, 'tally_http_request_duration_seconds', { route, status })
}

describe('/metrics', () => {
  let seller: Api
  let buyer: Api
  let before: { seller: Family[], buyer: Family[], buyerText: string }
  let after: { seller: { text: string, families: Family[] }, buyer: { text: string, families: Family[] } }
  let done: any

  // one market for the file: the first test makes the request, the others read its scrapes
  it('a paid request is served and settled', async () => {
    const backend = await createEmbeddedBackend({ modelPath: ensureTinyModel(), maxConcurrency: 1, threads: 1, gpu: false })
    seller = await startApi([], { sell: { backend, priceInPerMTokUc: PRICE_IN, priceOutPerMTokUc: PRICE_OUT } })
    buyer = await startApi(seller.node.addrs())
    const sellerNode = seller.node
    const buyerNode = buyer.node
    await waitFor(() => buyerNode.offerList(MODEL).length === 1, 'the offer in the buyer\'s book')
    const buyerBefore = await scrape(buyer)
    before = { seller: (await scrape(seller)).families, buyer: buyerBefore.families, buyerText: buyerBefore.text }

    const res = await fetch(`${buyer.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Who is Alice?' }], max_tokens: 24, seed: 7 })
    })
    expect(res.status).toBe(200)
    done = await res.json()
    // the session settles: the seller's earning and the buyer's spend reach both ledgers
    await buyerNode.closeSessions(AbortSignal.timeout(10_000))
    await waitFor(() => sellerNode.settledSessions === 1, 'the seller settles the session')
    const settled = async (api: Api): Promise<boolean> => (await json(api, '/tally/balance')).lockedUc === 0 && (await json(api, '/tally/report')).rows.some((r: any) => r.spentUc > 0 || r.requests === 0)
    await waitFor(async () => await settled(buyer), 'the settle in the buyer\'s ledger')
    await waitFor(async () => (await json(seller, '/tally/balance')).balanceUc > 0, 'the settle in the seller\'s ledger')
    after = { seller: await scrape(seller), buyer: await scrape(buyer) }
  }, 60_000)

  afterAll(async () => {
    // gateways, then nodes, then their data dirs
    for (const c of cleanups.reverse()) await c().catch(() => {})
  })

  it('every family exists with its type, on the buyer and the seller', () => {
    for (const [name, families] of [['buyer', after.buyer.families], ['seller', after.seller.families]] as const) {
      const types = Object.fromEntries(families.map(f => [f.name, f.type]))
      for (const [n, t] of Object.entries(EXPECTED)) expect(types[n], `${name}: ${n}`).toBe(t)
    }
  })

  it('tokens, Bpt, sessions, contracts and credits move by the request, equal to the JSON API', async () => {
    const inTok = done.usage.prompt_tokens as number
    const outTok = done.usage.completion_tokens as number
    const delta = (side: 'buyer' | 'seller', name: string, labels: Record<string, string> = {}): number =>
      value(after[side].families, name, labels) - value(before[side], name, labels)

    // the seller served what the buyer bought
    expect(delta('seller', 'tally_tokens_total', { role: 'seller', direction: 'input' })).toBe(inTok)
    expect(delta('seller', 'tally_tokens_total', { role: 'seller', direction: 'output' })).toBe(outTok)
    expect(delta('buyer', 'tally_tokens_total', { role: 'buyer', direction: 'input' })).toBe(inTok)
    expect(delta('buyer', 'tally_tokens_total', { role: 'buyer', direction: 'output' })).toBe(outTok)
    expect(delta('buyer', 'tally_gateway_tokens_total', { direction: 'out' })).toBe(outTok)
    const bpt = Number(done.tally.bpt)
    expect(delta('seller', 'tally_bpt_total', { role: 'seller' })).toBeCloseTo(bpt, 9)
    expect(delta('buyer', 'tally_bpt_total', { role: 'buyer' })).toBeCloseTo(bpt, 9)

    expect(delta('seller', 'tally_quotes_issued_total')).toBe(1)
    expect(delta('seller', 'tally_contracts_total', { role: 'seller' })).toBe(1)
    expect(delta('buyer', 'tally_contracts_total', { role: 'buyer' })).toBe(1)
    // closed by now on both sides
    expect(value(after.buyer.families, 'tally_sessions_open', { role: 'buyer' })).toBe(0)
    expect(value(after.seller.families, 'tally_sessions_open', { role: 'seller' })).toBe(0)

    // credits: the JSON API's ledger figures (the first scrape was before any settle)
    const cost = done.tally.cost_uc as number
    const report = await json(buyer, '/tally/report')
    const spent = report.rows.reduce((s: number, r: any) => s + Number(r.spentUc), 0)
    expect(spent).toBe(cost)
    expect(delta('buyer', 'tally_spent_microcredits_total')).toBe(spent)
    expect(delta('buyer', 'tally_gateway_spent_microcredits_total')).toBe(cost)
    const sellerBalance = await json(seller, '/tally/balance')
    expect(delta('seller', 'tally_earned_microcredits_total')).toBe(sellerBalance.balanceUc)
    expect(value(after.seller.families, 'tally_balance_microcredits')).toBe(sellerBalance.balanceUc)
    const buyerBalance = await json(buyer, '/tally/balance')
    expect(value(after.buyer.families, 'tally_balance_microcredits')).toBe(buyerBalance.balanceUc)
    expect(value(after.buyer.families, 'tally_locked_microcredits')).toBe(buyerBalance.lockedUc)
    expect(buyerBalance.balanceUc).toBe(-cost)
  })

  it('the market, the ledger, gossip, peers, the engine and HTTP are seen', () => {
    const b = after.buyer.families
    const s = after.seller.families
    expect(value(b, 'tally_offers', { model: MODEL })).toBe(1)
    expect(value(b, 'tally_peers')).toBeGreaterThanOrEqual(1)
    expect(value(b, 'tally_connections', { path: 'direct' })).toBeGreaterThanOrEqual(1)
    expect(value(b, 'tally_connections', { path: 'relayed' })).toBe(0)
    // the seller's offer reached the buyer by gossip or by book sync; the settle by gossip or pull
    expect(value(b, 'tally_ledger_records')).toBeGreaterThanOrEqual(2)
    expect(value(s, 'tally_ledger_records')).toBe(value(b, 'tally_ledger_records'))
    expect(value(b, 'tally_ledger_forks')).toBe(0)
    expect(value(s, 'tally_engine_tokens_per_second')).toBeGreaterThan(0)
    expect(value(b, 'tally_quotes_refused_total', { reason: 'no_capacity' })).toBe(0)
    expect(family(b, 'tally_quotes_refused_total').metrics.length).toBeGreaterThanOrEqual(8)
    expect(family(b, 'tally_gossip_messages_total').metrics.map(m => `${m.labels?.topic}/${m.labels?.verdict}`)).toContain('records/accept')
    expect(value(b, 'libp2p_data_transfer_bytes_total', { protocol: 'global sent' })).toBeGreaterThan(0)
    // the chat request, timed by its route; each scrape before this one, by /metrics'
    const text = after.buyer.text
    expect(httpCount(text, '/v1/chat/completions', '200') - httpCount(before.buyerText, '/v1/chat/completions', '200')).toBe(1)
    expect(httpCount(text, '/metrics', '200')).toBeGreaterThanOrEqual(1)
    expect(httpCount(text, '/tally/balance', '200')).toBeGreaterThanOrEqual(1)
  })

  it('every family follows the naming rules (counters end in _total, nothing else does; help; base units; bounded labels)', () => {
    expect(lintScrape(after.buyer.text)).toEqual([])
    expect(lintScrape(after.seller.text)).toEqual([])
  })

  it('promtool check metrics passes where promtool is installed', (ctx) => {
    for (const side of ['buyer', 'seller'] as const) {
      const r = promtoolCheck(after[side].text)
      if (r == null) {
        console.log('promtool is not on PATH: `promtool check metrics` skipped (apt-get install prometheus)')
        ctx.skip()
        return
      }
      expect(r.output, `${side}: promtool check metrics`).toBe('')
      expect(r.ok).toBe(true)
    }
  })
})

describe('libp2p metrics with several nodes in one process', () => {
  it('two nodes created before either starts each report their own connections', async () => {
    const make = async (): Promise<TallyNode> => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tally-metrics-'))
      cleanups.push(async () => await rm(dataDir, { recursive: true, force: true }))
      const node = await createTallyNode(parseConfig({ dataDir, transport: 'memory', bootstrap: [] }), { memoryLedger: true })
      cleanups.push(async () => await node.stop())
      return node
    }
    // libp2p registers its connection gauges when a node starts: both exist by then
    const a = await make()
    const b = await make()
    await a.start()
    await b.start()
    await b.libp2p.dial(a.libp2p.getMultiaddrs()[0])
    const connections = async (n: TallyNode, direction: string): Promise<number> =>
      value(parseScrape(await n.base.libp2pMetrics!.metrics()), 'libp2p_connection_manager_connections', { libp2p_connection_manager_connections: direction })
    await waitFor(async () => await connections(a, 'inbound') === 1 && await connections(b, 'outbound') === 1, 'each node\'s own connection in its own registry')
    expect(await connections(a, 'outbound')).toBe(0)
    expect(await connections(b, 'inbound')).toBe(0)
  })
})

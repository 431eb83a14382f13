/**
 * The operator API on real nodes (memory transport, the embedded engine on the tiny model, real
 * HTTP): a cheap and a dear seller, a buyer. /tally/status, /market, /sessions, /receipts and
 * /timeseries move after a paid request; the dear seller's own API (a seller-only node) names
 * its price rank in /tally/diagnosis; /tally/offers without a model lists every model's offers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTallyNode, type SellInit, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { createEmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'
import { waitFor } from '../helpers/wait.js'

const nodes: TallyNode[] = []
const gateways: Gateway[] = []
let dir = ''
let cheap: TallyNode
let dear: TallyNode
let buyer: TallyNode
let buyerApi: string
let dearApi: string
let model: string

async function node (name: string, bootstrap: string[], sell?: SellInit): Promise<TallyNode> {
  const n = await createTallyNode(parseConfig({ dataDir: join(dir, name), transport: 'memory', bootstrap }), { memoryLedger: true, sell })
  nodes.push(n)
  await n.start()
  return n
}

async function get (api: string, path: string): Promise<any> {
  const res = await fetch(`${api}${path}`)
  expect(res.status, `${path}: ${res.status}`).toBe(200)
  return await res.json()
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-operator-'))
  const modelPath = ensureTinyModel()
  const [b1, b2] = await Promise.all([createEmbeddedBackend({ modelPath }), createEmbeddedBackend({ modelPath })])
  model = b1.model.id
  cheap = await node('cheap', [], { backend: b1, priceInPerMTokUc: 1_000n, priceOutPerMTokUc: 2_000n, maxSessions: 1 })
  dear = await node('dear', cheap.addrs(), { backend: b2, priceInPerMTokUc: 50_000n, priceOutPerMTokUc: 90_000n, maxSessions: 1 })
  buyer = await node('buyer', cheap.addrs())
  const g1 = await startGateway(buyer, { port: 0 })
  const g2 = await startGateway(dear, { port: 0 })
  gateways.push(g1, g2)
  buyerApi = g1.url
  dearApi = g2.url
  // expect.poll (waitFor) runs only inside a test: a plain poll here
  for (let i = 0; !(buyer.offerList(model).length === 2 && dear.offerList(model).length === 2); i++) {
    if (i > 1200) throw new Error('both offers did not reach the buyer\'s and the dear seller\'s books in 30 s')
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}, 60_000)

afterAll(async () => {
  await Promise.all(gateways.map(async g => await g.close()))
  for (const n of nodes.reverse()) await n.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true })
})

describe('operator API', () => {
  it('status, market, sessions, receipts and the time series move after a paid request', async () => {
    const before = await get(buyerApi, '/tally/status')
    expect(before).toMatchObject({ account: buyer.account, peerId: buyer.account, network: { net: Buffer.from(buyer.net).toString('hex') }, selling: [], ledger: { flagged: false, forks: 0 } })
    expect(before.peers.connected).toBeGreaterThan(0)
    expect(Object.keys(before.peers.byTopic).sort()).toEqual(['bids', 'offers', 'records'])
    expect(before.balance).toMatchObject({ balanceUc: 0, earnedUc: 0, spentUc: 0 })
    expect(await get(buyerApi, '/tally/receipts')).toEqual([])

    const market = await get(buyerApi, '/tally/market')
    expect(market).toEqual([{ model, offers: 2, sellers: 2, minPriceOutPerMTokUc: 2_000, medianPriceOutPerMTokUc: 2_000, parPriceOutPerMTokUc: expect.any(Number), mine: null }])

    const res = await fetch(`${buyerApi}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, seed: 1 }) })
    expect(res.status).toBe(200)
    const done: any = await res.json()
    expect(done.tally.seller).toBe(cheap.account)

    const receipts = await get(buyerApi, '/tally/receipts?limit=5')
    expect(receipts).toHaveLength(1)
    expect(receipts[0]).toMatchObject({ role: 'buyer', counterparty: cheap.account, model, outputTokens: done.usage.completion_tokens, amountUc: done.tally.cost_uc, voucher: { cumulativeUc: done.tally.cost_uc } })
    const sessions = await get(buyerApi, '/tally/sessions')
    expect(sessions).toEqual([expect.objectContaining({ role: 'buyer', counterparty: cheap.account, model, contractId: receipts[0].voucher.id, amountUc: done.tally.cost_uc })])

    // the seller's view of the same sale (its API is only a test's here: the cheap seller's operator directly)
    await waitFor(() => cheap.operator.receipts(5).length === 1, 'the sale in the seller\'s receipts')
    expect(cheap.operator.receipts(5)[0]).toMatchObject({ role: 'seller', counterparty: buyer.account, voucher: { id: receipts[0].voucher.id } })
    expect(cheap.operator.sessions()).toEqual([expect.objectContaining({ role: 'seller', counterparty: buyer.account, contractId: receipts[0].voucher.id })])

    // the session settles: the buyer's spend and the seller's earnings reach the ledger, and the series
    await buyer.closeSessions(AbortSignal.timeout(10_000))
    await waitFor(async () => (await get(buyerApi, '/tally/status')).balance.spentUc > 0, 'the settle in the buyer\'s status')
    const after = await get(buyerApi, '/tally/status')
    expect(after.balance.spentUc).toBe(-after.balance.balanceUc)
    await waitFor(() => cheap.operator.status().balance.earnedUc > 0n, 'the settle in the seller\'s status')
    await waitFor(async () => (await get(buyerApi, '/tally/timeseries')).points.some((p: any) => p.spentUc === after.balance.spentUc), 'the spend in the buyer\'s time series')
    const series = (await get(buyerApi, '/tally/timeseries')).points
    expect(series[0]).toMatchObject({ balanceUc: 0, spentUc: 0 })
    const last = series[series.length - 1]
    expect((await get(buyerApi, `/tally/timeseries?sinceMs=${last.tMs as number}`)).points).toContainEqual(last)
    expect((await get(buyerApi, `/tally/timeseries?sinceMs=${(last.tMs as number) + 1}`)).points).toEqual([])

    // a payment: spent by the payer (its own record), earned by the payee (a peer's record)
    await buyer.pay(dear.account, 1_000n)
    await waitFor(() => buyer.operator.status().balance.spentUc === BigInt(after.balance.spentUc) + 1_000n, 'the payment in the payer\'s spend')
    await waitFor(() => dear.operator.status().balance.earnedUc === 1_000n, 'the payment in the payee\'s earnings')
  })

  it('a seller-only node serves the API; its diagnosis names a price above every other offer', async () => {
    const status = await get(dearApi, '/tally/status')
    expect(status.selling).toEqual([{ model, priceInPerMTokUc: 50_000, priceOutPerMTokUc: 90_000, maxSessions: 1, sessionsOpen: 0, capabilities: expect.arrayContaining(['chat']) }])
    const market = await get(dearApi, '/tally/market')
    expect(market).toEqual([expect.objectContaining({ model, offers: 2, minPriceOutPerMTokUc: 2_000, mine: { priceOutPerMTokUc: 90_000, rank: 2, of: 2 } })])
    const diagnosis = await get(dearApi, '/tally/diagnosis')
    const rank = diagnosis.find((c: any) => c.check === 'price-rank')
    expect(rank).toMatchObject({ ok: false, detail: expect.stringMatching(/ranks 2 of 2/), fix: expect.stringMatching(/--price-out to 1999 /) })
    expect(diagnosis.map((c: any) => c.check)).toEqual(['price-rank', 'capacity', 'reachable', 'offer-seen', 'flagged', 'backend'])
    expect(diagnosis.find((c: any) => c.check === 'flagged').ok).toBe(true)
    expect(diagnosis.find((c: any) => c.check === 'offer-seen').ok).toBe(true)
    // the cheap seller is first: no price problem
    expect(cheap.operator.diagnosis().find(c => c.check === 'price-rank')?.ok).toBe(true)
  })

  it('/tally/network: the seller\'s addresses and connections; with probe=offers its peers are asked and hold its current offer', async () => {
    const plain = await get(dearApi, '/tally/network')
    expect(plain.peerId).toBe(dear.libp2p.peerId.toString())
    expect(plain.reachability.status).toBe('private') // memory addresses: loopback
    expect(plain.addrs.private).toEqual(expect.arrayContaining(dear.addrs()))
    expect(plain.connections.total).toBeGreaterThanOrEqual(1)
    expect(plain.connections.relayed).toBe(0)
    expect(plain.connections.list[0]).toMatchObject({ peer: expect.any(String), remoteAddr: expect.stringMatching(/^\/memory\//), relayed: false })
    expect(plain.history.some((e: any) => e.event === 'open')).toBe(true)
    expect(plain.offerSeen).toBeUndefined()
    const probed = await get(dearApi, '/tally/network?probe=offers')
    expect(probed.offerSeen.asked).toBeGreaterThanOrEqual(1)
    expect(probed.offerSeen.holding).toBe(probed.offerSeen.asked)
    expect(probed.offerSeen.peers[0]).toMatchObject({ holds: true, current: [model], stale: [], offersInBook: 2 })
    // the diagnosis reads the probe
    const seen = (await get(dearApi, '/tally/diagnosis')).find((c: any) => c.check === 'offer-seen')
    expect(seen).toMatchObject({ ok: true, detail: expect.stringMatching(/hold your current offer in their book/) })
    // a buyer-only node sells nothing: nothing to probe
    expect((await get(buyerApi, '/tally/network?probe=offers')).offerSeen).toBeUndefined()
  })

  it('/tally/offers without a model lists every model\'s offers, grouped by model', async () => {
    const all = await get(buyerApi, '/tally/offers')
    expect(all.offers).toHaveLength(2)
    expect(all.models).toEqual([{ model, offers: all.offers }])
    const one = await get(buyerApi, `/tally/offers?model=${model}`)
    expect(one.offers).toHaveLength(2)
    expect((await get(buyerApi, '/tally/offers?model=no-such-model')).offers).toEqual([])
  })

  it('bad queries are 400s naming the field', async () => {
    for (const [path, field] of [['/tally/receipts?limit=0', 'limit'], ['/tally/receipts?limit=x', 'limit'], ['/tally/timeseries?sinceMs=-1', 'sinceMs'], ['/tally/timeseries?sinceMs=1.5', 'sinceMs'], ['/tally/network?probe=yes', 'probe']]) {
      const res = await fetch(`${buyerApi}${path}`)
      expect(res.status, path).toBe(400)
      expect((await res.json() as any).error.param, path).toBe(field)
    }
  })
})

/**
 * Market figures: (1) offer propagation — time for one new offer to reach the order book of
 * every node of 100 in-process nodes (memory transport, plaintext, gossipsub with the market's
 * scoring and validators), p50/p95 over several offers; (2) order book ingest rate with full
 * validation (signature, ranges, expiry) and heap per 10k offers. Never fails on time.
 */
import '../../src/polyfill.js'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { defaultLogger } from '@libp2p/logger'
import { createSigner, type Ed25519Signer } from '../../src/identity/ed25519.js'
import { market, type MarketService, type OfferEventDetail } from '../../src/market/service.js'
import { signOffer, type OfferTerms } from '../../src/market/offer.js'
import { DEFAULT_MAX_OFFERS_PER_SELLER, OrderBook } from '../../src/market/order-book.js'
import { createPeer, stopAll, testNet, type TestPeer } from '../e2e/market-helpers.js'

/** benchmarks run outside vitest, so they cannot use the tests' expect.poll-based waitFor */
async function waitFor (cond: () => boolean, timeoutMs: number, stepMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, stepMs))
  }
}

const NODES = Number(process.env.TALLY_BENCH_MARKET_NODES ?? 100)
const DEGREE = 6
const OFFERS = 20
const BOOK_OFFERS = 10_000

const terms = (i: number): OfferTerms => ({
  modelId: `model-${i % 50}`,
  fingerprint: 'e'.repeat(64),
  fingerprintVerified: i % 2 === 0,
  params: BigInt(1 + (i % 70)) * 1_000_000_000n,
  quantization: ['Q4_K_M', 'Q8_0', 'F16'][i % 3],
  contextLength: 8192,
  priceInPerMTokUc: BigInt(1_000_000 + (i * 7919) % 5_000_000),
  priceOutPerMTokUc: BigInt(2_000_000 + (i * 104729) % 9_000_000),
  maxSessions: 4,
  tokensPerSec: 30,
  region: 'eu',
  multiaddrs: ['/ip4/10.0.0.1/tcp/4001', '/ip4/10.0.0.1/udp/4001/quic-v1']
})

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return Math.round(s[Math.min(s.length - 1, Math.floor(s.length * p))] * 10) / 10 }

/** deterministic pseudo-random so every run builds the same topology */
function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

async function propagation (): Promise<Record<string, unknown>> {
  const peers: TestPeer[] = []
  const services: MarketService[] = []
  const t0 = performance.now()
  for (let i = 0; i < NODES; i++) {
    const p = await createPeer({ gossip: { heartbeatInterval: 700 } })
    peers.push(p)
    const m = market()({ pubsub: p.libp2p.services.pubsub, signer: p.signer, net: testNet, logger: defaultLogger() })
    await m.start()
    services.push(m)
  }
  const rand = rng(42)
  const dials: Array<Promise<unknown>> = []
  for (let i = 0; i < NODES; i++) {
    // a ring for connectivity plus random chords
    dials.push(peers[i].libp2p.dial(peers[(i + 1) % NODES].libp2p.getMultiaddrs()[0]))
    for (let k = 0; k < DEGREE / 2 - 1; k++) {
      const j = Math.floor(rand() * NODES)
      if (j !== i) dials.push(peers[i].libp2p.dial(peers[j].libp2p.getMultiaddrs()[0]).catch(() => {}))
    }
  }
  await Promise.all(dials)
  // let meshes form
  await waitFor(() => peers.every(p => p.libp2p.services.pubsub.getMeshPeers(services[0].offersTopic).length >= 2), 60_000, 100)
  await new Promise(resolve => setTimeout(resolve, 3_000))
  const setupMs = performance.now() - t0

  const perOffer: number[] = []
  const perNode: number[] = []
  const rand2 = rng(7)
  try {
    for (let r = 0; r < OFFERS; r++) {
      const src = Math.floor(rand2() * NODES)
      const modelId = `prop-${r}`
      const arrivals = new Map<number, number>()
      const listeners = services.map((s, i) => {
        const fn = (e: Event): void => {
          const d = (e as CustomEvent<OfferEventDetail>).detail
          if (d.offer.modelId === modelId && !arrivals.has(i)) arrivals.set(i, performance.now())
        }
        s.addEventListener('offer', fn)
        return fn
      })
      const start = performance.now()
      await services[src].setOffer({ ...terms(r), modelId })
      await waitFor(() => arrivals.size === NODES - 1, 30_000, 5)
      const times = [...arrivals.values()].map(t => t - start)
      perNode.push(...times)
      perOffer.push(Math.max(...times))
      services.forEach((s, i) => { s.removeEventListener('offer', listeners[i]) })
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  } finally {
    await Promise.all(services.map(async s => s.stop()))
    await stopAll(peers)
  }
  return {
    nodes: NODES,
    degree: DEGREE,
    offers: OFFERS,
    setupMs: Math.round(setupMs),
    allNodesReachedP50Ms: pct(perOffer, 0.5),
    allNodesReachedP95Ms: pct(perOffer, 0.95),
    perNodeArrivalP50Ms: pct(perNode, 0.5),
    perNodeArrivalP95Ms: pct(perNode, 0.95),
    targetP95Ms: 1000
  }
}

function heapUsed (): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc(); gc()
  return process.memoryUsage().heapUsed
}

function book (): Record<string, unknown> {
  const now = Date.now()
  const sellers: Ed25519Signer[] = Array.from({ length: BOOK_OFFERS / 10 }, (_, i) => {
    const seed = new Uint8Array(32)
    new DataView(seed.buffer).setUint32(0, i + 1)
    return createSigner(seed)
  })
  const t0 = performance.now()
  const encoded = Array.from({ length: BOOK_OFFERS }, (_, i) => signOffer(sellers[i % sellers.length], testNet, { ...terms(i), modelId: `model-${Math.floor(i / sellers.length)}` }, { seq: BigInt(i + 1), expiresAtMs: BigInt(now + 100_000) }).bytes)
  const signMs = performance.now() - t0
  const before = heapUsed()
  // admission limits off (every seller here is new): this measures verification and insertion
  const ob = new OrderBook({ freshSharePercent: 100, maxOffersPerFreshSeller: DEFAULT_MAX_OFFERS_PER_SELLER })
  const t1 = performance.now()
  let accepted = 0
  for (const b of encoded) if (ob.ingest(b, testNet, now).status === 'accepted') accepted++
  const ingestMs = performance.now() - t1
  const after = heapUsed()
  const t2 = performance.now()
  const q = ob.query({ model: 'model-3' }, now)
  const queryOneModelMs = performance.now() - t2
  const t3 = performance.now()
  const all = ob.query({}, now)
  const queryAllMs = performance.now() - t3
  return {
    offers: BOOK_OFFERS,
    accepted,
    bytesPerOffer: Math.round(encoded.reduce((n, b) => n + b.length, 0) / encoded.length),
    signPerSec: Math.round(BOOK_OFFERS / (signMs / 1000)),
    ingestWithValidationPerSec: Math.round(BOOK_OFFERS / (ingestMs / 1000)),
    heapMiBPer10kOffers: Math.round((after - before) / 2 ** 20 * (10_000 / BOOK_OFFERS) * 100) / 100,
    queryOneModelMs: Math.round(queryOneModelMs * 100) / 100,
    queryOneModelHits: q.length,
    queryAllModelsMs: Math.round(queryAllMs * 100) / 100,
    queryAllHits: all.length
  }
}

export default async function (): Promise<Record<string, unknown>> {
  const orderBook = book()
  const prop = await propagation()
  return { orderBook, propagation: prop }
}

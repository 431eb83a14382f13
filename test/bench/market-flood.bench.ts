/**
 * Offer flood (issue 15.4): 12,000 valid offers from 750 fresh keys, each for its own model id,
 * arrive at an order book that holds 400 honest offers (200 sellers with settled sessions, 2
 * models each). Figures: honest offers still in the book, the /v1/models listing's time, and an
 * honest request's candidate query (one model) while the book is full. Never fails on time.
 */
import '../../src/polyfill.js'
import { createSigner, type Ed25519Signer } from '../../src/identity/ed25519.js'
import { openOffer, signOffer, type OfferTerms } from '../../src/market/offer.js'
import { OrderBook } from '../../src/market/order-book.js'
import { testNet } from '../e2e/market-helpers.js'

const HONEST_SELLERS = 200
const HONEST_MODELS = 20
const FLOOD_KEYS = 750
const FLOOD_OFFERS = 12_000

const terms = (modelId: string, i: number): OfferTerms => ({
  modelId,
  fingerprint: 'e'.repeat(64),
  fingerprintVerified: false,
  params: 7_000_000_000n,
  quantization: 'Q4_K_M',
  contextLength: 8192,
  priceInPerMTokUc: BigInt(1_000_000 + (i * 7919) % 5_000_000),
  priceOutPerMTokUc: BigInt(2_000_000 + (i * 104729) % 9_000_000),
  maxSessions: 4,
  tokensPerSec: 30,
  region: 'eu',
  multiaddrs: ['/ip4/10.0.0.1/tcp/4001']
})

function signer (i: number): Ed25519Signer {
  const seed = new Uint8Array(32)
  new DataView(seed.buffer).setUint32(0, i + 1)
  return createSigner(seed)
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 100) / 100

export default async function (): Promise<Record<string, unknown>> {
  const now = Date.now()
  const exp = BigInt(now + 100_000)
  const honest = Array.from({ length: HONEST_SELLERS }, (_, i) => signer(i))
  const honestIds = new Set<string>()
  const honestOffers = honest.flatMap((s, i) => [0, 1].map(k => {
    const o = signOffer(s, testNet, terms(`honest-${(i + k * 7) % HONEST_MODELS}`, i), { seq: BigInt(1 + k), expiresAtMs: exp })
    honestIds.add(o.sellerId)
    return o
  }))
  const flooders = Array.from({ length: FLOOD_KEYS }, (_, i) => signer(100_000 + i))
  const flood = Array.from({ length: FLOOD_OFFERS }, (_, i) => signOffer(flooders[i % FLOOD_KEYS], testNet, terms(`flood-${i}`, i), { seq: BigInt(1 + Math.floor(i / FLOOD_KEYS)), expiresAtMs: exp }).bytes)

  const book = new OrderBook({
    // what the node composes from its ledger: the honest sellers have settled sessions
    standing: (seller: string) => ({ settledSessions: honestIds.has(seller) ? 5 : 0, earnedUc: 0n })
  })
  for (const o of honestOffers) book.add(o, now)
  // verification (signature, ranges) and admission timed apart: the first dominates and does not depend on the book
  const tv = performance.now()
  const opened = flood.map(b => openOffer(b, testNet, now))
  const verifyMs = ms(tv)
  const t0 = performance.now()
  const status: Record<string, number> = {}
  for (const o of opened) { const s = book.add(o, now); status[s] = (status[s] ?? 0) + 1 }
  const addMs = ms(t0)
  const honestLeft = book.query({}, now).filter(r => honestIds.has(r.offer.sellerId)).length

  // /v1/models as src/node/tally.ts built it before the fix: one query per model
  const t1 = performance.now()
  const perModel = book.models(now).map(id => book.query({ model: id }, now).length)
  const modelsPerModelQueryMs = ms(t1)
  const t2 = performance.now()
  const modelsListed = book.modelSummaries(now).length
  const modelsOnePassMs = ms(t2)
  const t3 = performance.now()
  const reps = 100
  let hits = 0
  for (let r = 0; r < reps; r++) hits += book.query({ model: `honest-${r % HONEST_MODELS}` }, now).length
  const honestCandidatesQueryMs = Math.round((performance.now() - t3) / reps * 1000) / 1000
  const t4 = performance.now()
  for (let r = 0; r < reps; r++) book.models(now).includes(`honest-${r % HONEST_MODELS}`)
  const modelExistsCheckMs = Math.round((performance.now() - t4) / reps * 1000) / 1000
  // a full book of 10,000 offers on 10,000 models (no admission limits but the total): the listing's cost at capacity
  const full = new OrderBook({ freshSharePercent: 100, maxOffersPerFreshSeller: 16 })
  for (const o of opened.slice(0, 10_000)) full.add(o, now)
  const t5 = performance.now()
  const fullListed = full.modelSummaries(now).length
  const fullBookModelsOnePassMs = ms(t5)
  return {
    fullBookModels: fullListed,
    fullBookModelsOnePassMs,
    honestOffers: honestOffers.length,
    floodOffers: FLOOD_OFFERS,
    floodKeys: FLOOD_KEYS,
    floodStatus: status,
    floodVerifyMs: verifyMs,
    floodAddMs: addMs,
    bookSize: book.size,
    honestOffersLeft: honestLeft,
    modelsListed,
    modelsPerModelQueryMs,
    modelsOnePassMs,
    honestCandidatesQueryMs,
    honestCandidatesHitsPerQuery: hits / reps,
    modelExistsCheckMs
  }
}

/**
 * Offer flood against a real buyer node (issue 15.4; protocols/market.md § Order book): a raw peer
 * publishes valid offers from many fresh keys on the offers topic while the buyer routes requests.
 * The honest seller (history in the ledger) keeps its place in the buyer's book and stays
 * routable; the fresh keys share a quarter of the book.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { stopAll, type TestPeer } from './market-helpers.js'
import { floodTerms, hostilePeer } from './hostile/peer.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { createSigner, generateSeed } from '../../src/identity/ed25519.js'
import { netId } from '../../src/ledger/genesis.js'
import { signOffer } from '../../src/market/offer.js'
import { DEV_GENESIS } from '../../src/node/defaults.js'

useTallyCleanup()
const peers: TestPeer[] = []
afterEach(async () => { await stopAll(peers.splice(0)) })

const net = netId(DEV_GENESIS)
const BOOK = 40
const FLOOD_KEYS = 50
const FLOOD_OFFERS = 200

describe('market: offer flood', () => {
  it('a seller with ledger history stays in the book and routable while many fresh keys flood the offers topic', async () => {
    await honestSurvivesFlood('settled')
  })

  it('a seller without history that served this buyer\'s request stays (the router marks the offer)', async () => {
    await honestSurvivesFlood('routed')
  })
})

/** `settled`: the buyer's session with the seller settles before the flood; `routed`: it stays open (the seller has no history) */
async function honestSurvivesFlood (standing: 'settled' | 'routed'): Promise<void> {
  const seller = await startNode({}, { sell: { backend: new SimulatedBackend({ modelId: 'sim-7b', params: 7_000_000_000, tokensPerChunk: 4 }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n } })
  // a small book so the test floods it with a few hundred offers; the ledger is asked on every arrival
  const buyer = await startNode({ bootstrap: seller.addrs() }, { market: { book: { maxOffers: BOOK, standingRefreshMs: 0 } } })
  await waitFor(() => buyer.offerList('sim-7b').length === 1, 'the seller\'s offer at the buyer')
  const ask = async (content: string): Promise<string> => (await buyer.infer('sim-7b', { messages: [{ role: 'user', content }], maxTokens: 8 })).seller
  expect(await ask('before')).toBe(seller.account)
  if (standing === 'settled') {
    // the session settles: the seller has history in every ledger
    expect(await buyer.closeSessions()).toBe(1)
    await waitFor(() => buyer.book.tier(seller.account, Date.now()) === 'proven', 'the seller proven in the buyer\'s ledger')
  } else {
    // its one session still open, nothing settled: only the router's mark keeps the offer
    expect(buyer.book.tier(seller.account, Date.now())).toBe('fresh')
  }

  const hostile = await hostilePeer()
  peers.push(hostile)
  const topic = buyer.base.topics.offers
  const pubsub = hostile.libp2p.services.pubsub
  pubsub.subscribe(topic)
  await hostile.libp2p.dial(buyer.libp2p.getMultiaddrs()[0])
  await waitFor(() => (buyer.libp2p.services.pubsub as unknown as { getSubscribers: (t: string) => unknown[] }).getSubscribers(topic).length >= 2, 'the hostile peer on the offers topic')
  const keys = Array.from({ length: FLOOD_KEYS }, () => createSigner(generateSeed()))
  const flood = Array.from({ length: FLOOD_OFFERS }, (_, i) => signOffer(keys[i % FLOOD_KEYS], net, floodTerms(`flood-${i}`), { seq: BigInt(1 + Math.floor(i / FLOOD_KEYS)), expiresAtMs: BigInt(Date.now() + 110_000) }).bytes)
  const accepted0 = buyer.market.stats.offersAccepted
  const publishing = (async () => { for (const b of flood) await pubsub.publish(topic, b).catch(() => {}) })()
  // an honest request while the flood arrives
  const during = ask('during')
  await publishing
  expect(await during).toBe(seller.account)
  await waitFor(() => buyer.market.stats.offersAccepted - accepted0 >= FLOOD_OFFERS, 'the flood taken in (valid offers are accepted)')

  expect(buyer.book.size).toBeLessThanOrEqual(BOOK)
  expect(buyer.book.freshSize).toBeLessThanOrEqual(BOOK / 4)
  expect(buyer.offerList('sim-7b').map(o => o.seller)).toEqual([seller.account])
  const models = buyer.models()
  expect(models.find(m => m.id === 'sim-7b')).toMatchObject({ sellers: 1, bestPriceOutPerMTokUc: 2_000_000n })
  expect(models.length).toBeLessThanOrEqual(1 + BOOK / 4)
  // every model's offers when no model is named
  expect(new Set(buyer.offerList().map(o => o.model)).size).toBe(models.length)
  expect(await ask('after')).toBe(seller.account)
}

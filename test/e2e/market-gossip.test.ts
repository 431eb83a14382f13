import { afterEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '@libp2p/logger'
import { Envelope } from '../../src/wire/pb/envelope.js'
import { createSigner, generateSeed } from '../../src/identity/ed25519.js'
import { market, type MarketService } from '../../src/market/service.js'
import { signOffer, type OfferTerms } from '../../src/market/offer.js'
import { MARKET_SCORE_THRESHOLDS } from '../../src/market/gossip-options.js'
import { offersTopic } from '../../src/wire/topics.js'
import { connect, createPeer, otherNet, stopAll, testNet, type TestPeer } from './market-helpers.js'
import { waitFor } from '../helpers/wait.js'

const terms = (over: Partial<OfferTerms> = {}): OfferTerms => ({
  modelId: 'llama-3-8b',
  fingerprint: 'a'.repeat(64),
  fingerprintVerified: true,
  params: 8_000_000_000n,
  quantization: 'Q4_K_M',
  contextLength: 8192,
  priceInPerMTokUc: 4_000_000n,
  priceOutPerMTokUc: 8_000_000n,
  maxSessions: 4,
  tokensPerSec: 50,
  region: 'eu',
  multiaddrs: [],
  ...over
})

let peers: TestPeer[] = []
let services: MarketService[] = []

afterEach(async () => {
  await Promise.all(services.map(async s => s.stop()))
  await stopAll(peers)
  peers = []
  services = []
})

async function marketPeer (init: Parameters<typeof market>[0] = {}): Promise<{ peer: TestPeer, svc: MarketService }> {
  const peer = await createPeer()
  const svc = market(init)({ pubsub: peer.libp2p.services.pubsub, signer: peer.signer, net: testNet, logger: defaultLogger() })
  await svc.start()
  peers.push(peer)
  services.push(svc)
  return { peer, svc }
}

describe('market gossip', () => {
  it('an offer announced to nobody is announced again when a first peer joins; a heard one is not re-announced per join', async () => {
    const s = await marketPeer()
    await s.svc.setOffer(terms())
    const b = await marketPeer()
    await connect(s.peer, b.peer)
    await waitFor(() => b.svc.book.query({ model: 'llama-3-8b' }, Date.now()).length === 1)
    // the offer has been heard: a later joiner waits for the next periodic announce (or pulls a
    // neighbour's book over /tally/offers in a full node) instead of every join flooding the network
    const c = await marketPeer()
    await connect(s.peer, c.peer)
    await waitFor(() => s.peer.libp2p.services.pubsub.getMeshPeers(s.svc.offersTopic).includes(c.peer.libp2p.peerId.toString()), 'c in the seller\'s mesh')
    // a deliberate wait: the subject is an announce that must NOT come
    await new Promise(resolve => setTimeout(resolve, 1_000))
    expect(c.svc.book.query({ model: 'llama-3-8b' }, Date.now())).toHaveLength(0)
    // and not for want of a path: a new offer from the same seller does reach c
    await s.svc.setOffer(terms({ modelId: 'qwen-14b' }))
    await waitFor(() => c.svc.book.query({ model: 'qwen-14b' }, Date.now()).length === 1, 'the new offer at c')
  })

  it('offers reach every book in price order; a withdrawal removes the offer everywhere', async () => {
    const a = await marketPeer()
    const b = await marketPeer()
    const c = await marketPeer()
    await connect(a.peer, c.peer)
    await connect(b.peer, c.peer)
    await connect(a.peer, b.peer)
    await waitFor(() => c.peer.libp2p.services.pubsub.getSubscribers(c.svc.offersTopic).length === 2)
    await waitFor(() => a.peer.libp2p.services.pubsub.getMeshPeers(a.svc.offersTopic).length > 0 && b.peer.libp2p.services.pubsub.getMeshPeers(b.svc.offersTopic).length > 0)

    const expensive = await a.svc.setOffer(terms({ priceOutPerMTokUc: 9_000_000n }))
    const cheap = await b.svc.setOffer(terms({ priceOutPerMTokUc: 7_000_000n }))
    await waitFor(() => c.svc.book.query({ model: 'llama-3-8b' }, Date.now()).length === 2)
    const ranked = c.svc.book.query({ model: 'llama-3-8b' }, Date.now())
    expect(ranked.map(r => r.offer.sellerId)).toEqual([cheap.sellerId, expensive.sellerId])
    expect(Buffer.from(ranked[0].offer.bytes)).toEqual(Buffer.from(cheap.bytes))
    await waitFor(() => a.svc.book.query({ model: 'llama-3-8b' }, Date.now()).length === 2)

    await b.svc.withdraw('llama-3-8b')
    for (const s of [a.svc, b.svc, c.svc]) {
      await waitFor(() => s.book.query({ model: 'llama-3-8b' }, Date.now()).every(r => r.offer.sellerId !== cheap.sellerId))
      expect(s.book.get(cheap.sellerId, 'llama-3-8b', Date.now())).toBeUndefined()
    }
    // the older offer, replayed, does not bring the withdrawn one back
    expect(c.svc.book.add(cheap, Date.now())).toBe('stale')
    expect(c.svc.book.query({ model: 'llama-3-8b' }, Date.now()).map(r => r.offer.sellerId)).toEqual([expensive.sellerId])
  })

  it('re-announces with a newer seq and withdraws on stop', async () => {
    const a = await marketPeer({ announceIntervalMs: 150 })
    const c = await marketPeer()
    await connect(a.peer, c.peer)
    await waitFor(() => a.peer.libp2p.services.pubsub.getMeshPeers(a.svc.offersTopic).length > 0)
    const first = await a.svc.setOffer(terms())
    await waitFor(() => (c.svc.book.get(first.sellerId, 'llama-3-8b', Date.now())?.seq ?? 0n) > first.seq)
    await a.svc.stop()
    await waitFor(() => c.svc.book.get(first.sellerId, 'llama-3-8b', Date.now()) === undefined)
  })

  it('bids are validated and reach sellers', async () => {
    const a = await marketPeer()
    const c = await marketPeer()
    await connect(a.peer, c.peer)
    await waitFor(() => c.peer.libp2p.services.pubsub.getMeshPeers(c.svc.bidsTopic).length > 0)
    const bid = await c.svc.publishBid({ modelId: 'llama-3-8b', minParams: 7_000_000_000n, quantizations: ['Q4_K_M'], maxPriceInPerMTokUc: 5_000_000n, maxPriceOutPerMTokUc: 9_000_000n, expectedInputTokens: 500n, expectedOutputTokens: 500n })
    await waitFor(() => a.svc.bids.list(Date.now()).length === 1)
    expect(a.svc.bids.list(Date.now(), 'llama-3-8b')[0].buyerId).toBe(bid.buyerId)
  })

  it('a hostile peer publishing invalid offers is graylisted while honest offers keep flowing', async () => {
    const honest = await marketPeer({ announceIntervalMs: 200 })
    const victim = await marketPeer()
    // the hostile node runs no validators and plain scoring: it just floods the topic
    const hostile = await createPeer({ marketScoring: false })
    peers.push(hostile)
    const topic = offersTopic(testNet)
    hostile.libp2p.services.pubsub.subscribe(topic)
    await connect(honest.peer, victim.peer)
    await connect(hostile, victim.peer)
    await waitFor(() => victim.peer.libp2p.services.pubsub.getSubscribers(topic).length === 2)

    const liar = createSigner(generateSeed())
    const valid = signOffer(liar, testNet, terms(), { seq: 1n, expiresAtMs: BigInt(Date.now() + 60_000) })
    const env = Envelope.decode(valid.bytes)
    const badSig = Envelope.encode({ ...env, signature: env.signature.map((x, i) => i === 0 ? x ^ 1 : x) })
    const wrongNet = signOffer(liar, otherNet, terms(), { seq: 2n, expiresAtMs: BigInt(Date.now() + 60_000) }).bytes
    const garbage = new Uint8Array([1, 2, 3, 4, 5])
    const lies = [badSig, wrongNet, garbage]
    let i = 0
    const flood = setInterval(() => {
      // gossipsub dedups identical data, so each lie gets a unique trailing byte where it still decodes
      const lie = lies[i % lies.length]
      const unique = new Uint8Array(lie.length + 2)
      unique.set(lie)
      unique.set([0x78, i++ & 0x7f], lie.length) // unknown field 15 varint: still the same envelope
      void hostile.libp2p.services.pubsub.publish(topic, unique).catch(() => {})
    }, 30)
    try {
      const first = await honest.svc.setOffer(terms())
      const victimPubsub = victim.peer.libp2p.services.pubsub
      const hostileId = hostile.libp2p.peerId.toString()
      await waitFor(() => victimPubsub.getScore(hostileId) < MARKET_SCORE_THRESHOLDS.graylistThreshold, 'the hostile peer graylisted', 15_000)
      expect(victim.svc.stats.offersRejected).toBeGreaterThanOrEqual(3)
      // graylisted: its RPCs are dropped before validation, so the rejection count stops growing
      // (gossipsub keeps accepting from a peer for up to 1 s after it last scored well). Both waits
      // below are deliberate: the subject is rejections that must NOT grow while the flood goes on
      await new Promise(resolve => setTimeout(resolve, 1_500))
      expect(victimPubsub.getScore(hostileId)).toBeLessThan(MARKET_SCORE_THRESHOLDS.graylistThreshold)
      const rejectedAtGraylist = victim.svc.stats.offersRejected
      const sentAtGraylist = i
      await new Promise(resolve => setTimeout(resolve, 1_000))
      expect(i - sentAtGraylist).toBeGreaterThan(3)
      expect(victim.svc.stats.offersRejected - rejectedAtGraylist).toBeLessThanOrEqual(1)
      expect(victimPubsub.getMeshPeers(topic)).not.toContain(hostileId)
      // honest offers still arrive: the re-announced offer keeps replacing the held one
      const seqNow = victim.svc.book.get(first.sellerId, 'llama-3-8b', Date.now())?.seq ?? 0n
      await waitFor(() => (victim.svc.book.get(first.sellerId, 'llama-3-8b', Date.now())?.seq ?? 0n) > seqNow)
      expect(victimPubsub.getScore(honest.peer.libp2p.peerId.toString())).toBeGreaterThanOrEqual(0)
    } finally {
      clearInterval(flood)
    }
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { market, type MarketService } from '../../src/market/service.js'
import type { OfferTerms } from '../../src/market/offer.js'
import { negotiate, type Negotiator } from '../../src/contract/negotiate.js'
import { verifyContract, type Contract } from '../../src/contract/messages.js'
import { connect, createPeer, stopAll, testNet, type TestPeer } from './market-helpers.js'
import { waitFor } from '../helpers/wait.js'

interface Node { peer: TestPeer, market: MarketService, negotiator: Negotiator }
let nodes: Node[] = []

afterEach(async () => {
  for (const n of nodes) {
    await n.market.stop()
    await n.negotiator.stop()
  }
  await stopAll(nodes.map(n => n.peer))
  nodes = []
})

async function node (): Promise<Node> {
  const peer = await createPeer()
  const m = market()({ pubsub: peer.libp2p.services.pubsub, signer: peer.signer, net: testNet, logger: defaultLogger() })
  const negotiator = negotiate()({
    libp2p: peer.libp2p,
    signer: peer.signer,
    net: testNet,
    logger: defaultLogger(),
    sellerTerms: id => m.ownTerms(id),
    // a full seller stays on the market marked busy, and is free again when a session ends
    onCapacity: (id, reserved, max) => { m.setBusy(id, reserved >= max) }
  })
  await m.start()
  await negotiator.start()
  const n = { peer, market: m, negotiator }
  nodes.push(n)
  return n
}

const offer = (peer: TestPeer, priceOut: bigint): OfferTerms => ({
  modelId: 'qwen-14b',
  fingerprint: 'b'.repeat(64),
  fingerprintVerified: true,
  params: 14_000_000_000n,
  quantization: 'Q8_0',
  contextLength: 32_768,
  priceInPerMTokUc: 5_000_000n,
  priceOutPerMTokUc: priceOut,
  maxSessions: 2,
  tokensPerSec: 40,
  region: 'us',
  multiaddrs: peer.libp2p.getMultiaddrs().map(m => m.toString())
})

describe('market: two sellers, one buyer', () => {
  it('buyer ranks both offers, contracts with the cheaper, and a withdrawal empties every book', async () => {
    const sellerA = await node()
    const sellerB = await node()
    const buyer = await node()
    await connect(sellerA.peer, buyer.peer)
    await connect(sellerB.peer, buyer.peer)
    await waitFor(() => buyer.peer.libp2p.services.pubsub.getMeshPeers(buyer.market.offersTopic).length === 2)

    await sellerA.market.setOffer(offer(sellerA.peer, 16_000_000n))
    await sellerB.market.setOffer(offer(sellerB.peer, 14_000_000n))
    await waitFor(() => buyer.market.book.query({ model: 'qwen-14b' }, Date.now()).length === 2)
    const ranked = buyer.market.book.query({ model: 'qwen-14b' }, Date.now())
    expect(ranked.map(r => r.offer.sellerId)).toEqual([sellerB.peer.libp2p.peerId.toString(), sellerA.peer.libp2p.peerId.toString()])
    expect(ranked[0].pricePerBpt).toBe(1)

    let sellerCopy: Contract | undefined
    sellerB.negotiator.addEventListener('contract', (e: any) => { sellerCopy = e.detail })
    const best = ranked[0].offer
    const contract = await buyer.negotiator.negotiate(best.multiaddrs.map(a => multiaddr(a)), {
      modelId: best.modelId,
      maxPriceInPerMTokUc: best.priceInPerMTokUc,
      maxPriceOutPerMTokUc: best.priceOutPerMTokUc,
      maxSpendUc: 1_000_000n,
      sessionExpiresAtMs: BigInt(Date.now() + 10 * 60_000)
    })
    await waitFor(() => sellerCopy != null)
    expect(Buffer.from(sellerCopy!.bytes)).toEqual(Buffer.from(contract.bytes))
    expect(contract.sellerId).toBe(best.sellerId)
    expect(contract.priceOutPerMTokUc).toBe(14_000_000n)
    expect(verifyContract(sellerCopy!.bytes, testNet).contractId).toEqual(contract.contractId)

    await sellerA.market.withdraw('qwen-14b')
    for (const n of nodes) {
      await waitFor(() => n.market.book.query({ model: 'qwen-14b' }, Date.now()).every(r => r.offer.sellerId !== sellerA.peer.libp2p.peerId.toString()))
    }
    expect(buyer.market.book.query({ model: 'qwen-14b' }, Date.now()).map(r => r.offer.sellerId)).toEqual([sellerB.peer.libp2p.peerId.toString()])
  })

  it('a seller at capacity stays in every book marked busy and is free again when the session ends', async () => {
    const seller = await node()
    const buyer = await node()
    await connect(seller.peer, buyer.peer)
    await waitFor(() => buyer.peer.libp2p.services.pubsub.getMeshPeers(buyer.market.offersTopic).length === 1)
    await seller.market.setOffer({ ...offer(seller.peer, 14_000_000n), maxSessions: 1 })
    await waitFor(() => buyer.market.book.query({ model: 'qwen-14b' }, Date.now()).length === 1)
    const contract = await buyer.negotiator.negotiate(seller.peer.libp2p.getMultiaddrs(), {
      modelId: 'qwen-14b', maxSpendUc: 1_000n, sessionExpiresAtMs: BigInt(Date.now() + 60_000)
    })
    const offers = (): Array<{ busy: boolean }> => buyer.market.book.query({ model: 'qwen-14b' }, Date.now()).map(r => r.offer)
    await waitFor(() => offers().length === 1 && offers()[0].busy)
    expect(seller.market.ownTerms('qwen-14b')).toBeDefined()
    seller.negotiator.releaseSession(contract.contractId)
    // the busy announce is rate-limited (DEFAULT_BUSY_ANNOUNCE_MIN_MS): free again within about a second
    await waitFor(() => offers().length === 1 && !offers()[0].busy)
  })
})

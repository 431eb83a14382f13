/**
 * A peer that publishes bytes that are not records, or record envelopes over the size limit, on
 * the records topic is scored down by a real node: the message id function must not throw on them
 * (gossipsub would drop them unscored), so the topic validator sees and Rejects each one.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { stopAll, type TestPeer } from './market-helpers.js'
import { hostilePeer, junk, oversizedRecord } from './hostile/peer.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'
import { createSigner, generateSeed } from '../../src/identity/ed25519.js'
import { netId } from '../../src/ledger/genesis.js'
import { DEV_GENESIS } from '../../src/node/defaults.js'

useTallyCleanup()
const peers: TestPeer[] = []
afterEach(async () => { await stopAll(peers.splice(0)) })

const signer = createSigner(generateSeed())
const net = netId(DEV_GENESIS)

describe('records topic: hostile publisher', () => {
  it('garbage on the records topic lowers the sender\'s score; the node keeps its ledger', async () => {
    await floodIsScored(junk)
  })

  it('oversized record envelopes (and oversized junk) are Rejected and scored, not dropped before validation', async () => {
    await floodIsScored((i) => i % 2 === 0 ? oversizedRecord(signer, net, i) : new Uint8Array(20_000).fill(i & 0xff))
  })
})

/** a raw peer publishes `message(i)` every 20 ms: each is Rejected by the node's validator and lowers the peer's score */
async function floodIsScored (message: (i: number) => Uint8Array): Promise<void> {
  const victim = await startNode()
  // unsigned messages, as Tally's topics require (a signed one is refused before its id is taken)
  const hostile = await hostilePeer()
  peers.push(hostile)
  const topic = victim.base.topics.records
  const hostileId = hostile.libp2p.peerId.toString()
  const pubsub = hostile.libp2p.services.pubsub
  pubsub.subscribe(topic)
  await hostile.libp2p.dial(victim.libp2p.getMultiaddrs()[0])
  const victimPubsub = victim.libp2p.services.pubsub as unknown as { getScore: (p: string) => number, getSubscribers: (t: string) => unknown[], score: { peerStats: Map<string, { topics: Record<string, { invalidMessageDeliveries: number }> }> } }
  // gossipsub's own count of messages its validator rejected from this peer on this topic
  const rejected = (): number => victimPubsub.score.peerStats.get(hostileId)?.topics[topic]?.invalidMessageDeliveries ?? 0
  await waitFor(() => victimPubsub.getSubscribers(topic).length === 1)
  let i = 0
  const flood = setInterval(() => {
    // each message differs, so none is a duplicate; none is a valid record envelope
    void pubsub.publish(topic, message(i++)).catch(() => {})
  }, 20)
  try {
    await waitFor(() => rejected() >= 3 && victimPubsub.getScore(hostileId) < 0, 'the hostile peer\'s garbage rejected and scored', 15_000)
  } finally {
    clearInterval(flood)
  }
  expect(i).toBeGreaterThan(0)
  expect(victim.ledger.ledger.size).toBe(0)
}

/**
 * A peer that publishes bytes that are not records on the records topic is scored down by a real
 * node: the message id function must not throw on them (gossipsub would drop them unscored),
 * so the topic validator sees and Rejects each one.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createPeer, stopAll, type TestPeer } from './market-helpers.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()
const peers: TestPeer[] = []
afterEach(async () => { await stopAll(peers.splice(0)) })

describe('records topic: hostile publisher', () => {
  it('garbage on the records topic lowers the sender\'s score; the node keeps its ledger', async () => {
    const victim = await startNode()
    // unsigned messages, as Tally's topics require (a signed one is refused before its id is taken)
    const hostile = await createPeer({ marketScoring: false, encryption: 'noise', gossip: { globalSignaturePolicy: 'StrictNoSign' } })
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
      // each message differs, so none is a duplicate; none decodes as a record envelope
      void pubsub.publish(topic, new Uint8Array([0xff, 0xfe, i & 0xff, (i++ >> 8) & 0xff])).catch(() => {})
    }, 20)
    try {
      await waitFor(() => rejected() >= 3 && victimPubsub.getScore(hostileId) < 0, 'the hostile peer\'s garbage rejected and scored', 15_000)
    } finally {
      clearInterval(flood)
    }
    expect(i).toBeGreaterThan(0)
    expect(victim.ledger.ledger.size).toBe(0)
  })
})

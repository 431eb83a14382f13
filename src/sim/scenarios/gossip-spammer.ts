/**
 * gossip-spammer: an adversary floods the records topic with invalid records (random bytes,
 * corrupted copies of valid ones). Validators reject them, gossipsub scoring punishes the
 * spammer, and honest trading goes on unaffected.
 */
import { defineScenario } from '../scenario.js'
import { publishSpam } from '../adversaries/spam.js'

/** spam messages per 100 ms */
const SPAM_BATCH = 20

export default defineScenario({
  name: 'gossip-spammer',
  description: `an adversary publishes ${SPAM_BATCH * 10} invalid records per second on the records topic`,
  defaults: { sellersShare: 0.3, durationMs: 8_000 },
  run: async (ctx) => {
    const spammer = await ctx.addPeer({ role: 'buyer', adversary: 'gossip-spammer' })
    let sent = 0
    let attempted = 0
    ctx.every(100, async () => {
      const ref = ctx.running().find(p => p.adversary == null)?.node
      const ids = ref == null ? [] : [...ref.ledger.ledger.records()].slice(0, 1)
      attempted += SPAM_BATCH
      sent += await publishSpam(spammer.node, ctx.rng, SPAM_BATCH, ids[0]?.bytes)
      // a publish the spammer's own node refuses (no peer takes its messages any more) is not sent
      ctx.figure('spamAttempted', attempted)
      ctx.figure('spamSent', sent)
    })
  },
  finish: async (ctx) => {
    const spammer = ctx.peers.find(p => p.adversary === 'gossip-spammer')!
    const id = spammer.node.libp2p.peerId.toString()
    const honest = ctx.running().filter(p => p.adversary == null)
    const connected = honest.filter(p => p.node.libp2p.getConnections().some(c => c.remotePeer.toString() === id))
    ctx.figure('honestPeersConnectedToSpammer', connected.length)
    ctx.figure('honestPeersScoringSpammerNegative', connected.filter(p => (p.node.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(id) < 0).length)
    // no honest ledger holds a record from the spammer
    ctx.figure('spamRecordsAccepted', honest.reduce((n, p) => n + p.node.ledger.history(spammer.node.account).length, 0))
  }
})

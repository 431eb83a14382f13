/**
 * Gossipsub settings for the market topics: peer scoring that turns Rejected (invalid)
 * offers and bids into a negative score fast, so a peer that keeps sending them is pruned from
 * the mesh and then graylisted (its RPCs ignored), while honest peers keep a positive score.
 */
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import { bidsTopic, offersTopic } from '../wire/topics.js'

/** thresholds: gossip < 0 stops IHAVE exchange, publish stops our publishes, graylist drops RPCs */
export const MARKET_SCORE_THRESHOLDS: PeerScoreThresholds = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 5
}

/**
 * P4 (invalid deliveries) = weight · count² · topicWeight: with weight -10 and topicWeight 1,
 * one invalid offer costs -10 (below gossipThreshold, pruned at the next heartbeat), three cost
 * -90 (below graylistThreshold). The counter decays by 0.99 per second (about 1%/s), so a peer
 * that stopped lying recovers over minutes, not seconds.
 */
export function marketTopicScoreParams (): TopicScoreParams {
  return {
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1_000,
    timeInMeshCap: 100,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 5,
    // offers are sparse (one per seller per 30 s): no penalty for quiet mesh peers
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.9,
    meshMessageDeliveriesCap: 10,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 60_000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.9,
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.99
  }
}

export interface MarketScoreOptions {
  /** extra topics (e.g. the ledger's) the node scores; merged over the market's */
  topics?: Record<string, TopicScoreParams>
}

/**
 * Partial gossipsub init for a node that carries the market: spread it into `gossipsub({...})`.
 * It sets scoreParams/scoreThresholds for the two market topics and lets a seller publish its
 * offer before anyone subscribed (the offer is re-announced anyway).
 */
export function marketGossipsubOptions (net: Uint8Array, opts: MarketScoreOptions = {}): {
  scoreParams: Partial<PeerScoreParams>
  scoreThresholds: Partial<PeerScoreThresholds>
  allowPublishToZeroTopicPeers: boolean
  pruneBackoff: number
} {
  return {
    scoreParams: {
      topics: {
        [offersTopic(net)]: marketTopicScoreParams(),
        [bidsTopic(net)]: marketTopicScoreParams(),
        ...opts.topics
      },
      topicScoreCap: 50,
      // memory-transport and loopback simulations put every peer on one address
      IPColocationFactorWeight: 0,
      behaviourPenaltyWeight: -1,
      behaviourPenaltyDecay: 0.99,
      decayInterval: 1_000,
      decayToZero: 0.01,
      retainScore: 10 * 60_000
    },
    scoreThresholds: { ...MARKET_SCORE_THRESHOLDS },
    allowPublishToZeroTopicPeers: true,
    pruneBackoff: 60_000
  }
}

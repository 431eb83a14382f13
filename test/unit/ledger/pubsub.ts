/** A stand-in for gossipsub where the records-topic tests only need its validator map and what was published. */
import type { GossipSub, TopicValidatorFn } from '@libp2p/gossipsub'

export function fakePubsub (): { pubsub: GossipSub, published: Uint8Array[] } {
  const published: Uint8Array[] = []
  const pubsub = {
    topicValidators: new Map<string, TopicValidatorFn>(),
    publish: async (_topic: string, data: Uint8Array) => { published.push(data); return { recipients: [] } }
  }
  return { pubsub: pubsub as unknown as GossipSub, published }
}

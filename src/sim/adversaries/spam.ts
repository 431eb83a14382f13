/**
 * Gossip spam: invalid records on the records topic, published by an adversary's own libp2p
 * node: random bytes, and copies of a valid record with the signature or payload corrupted.
 */
import type { TallyNode } from '../../node/tally.js'
import type { Rng } from '../rng.js'

/** one invalid record */
export function spamRecord (rng: Rng, valid: Uint8Array | undefined): Uint8Array {
  if (valid == null || rng.chance(0.5)) {
    const b = new Uint8Array(rng.int(1, 600))
    for (let i = 0; i < b.length; i++) b[i] = rng.int(0, 255)
    return b
  }
  const b = Uint8Array.from(valid)
  // corrupt a byte near the end (the signature) or in the middle (the payload)
  const at = rng.chance(0.5) ? b.length - 1 - rng.int(0, 40) : rng.int(0, b.length - 1)
  b[at] ^= 1 << rng.int(0, 7)
  return b
}

/** publish `count` spam messages; returns how many left the node */
export async function publishSpam (node: TallyNode, rng: Rng, count: number, valid?: Uint8Array): Promise<number> {
  let sent = 0
  const pubsub = node.libp2p.services.pubsub
  for (let i = 0; i < count; i++) {
    try {
      await pubsub.publish(node.base.topics.records, spamRecord(rng, valid))
      sent++
    } catch {
      // no peers left to send to (scoring pruned the spammer): keep trying, it is the point
    }
  }
  return sent
}

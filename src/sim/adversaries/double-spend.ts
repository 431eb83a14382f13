/**
 * A double spender: the adversary's key signs two different records for the same chain seq,
 * one through its node (gossiped as usual) and one through a second ledger that shares the key
 * but not the chain (a restored backup, a second machine), published over the same gossip.
 */
import type { TallyNode } from '../../node/tally.js'
import { LedgerService } from '../../ledger/service.js'
import { MemoryLedgerStore } from '../../ledger/store.js'

export interface DoubleSpend {
  firstId: string
  secondId: string
}

/** pay `a` through the node, then `b` from a forked chain with the same seq; both published */
export async function doubleSpend (node: TallyNode, a: string, b: string, amountUc: bigint, beforeSecond: () => void = () => {}): Promise<DoubleSpend> {
  const shadow = new LedgerService({ genesis: node.base.genesis, signer: node.base.signer, store: new MemoryLedgerStore() })
  await shadow.start()
  try {
    const first = await node.pay(a, amountUc, { memo: 'honest-looking payment' })
    const second = await shadow.pay(b, amountUc, { memo: 'the same credit again' })
    beforeSecond()
    await node.libp2p.services.pubsub.publish(node.base.topics.records, second.bytes)
    return { firstId: first.id, secondId: second.id }
  } finally {
    await shadow.stop()
  }
}

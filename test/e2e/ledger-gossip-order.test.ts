/**
 * A record gossiped before its ancestor is Ignored (it cannot be validated yet) and so not
 * forwarded; once the ancestor arrives and the record becomes valid, the node forwards it, so it
 * still travels at gossip speed instead of waiting for a periodic pull. Three nodes in a line:
 * A — B — C, periodic pulls off.
 */
import { describe, expect, it } from 'vitest'
import { LedgerService } from '../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../src/ledger/store.js'
import { createSigner, generateSeed } from '../../src/identity/ed25519.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

describe('records gossiped out of order', () => {
  it('a record that waited for its parent is forwarded once the parent arrives', async () => {
    const noPull = { sync: { intervalMs: 600_000 } }
    const a = await startNode({}, noPull)
    const b = await startNode({ bootstrap: a.addrs() }, noPull)
    const c = await startNode({ bootstrap: b.addrs() }, noPull)
    const pubsub = (n: typeof a): any => n.libp2p.services.pubsub
    await waitFor(() => pubsub(a).getSubscribers(a.base.topics.records).length === 1 && pubsub(c).getSubscribers(c.base.topics.records).length === 1 && pubsub(b).getMeshPeers(b.base.topics.records).length === 2, 'the records meshes')
    // an outside account signs two payments: r2 follows r1 in its chain
    const payer = new LedgerService({ genesis: a.base.genesis, signer: createSigner(generateSeed()), store: new MemoryLedgerStore() })
    await payer.start()
    const r1 = await payer.pay(c.account, 1_000_000n, { memo: 'first' })
    const r2 = await payer.pay(c.account, 2_000_000n, { memo: 'second' })
    await payer.stop()
    // A gossips the child first: B cannot validate it yet and does not forward it
    await pubsub(a).publish(a.base.topics.records, r2.bytes)
    await waitFor(() => b.ledger.ledger.pendingSize === 1, 'B holding r2 as pending')
    expect(c.ledger.ledger.has(r2.id)).toBe(false)
    // the parent arrives: B accepts both and forwards r2 too
    await pubsub(a).publish(a.base.topics.records, r1.bytes)
    await waitFor(() => c.ledger.ledger.has(r1.id), 'C gets r1')
    await waitFor(() => c.ledger.ledger.has(r2.id), 'C gets r2 by gossip', 5_000)
    expect((await c.balance(c.account)).balanceUc).toBe(3_000_000n)
  })
})

/**
 * The gossip budget of an author with no balance of its own, between real nodes in a line
 * A — B — C (periodic pulls off): B keeps every valid record of a spamming fresh key but forwards
 * only the budget's worth to C; the rest reaches C by pull, so the sets still converge.
 */
import { describe, expect, it } from 'vitest'
import { LedgerService } from '../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../src/ledger/store.js'
import { createSigner, generateSeed } from '../../src/identity/ed25519.js'
import type { TallyNode } from '../../src/node/tally.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

const BUDGET = 5
const SPAM = 12

async function freshPayer (node: TallyNode): Promise<LedgerService> {
  const payer = new LedgerService({ genesis: node.base.genesis, signer: createSigner(generateSeed()), store: new MemoryLedgerStore() })
  await payer.start()
  return payer
}

describe('records topic: unfunded authors\' budget', () => {
  it('a fresh key\'s records beyond the budget are kept but not forwarded, and reach the next node by pull', async () => {
    const init = { sync: { intervalMs: 600_000, missingIntervalMs: 0 }, recordGossip: { unfundedRecordsPerWindow: BUDGET, unfundedWindowMs: 600_000 } }
    const a = await startNode({}, init)
    const b = await startNode({ bootstrap: a.addrs() }, init)
    const c = await startNode({ bootstrap: b.addrs() }, init)
    const pubsub = (n: TallyNode): any => n.libp2p.services.pubsub
    await waitFor(() => pubsub(a).getSubscribers(a.base.topics.records).length === 1 && pubsub(c).getSubscribers(c.base.topics.records).length === 1 && pubsub(b).getMeshPeers(b.base.topics.records).length === 2, 'the records meshes')

    const spammer = await freshPayer(a)
    const spam = []
    for (let i = 0; i < SPAM; i++) spam.push(await spammer.pay(c.account, 1n))
    for (const r of spam) await pubsub(a).publish(a.base.topics.records, r.bytes)
    // another fresh key, within its own budget: once C has it, B has forwarded everything before it
    const other = await freshPayer(a)
    const barrier = await other.pay(c.account, 1n)
    await pubsub(a).publish(a.base.topics.records, barrier.bytes)

    await waitFor(() => b.ledger.ledger.size === SPAM + 1, 'B keeps every valid record')
    await waitFor(() => c.ledger.ledger.has(barrier.id), 'C gets the barrier record')
    expect(c.ledger.ledger.size).toBe(BUDGET + 1)
    expect(spam.slice(0, BUDGET).every(r => c.ledger.ledger.has(r.id))).toBe(true)

    // nothing was pruned or lost: one pull and C holds the same set as B
    await c.libp2p.services.sync.syncWith(b.libp2p.peerId)
    expect(c.ledger.ledger.size).toBe(SPAM + 1)
    expect((await c.balance()).balanceUc).toBe(BigInt(SPAM + 1))
    await spammer.stop()
    await other.stop()
  })
})

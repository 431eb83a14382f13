/**
 * A record that arrives without its parent does not wait for the next full pull: the node asks a
 * peer for the ids its pending records wait for (/tally/fetch), periodically and as soon as a
 * gossiped record's held verdict expires (then from the peer that forwarded it). Periodic
 * Negentropy pulls are off, so only the missing-id fetch can bring the parent.
 */
import { describe, expect, it } from 'vitest'
import { LedgerService } from '../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../src/ledger/store.js'
import { createSigner, generateSeed } from '../../src/identity/ed25519.js'
import type { TallyNode } from '../../src/node/tally.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

/** two payments by an outside account to `to`: the child's prev is the parent */
async function parentAndChild (node: TallyNode, to: string): Promise<{ parent: { id: string, bytes: Uint8Array }, child: { id: string, bytes: Uint8Array } }> {
  const payer = new LedgerService({ genesis: node.base.genesis, signer: createSigner(generateSeed()), store: new MemoryLedgerStore() })
  await payer.start()
  const parent = await payer.pay(to, 1_000_000n)
  const child = await payer.pay(to, 2_000_000n)
  await payer.stop()
  return { parent, child }
}

const pubsub = (n: TallyNode): any => n.libp2p.services.pubsub

describe('missing ancestors are fetched', () => {
  it('periodically: a node holding a child without its parent fetches the parent, and the child becomes valid', async () => {
    const a = await startNode({}, { sync: { intervalMs: 600_000, missingIntervalMs: 0 } })
    // a record only A holds: once B has it, B's reconciliation on joining is over
    const marker = await parentAndChild(a, a.account)
    a.ingestRecord(marker.parent.bytes)
    const b = await startNode({ bootstrap: a.addrs() }, { sync: { intervalMs: 600_000, missingIntervalMs: 200 } })
    await waitFor(() => b.ledger.ledger.has(marker.parent.id), 'B reconciled with A on joining')
    const { parent, child } = await parentAndChild(a, b.account)
    // A holds both; B gets only the child, outside gossip
    expect(a.ingestRecord(parent.bytes).status).toBe('accepted')
    expect(a.ingestRecord(child.bytes).status).toBe('accepted')
    expect(b.ingestRecord(child.bytes).status).toBe('pending')
    await waitFor(() => b.ledger.ledger.has(child.id), 'the child valid on B')
    expect(b.ledger.ledger.has(parent.id)).toBe(true)
    expect((await b.balance()).balanceUc).toBe(3_000_000n)
  })

  it('when a held verdict expires: the parent is fetched from the peer that forwarded the child', async () => {
    const noPull = { sync: { intervalMs: 600_000, missingIntervalMs: 0 }, recordGossip: { pendingVerdictMs: 300 } }
    const a = await startNode({}, noPull)
    const marker = await parentAndChild(a, a.account)
    a.ingestRecord(marker.parent.bytes)
    const b = await startNode({ bootstrap: a.addrs() }, noPull)
    await waitFor(() => b.ledger.ledger.has(marker.parent.id), 'B reconciled with A on joining')
    await waitFor(() => pubsub(a).getMeshPeers(a.base.topics.records).length === 1, 'A meshed with B on the records topic')
    const { parent, child } = await parentAndChild(a, b.account)
    a.ingestRecord(parent.bytes)
    a.ingestRecord(child.bytes)
    // A gossips only the child: B cannot judge it, holds its verdict, then asks A for the parent
    await pubsub(a).publish(a.base.topics.records, child.bytes)
    await waitFor(() => b.ledger.ledger.has(child.id), 'the child valid on B')
    expect(b.ledger.ledger.has(parent.id)).toBe(true)
  })
})

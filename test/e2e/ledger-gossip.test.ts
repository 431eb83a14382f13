/**
 * Ledger records over real gossipsub (memory transport): the validator maps `add()` to
 * Accept/Ignore/Reject, message id = record id, every node ends with the same balances, bad
 * records stop at the first hop, and a fork flags the author everywhere.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { createPeer, connect, stopAll, type TestPeer } from './market-helpers.js'
import { LedgerService } from '../../src/ledger/service.js'
import { Ledger, gossipVerdict } from '../../src/ledger/ledger.js'
import { MemoryLedgerStore } from '../../src/ledger/store.js'
import { netId, type Genesis } from '../../src/ledger/genesis.js'
import { recordIdOf, recordsTopic, signRecord, fromHex } from '../../src/ledger/record.js'
import { createSigner } from '../../src/identity/ed25519.js'
import { waitFor } from '../helpers/wait.js'

interface Node { peer: TestPeer, ledger: LedgerService, verdicts: string[] }

const verdictOf = { accept: TopicValidatorResult.Accept, ignore: TopicValidatorResult.Ignore, reject: TopicValidatorResult.Reject } as const

let peers: TestPeer[] = []
afterEach(async () => { await stopAll(peers); peers = [] })

async function network (n: number): Promise<{ nodes: Node[], genesis: Genesis, net: Uint8Array, topic: string }> {
  // the first peer's key is the genesis issuer; keys are made before the nodes
  const probe = await createPeer()
  await probe.libp2p.stop()
  const genesis: Genesis = { name: 'ledger-gossip', issuers: [{ publicKey: probe.signer.publicKey, capUc: 10n ** 9n }], defaultCreditLimitUc: 1_000n, maxSessionLockUc: 0n }
  const net = netId(genesis)
  const topic = recordsTopic(net)
  const msgIdFn = (msg: Message): Uint8Array => {
    try { return recordIdOf(msg.data, net) } catch { return new Uint8Array(createHash('sha256').update(msg.data).digest()) }
  }
  const nodes: Node[] = []
  for (let i = 0; i < n; i++) {
    const peer = await createPeer({ net, marketScoring: false, gossip: { msgIdFn } })
    const signer = i === 0 ? probe.signer : peer.signer
    const ledger = new LedgerService({ genesis, signer })
    await ledger.start()
    const node: Node = { peer, ledger, verdicts: [] }
    const pubsub = peer.libp2p.services.pubsub
    pubsub.topicValidators.set(topic, (_from, msg) => {
      const v = gossipVerdict(ledger.add(msg.data))
      node.verdicts.push(v)
      return verdictOf[v]
    })
    ledger.onRecord(bytes => { void pubsub.publish(topic, bytes) })
    pubsub.subscribe(topic)
    peers.push(peer)
    nodes.push(node)
  }
  for (let i = 1; i < n; i++) await connect(nodes[i - 1].peer, nodes[i].peer)
  await waitFor(() => nodes.every((x, i) => (i === 0 || x.peer.libp2p.services.pubsub.getMeshPeers(topic).length > 0)))
  return { nodes, genesis, net, topic }
}

const sameEverywhere = (nodes: Node[]): boolean => {
  const first = JSON.stringify(nodes[0].ledger.balances(), (_k, v) => typeof v === 'bigint' ? v.toString() : v)
  return nodes.every(n => JSON.stringify(n.ledger.balances(), (_k, v) => typeof v === 'bigint' ? v.toString() : v) === first)
}

describe('ledger over gossipsub', () => {
  it('payments reach every node, bad records are rejected at the first hop, forks flag the author', async () => {
    const { nodes, genesis, net, topic } = await network(4)
    const [issuer, b, c, d] = nodes
    await issuer.ledger.credit(d.ledger.account, 10_000n)
    await waitFor(() => nodes.every(n => n.ledger.ledger.size === 1))
    const pay = await d.ledger.pay(b.ledger.account, 3_000n, { memo: 'gpu time' })
    await waitFor(() => nodes.every(n => n.ledger.ledger.has(pay.id)))
    await b.ledger.pay(c.ledger.account, 500n)
    await waitFor(() => nodes.every(n => n.ledger.ledger.size === 3))
    expect(sameEverywhere(nodes)).toBe(true)
    expect(c.ledger.balance().balanceUc).toBe(500n)
    expect(issuer.ledger.ledger.totalUc()).toBe(0n)

    // c publishes an overspend signed with its own key: b rejects it and it goes no further
    const over = signRecord(c.peer.signer, { net, seq: 1n, kind: { type: 'transfer', to: d.peer.signer.publicKey, amountUc: 1_000_000n } })
    await c.peer.libp2p.services.pubsub.publish(topic, over.bytes)
    await waitFor(() => nodes[1].verdicts.includes('reject') || nodes[3].verdicts.includes('reject'))
    expect(nodes.some(n => n.ledger.ledger.has(over.id))).toBe(false)

    // d signs a second seq-2 record from a copy of its key: every node flags d
    const dSigner = createSigner(d.peer.seed)
    const clone = new Ledger({ genesis, signer: dSigner, store: new MemoryLedgerStore() })
    for (const r of issuer.ledger.ledger.records()) if (r.from !== d.ledger.ledger.keyOf(d.ledger.account) || r.seq < 2n) clone.add(r.bytes)
    const twin = await clone.createRecord({ type: 'transfer', to: fromHex(issuer.ledger.ledger.keyOf(c.ledger.account)), amountUc: 100n })
    expect(twin.record.seq).toBe(2n)
    await d.ledger.pay(issuer.ledger.account, 100n)
    // c relays the twin it got from somewhere (a relay validates before forwarding)
    expect(c.ledger.add(twin.bytes).status).toBe('accepted')
    await c.peer.libp2p.services.pubsub.publish(topic, twin.bytes)
    await waitFor(() => nodes.every(n => n.ledger.isFlagged(d.ledger.account)))
    await waitFor(() => sameEverywhere(nodes))
    expect(nodes.every(n => n.ledger.fraudProofs().length === 1)).toBe(true)
  }, 60_000)
})

/**
 * A late joiner catches up on the ledger through /tally/sync alone. Four whole Tally nodes make
 * hundreds of payments; only once gossipsub's message cache has aged them out (so gossip cannot
 * replay them) does a fifth node join. Its gossip validator sees none of that history; its
 * Negentropy pulls (several rounds under the smallest frame limit) bring every record and
 * identical balances; later payments then reach it by gossip. A second test pins the sync rule
 * this depends on: a young cached view that misses most of the set is not served.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from 'libp2p'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { TopicValidatorFn } from '@libp2p/gossipsub'
import { createTallyNode, type TallyNode, type TallyNodeInit } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { identityFromSeed } from '../../src/identity/keystore.js'
import { recordIdOf } from '../../src/ledger/record.js'
import type { LedgerSync, SyncResult } from '../../src/ledger/sync/service.js'
import { MIN_FRAME_SIZE_LIMIT } from '../../src/ledger/sync/negentropy.js'
import { makeItem, MemStore, recordId } from '../unit/ledger/sync/helpers.js'
import { connect, syncNode } from '../unit/ledger/sync/nodes.js'
import { waitFor } from '../helpers/wait.js'

/** scaled gossip timers: a heartbeat every 100 ms */
const HEARTBEAT_MS = 100
/** gossipsub keeps a message this many heartbeats (mcacheLength, default 5); after that no IHAVE/IWANT can replay it */
const MCACHE_HEARTBEATS = 5
const OLD_NODES = 4
const PAYMENTS = 240

const nodes: TallyNode[] = []
const plain: Libp2p[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => await n.stop().catch(() => {})))
  await Promise.all(plain.splice(0).map(async n => { try { await n.stop() } catch {} }))
})

const syncOf = (n: TallyNode): LedgerSync => (n.libp2p.services as any).sync as LedgerSync

async function startNode (label: string, bootstrap: string[], beforeStart?: (n: TallyNode) => void): Promise<TallyNode> {
  const seed = new Uint8Array(createHash('sha256').update(`ledger-network-late-joiner/${label}`).digest())
  const init: TallyNodeInit = {
    identity: identityFromSeed(seed),
    memoryLedger: true,
    gossipsub: { heartbeatInterval: HEARTBEAT_MS },
    // no periodic pull: what the late joiner gets comes from the node's own join-time pull.
    // Every node uses the smallest frame limit (protocols/sync.md: both sides use maxFrameBytes),
    // so reconciling a few hundred records takes several rounds
    sync: { intervalMs: 0, maxFrameBytes: MIN_FRAME_SIZE_LIMIT },
    // the ring of payments below is a burst on credit: with no periodic pull, the gossip budget of
    // authors without a balance of their own (ledger.md § Admission) would leave it to pulls
    recordGossip: { unfundedRecordsPerWindow: PAYMENTS }
  }
  const n = await createTallyNode(parseConfig({ dataDir: join(tmpdir(), `tally-late-${label}`), transport: 'memory', bootstrap, simulation: true, encryption: 'plaintext' }), init)
  nodes.push(n)
  beforeStart?.(n)
  await n.start()
  return n
}

/** resolves after `count` gossipsub heartbeats on every node given */
async function heartbeats (ns: TallyNode[], count: number): Promise<void> {
  await Promise.all(ns.map(async n => await new Promise<void>(resolve => {
    const pubsub = n.libp2p.services.pubsub
    let seen = 0
    const onBeat = (): void => {
      if (++seen < count) return
      pubsub.removeEventListener('gossipsub:heartbeat', onBeat)
      resolve()
    }
    pubsub.addEventListener('gossipsub:heartbeat', onBeat)
  })))
}

function balancesKey (n: TallyNode): string {
  return JSON.stringify(n.balances().map(b => [b.account, b.balanceUc.toString(), b.lockedUc.toString(), b.flagged]))
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('a late joiner', () => {
  it('catches up through /tally/sync alone and shows identical balances', async () => {
    const old: TallyNode[] = []
    for (let i = 0; i < OLD_NODES; i++) old.push(await startNode(`old${i}`, i === 0 ? [] : [...old[0].addrs(), ...old[i - 1].addrs()]))
    await waitFor(() => old.every(n => n.base.gossipPeers('records').length > 0), 'old nodes share the records topic')

    // a ring of payments: every payer has been paid before (its records ack incoming credit)
    const history = new Set<string>()
    for (let k = 0; k < PAYMENTS; k++) {
      const from = old[k % OLD_NODES]
      const to = old[(k + 1 + (k >> 2) % (OLD_NODES - 1)) % OLD_NODES]
      history.add((await from.pay(to.account, BigInt(1_000 + (k * 7919) % 50_000), { memo: `p${k}` })).id)
    }
    await waitFor(() => old.every(n => n.ledger.ledger.size === PAYMENTS), 'old nodes hold every payment')
    expect(new Set(old.map(balancesKey)).size).toBe(1)
    // age every payment out of every gossip cache
    await heartbeats(old, MCACHE_HEARTBEATS + 1)

    // the late joiner: every pull it makes and every record gossip hands it are recorded
    const pulls: SyncResult[] = []
    const byGossip = new Set<string>()
    const late = await startNode('late', old[2].addrs(), n => {
      const sync = syncOf(n)
      const syncWith = sync.syncWith.bind(sync)
      sync.syncWith = async (peer: PeerId, options?: { signal?: AbortSignal }) => {
        const r = await syncWith(peer, options)
        pulls.push(r)
        return r
      }
      // the node installs its records validator on start: wrap it as it is set
      const validators = n.libp2p.services.pubsub.topicValidators
      const set = validators.set.bind(validators)
      validators.set = (topic: string, fn: TopicValidatorFn) => set(topic, topic !== n.base.topics.records
        ? fn
        : async (from, msg) => {
          byGossip.add(hex(recordIdOf(msg.data, n.net)))
          return await fn(from, msg)
        })
    })
    await waitFor(() => late.ledger.ledger.size === PAYMENTS, 'the late joiner holds every record')
    await heartbeats([late, ...old], 3)

    expect([...byGossip].filter(id => history.has(id))).toEqual([])
    expect(pulls.reduce((s, r) => s + r.needed, 0)).toBe(PAYMENTS)
    expect(pulls.reduce((s, r) => s + r.fetched, 0)).toBe(PAYMENTS)
    expect(Math.max(...pulls.map(r => r.rounds))).toBeGreaterThan(1)
    expect(late.ledger.ledger.pendingSize).toBe(0)
    expect(balancesKey(late)).toBe(balancesKey(old[0]))
    expect(late.balances().reduce((s, b) => s + b.balanceUc, 0n)).toBe(0n)
    // a further pull finds nothing to do (the view it reconciles with includes what it fetched)
    const again = await syncOf(late).syncWith(peerIdFromString(old[2].libp2p.peerId.toString()))
    expect(again.needed).toBe(0)
    expect(again.pushedIdsPeerLacks).toBe(0)

    // after joining, new payments reach the late joiner by gossip
    await waitFor(() => late.base.gossipPeers('records').length > 0, 'the late joiner in the gossip mesh')
    const fresh = await old[0].pay(late.account, 42_000n, { memo: 'welcome' })
    const back = await late.pay(old[3].account, 2_000n)
    const everyone = [...old, late]
    await waitFor(() => everyone.every(n => n.ledger.ledger.has(fresh.id) && n.ledger.ledger.has(back.id)), 'new payments everywhere')
    expect(byGossip.has(fresh.id)).toBe(true)
    await waitFor(() => new Set(everyone.map(balancesKey)).size === 1, 'identical balances on all five nodes')
    expect((await old[1].balance(late.account)).balanceUc).toBe(40_000n)
  })

  it('a responder does not serve a young cached view that misses most of its records', async () => {
    let clock = 1_000_000
    const items = Array.from({ length: 300 }, (_, i) => makeItem(21, i, 5_000 + i))
    const store = new MemStore(items.slice(0, 10))
    const sized = Object.assign(store, { size: () => store.records.size })
    const server = await syncNode(sized, { intervalMs: 0, maxStorageAgeMs: 60_000, now: () => clock })
    const first = await syncNode(new MemStore(), { intervalMs: 0, recordId })
    const late = await syncNode(new MemStore(), { intervalMs: 0, recordId })
    plain.push(server, first, late)
    await connect(first, server)
    await connect(late, server)
    // the server seals a view of 10 records
    expect((await first.services.sync.syncWith(server.peerId)).fetched).toBe(10)
    // 290 more records: the server's view is young (1 s of 60 s) but misses 97% of the set
    for (const it of items.slice(10)) await store.add(it.payload)
    clock += 1_000
    const r = await late.services.sync.syncWith(server.peerId)
    expect(r.needed).toBe(300)
    expect(late.store.ids()).toEqual(store.ids())
    // a view missing ≤ 1% is reused while young: 2 new records on 300 stay unseen for now...
    const extra = [makeItem(21, 1000, 9_000), makeItem(21, 1001, 9_001)]
    for (const it of extra) await store.add(it.payload)
    clock += 1_000
    expect((await late.services.sync.syncWith(server.peerId)).needed).toBe(0)
    // ...and are served once the view is older than maxStorageAgeMs
    clock += 60_000
    expect((await late.services.sync.syncWith(server.peerId)).needed).toBe(2)
  })
})

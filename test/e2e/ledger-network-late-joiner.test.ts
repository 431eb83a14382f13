/**
 * A late joiner catches up on the ledger through /tally/sync alone. Four whole Tally nodes make
 * hundreds of payments; only once gossipsub's message cache has aged them out (so gossip cannot
 * replay them) does a fifth node join. Gossip brings it nothing; one Negentropy pull (several
 * rounds under a small frame limit) brings it every record and identical balances. A second late
 * joiner with the periodic pull on catches up by itself, and both see later payments by gossip.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { createTallyNode, type TallyNode, type TallyNodeInit } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { identityFromSeed } from '../../src/identity/keystore.js'
import type { LedgerSync } from '../../src/ledger/sync/service.js'
import { MIN_FRAME_SIZE_LIMIT } from '../../src/ledger/sync/negentropy.js'

/** scaled gossip timers: a heartbeat every 100 ms */
const HEARTBEAT_MS = 100
/** gossipsub keeps a message this many heartbeats (mcacheLength, default 5); after that no IHAVE/IWANT can replay it */
const MCACHE_HEARTBEATS = 5
const OLD_NODES = 4
const PAYMENTS = 240

const nodes: TallyNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => await n.stop().catch(() => {})))
})

async function waitFor (cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function startNode (label: string, bootstrap: string[], init: Pick<TallyNodeInit, 'sync'> = {}): Promise<TallyNode> {
  const seed = new Uint8Array(createHash('sha256').update(`ledger-network-late-joiner/${label}`).digest())
  const n = await createTallyNode(parseConfig({ dataDir: join(tmpdir(), `tally-late-${label}`), transport: 'memory', bootstrap, simulation: true, encryption: 'plaintext' }), {
    identity: identityFromSeed(seed),
    memoryLedger: true,
    gossipsub: { heartbeatInterval: HEARTBEAT_MS },
    // every node uses the same small frame limit (protocols/sync.md: both sides use maxFrameBytes),
    // so reconciling a few hundred records takes several rounds
    sync: { intervalMs: 0, maxFrameBytes: MIN_FRAME_SIZE_LIMIT, ...init.sync }
  })
  nodes.push(n)
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

const syncOf = (n: TallyNode): LedgerSync => (n.libp2p.services as any).sync as LedgerSync

describe('a late joiner', () => {
  it('catches up through /tally/sync alone and shows identical balances', async () => {
    const old: TallyNode[] = []
    for (let i = 0; i < OLD_NODES; i++) old.push(await startNode(`old${i}`, i === 0 ? [] : [...old[0].addrs(), ...old[i - 1].addrs()]))
    await waitFor(() => old.every(n => n.base.gossipPeers('records').length > 0), 'old nodes share the records topic')

    // a ring of payments: every payer has been paid before (its records ack incoming credit)
    for (let k = 0; k < PAYMENTS; k++) {
      const from = old[k % OLD_NODES]
      const to = old[(k + 1 + (k >> 2) % (OLD_NODES - 1)) % OLD_NODES]
      await from.pay(to.account, BigInt(1_000 + (k * 7919) % 50_000), { memo: `p${k}` })
    }
    await waitFor(() => old.every(n => n.ledger.ledger.size === PAYMENTS), 'old nodes hold every payment')
    expect(new Set(old.map(balancesKey)).size).toBe(1)
    // age every payment out of every gossip cache
    await heartbeats(old, MCACHE_HEARTBEATS + 1)

    // the late joiner: no periodic pull
    const late = await startNode('late', old[2].addrs())
    await waitFor(() => late.base.gossipPeers('records').includes(old[2].libp2p.peerId.toString()), 'the late joiner is on the records topic')
    await heartbeats([late, ...old], 3)
    // gossip did not replay history
    expect(late.ledger.ledger.size).toBe(0)
    expect(late.balances()).toEqual([])

    const r = await syncOf(late).syncWith(peerIdFromString(old[2].libp2p.peerId.toString()))
    expect(r.needed).toBe(PAYMENTS)
    expect(r.fetched).toBe(PAYMENTS)
    expect(r.rounds).toBeGreaterThan(1)
    expect(r.pushedIdsPeerLacks).toBe(0)
    expect(late.ledger.ledger.size).toBe(PAYMENTS)
    expect(late.ledger.ledger.pendingSize).toBe(0)
    expect(balancesKey(late)).toBe(balancesKey(old[0]))
    expect(late.balances().reduce((s, b) => s + b.balanceUc, 0n)).toBe(0n)
    // a second pull finds nothing to do
    const again = await syncOf(late).syncWith(peerIdFromString(old[2].libp2p.peerId.toString()))
    expect(again.needed).toBe(0)

    // a second late joiner with the periodic pull on catches up by itself
    const late2 = await startNode('late2', old[3].addrs(), { sync: { intervalMs: 150 } })
    await waitFor(() => late2.ledger.ledger.size === PAYMENTS, 'the periodic pull brings every record')
    expect(balancesKey(late2)).toBe(balancesKey(old[0]))

    // after joining, new payments reach both by gossip (their chains' ancestors are already there)
    await waitFor(() => [late, late2].every(n => n.base.gossipPeers('records').length > 0), 'late joiners in the gossip mesh')
    const fresh = await old[0].pay(late.account, 42_000n, { memo: 'welcome' })
    const back = await late.pay(late2.account, 2_000n)
    const everyone = [...old, late, late2]
    await waitFor(() => everyone.every(n => n.ledger.ledger.has(fresh.id) && n.ledger.ledger.has(back.id)), 'new payments everywhere')
    await waitFor(() => new Set(everyone.map(balancesKey)).size === 1, 'identical balances on all six nodes')
    expect((await old[1].balance(late.account)).balanceUc).toBe(40_000n)
    expect((await late.balance(late2.account)).balanceUc).toBe(2_000n)
  })
})

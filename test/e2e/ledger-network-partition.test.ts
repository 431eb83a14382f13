/**
 * The ledger across a network partition: 20 whole Tally nodes (memory transport) in two groups.
 * While cut apart (cross-group links closed, a firewall closing any new one), both sides keep
 * paying, including across the cut; each side converges on its own and lacks the other's records.
 * After healing (a few cross links dialled) gossip carries new payments and the periodic
 * /tally/sync pull carries the partition's history: every node ends with identical balances, Σ = 0.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createTallyNode, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { identityFromSeed } from '../../src/identity/keystore.js'
import { waitFor } from '../helpers/wait.js'

const GROUP_SIZE = 10
/** short periodic pull so healing takes a few seconds, not minutes */
const SYNC_INTERVAL_MS = 250

const nodes: TallyNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => await n.stop().catch(() => {})))
})

function seed (label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`ledger-network-partition/${label}`).digest())
}

async function startNode (label: string, bootstrap: string[]): Promise<TallyNode> {
  const n = await createTallyNode(parseConfig({ dataDir: join(tmpdir(), `tally-partition-${label}`), transport: 'memory', bootstrap, simulation: true, encryption: 'plaintext' }), {
    identity: identityFromSeed(seed(label)),
    memoryLedger: true,
    sync: { intervalMs: SYNC_INTERVAL_MS }
  })
  nodes.push(n)
  await n.start()
  return n
}

/** a group's bootstrap graph: everyone knows the first node and its predecessor, never the other group */
async function startGroup (name: string): Promise<TallyNode[]> {
  const group: TallyNode[] = []
  for (let i = 0; i < GROUP_SIZE; i++) {
    const boot = i === 0 ? [] : [...new Set([...group[0].addrs(), ...group[i - 1].addrs()])]
    group.push(await startNode(`${name}${i}`, boot))
  }
  return group
}

function balancesKey (n: TallyNode): string {
  return JSON.stringify(n.balances().map(b => [b.account, b.balanceUc.toString(), b.lockedUc.toString(), b.flagged]))
}

const sumUc = (n: TallyNode): bigint => n.balances().reduce((s, b) => s + b.balanceUc, 0n)

function crossLinks (a: TallyNode[], b: TallyNode[]): number {
  const other = new Set(b.map(n => n.libp2p.peerId.toString()))
  return a.reduce((s, n) => s + n.libp2p.getConnections().filter(c => other.has(c.remotePeer.toString())).length, 0)
}

/** closes, on every node of both groups, any connection that crosses the cut; returns the switch to lift it */
function firewall (a: TallyNode[], b: TallyNode[]): () => void {
  const groupOf = new Map<string, number>()
  a.forEach(n => groupOf.set(n.libp2p.peerId.toString(), 0))
  b.forEach(n => groupOf.set(n.libp2p.peerId.toString(), 1))
  const lifts: Array<() => void> = []
  for (const n of [...a, ...b]) {
    const mine = groupOf.get(n.libp2p.peerId.toString())
    const onOpen = (evt: CustomEvent<Connection>): void => {
      const theirs = groupOf.get(evt.detail.remotePeer.toString())
      if (theirs != null && theirs !== mine) void evt.detail.close().catch(() => evt.detail.abort(new Error('partitioned')))
    }
    n.libp2p.addEventListener('connection:open', onOpen)
    lifts.push(() => n.libp2p.removeEventListener('connection:open', onOpen))
  }
  return () => lifts.forEach(l => l())
}

async function dialAcross (from: TallyNode, to: TallyNode): Promise<void> {
  await from.libp2p.dial(multiaddr(to.addrs()[0]), { signal: AbortSignal.timeout(5_000) })
}

describe('ledger across a partition of 20 nodes', () => {
  it('both sides pay while split; after healing every node holds identical balances summing to 0', async () => {
    const a = await startGroup('a')
    const b = await startGroup('b')
    const all = [...a, ...b]
    // one network to begin with: three cross links
    for (let i = 0; i < 3; i++) await dialAcross(a[i], b[i])
    await waitFor(() => all.every(n => n.base.gossipPeers('records').length > 0), 'every node has a records gossip peer')

    // connected: payments cross the groups and reach everyone by gossip
    const before = [await a[1].pay(b[1].account, 1_000_000n), await b[2].pay(a[2].account, 2_000_000n), await a[3].pay(a[4].account, 500_000n)]
    await waitFor(() => all.every(n => before.every(p => n.ledger.ledger.has(p.id))), 'pre-partition payments everywhere')
    expect(new Set(all.map(balancesKey)).size).toBe(1)

    // cut: close every cross link and keep new ones from forming
    const lift = firewall(a, b)
    await Promise.all(a.map(async n => {
      for (const m of b) await n.libp2p.hangUp(m.libp2p.peerId).catch(() => {})
    }))
    await waitFor(() => crossLinks(a, b) === 0 && crossLinks(b, a) === 0, 'no connection across the cut')

    // split: each side pays within itself and across the cut (a payment the other side cannot see yet);
    // payees pay on, so their records ack incoming credits
    const sideA = [
      await a[0].pay(a[5].account, 3_000_000n, { memo: 'a-side' }),
      await a[5].pay(a[6].account, 2_500_000n),
      await a[6].pay(b[7].account, 1_000_000n, { memo: 'across the cut' }),
      await a[2].pay(a[9].account, 1_500_000n),
      await a[9].pay(a[0].account, 700_000n)
    ]
    const sideB = [
      await b[0].pay(b[5].account, 4_000_000n, { memo: 'b-side' }),
      await b[5].pay(b[8].account, 3_000_000n),
      await b[8].pay(a[8].account, 1_250_000n, { memo: 'across the cut' }),
      await b[1].pay(b[9].account, 900_000n),
      await b[9].pay(b[3].account, 400_000n),
      await b[3].pay(a[1].account, 100_000n)
    ]
    await waitFor(() => a.every(n => sideA.every(p => n.ledger.ledger.has(p.id))), 'side A converges on its own payments')
    await waitFor(() => b.every(n => sideB.every(p => n.ledger.ledger.has(p.id))), 'side B converges on its own payments')
    expect(new Set(a.map(balancesKey)).size).toBe(1)
    expect(new Set(b.map(balancesKey)).size).toBe(1)
    // the cut was real: neither side holds a record the other made while split
    expect(a.some(n => sideB.some(p => n.ledger.ledger.has(p.id)))).toBe(false)
    expect(b.some(n => sideA.some(p => n.ledger.ledger.has(p.id)))).toBe(false)
    expect(balancesKey(a[0])).not.toBe(balancesKey(b[0]))
    expect(crossLinks(a, b)).toBe(0)
    for (const n of all) expect(sumUc(n)).toBe(0n)

    // heal: lift the firewall and dial two cross links; one more payment per side after healing
    lift()
    await dialAcross(a[4], b[4])
    await dialAcross(b[6], a[7])
    const after = [await a[5].pay(b[2].account, 200_000n), await b[8].pay(a[3].account, 300_000n)]
    const every = [...before, ...sideA, ...sideB, ...after]
    await waitFor(() => all.every(n => every.every(p => n.ledger.ledger.has(p.id))), 'every record on every node', 25_000)
    await waitFor(() => new Set(all.map(balancesKey)).size === 1, 'identical balances on all 20 nodes')

    const ref = a[0]
    for (const n of all) {
      expect(n.ledger.ledger.size).toBe(ref.ledger.ledger.size)
      expect(n.ledger.ledger.pendingSize).toBe(0)
      expect(sumUc(n)).toBe(0n)
    }
    // the cross-cut payments landed: b[7] got 1 credit from a[6], a[8] got 1.25 from b[8]
    expect((await b[0].balance(b[7].account)).balanceUc).toBe(1_000_000n)
    expect((await a[0].balance(a[8].account)).balanceUc).toBe(1_250_000n)
    expect((await b[3].balance(a[6].account)).balanceUc).toBe(2_500_000n - 1_000_000n)
  })
})

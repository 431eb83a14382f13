/**
 * Discovery from one address (docs/network.md), real libp2p nodes on loopback TCP with the
 * Tally DHT: seven joiners each given only the bootstrap's address find their connection target
 * of others through the DHT, then hang up on the bootstrap, which so holds nobody for long.
 * A DHT peer that hands out poisoned records (real peer ids at addresses that are not theirs)
 * costs a joiner failed dials and nothing else: the noise handshake checks every peer id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerInfo } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { randomBytes } from 'node:crypto'
import { kadDHT } from '@libp2p/kad-dht'
import { createBaseNode, type BaseNode } from '../../src/node/node.js'
import { identityFromSeed } from '../../src/identity/keystore.js'
import { parseConfig } from '../../src/node/config.js'
import { dhtProtocol } from '../../src/node/network/services.js'
import { waitFor } from '../helpers/wait.js'

const MIN = 3
const JOINERS = 7
const nodes: BaseNode[] = []
const dirs: string[] = []

async function node (network: Record<string, unknown>, bootstrap: string[] = [], libp2pServices?: Record<string, any>): Promise<BaseNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-net-'))
  dirs.push(dataDir)
  const n = await createBaseNode(parseConfig({ dataDir, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, network }), { libp2pMetrics: false, libp2pServices, identity: identityFromSeed(randomBytes(32)) })
  await n.start()
  nodes.push(n)
  return n
}

const others = (n: BaseNode, except: string): number => new Set(n.libp2p.getConnections().map(c => c.remotePeer.toString()).filter(p => p !== except)).size

let boot: BaseNode
const joiners: BaseNode[] = []

beforeAll(async () => {
  // the bootstrap: no target of its own (it only answers). `--dht auto` on hosts without a public
  // address: DHT servers while directly reachable (here: loopback, no relay address)
  boot = await node({ dht: 'auto', maxConnections: 64 })
  for (let i = 0; i < JOINERS; i++) joiners.push(await node({ dht: 'auto', minConnections: MIN, maxConnections: 16 }, [boot.addrs()[0]]))
}, 60_000)

afterAll(async () => {
  await Promise.all(nodes.map(async n => await n.stop().catch(() => {})))
  await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
})

describe('discovery from one bootstrap address', () => {
  it('every joiner reaches its target of peers other than the bootstrap, found through the DHT', async () => {
    const id = boot.libp2p.peerId.toString()
    await waitFor(() => joiners.every(j => others(j, id) >= MIN), `every joiner connected to >= ${MIN} non-bootstrap peers`, 100_000)
    for (const j of joiners) {
      expect(j.reachability().dht.mode).toBe('server')
      expect(j.libp2p.getProtocols()).toContain(dhtProtocol(Buffer.from(j.net).toString('hex')))
    }
  }, 120_000)

  it('joiners with enough others hang up on the bootstrap: it does not become a hub', async () => {
    const id = boot.libp2p.peerId.toString()
    await waitFor(() => joiners.filter(j => j.libp2p.getConnections().some(c => c.remotePeer.toString() === id)).length <= JOINERS / 2, 'most joiners released the bootstrap', 45_000)
    expect(boot.libp2p.getConnections().length).toBeLessThan(JOINERS)
  }, 60_000)

  it('poisoned DHT records (real ids at a liar\'s address) cost a failed dial: no connection, no routing table entry', async () => {
    const target = joiners[0].libp2p.peerId
    const liarAt = { addr: '/ip4/127.0.0.1/tcp/1' }
    const net = Buffer.from(boot.net).toString('hex')
    // the liar answers every DHT query with each peer it knows at its own address
    const liar = await node({ dht: 'server' }, [boot.addrs()[0]], {
      dht: kadDHT({ protocol: dhtProtocol(net), clientMode: false, peerInfoMapper: (p: PeerInfo) => ({ ...p, multiaddrs: [multiaddr(liarAt.addr)] }) })
    })
    liarAt.addr = liar.addrs()[0].replace(/\/p2p\/.*$/, '')
    // the liar holds the target in its routing table, so its answers about the target are lies
    // (by address: the liar's own DHT answers rewrote what it learned about the target)
    await liar.libp2p.dial(multiaddr(joiners[0].addrs()[0]))
    await waitFor(async () => await (liar.libp2p.services as any).dht.routingTable.find(target) != null, 'the target is in the liar\'s routing table')
    const victim = await node({ dht: 'client' }, [liar.addrs()[0]])
    await waitFor(() => victim.libp2p.getConnections().length > 0, 'the victim reached the liar')
    // the victim looks the target up through the liar and dials what it was told
    await victim.libp2p.peerRouting.findPeer(target, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
    // the lie arrived: the victim's peer store holds the target at the liar's address
    await waitFor(async () => (await victim.libp2p.peerStore.get(target).catch(() => undefined))?.addresses.some(a => a.multiaddr.toString().startsWith(liarAt.addr)) === true, 'the poisoned record reached the victim')
    await expect(victim.libp2p.dial(target, { signal: AbortSignal.timeout(10_000) })).rejects.toThrow()
    expect(victim.libp2p.getConnections(target)).toHaveLength(0)
    const liarId = liar.libp2p.peerId.toString()
    expect(victim.libp2p.getConnections().every(c => c.remotePeer.toString() === liarId || !c.remoteAddr.toString().startsWith(liarAt.addr))).toBe(true)
    // the routing table holds only peers that answered as themselves
    const table = (victim.libp2p.services as any).dht.routingTable
    expect(await table.find(target)).toBeUndefined()
    expect(victim.started).toBe(true)
  }, 60_000)
})

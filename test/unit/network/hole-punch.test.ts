/**
 * Hole punching's pieces (docs/network.md § Hole punching): the dial port's config and plan, the
 * observed dial addresses DCUtR offers, and real libp2p TCP dials that all leave from one local
 * port (several connected sockets share it) with a fresh port for a dial that cannot have it.
 * The punch itself, through two NAT routers, is test/e2e/testnet-nat-punch.test.ts.
 */
import { createServer } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { createLibp2p, type Libp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { CLOSED_NETWORK, OPEN_NETWORK, parseNetworkConfig } from '../../../src/node/network/config.js'
import { planDialPort, planNetwork } from '../../../src/node/network/services.js'
import { dialPortTcp, ObservedDialAddrs } from '../../../src/node/network/hole-punch.js'
import { networkFlags } from '../../../src/cli/start/options.js'
import { waitFor } from '../../helpers/wait.js'

async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>(resolve => srv.close(() => resolve()))
  return port
}

const portOf = (addr: { toString: () => string }): number => Number(/\/tcp\/(\d+)/.exec(addr.toString())?.[1])

describe('dial port config and plan', () => {
  it('is auto for tally start, off in process; a port, auto or off; anything else names the field', () => {
    expect(OPEN_NETWORK.dialPort).toBe('auto')
    expect(CLOSED_NETWORK.dialPort).toBe('off')
    expect(parseNetworkConfig({ dialPort: '4100' }).dialPort).toBe(4100)
    expect(parseNetworkConfig(networkFlags({ dialPort: 'off' }), OPEN_NETWORK).dialPort).toBe('off')
    expect(parseNetworkConfig(networkFlags({}), OPEN_NETWORK).dialPort).toBe('auto')
    for (const bad of ['0', '65536', 'sometimes', 4.5, -1, true]) {
      expect(() => parseNetworkConfig({ dialPort: bad }), String(bad)).toThrow(expect.objectContaining({ name: 'ConfigError', field: 'network.dialPort' }))
    }
  })

  it('auto: the listen port + 1 on a host without a public address; none on a public host or in memory', () => {
    const auto = { ...OPEN_NETWORK }
    expect(planNetwork(auto, ['/ip4/10.1.2.3/tcp/4001'], 'tcp').dialPort).toBe(4002)
    expect(planNetwork(auto, ['/ip4/11.1.0.10/tcp/4001'], 'tcp').dialPort).toBeUndefined()
    expect(planNetwork(auto, ['/memory/x'], 'memory').dialPort).toBeUndefined()
    expect(planNetwork({ ...auto, dialPort: 'off' }, ['/ip4/10.1.2.3/tcp/4001'], 'tcp').dialPort).toBeUndefined()
    // a port given holds even on a public host
    expect(planDialPort({ ...auto, dialPort: 5000 }, ['/ip4/11.1.0.10/tcp/4001'], 'tcp', true)).toBe(5000)
    // listen port 0: a random high port
    const random = planDialPort(auto, ['/ip4/10.1.2.3/tcp/0'], 'tcp', false)
    expect(random).toBeGreaterThanOrEqual(49152)
    expect(random).toBeLessThanOrEqual(65535)
  })
})

describe('observed dial addresses', () => {
  it('offers the addresses most peers saw first, then the latest; forgets old ones; stays bounded', () => {
    const o = new ObservedDialAddrs()
    const t0 = 1_000_000
    o.record('/ip4/11.0.0.5/tcp/4002', 'p1', t0)
    o.record('/ip4/11.0.0.5/tcp/4002', 'p2', t0 + 1)
    o.record('/ip4/11.0.0.5/tcp/31000', 'p3', t0 + 2)
    expect(o.addrs(t0 + 3)).toEqual(['/ip4/11.0.0.5/tcp/4002', '/ip4/11.0.0.5/tcp/31000'])
    // ten minutes later nothing is offered
    expect(o.addrs(t0 + 10 * 60_000 + 3)).toEqual([])
    // a symmetric NAT shows a new port per peer: at most four are offered, sixteen kept
    for (let i = 0; i < 40; i++) o.record(`/ip4/11.0.0.5/tcp/${40000 + i}`, `q${i}`, t0 + 10 + i)
    expect(o.addrs(t0 + 100)).toHaveLength(4)
    expect(o.addrs(t0 + 100)[0]).toBe('/ip4/11.0.0.5/tcp/4002')
  })
})

describe('dialPortTcp: every dial leaves from one local port', () => {
  const nodes: Libp2p[] = []
  afterAll(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })

  async function node (transport: ReturnType<typeof tcp>, listen: string[] = ['/ip4/127.0.0.1/tcp/0']): Promise<Libp2p> {
    const n = await createLibp2p({ addresses: { listen }, transports: [transport], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
    nodes.push(n)
    return n
  }

  it('two peers see the same source port; a second connection to the same peer falls back to a fresh port', async () => {
    const q = await freePort()
    const a = await node(dialPortTcp(q), [])
    const b = await node(tcp())
    const c = await node(tcp())
    await a.dial(b.getMultiaddrs()[0])
    await a.dial(c.getMultiaddrs()[0])
    await waitFor(() => b.getConnections(a.peerId).length === 1 && c.getConnections(a.peerId).length === 1, 'both inbound connections')
    // both connections are open at once, from port q
    expect(b.getConnections(a.peerId).map(x => portOf(x.remoteAddr))).toEqual([q])
    expect(c.getConnections(a.peerId).map(x => portOf(x.remoteAddr))).toEqual([q])
    expect(a.getConnections().filter(x => x.status === 'open')).toHaveLength(2)
    // the same 4-tuple is taken: that dial leaves from a fresh port instead of failing
    const again = await a.dial(b.getMultiaddrs()[0], { force: true })
    expect(again.status).toBe('open')
    await waitFor(() => b.getConnections(a.peerId).length === 2, 'the second inbound connection')
    const ports = b.getConnections(a.peerId).map(x => portOf(x.remoteAddr)).sort()
    expect(ports).toHaveLength(2)
    expect(ports).toContain(q)
    expect(ports.filter(p => p !== q)).toHaveLength(1)
  })

  it('a dial port held by a listener is not had: dials leave from fresh ports', async () => {
    const b = await node(tcp())
    const blocker = await node(tcp())
    const q = portOf(blocker.getMultiaddrs()[0])
    const a = await node(dialPortTcp(q), [])
    await a.dial(b.getMultiaddrs()[0])
    await waitFor(() => b.getConnections(a.peerId).length === 1, 'the inbound connection')
    const [conn] = b.getConnections(a.peerId)
    expect(conn?.status).toBe('open')
    expect(portOf(conn!.remoteAddr)).not.toBe(q)
  })
})

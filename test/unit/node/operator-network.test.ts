/**
 * The reachability view (issue 16.3), pure parts: the verdict from a node's addresses (AutoNAT's
 * confirmations, relay addresses), and the diagnosis's reachable and offer-seen checks fed by it.
 */
import { describe, expect, it } from 'vitest'
import { classifyAddresses } from '../../../src/node/operator-network.js'
import { diagnose, type DiagnosisFacts } from '../../../src/node/operator-diagnosis.js'

const RELAY = '/ip4/203.0.113.1/tcp/4001/p2p/12D3KooWRelay/p2p-circuit/p2p/12D3KooWMe'

describe('classifyAddresses', () => {
  it('a host listening on a public address is public, with no NAT', () => {
    const r = classifyAddresses({ announced: ['/ip4/203.0.113.5/tcp/4001/p2p/x'], meta: [{ addr: '/ip4/203.0.113.5/tcp/4001', verified: true, type: 'transport' }] })
    expect(r.reachability.status).toBe('public')
    expect(r.nat.type).toBe('none')
    expect(r.addrs.public).toEqual(['/ip4/203.0.113.5/tcp/4001/p2p/x', '/ip4/203.0.113.5/tcp/4001'])
  })

  it('behind a NAT: private addresses only, a relay address kept apart', () => {
    // the relay listener's address is a transport address with the relay's public IP
    const r = classifyAddresses({ announced: ['/ip4/10.0.0.2/tcp/4001/p2p/x', RELAY], meta: [{ addr: '/ip4/10.0.0.2/tcp/4001', verified: true, type: 'transport' }, { addr: RELAY, verified: true, type: 'transport' }] })
    expect(r.reachability.status).toBe('private')
    expect(r.addrs.relay).toEqual([RELAY])
    expect(r.addrs.public).toEqual([])
    expect(r.nat.type).toBe('unknown')
  })

  it('a public address peers observed but AutoNAT has not confirmed: unknown, listed as unverified', () => {
    const r = classifyAddresses({ announced: ['/ip4/10.0.0.2/tcp/4001/p2p/x'], meta: [{ addr: '/ip4/10.0.0.2/tcp/4001', verified: true, type: 'transport' }, { addr: '/ip4/198.51.100.9/tcp/4001', verified: false, type: 'observed' }] })
    expect(r.reachability.status).toBe('unknown')
    expect(r.addrs.unverified).toEqual(['/ip4/198.51.100.9/tcp/4001'])
  })

  it('the observed address once AutoNAT confirmed it: public through the NAT (port forwarded)', () => {
    const r = classifyAddresses({ announced: ['/ip4/10.0.0.2/tcp/4001/p2p/x'], meta: [{ addr: '/ip4/10.0.0.2/tcp/4001', verified: true, type: 'transport' }, { addr: '/ip4/198.51.100.9/tcp/4001', verified: true, type: 'observed' }] })
    expect(r.reachability.status).toBe('public')
    expect(r.nat.type).toBe('unknown')
    expect(r.reachability.detail).toMatch(/AutoNAT/)
  })

  it('the network layer\'s own AutoNAT verdict wins over the addresses', () => {
    const r = classifyAddresses({ announced: ['/ip4/203.0.113.5/tcp/4001/p2p/x'], meta: [], reported: 'private' })
    expect(r.reachability).toMatchObject({ status: 'private', source: 'autonat' })
  })
})

function seller (over: Partial<DiagnosisFacts> = {}): DiagnosisFacts {
  return {
    selling: true,
    offers: [{ model: 'm', priceOutPerMTokUc: 100n, rank: 1, of: 1, sessionsOpen: 0, maxSessions: 2 }],
    addrs: ['/ip4/10.0.0.2/tcp/4001'],
    peerAddrs: ['/ip4/198.51.100.7/tcp/4001'],
    inboundConnections: 0,
    connectedPeers: 1,
    offersTopicPeers: 1,
    offersTopicMeshPeers: 1,
    flagged: false,
    backend: { failures: 0, successes: 0 },
    ...over
  }
}
const check = (f: DiagnosisFacts, name: string): any => diagnose(f).find(c => c.check === name)

describe('reachable and offer-seen with the network view', () => {
  it('behind a NAT with a relay address: reachable through the relay', () => {
    const c = check(seller({ reachability: { status: 'private', detail: 'd', relayAddrs: 1, publicAddrs: 0, relayedConnections: 1 } }), 'reachable')
    expect(c.ok).toBe(true)
    expect(c.detail).toMatch(/relay address/)
  })

  it('behind a NAT with no relay address while peers are public: not reachable, names the relay fix', () => {
    const c = check(seller({ reachability: { status: 'private', detail: 'd', relayAddrs: 0, publicAddrs: 0, relayedConnections: 0 } }), 'reachable')
    expect(c.ok).toBe(false)
    expect(c.fix).toMatch(/relay/)
    expect(c.fix).toMatch(/forward the listen port/)
  })

  it('AutoNAT public: reachable even before anyone dialled in', () => {
    expect(check(seller({ reachability: { status: 'public', detail: 'd', relayAddrs: 0, publicAddrs: 1, relayedConnections: 0 } }), 'reachable').ok).toBe(true)
  })

  it('a loopback or LAN market (no public peer) is not told to find a relay', () => {
    const c = check(seller({ peerAddrs: ['/ip4/127.0.0.1/tcp/4002'], inboundConnections: 1, reachability: { status: 'private', detail: 'd', relayAddrs: 0, publicAddrs: 0, relayedConnections: 0 } }), 'reachable')
    expect(c.ok).toBe(true)
  })

  it('the offer probe: no peer asked holds my offer fails even with subscribers; one holding passes', () => {
    const none = check(seller({ offerProbe: { asked: 3, holding: 0 } }), 'offer-seen')
    expect(none.ok).toBe(false)
    expect(none.detail).toMatch(/none of the 3 peer/)
    const some = check(seller({ offerProbe: { asked: 3, holding: 2 } }), 'offer-seen')
    expect(some.ok).toBe(true)
    expect(some.detail).toMatch(/2 of 3/)
  })
})

/** The seller diagnosis rules: each cause is named, with a fix, only when its facts hold. */
import { describe, expect, it } from 'vitest'
import { addressScope, diagnose, type DiagnosisFacts } from '../../../src/node/operator-diagnosis.js'

/** a healthy seller: cheapest of two, room left, dialled by a peer, offer gossiped, backend fine */
function healthy (over: Partial<DiagnosisFacts> = {}): DiagnosisFacts {
  return {
    selling: true,
    offers: [{ model: 'm', priceOutPerMTokUc: 100n, rank: 1, of: 2, cheapestOtherPriceOutPerMTokUc: 150n, sessionsOpen: 0, maxSessions: 2 }],
    addrs: ['/ip4/203.0.113.5/tcp/4001'],
    peerAddrs: ['/ip4/198.51.100.7/tcp/4001'],
    inboundConnections: 1,
    connectedPeers: 1,
    offersTopicPeers: 1,
    offersTopicMeshPeers: 1,
    flagged: false,
    backend: { failures: 0, successes: 3, lastSuccessAtMs: 10 },
    ...over
  }
}

const failing = (f: DiagnosisFacts): string[] => diagnose(f).filter(c => !c.ok).map(c => c.check)

describe('seller diagnosis', () => {
  it('finds nothing wrong with a healthy seller, and every check has a detail', () => {
    const checks = diagnose(healthy())
    expect(checks.map(c => c.check)).toEqual(['price-rank', 'capacity', 'reachable', 'offer-seen', 'flagged', 'backend'])
    expect(checks.every(c => c.ok && c.detail !== '' && c.fix === '')).toBe(true)
  })

  it('a price above the other offers: names the rank and the price to beat', () => {
    const checks = diagnose(healthy({ offers: [{ model: 'm', priceOutPerMTokUc: 900n, rank: 3, of: 3, cheapestOtherPriceOutPerMTokUc: 150n, sessionsOpen: 0, maxSessions: 2 }] }))
    const rank = checks.find(c => c.check === 'price-rank')!
    expect(rank.ok).toBe(false)
    expect(rank.detail).toMatch(/ranks 3 of 3/)
    expect(rank.fix).toMatch(/--price-out to 149 /)
    expect(failing(healthy({ offers: [{ model: 'm', priceOutPerMTokUc: 900n, rank: 3, of: 3, cheapestOtherPriceOutPerMTokUc: 150n, sessionsOpen: 0, maxSessions: 2 }] }))).toEqual(['price-rank'])
  })

  it('the only offer is first by definition', () => {
    expect(failing(healthy({ offers: [{ model: 'm', priceOutPerMTokUc: 900n, rank: 1, of: 1, sessionsOpen: 0, maxSessions: 1 }] }))).toEqual([])
  })

  it('every session taken: capacity', () => {
    expect(failing(healthy({ offers: [{ model: 'm', priceOutPerMTokUc: 100n, rank: 1, of: 2, sessionsOpen: 2, maxSessions: 2 }] }))).toEqual(['capacity'])
  })

  it('only private addresses while peers are public: not reachable', () => {
    const f = healthy({ addrs: ['/ip4/192.168.1.4/tcp/4001', '/ip4/127.0.0.1/tcp/4001'] })
    expect(failing(f)).toEqual(['reachable'])
    expect(diagnose(f).find(c => c.check === 'reachable')!.fix).toMatch(/Forward the listen port/)
    // among private peers (a LAN), private addresses are fine
    expect(failing({ ...f, peerAddrs: ['/ip4/192.168.1.9/tcp/4001'] })).toEqual([])
  })

  it('no address at all, or never dialled: not reachable, saying what is known', () => {
    expect(failing(healthy({ addrs: [] }))).toEqual(['reachable'])
    const never = diagnose(healthy({ inboundConnections: 0 })).find(c => c.check === 'reachable')!
    expect(never.ok).toBe(false)
    expect(never.detail).toMatch(/unknown/)
  })

  it('nobody on the offers topic: offer not seen', () => {
    expect(failing(healthy({ offersTopicPeers: 0, offersTopicMeshPeers: 0 }))).toEqual(['offer-seen'])
  })

  it('a flagged account', () => {
    expect(failing(healthy({ flagged: true }))).toEqual(['flagged'])
  })

  it('a backend whose last request failed; a later success clears it', () => {
    const b = { failures: 2, successes: 1, lastError: 'connect ECONNREFUSED', lastFailureAtMs: 20, lastSuccessAtMs: 10 }
    const check = diagnose(healthy({ backend: b })).find(c => c.check === 'backend')!
    expect(check.ok).toBe(false)
    expect(check.detail).toMatch(/ECONNREFUSED/)
    expect(failing(healthy({ backend: { ...b, lastSuccessAtMs: 30 } }))).toEqual([])
  })

  it('a node that sells nothing says so (and still checks the flag)', () => {
    expect(diagnose(healthy({ selling: false, offers: [] })).map(c => [c.check, c.ok])).toEqual([['selling', false], ['flagged', true]])
  })

  it('address scopes', () => {
    expect(addressScope('/ip4/127.0.0.1/tcp/1')).toBe('loopback')
    expect(addressScope('/ip4/10.1.2.3/tcp/1')).toBe('private')
    expect(addressScope('/ip4/172.20.0.1/tcp/1')).toBe('private')
    expect(addressScope('/ip4/100.64.0.1/tcp/1')).toBe('private')
    expect(addressScope('/ip4/8.8.8.8/tcp/1')).toBe('public')
    expect(addressScope('/ip6/::1/tcp/1')).toBe('loopback')
    expect(addressScope('/ip6/fd00::1/tcp/1')).toBe('private')
    expect(addressScope('/ip6/2001:db8::1/tcp/1')).toBe('public')
    expect(addressScope('/memory/abc')).toBe('loopback')
    expect(addressScope('/dns4/example.com/tcp/1')).toBe('unknown')
  })
})

/**
 * Which of a node's addresses a stranger can dial (protocols/market.md § Addresses): public
 * direct addresses and relay (/p2p-circuit) addresses when the node has any, its listen
 * addresses otherwise (a LAN, one machine, the test suite).
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isPrivate } from '@libp2p/utils'

/** a relayed address: …/p2p/<relay>/p2p-circuit/p2p/<node> */
export function isRelayAddr (a: string | Multiaddr): boolean {
  const ma = typeof a === 'string' ? multiaddr(a) : a
  return ma.getComponents().some(c => c.name === 'p2p-circuit')
}

/** a direct IP or DNS address outside private, loopback and link-local ranges */
export function isPublicAddr (a: string | Multiaddr): boolean {
  const ma = typeof a === 'string' ? multiaddr(a) : a
  if (isRelayAddr(ma)) return false
  const first = ma.getComponents()[0]?.name
  if (first == null || !['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr'].includes(first)) return false
  return isPrivate(ma) !== true
}

/** the addresses an offer carries, in the order a buyer should try them (direct before relayed) */
export function dialableAddrs (addrs: string[]): string[] {
  const parsed = addrs.flatMap(a => { try { return [{ a, ma: multiaddr(a) }] } catch { return [] } })
  const publicAddrs = parsed.filter(p => isPublicAddr(p.ma)).map(p => p.a)
  const relayAddrs = parsed.filter(p => isRelayAddr(p.ma)).map(p => p.a)
  if (publicAddrs.length + relayAddrs.length === 0) return parsed.map(p => p.a)
  return [...publicAddrs, ...relayAddrs]
}

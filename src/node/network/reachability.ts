/**
 * What a node knows about being reached (docs/network.md § Reachability): AutoNAT v2's verdict on
 * its addresses, its public, private and relay addresses, the relay slots it serves, its DHT mode
 * and its connection target. Read by the operator view and `tally doctor`; changes nothing.
 */
import type { Libp2p } from '@libp2p/interface'
import { isPublicAddr, isRelayAddr } from './addresses.js'
import type { NetworkPlan } from './services.js'
import type { ObservedDialAddrs } from './hole-punch.js'

export interface Reachability {
  /**
   * public: AutoNAT v2 (or the host's own public listen address) confirmed a public direct
   * address; private: the node is reached only through a relay, or AutoNAT found none of its
   * public candidates dialable, or it has no public candidate at all (NAT, LAN, one machine);
   * unknown: public candidates not tested yet
   */
  status: 'public' | 'private' | 'unknown'
  /** whether AutoNAT v2 runs (without it `status` rests on the addresses alone) */
  autonat: boolean
  /** direct addresses outside private ranges, confirmed */
  publicAddrs: string[]
  /** …/p2p-circuit/p2p/<me>: reserved slots on relays */
  relayAddrs: string[]
  /** direct addresses in private, loopback or link-local ranges (and memory addresses) */
  privateAddrs: string[]
  /** public addresses peers observed or the host listens on that are not (yet) confirmed */
  unverifiedAddrs: string[]
  relay: {
    /** this node serves circuit relay v2 */
    server: boolean
    /** reservations it holds for others now */
    reservations: number
    maxReservations: number
    dataLimitBytes: number
    durationLimitMs: number
  }
  /** this node reserves slots on relays (listens on /p2p-circuit) */
  relayClient: boolean
  dht: { mode: 'off' | 'client' | 'server', routingTablePeers: number }
  connections: { peers: number, direct: number, relayed: number, minConnections: number, maxConnections: number }
  mdns: boolean
  upnp: boolean
  dcutr: boolean
  /**
   * hole punching between NATs (docs/network.md § Hole punching): the one local port outbound
   * dials leave from (null: a fresh port per dial), and our address as peers saw it on direct
   * connections we dialed: behind a cone-like NAT one address (the NAT's mapping of that port),
   * behind a symmetric one a new port per peer
   */
  holePunch: { dialPort: number | null, observedAddrs: string[] }
}

interface AddressMeta { multiaddr: { toString: () => string }, verified: boolean, type: string, expires: number }

function addressMetadata (libp2p: Libp2p): AddressMeta[] {
  const am = (libp2p as unknown as { components?: { addressManager?: { getAddressesWithMetadata?: () => AddressMeta[] } } }).components?.addressManager
  try {
    return am?.getAddressesWithMetadata?.() ?? []
  } catch {
    return []
  }
}

export function reachabilityOf (libp2p: Libp2p, plan: NetworkPlan | undefined, nowMs = Date.now()): Reachability {
  const announced = libp2p.getMultiaddrs().map(a => a.toString())
  const relayAddrs = announced.filter(a => isRelayAddr(a))
  const direct = announced.filter(a => !isRelayAddr(a))
  const publicAddrs = direct.filter(a => isPublicAddr(a))
  const privateAddrs = direct.filter(a => !isPublicAddr(a))
  const candidates = addressMetadata(libp2p).filter(m => !isRelayAddr(m.multiaddr.toString()) && isPublicAddr(m.multiaddr.toString()))
  const unverified = [...new Set(candidates.filter(m => !m.verified).map(m => m.multiaddr.toString()))].filter(a => !publicAddrs.some(p => p.startsWith(a)))
  // an unverified candidate with a future expiry was tested and refused (the address manager's unconfirm)
  const refused = candidates.filter(m => !m.verified && m.expires > nowMs)
  let status: Reachability['status']
  if (publicAddrs.length > 0) status = 'public'
  else if (relayAddrs.length > 0 || unverified.length === 0 || (refused.length > 0 && refused.length === unverified.length)) status = 'private'
  else status = 'unknown'
  const services = libp2p.services as Record<string, any>
  const relay = services.relay as { reservations?: { size: number } } | undefined
  const dht = services.dht as { getMode?: () => 'client' | 'server', routingTable?: { size: number } } | undefined
  const conns = libp2p.getConnections().filter(c => c.status === 'open')
  const relayed = conns.filter(c => c.limits != null || isRelayAddr(c.remoteAddr)).length
  const config = plan?.config
  return {
    status,
    autonat: config?.autonat ?? false,
    publicAddrs,
    relayAddrs,
    privateAddrs,
    unverifiedAddrs: unverified,
    relay: {
      server: plan?.relayServer ?? false,
      reservations: relay?.reservations?.size ?? 0,
      maxReservations: plan?.relayServer === true ? config?.relayMaxReservations ?? 0 : 0,
      dataLimitBytes: config?.relayDataLimitBytes ?? 0,
      durationLimitMs: config?.relayDurationLimitMs ?? 0
    },
    relayClient: plan?.relayClient ?? false,
    dht: { mode: dht?.getMode?.() ?? 'off', routingTablePeers: dht?.routingTable?.size ?? 0 },
    connections: {
      peers: new Set(conns.map(c => c.remotePeer.toString())).size,
      direct: conns.length - relayed,
      relayed,
      minConnections: config?.minConnections ?? 0,
      maxConnections: config?.maxConnections ?? 0
    },
    mdns: plan?.mdns ?? false,
    upnp: config?.upnp ?? false,
    dcutr: config?.dcutr ?? false,
    holePunch: { dialPort: plan?.dialPort ?? null, observedAddrs: (services.observedDialAddrs as ObservedDialAddrs | undefined)?.addrs() ?? [] }
  }
}

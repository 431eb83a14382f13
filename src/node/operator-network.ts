/**
 * The operator's view of the node's reachability (`/tally/network`, `tally doctor`): the AutoNAT
 * result, its public, private and relay addresses, its connections (direct or relayed, and the
 * peers first reached over a relay that later got a direct connection, i.e. DCUtR upgrades),
 * and whether its own offer is in its neighbours' books (asked over /tally/offers). It observes
 * libp2p; it changes nothing.
 */
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { BOOK_SYNC_PROTOCOL, MAX_SNAPSHOT_OFFERS } from '../market/book-sync.js'
import { openOffer } from '../market/offer.js'
import { MAX_OFFER_BYTES } from '../wire/limits.js'
import { deadline } from '../wire/deadline.js'
import { addressScope } from './operator-diagnosis.js'

/** connection events remembered (the newest) */
export const MAX_CONNECTION_EVENTS = 500
/** peers asked for their book by one offer probe (mesh peers of the offers topic first) */
export const OFFER_PROBE_PEERS = 3
/** one probe's answer is reused this long (the doctor and a dashboard may ask often) */
export const OFFER_PROBE_CACHE_MS = 10_000
/** the whole probe is bounded by this */
export const OFFER_PROBE_TIMEOUT_MS = 5_000
/** peers whose relayed or direct history is kept */
const MAX_PEERS_TRACKED = 10_000

export type Reachability = 'public' | 'private' | 'unknown'

export interface ConnectionEvent {
  atMs: number
  event: 'open' | 'close'
  peer: string
  remoteAddr: string
  direction: 'inbound' | 'outbound'
  /** over a circuit relay (a /p2p-circuit address, or a connection with relay limits) */
  relayed: boolean
}

export interface OfferProbePeer {
  peer: string
  /** this peer's book holds my current offer of every model I sell */
  holds: boolean
  /** models whose offer it holds at my current seq; models it holds at an older seq */
  current: string[]
  stale: string[]
  offersInBook: number
  error?: string
}

export interface OfferProbe {
  atMs: number
  asked: number
  holding: number
  peers: OfferProbePeer[]
}

export interface NetworkView {
  peerId: string
  reachability: { status: Reachability, source: 'autonat' | 'addresses', detail: string }
  addrs: { public: string[], private: string[], relay: string[], unverified: string[] }
  nat: { type: 'none' | 'cone-like' | 'unknown', detail: string }
  connections: {
    total: number
    inbound: number
    outbound: number
    direct: number
    relayed: number
    list: Array<{ peer: string, remoteAddr: string, direction: string, relayed: boolean, openedAtMs: number }>
  }
  peers: { connected: number, byTopic: Record<string, number>, subscribersByTopic: Record<string, number> }
  /** peers first connected over a relay, and of them those that later got a direct connection */
  upgrades: { relayedPeers: number, upgradedToDirect: number }
  history: ConnectionEvent[]
  /** the network layer's services, when the node runs them: the relay it serves (slots held for others, limits), DHT, connection target */
  services?: {
    autonat: boolean
    relayServer?: { reservations: number, maxReservations: number, dataLimitBytes: number, durationLimitMs: number }
    relayClient: boolean
    dcutr: boolean
    dht: { mode: string, routingTablePeers: number }
    connectionTarget?: { min: number, max: number }
    mdns: boolean
    upnp: boolean
    /** the dial port and where peers saw it (docs/network.md § Hole punching) */
    holePunch?: { dialPort: number | null, observedAddrs: string[] }
  }
  offerSeen?: OfferProbe
}

/** the network layer's report as the view's services section */
export function servicesOf (r: ReachabilityReport | undefined): NetworkView['services'] {
  if (r == null || r.relay == null) return undefined
  return {
    autonat: r.autonat === true,
    relayServer: r.relay.server ? { reservations: r.relay.reservations, maxReservations: r.relay.maxReservations, dataLimitBytes: r.relay.dataLimitBytes, durationLimitMs: r.relay.durationLimitMs } : undefined,
    relayClient: r.relayClient === true,
    dcutr: r.dcutr === true,
    dht: r.dht ?? { mode: 'off', routingTablePeers: 0 },
    connectionTarget: r.connections != null ? { min: r.connections.minConnections, max: r.connections.maxConnections } : undefined,
    mdns: r.mdns === true,
    upnp: r.upnp === true,
    holePunch: r.holePunch
  }
}

/** a relayed connection: its address goes through /p2p-circuit, or the relay put limits on it */
export function isRelayed (c: Pick<Connection, 'remoteAddr' | 'limits'>): boolean {
  return c.limits != null || c.remoteAddr.toString().includes('/p2p-circuit')
}

/** the libp2p surface this module reads */
export interface NetworkLibp2p {
  peerId: PeerId
  getConnections: () => Connection[]
  getPeers: () => PeerId[]
  getMultiaddrs: () => Array<{ toString: () => string }>
  addEventListener: (type: string, fn: (e: any) => void) => void
  removeEventListener: (type: string, fn: (e: any) => void) => void
  dialProtocol: (peer: PeerId, protocol: string, opts?: { signal?: AbortSignal, runOnLimitedConnection?: boolean }) => Promise<Stream>
  components?: { addressManager?: { getAddressesWithMetadata?: () => Array<{ multiaddr: { toString: () => string }, verified: boolean, type: string }> } }
}

/** what the node's network layer says about its reachability, when it says it (src/node/network/reachability.ts) */
export interface ReachabilityReport {
  status?: Reachability
  autonat?: boolean
  relay?: { server: boolean, reservations: number, maxReservations: number, dataLimitBytes: number, durationLimitMs: number }
  relayClient?: boolean
  dht?: { mode: string, routingTablePeers: number }
  connections?: { minConnections: number, maxConnections: number }
  mdns?: boolean
  upnp?: boolean
  dcutr?: boolean
  holePunch?: { dialPort: number | null, observedAddrs: string[] }
}

export interface AddressFacts {
  /** every address libp2p announces (verified or configured), with the id suffix or not */
  announced: string[]
  /** the address manager's entries: observed addresses are unverified until AutoNAT confirms them */
  meta: Array<{ addr: string, verified: boolean, type: string }>
  /** the network layer's own verdict, if it gives one */
  reported?: Reachability
}

/**
 * Pure: the node's reachability from its addresses. Public: a public, non-relay address that is
 * configured on the host or confirmed by AutoNAT. Private: no public address at all (behind a NAT
 * or on a LAN), or AutoNAT's verdict. Unknown: a public address observed by peers that AutoNAT has
 * not confirmed yet.
 */
export function classifyAddresses (f: AddressFacts): Pick<NetworkView, 'reachability' | 'addrs' | 'nat'> {
  const relay = unique(f.announced.filter(a => a.includes('/p2p-circuit')))
  const direct = unique([...f.announced.filter(a => !a.includes('/p2p-circuit')), ...f.meta.filter(m => m.verified && !m.addr.includes('/p2p-circuit')).map(m => m.addr)])
  const publicAddrs = direct.filter(a => addressScope(a) === 'public')
  const privateAddrs = direct.filter(a => addressScope(a) !== 'public')
  const unverified = unique(f.meta.filter(m => !m.verified && !m.addr.includes('/p2p-circuit') && addressScope(m.addr) === 'public').map(m => m.addr)).filter(a => !publicAddrs.includes(a))
  // a relay listener's address is a transport address too, with the relay's public IP: not the host's
  const hostPublic = f.meta.some(m => m.type === 'transport' && !m.addr.includes('/p2p-circuit') && addressScope(m.addr) === 'public')
  let status: Reachability
  let detail: string
  const source: 'autonat' | 'addresses' = f.reported != null ? 'autonat' : 'addresses'
  if (f.reported != null && f.reported !== 'unknown') {
    status = f.reported
    detail = status === 'public' ? 'AutoNAT: peers dialled this node back on a public address' : 'AutoNAT: peers could not dial this node back on any public address'
  } else if (publicAddrs.length > 0) {
    status = 'public'
    detail = hostPublic ? 'the host listens on a public address' : 'a public address confirmed by AutoNAT (peers dialled it back)'
  } else if (unverified.length > 0) {
    status = 'unknown'
    detail = `peers see this node at ${unverified.slice(0, 2).join(', ')}; AutoNAT has not confirmed that it can be dialled there`
  } else if (direct.length > 0) {
    status = 'private'
    detail = 'every address of this node is private or loopback: it is behind a NAT or on a LAN'
  } else {
    status = 'unknown'
    detail = 'this node has no direct address'
  }
  const nat: NetworkView['nat'] = hostPublic
    ? { type: 'none', detail: 'the host has a public address: no NAT in front of it' }
    : { type: 'unknown', detail: 'AutoNAT does not report the NAT type; a relayed peer that later connects directly (hole punched) shows a cone-like NAT' }
  return { reachability: { status, source, detail }, addrs: { public: publicAddrs, private: privateAddrs, relay, unverified }, nat }
}

function unique (a: string[]): string[] { return [...new Set(a)] }

/**
 * Connection events of one node, newest last, and which peers were first reached over a relay and
 * which of those later got a direct connection (a DCUtR upgrade, or a direct dial that worked).
 */
export class ConnectionHistory {
  private readonly events: ConnectionEvent[] = []
  private readonly relayedPeers = new Set<string>()
  private readonly upgraded = new Set<string>()
  private readonly opened = new WeakMap<Connection, number>()
  private readonly onOpen = (e: CustomEvent<Connection>): void => { this.record('open', e.detail) }
  private readonly onClose = (e: CustomEvent<Connection>): void => { this.record('close', e.detail) }

  constructor (private readonly libp2p: NetworkLibp2p, private readonly now: () => number) {}

  start (): void {
    for (const c of this.libp2p.getConnections()) this.record('open', c)
    this.libp2p.addEventListener('connection:open', this.onOpen)
    this.libp2p.addEventListener('connection:close', this.onClose)
  }

  stop (): void {
    this.libp2p.removeEventListener('connection:open', this.onOpen)
    this.libp2p.removeEventListener('connection:close', this.onClose)
  }

  private record (event: 'open' | 'close', c: Connection): void {
    const peer = c.remotePeer.toString()
    const relayed = isRelayed(c)
    if (event === 'open') {
      this.opened.set(c, this.now())
      if (relayed) {
        if (this.relayedPeers.size < MAX_PEERS_TRACKED) this.relayedPeers.add(peer)
      } else if (this.relayedPeers.has(peer)) {
        this.upgraded.add(peer)
      }
    }
    this.events.push({ atMs: this.now(), event, peer, remoteAddr: c.remoteAddr.toString(), direction: c.direction, relayed })
    if (this.events.length > MAX_CONNECTION_EVENTS) this.events.splice(0, this.events.length - MAX_CONNECTION_EVENTS)
  }

  openedAt (c: Connection): number { return this.opened.get(c) ?? this.now() }

  upgrades (): NetworkView['upgrades'] {
    return { relayedPeers: this.relayedPeers.size, upgradedToDirect: this.upgraded.size }
  }

  history (): ConnectionEvent[] { return [...this.events] }
}

/**
 * Ask up to OFFER_PROBE_PEERS peers for the offers they hold (the /tally/offers snapshot, read
 * and decoded, not ingested) and say whether each holds my current offer of every model I sell.
 * This is the offer's real reach: a peer's book, not a subscription count.
 */
export async function probeOfferSeen (p: {
  libp2p: NetworkLibp2p
  peers: string[]
  net: Uint8Array
  sellerId: string
  /** my current seq per model */
  mine: Map<string, bigint>
  now: () => number
}): Promise<OfferProbe> {
  const asked = p.peers.slice(0, OFFER_PROBE_PEERS)
  const limit = deadline(OFFER_PROBE_TIMEOUT_MS)
  try {
    const peers = await Promise.all(asked.map(async (peer): Promise<OfferProbePeer> => {
      const current: string[] = []
      const stale: string[] = []
      let offersInBook = 0
      let stream: Stream | undefined
      try {
        stream = await p.libp2p.dialProtocol(peerIdFromString(peer), BOOK_SYNC_PROTOCOL, { signal: limit.signal, runOnLimitedConnection: true })
        const lp = lpStream(stream, { maxDataLength: MAX_OFFER_BYTES })
        while (offersInBook < MAX_SNAPSHOT_OFFERS) {
          let bytes
          try {
            bytes = await lp.read({ signal: limit.signal })
          } catch (err: any) {
            if (err?.name === 'UnexpectedEOFError') break
            throw err
          }
          offersInBook++
          let o
          try { o = openOffer(bytes.subarray(), p.net, p.now()) } catch { continue }
          if (o.sellerId !== p.sellerId) continue
          const seq = p.mine.get(o.modelId)
          if (seq == null) continue
          if (o.seq >= seq) current.push(o.modelId)
          else stale.push(o.modelId)
        }
        await stream.close({ signal: limit.signal }).catch(() => {})
        const holds = [...p.mine.keys()].every(m => current.includes(m))
        return { peer, holds, current, stale, offersInBook }
      } catch (err: any) {
        stream?.abort(err)
        return { peer, holds: false, current, stale, offersInBook, error: String(err?.message ?? err) }
      }
    }))
    return { atMs: p.now(), asked: asked.length, holding: peers.filter(x => x.holds).length, peers }
  } finally {
    limit.clear()
  }
}

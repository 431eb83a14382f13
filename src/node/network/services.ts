/**
 * The libp2p pieces an open-network node adds to its host: services (Kademlia DHT, ping, AutoNAT
 * v2, circuit relay server, DCUtR, UPnP/NAT-PMP, mDNS, Tally's own connection target), the relay
 * transport and the /p2p-circuit listen address, all from one NetworkConfig (docs/network.md).
 */
import { networkInterfaces } from 'node:os'
import { kadDHT, type KadDHT } from '@libp2p/kad-dht'
import type { ComponentLogger, Libp2pEvents, PeerInfo, Startable, TypedEventTarget } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { identifyPush } from '@libp2p/identify'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { mdns } from '@libp2p/mdns'
import { isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { NetworkConfig } from './config.js'
import { connectionTarget, type ConnectionTarget } from './connection-target.js'
import { isPublicAddr, isRelayAddr } from './addresses.js'
import { dialPortTcp, holePunchComponents, ObservedDialAddrs } from './hole-punch.js'

/** the DHT of one Tally network: its own protocol id, so networks (and IPFS) never mix tables */
export function dhtProtocol (netHex: string): string {
  return `/tally/kad/${netHex.slice(0, 16)}/1.0.0`
}

/** mDNS service tag of one Tally network: nodes of another network on the LAN are not announced */
export function mdnsServiceTag (netHex: string): string {
  return `_tally-${netHex.slice(0, 16)}._udp.local`
}

/** what the node decided from its config and host when it was built (`auto` resolved) */
export interface NetworkPlan {
  config: NetworkConfig
  /** the host has a public address (an interface, or a listen address, outside private ranges) */
  publicHost: boolean
  relayServer: boolean
  relayClient: boolean
  mdns: boolean
  dht: 'off' | 'auto' | 'server' | 'client'
  /** the local port every outbound TCP dial leaves from (§ Hole punching); undefined: a fresh port per dial */
  dialPort?: number
}

/** whether a listen address, or (for a wildcard) one of the host's interfaces, is public */
export function hasPublicAddress (listen: string[], interfaces = networkInterfaces()): boolean {
  for (const a of listen) {
    let ma
    try { ma = multiaddr(a) } catch { continue }
    const host = ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
    if (host == null) continue
    if (host === '0.0.0.0' || host === '::') {
      for (const list of Object.values(interfaces)) {
        for (const i of list ?? []) {
          if (i.internal) continue
          const fam = i.family === 'IPv4' ? 'ip4' : 'ip6'
          if (fam !== (host === '::' ? 'ip6' : 'ip4')) continue
          if (isPrivate(multiaddr(`/${fam}/${i.address}/tcp/1`)) !== true) return true
        }
      }
    } else if (isPrivate(ma) !== true) {
      return true
    }
  }
  return false
}

/** whether any listen address can be reached from another host (a wildcard or a non-loopback IP) */
export function listensBeyondLoopback (listen: string[]): boolean {
  return listen.some(a => {
    try {
      const host = multiaddr(a).getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
      return host != null && !host.startsWith('127.') && host !== '::1'
    } catch { return false }
  })
}

/**
 * The dial port (§ Hole punching): a port given, or with `auto` on a TCP host without a public
 * address the first TCP listen port + 1 (a random high port when that port is 0 or 65535: a
 * dial that cannot bind it falls back to a fresh port). A public host needs none: peers dial it.
 */
export function planDialPort (config: NetworkConfig, listen: string[], transport: 'tcp' | 'memory', publicHost: boolean): number | undefined {
  if (transport !== 'tcp' || config.dialPort === 'off') return undefined
  if (typeof config.dialPort === 'number') return config.dialPort
  if (publicHost) return undefined
  for (const a of listen) {
    let port: number | undefined
    try { port = Number(multiaddr(a).getComponents().find(c => c.name === 'tcp')?.value) } catch { continue }
    if (Number.isInteger(port) && port > 0 && port < 65535) return port + 1
  }
  return 49152 + Math.floor(Math.random() * 16383)
}

export function planNetwork (config: NetworkConfig, listen: string[], transport: 'tcp' | 'memory'): NetworkPlan {
  const publicHost = transport === 'tcp' && hasPublicAddress(listen)
  const relayServer = config.relay === 'on' || (config.relay === 'auto' && publicHost)
  return {
    dialPort: planDialPort(config, listen, transport, publicHost),
    config,
    publicHost,
    relayServer,
    relayClient: config.relayClient === 'on' || (config.relayClient === 'auto' && !publicHost && !relayServer),
    // multicast is for a LAN: a loopback-only node (tests, one machine) would only find the
    // unrelated nodes of other processes on the same host
    mdns: transport === 'tcp' && (config.mdns === 'on' || (config.mdns === 'auto' && !publicHost && listensBeyondLoopback(listen))),
    dht: config.dht
  }
}

/**
 * The addresses a DHT record keeps, in and out: public and relay ones always; private ones only
 * on a node without a public address (a LAN, one machine, a testnet), where they are the way in.
 * A public node drops them, as libp2p's DHT does by default: strangers cannot dial them. They
 * are hints either way: every dial checks the peer id (noise), so a lying record costs a dial.
 */
export function dhtAddressMapper (keepPrivate: boolean): (peer: PeerInfo) => PeerInfo {
  return (peer) => keepPrivate
    ? peer
    : { ...peer, multiaddrs: peer.multiaddrs.filter(ma => ma.getComponents().some(c => c.name === 'p2p-circuit') || isPrivate(ma) !== true) }
}

interface DhtModeComponents { events: TypedEventTarget<Libp2pEvents>, dht: KadDHT, logger: ComponentLogger }

/**
 * `--dht auto` on a host without a public address: a DHT server while the node can be dialled
 * directly on its network (a LAN, a testnet segment), a client once it holds a relay address
 * (it is behind a NAT: peers handed its direct addresses could not dial them).
 */
class DhtMode implements Startable {
  constructor (private readonly c: DhtModeComponents) {}
  readonly [Symbol.toStringTag] = 'tally:dht-mode'
  start (): void { this.c.events.addEventListener('self:peer:update', this.onUpdate) }
  stop (): void { this.c.events.removeEventListener('self:peer:update', this.onUpdate) }
  private readonly onUpdate = (evt: CustomEvent<{ peer: { addresses: Array<{ multiaddr: { toString: () => string } }> } }>): void => {
    const want = evt.detail.peer.addresses.some(a => isRelayAddr(a.multiaddr.toString())) ? 'client' : 'server'
    if (this.c.dht.getMode() === want) return
    this.c.dht.setMode(want).catch((err) => { this.c.logger.forComponent('tally:dht-mode').error('setting DHT mode %s failed: %e', want, err) })
  }
}

/**
 * How long a public host's own interface address counts as confirmed before AutoNAT v2 tests it
 * (docs/network.md § Addresses): a few peers' worth of dial-backs, after the node has met them.
 */
export const PROVISIONAL_ADDR_TTL_MS = 60_000

interface HostAddressesComponents {
  events: TypedEventTarget<Libp2pEvents>
  transportManager: { getAddrs: () => Array<{ toString: () => string }> }
  addressManager: { confirmObservedAddr: (addr: any, options?: { type?: string, ttl?: number }) => void }
}

/**
 * On a host with a public address of its own (an interface outside private ranges, no NAT in
 * front of it), its public listen addresses are announced from the start, provisionally: libp2p
 * announces a public transport address only once AutoNAT v2 has confirmed it, which takes peers
 * that a young node has not met yet, so until then identify, DHT records and offers carried no
 * address and the DHT stayed a client (the overlay a star around the bootstrap, docs/network.md
 * § Figures). AutoNAT v2 tests each address once its provisional TTL ends and withdraws it if
 * peers cannot dial it back (a firewall).
 */
class HostAddresses implements Startable {
  constructor (private readonly c: HostAddressesComponents, private readonly ttlMs: number) {}
  readonly [Symbol.toStringTag] = 'tally:host-addresses'
  start (): void { this.c.events.addEventListener('transport:listening', this.confirm) }
  afterStart (): void { this.confirm() }
  stop (): void { this.c.events.removeEventListener('transport:listening', this.confirm) }
  private readonly confirm = (): void => {
    for (const ma of this.c.transportManager.getAddrs()) {
      if (!isPublicAddr(ma.toString())) continue
      this.c.addressManager.confirmObservedAddr(ma, { type: 'transport', ttl: this.ttlMs })
    }
  }
}

interface UpnpRecheckComponents {
  connectionManager: { getConnections: () => Array<{ status: string, limits?: unknown, remotePeer: { toString: () => string } }> }
  addressManager: { getAddressesWithMetadata: () => Array<{ type: string, verified: boolean }> }
  autonat?: { client?: { verifyExternalAddresses?: (connection: unknown) => Promise<void> } }
  logger: ComponentLogger
}

/** peers asked to dial a new mapping back: AutoNAT v2 confirms a mapped address on one success */
const UPNP_RECHECK_PEERS = 3
/** how often an unverified router mapping is looked for */
const UPNP_RECHECK_MS = 5_000

/**
 * AutoNAT v2 asks a peer to dial our unverified addresses back when a connection to it opens (and
 * on a DHT random walk). A router mapping comes a few seconds after start (UPnP finds the router,
 * then maps), after the node met its first peers, and adding it changes nothing libp2p listens
 * to: it waited for the next new connection, which a node with few peers may never open. While
 * the node holds an unverified mapping, this asks the peers of up to three open direct
 * connections to verify it (AutoNAT skips a peer's network segment that already answered), every
 * 5 s (docs/network.md § UPnP).
 */
class UpnpRecheck implements Startable {
  private timer?: ReturnType<typeof setInterval>
  constructor (private readonly c: UpnpRecheckComponents) {}
  readonly [Symbol.toStringTag] = 'tally:upnp-recheck'
  start (): void { this.timer = setInterval(() => { this.recheck() }, UPNP_RECHECK_MS) }
  stop (): void { if (this.timer != null) clearInterval(this.timer) }

  private recheck (): void {
    if (!this.c.addressManager.getAddressesWithMetadata().some(a => a.type === 'ip-mapping' && !a.verified)) return
    let verify: ((connection: unknown) => Promise<void>) | undefined
    try { verify = this.c.autonat?.client?.verifyExternalAddresses?.bind(this.c.autonat.client) } catch { return }
    if (verify == null) return
    const peers = new Set<string>()
    for (const conn of this.c.connectionManager.getConnections()) {
      if (conn.status !== 'open' || conn.limits != null || peers.has(conn.remotePeer.toString())) continue
      peers.add(conn.remotePeer.toString())
      verify(conn).catch((err) => { this.c.logger.forComponent('tally:upnp-recheck').error('asking %s to verify our addresses failed: %e', conn.remotePeer.toString(), err) })
      if (peers.size >= UPNP_RECHECK_PEERS) break
    }
  }
}

let fetchFixed = false

/**
 * UPnP's SOAP calls (@achingbrain/nat-port-mapper) send an explicit Content-Length header with
 * a string body. Importing undici 7 (the HTTP backend does) installs its Agent as the global
 * dispatcher of Node 20's own fetch, and that Agent refuses such a request before it leaves
 * ("invalid content-length header": fetch adds its own): the router's external address and every
 * mapping failed with "fetch failed" (docs/network.md § UPnP). A fetch with a string body
 * computes the length itself, so the explicit header is dropped; nothing else changes. Installed
 * once per process, only on a node that runs UPnP.
 */
export function fetchWithoutExplicitContentLength (): void {
  if (fetchFixed) return
  fetchFixed = true
  const inner = globalThis.fetch
  globalThis.fetch = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    if (init?.headers != null && typeof init.body === 'string') {
      const headers = new Headers(init.headers)
      if (headers.has('content-length')) {
        headers.delete('content-length')
        init = { ...init, headers }
      }
    }
    return await inner(input, init)
  }
}

/** the extra libp2p services, by name; each present only when the plan turns it on */
export interface NetworkServices {
  ping?: unknown
  dht?: KadDHT
  autonat?: unknown
  relay?: CircuitRelayService
  dcutr?: unknown
  upnp?: unknown
  mdns?: unknown
  network: ConnectionTarget
}

export function networkServiceFactories (plan: NetworkPlan, netHex: string, bootstrap: string[]): Record<string, (components: any) => unknown> {
  const c = plan.config
  const f: Record<string, (components: any) => unknown> = {}
  // identify runs once per connection; a node's protocols and addresses change after it (the DHT
  // turning server, an address confirmed, a relay slot reserved): push them to connected peers,
  // or a DHT server met as a client never enters their routing tables (the overlay stays a star)
  f.identifyPush = identifyPush()
  if (plan.dht !== 'off') {
    // kad-dht pings contacts before evicting them
    f.ping = ping()
    f.dht = kadDHT({
      protocol: dhtProtocol(netHex),
      // auto on a public host: libp2p's rule (server once a public address is confirmed); on a
      // private one (LAN, testnet, behind NAT): server until reached only through a relay (dhtMode)
      clientMode: plan.dht === 'auto' ? (plan.publicHost ? undefined : false) : plan.dht === 'client',
      peerInfoMapper: dhtAddressMapper(!plan.publicHost),
      logPrefix: 'tally:dht'
    })
  }
  if (plan.publicHost) f.hostAddresses = (components: HostAddressesComponents) => new HostAddresses(components, PROVISIONAL_ADDR_TTL_MS)
  if (plan.dht === 'auto' && !plan.publicHost) f.dhtMode = (components: DhtModeComponents) => new DhtMode(components)
  if (c.autonat) f.autonat = autoNATv2()
  if (plan.relayServer) {
    f.relay = circuitRelayServer({
      reservations: {
        maxReservations: c.relayMaxReservations,
        applyDefaultLimit: true,
        defaultDataLimit: BigInt(c.relayDataLimitBytes),
        defaultDurationLimit: c.relayDurationLimitMs
      }
    })
  }
  if (c.dcutr && plan.dialPort != null) {
    // § Hole punching: DCUtR's CONNECT also names the NAT's mapping of the dial port
    const observed = new ObservedDialAddrs()
    f.observedDialAddrs = (components: { events: TypedEventTarget<Libp2pEvents> }) => observed.service(components)
    f.dcutr = (components: any) => dcutr()(holePunchComponents(components, observed))
  } else if (c.dcutr) {
    f.dcutr = (components: any) => dcutr()(holePunchComponents(components))
  }
  if (c.upnp) {
    fetchWithoutExplicitContentLength()
    f.upnp = uPnPNAT()
    if (c.autonat) f.upnpRecheck = (components: UpnpRecheckComponents) => new UpnpRecheck(components)
  }
  if (plan.mdns) f.mdns = mdns({ serviceTag: mdnsServiceTag(netHex) })
  f.network = connectionTarget({ minConnections: c.minConnections, bootstrap, randomWalk: plan.dht !== 'off' })
  return f
}

/**
 * Whether any open-network service is on. Such a node can dial /p2p-circuit addresses (the
 * relay transport), since offers on an open network carry them; a closed one has no use for it.
 */
export function isOpen (c: NetworkConfig): boolean {
  return c.dht !== 'off' || c.minConnections > 0 || c.mdns !== 'off' || c.autonat || c.relay !== 'off' || c.relayClient !== 'off' || c.dcutr || c.upnp
}

/** the TCP transport: its dials leave from the plan's dial port when it has one (§ Hole punching) */
export function tcpTransport (plan: Pick<NetworkPlan, 'dialPort'>): ReturnType<typeof tcp> {
  return plan.dialPort != null ? dialPortTcp(plan.dialPort) : tcp()
}

export function relayTransport (): ReturnType<typeof circuitRelayTransport> {
  return circuitRelayTransport()
}

/** listening on /p2p-circuit makes the relay transport reserve a slot on a relay and advertise it */
export const RELAY_LISTEN = '/p2p-circuit'

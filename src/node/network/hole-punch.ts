/**
 * TCP hole punching between two NATs (docs/network.md § Hole punching).
 *
 * DCUtR makes both ends of a relayed connection dial each other at once, each at the address the
 * other's NAT showed the world. Two things stop that over @libp2p/tcp as shipped: every dial
 * leaves from a fresh ephemeral port, so the mapping a peer observed (the port of the connection
 * to the relay) is never the one the punch leaves from and the other side's SYN meets no
 * conntrack entry; and identify drops every observed TCP address (js-libp2p issue 2620, for that
 * same reason), so DCUtR's CONNECT message carries no public address of a NATed node at all.
 *
 * - `dialPortTcp`: every outbound TCP dial leaves from one local port Q. libuv binds client
 *   sockets with SO_REUSEADDR and Linux lets any number of connected sockets share a local port
 *   when their 4-tuples differ, so a cone-like NAT (masquerade keeps a free source port) maps
 *   all of them to one external port. A dial that cannot have Q (EADDRINUSE: a listener there;
 *   EADDRNOTAVAIL: that 4-tuple is still open or in TIME_WAIT) leaves from a fresh port instead.
 * - `ObservedDialAddrs`: what peers observed as our address on direct connections we dialed
 *   (identify's `observedAddr`), i.e. the NAT's mapping of Q.
 * - `holePunchComponents`: DCUtR's view of the address manager also lists those observed
 *   addresses, so the CONNECT message names them. Nothing else announces them: they are not
 *   dialable by a stranger (the NAT drops an unsolicited SYN), only by a simultaneous open. Its
 *   forced direct dials skip libp2p's dial queue, which lost `initiator: false` (`punchDial`).
 */
import { tcp } from '@libp2p/tcp'
import type { Connection, Libp2pEvents, TypedEventTarget } from '@libp2p/interface'
import { isMultiaddr, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isPublicAddr, isRelayAddr } from './addresses.js'

/** socket errors that mean "port Q cannot be had for this dial", not "the peer is unreachable" */
const PORT_BUSY = new Set(['EADDRINUSE', 'EADDRNOTAVAIL'])

/**
 * @libp2p/tcp whose outbound dials leave from local port `port` (net.connect's localPort), with a
 * fresh port for a dial that cannot bind it.
 */
export function dialPortTcp (port: number): ReturnType<typeof tcp> {
  const factory = tcp()
  return (components) => {
    const t = factory(components)
    const dial = t.dial.bind(t)
    t.dial = async (ma, options) => {
      try {
        return await dial(ma, { ...options, localPort: port } as typeof options)
      } catch (err: any) {
        if (!PORT_BUSY.has(err?.code) || options.signal?.aborted === true) throw err
        return await dial(ma, options)
      }
    }
    return t
  }
}

interface Observation { addr: string, peers: Set<string>, lastMs: number }

/** most observed addresses DCUtR offers: a cone NAT shows one; a symmetric one shows a new one per dial */
const MAX_PUNCH_ADDRS = 4
/** an observation older than this is forgotten (a NAT's TCP mapping lives while its connection does) */
const OBSERVATION_TTL_MS = 10 * 60_000

interface IdentifyEvent { observedAddr?: Multiaddr, connection: { direction: string, limits?: unknown, remoteAddr: Multiaddr }, peerId: { toString: () => string } }

/**
 * Our address as peers observed it on direct connections we dialed (identify's `observedAddr`):
 * behind a cone-like NAT with a dial port, the NAT's one mapping of that port.
 */
export class ObservedDialAddrs {
  private readonly seen = new Map<string, Observation>()
  private events?: TypedEventTarget<Libp2pEvents>
  readonly [Symbol.toStringTag] = 'tally:observed-dial-addrs'

  /** a libp2p service: `f.x = (c) => observed.service(c)` */
  service (components: { events: TypedEventTarget<Libp2pEvents> }): this {
    this.events = components.events
    return this
  }

  start (): void { this.events?.addEventListener('peer:identify', this.onIdentify as any) }
  stop (): void { this.events?.removeEventListener('peer:identify', this.onIdentify as any) }

  private readonly onIdentify = (evt: CustomEvent<IdentifyEvent>): void => {
    const { observedAddr, connection, peerId } = evt.detail
    if (observedAddr == null || connection.direction !== 'outbound' || connection.limits != null) return
    let addr: Multiaddr
    try {
      // the observed address may end in our peer id: keep the transport part
      addr = multiaddr(observedAddr.toString().replace(/\/p2p\/[^/]+$/, ''))
    } catch { return }
    const names = addr.getComponents().map(c => c.name)
    if (names.length !== 2 || names[1] !== 'tcp' || !isPublicAddr(addr)) return
    this.record(addr.toString(), peerId.toString())
  }

  /** records that `peer` saw us at `addr` (exposed for the unit test) */
  record (addr: string, peer: string, nowMs = Date.now()): void {
    const o = this.seen.get(addr) ?? { addr, peers: new Set<string>(), lastMs: 0 }
    o.peers.add(peer)
    o.lastMs = nowMs
    this.seen.set(addr, o)
    // bounded: a symmetric NAT shows a new port per connection; the one seen by fewest peers,
    // then the oldest, goes (a cone NAT's one mapping, seen by many, stays)
    if (this.seen.size > 4 * MAX_PUNCH_ADDRS) {
      const worst = [...this.seen.values()].filter(x => x !== o).sort((a, b) => a.peers.size - b.peers.size || a.lastMs - b.lastMs)[0]
      if (worst != null) this.seen.delete(worst.addr)
    }
  }

  /** the addresses to offer for a hole punch: seen by the most peers first, then the latest */
  addrs (nowMs = Date.now()): string[] {
    return [...this.seen.values()]
      .filter(o => nowMs - o.lastMs <= OBSERVATION_TTL_MS)
      .sort((a, b) => b.peers.size - a.peers.size || b.lastMs - a.lastMs)
      .slice(0, MAX_PUNCH_ADDRS)
      .map(o => o.addr)
  }
}

interface AddressManagerLike { getAddresses: () => Multiaddr[] }
interface DialOptions { signal?: AbortSignal, force?: boolean, initiator?: boolean, priority?: number }
interface ConnectionManagerLike { openConnection: (target: any, options?: DialOptions) => Promise<Connection> }
interface TransportManagerLike { dial: (ma: Multiaddr, options: any) => Promise<Connection> }
interface HolePunchBase { addressManager: AddressManagerLike, connectionManager: ConnectionManagerLike, transportManager: TransportManagerLike, peerId: { toString: () => string } }

/** DCUtR's own per-attempt deadline (its default `timeout`) */
const PUNCH_DIAL_TIMEOUT_MS = 5_000

/**
 * The direct dials of a hole punch, past libp2p's dial queue: the queue keeps only a job's peer,
 * priority, addresses and signal, so DCUtR's `initiator: false` (the side that must act as the
 * noise responder and multistream server) was lost and both ends of a simultaneous open ran as
 * initiators ("handshake stage 1 validation fail"); and a punch that joined a pending dial to the
 * same peer came back with the relayed connection, which DCUtR then closed as "upgraded". Each
 * address is dialed in turn through the transport manager (the upgrader still registers the
 * connection); the peer at the other end must be the one asked for.
 */
async function punchDial (tm: TransportManagerLike, addrs: Multiaddr[], options: DialOptions): Promise<Connection> {
  const signal = options.signal ?? AbortSignal.timeout(PUNCH_DIAL_TIMEOUT_MS)
  let last: unknown = new Error('no address to dial')
  for (const ma of addrs) {
    try {
      const conn = await tm.dial(ma, { signal, initiator: options.initiator, priority: options.priority })
      const want = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (want != null && conn.remotePeer.toString() !== want) {
        await conn.close().catch(() => {})
        throw new Error(`hole punch to ${ma.toString()} reached ${conn.remotePeer.toString()}`)
      }
      return conn
    } catch (err) {
      last = err
      if (signal.aborted) break
    }
  }
  throw last
}

function withOverride<T extends object> (target: T, prop: string, value: unknown): T {
  return new Proxy(target, {
    get (t, p) {
      if (p === prop) return value
      const v = Reflect.get(t, p, t)
      return typeof v === 'function' ? v.bind(t) : v
    }
  })
}

/**
 * The components DCUtR gets: its forced direct dials go past the dial queue (punchDial), and,
 * with `observed` (a dial port is set), its address manager's `getAddresses` (what its CONNECT
 * message sends) also lists the observed dial addresses, each with our peer id.
 */
export function holePunchComponents<C extends HolePunchBase> (components: C, observed?: ObservedDialAddrs): C {
  const cm = components.connectionManager
  const connectionManager = withOverride(cm, 'openConnection', async (target: any, options: DialOptions = {}): Promise<Connection> => {
    const addrs: unknown[] = Array.isArray(target) ? target : [target]
    const direct = options.force === true && addrs.length > 0 && addrs.every(a => isMultiaddr(a) && !isRelayAddr(a))
    if (!direct) return await cm.openConnection(target, options)
    return await punchDial(components.transportManager, addrs as Multiaddr[], options)
  })
  const am = components.addressManager
  const addressManager = observed == null
    ? am
    : withOverride(am, 'getAddresses', (): Multiaddr[] => {
      const own = am.getAddresses()
      const have = new Set(own.map(a => a.toString()))
      const extra = observed.addrs()
        .map(a => multiaddr(`${a}/p2p/${components.peerId.toString()}`))
        .filter(a => !have.has(a.toString()))
      return [...own, ...extra]
    })
  return new Proxy(components, {
    get (target, prop) {
      if (prop === 'addressManager') return addressManager
      if (prop === 'connectionManager') return connectionManager
      return (target as any)[prop]
    }
  })
}

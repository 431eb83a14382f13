/**
 * simTransport: a libp2p 3 Transport for `/memory/<name>` addresses whose bytes travel through a
 * SimNetwork (per-link latency, loss as retransmission delay, one shared delivery scheduler)
 * instead of @libp2p/memory's microtask pipes. Connections, close and reset all cross the link
 * with its latency; a listener's close aborts its connections.
 */
import {
  ConnectionFailedError, ListenError, TypedEventEmitter,
  serviceCapabilities, transportSymbol
} from '@libp2p/interface'
import type {
  AbortOptions, ComponentLogger, Connection, CreateListenerOptions, DialTransportOptions, Listener,
  ListenerEvents, Logger, PeerId, Transport, Upgrader
} from '@libp2p/interface'
import { setMaxListeners } from 'node:events'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { SimDirection, SimEndpoint, SimNetwork } from './network.js'

export interface SimTransportComponents {
  peerId: PeerId
  logger: ComponentLogger
}

interface SendResult { sentBytes: number, canSendMore: boolean }

/** both ends of one connection, to count it open until both have closed */
interface Pair {
  network: SimNetwork
  closedEnds: number
}

let connectionCounter = 0

class SimMultiaddrConnection extends AbstractMultiaddrConnection {
  /** the other end; set right after both ends exist */
  peer!: SimMultiaddrConnection
  private readonly network: SimNetwork
  private readonly out: SimDirection

  constructor (network: SimNetwork, out: SimDirection, pair: Pair, init: { remoteAddr: Multiaddr, direction: 'inbound' | 'outbound', log: Logger }) {
    super(init)
    this.network = network
    this.out = out
    this.addEventListener('close', () => {
      if (++pair.closedEnds === 2) pair.network.connectionClosed()
    }, { once: true })
  }

  /** still able to take data or a close/reset from the remote end */
  get live (): boolean {
    return this.status === 'open' || this.status === 'closing'
  }

  sendData (data: Uint8ArrayList): SendResult {
    const peer = this.peer
    const n = data.byteLength
    // handed over, not copied, as @libp2p/memory does: the sender's write buffer has let go of it
    this.network.sendData(this.out, n, () => { if (peer.live) peer.onData(data) })
    return { sentBytes: n, canSendMore: true }
  }

  sendReset (): void {
    const peer = this.peer
    this.network.sendControl(this.out, () => { if (peer.live) peer.onRemoteReset() })
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    const peer = this.peer
    // after every data buffer already sent on this direction: the scheduler keeps order
    this.network.sendControl(this.out, () => { if (peer.live) peer.onTransportClosed() })
    options?.signal?.throwIfAborted()
  }

  sendPause (): void {
    // read backpressure is not modelled: the receiver's read buffer limit applies
  }

  sendResume (): void {
    // read backpressure is not modelled
  }
}

/** `/memory/<name>` or `/memory/<name>/p2p/<id>` */
function isMemoryAddr (ma: Multiaddr): boolean {
  const c = ma.getComponents()
  return c.length >= 1 && c[0].name === 'memory' && c[0].value != null && c[0].value.length > 0 &&
    (c.length === 1 || (c.length === 2 && c[1].name === 'p2p'))
}

/** the registry key: `/memory/<name>` */
function listenKey (ma: Multiaddr): string {
  return `/memory/${ma.getComponents()[0].value ?? ''}`
}

class SimListener extends TypedEventEmitter<ListenerEvents> implements Listener, SimEndpoint {
  readonly peerId: string
  private readonly network: SimNetwork
  private readonly upgrader: Upgrader
  readonly log: Logger
  private readonly connections = new Set<SimMultiaddrConnection>()
  private readonly shutdown = new AbortController()
  private address: string | undefined

  constructor (network: SimNetwork, components: SimTransportComponents, options: CreateListenerOptions) {
    super()
    this.network = network
    this.peerId = components.peerId.toString()
    this.upgrader = options.upgrader
    this.log = components.logger.forComponent('tally:sim-net')
    // every inbound upgrade in flight listens on the shutdown signal: many at once is normal
    setMaxListeners(Infinity, this.shutdown.signal)
  }

  async listen (ma: Multiaddr): Promise<void> {
    if (!isMemoryAddr(ma)) throw new ListenError(`not a /memory address: ${ma.toString()}`)
    const address = listenKey(ma)
    if (this.network.lookup(address) != null) throw new ListenError(`${address} is already in use`)
    this.network.listen(address, this)
    this.address = address
    queueMicrotask(() => { this.safeDispatchEvent('listening') })
  }

  get listening (): boolean {
    return this.address !== undefined
  }

  /** an inbound connection's SYN arrived */
  accept (conn: SimMultiaddrConnection): void {
    this.connections.add(conn)
    conn.addEventListener('close', () => { this.connections.delete(conn) }, { once: true })
    this.upgrader.upgradeInbound(conn, { signal: this.shutdown.signal })
      .catch((err: Error) => {
        this.log('inbound upgrade failed - %e', err)
        conn.abort(err)
      })
  }

  getAddrs (): Multiaddr[] {
    return this.address === undefined ? [] : [multiaddr(this.address)]
  }

  updateAnnounceAddrs (): void {
    // a simulated address is its own announce address
  }

  async close (): Promise<void> {
    if (this.address !== undefined) this.network.unlisten(this.address, this)
    this.address = undefined
    for (const conn of [...this.connections]) conn.abort(new ConnectionFailedError('listener closed'))
    this.shutdown.abort()
    queueMicrotask(() => { this.safeDispatchEvent('close') })
  }
}

class SimTransport implements Transport {
  readonly [transportSymbol] = true as const
  readonly [Symbol.toStringTag] = '@tally/sim-net'
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']
  private readonly network: SimNetwork
  private readonly components: SimTransportComponents
  private readonly log: Logger

  constructor (network: SimNetwork, components: SimTransportComponents) {
    this.network = network
    this.components = components
    this.log = components.logger.forComponent('tally:sim-net')
  }

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    options.signal.throwIfAborted()
    if (!isMemoryAddr(ma)) throw new ConnectionFailedError(`not a /memory address: ${ma.toString()}`)
    const address = listenKey(ma)
    const endpoint = this.network.lookup(address)
    if (!(endpoint instanceof SimListener)) throw new ConnectionFailedError(`no simulated listener at ${address}`)
    const maConn = await this.connect(address, endpoint, options.signal)
    try {
      options.signal.throwIfAborted()
      return await options.upgrader.upgradeOutbound(maConn, options)
    } catch (err: any) {
      maConn.abort(err)
      throw err
    }
  }

  /** SYN to the listener after the link latency, SYN-ACK back: resolves after one round trip */
  private async connect (address: string, listener: SimListener, signal: AbortSignal): Promise<SimMultiaddrConnection> {
    const network = this.network
    const local = this.components.peerId.toString()
    const remote = listener.peerId
    const id = connectionCounter++
    const pair: Pair = { network, closedEnds: 0 }
    const dialer = new SimMultiaddrConnection(network, network.direction(local, remote), pair, {
      remoteAddr: multiaddr(`${address}/p2p/${remote}`),
      direction: 'outbound',
      log: this.log.newScope(`connection:${id}`)
    })
    const inbound = new SimMultiaddrConnection(network, network.direction(remote, local), pair, {
      remoteAddr: multiaddr(`/memory/${local}-dial-${id}/p2p/${local}`),
      direction: 'inbound',
      log: listener.log.newScope(`connection:${id}`)
    })
    dialer.peer = inbound
    inbound.peer = dialer
    network.connectionOpened()

    const { promise, resolve, reject } = Promise.withResolvers<SimMultiaddrConnection>()
    const onAbort = (): void => {
      reject(signal.reason ?? new ConnectionFailedError('dial aborted'))
      dialer.abort(new ConnectionFailedError('dial aborted'))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    network.sendControl(network.direction(local, remote), () => {
      if (!dialer.live) {
        inbound.abort(new ConnectionFailedError('dialer gave up'))
        return
      }
      if (network.lookup(address) !== listener || !listener.listening) {
        // refused: the dialer learns it one link latency later; its end never reached a listener
        inbound.abort(new ConnectionFailedError('refused'))
        network.sendControl(network.direction(remote, local), () => {
          reject(new ConnectionFailedError(`connection to ${address} refused: listener closed`))
          dialer.abort(new ConnectionFailedError('refused'))
        })
        return
      }
      // SYN-ACK first: anything the listener sends on accepting ties with it and must come after
      network.sendControl(network.direction(remote, local), () => { resolve(dialer) })
      listener.accept(inbound)
    })
    try {
      return await promise
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  createListener (options: CreateListenerOptions): Listener {
    return new SimListener(this.network, this.components, options)
  }

  listenFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(isMemoryAddr)
  }

  dialFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(isMemoryAddr)
  }
}

/** libp2p transport factory: every node built with the same SimNetwork shares one simulated internet */
export function simTransport (network: SimNetwork): (components: SimTransportComponents) => Transport {
  return (components) => new SimTransport(network, components)
}

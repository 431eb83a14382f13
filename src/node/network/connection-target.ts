/**
 * Keeps a node's connection count in its target range from below (libp2p's connection manager
 * prunes above the maximum): under `minConnections` it dials peers the peer store knows (from the
 * DHT, mDNS, identify) and, when those run out, peers a DHT random walk finds. Once the node has
 * enough others it hangs up on its bootstrap peers, so a bootstrap node never holds everyone.
 */
import { randomBytes } from 'node:crypto'
import type { ComponentLogger, Connection, Logger, PeerId, PeerRouting, PeerStore, Startable } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import { multiaddr } from '@multiformats/multiaddr'
import { deadline } from '../../wire/deadline.js'

export interface ConnectionTargetInit {
  /** dial more below this many connected peers; 0 turns the service off */
  minConnections?: number
  /** bootstrap multiaddrs (ending in /p2p/<id>): hung up on once the node has enough others */
  bootstrap?: string[]
  /** how often the count is checked */
  intervalMs?: number
  /** one dial may take this long */
  dialTimeoutMs?: number
  /** when the peer store runs out, walk the DHT for more (only with a DHT) */
  randomWalk?: boolean
}

export interface ConnectionTargetComponents {
  peerId: PeerId
  peerStore: PeerStore
  connectionManager: ConnectionManager
  peerRouting: PeerRouting
  logger: ComponentLogger
}

/** a joining node finds its peers within a few checks; an idle one costs one count per check */
export const DEFAULT_CHECK_INTERVAL_MS = 2_000
/** loopback and LAN dials take milliseconds, internet ones a few seconds */
export const DEFAULT_TARGET_DIAL_TIMEOUT_MS = 10_000
/** a peer whose dial failed waits this long before the next try: a lying record costs one dial per period */
const FAILED_PEER_BACKOFF_MS = 10_000
/** a random walk yields peers one at a time; this bounds one top-up's walk */
const WALK_MS = 10_000

export class ConnectionTarget implements Startable {
  readonly minConnections: number
  private readonly c: ConnectionTargetComponents
  private readonly bootstrapPeers: Set<string>
  private readonly intervalMs: number
  private readonly dialTimeoutMs: number
  private readonly randomWalk: boolean
  private readonly log: Logger
  private timer?: ReturnType<typeof setInterval>
  private controller?: AbortController
  private running = false
  private busy = false
  /** peers whose last dial failed, and when: not retried for a while (a poisoned record costs one dial) */
  private readonly failedAt = new Map<string, number>()

  constructor (components: ConnectionTargetComponents, init: ConnectionTargetInit = {}) {
    this.c = components
    this.minConnections = init.minConnections ?? 0
    this.intervalMs = init.intervalMs ?? DEFAULT_CHECK_INTERVAL_MS
    this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULT_TARGET_DIAL_TIMEOUT_MS
    this.randomWalk = init.randomWalk ?? false
    this.log = components.logger.forComponent('tally:network:target')
    this.bootstrapPeers = new Set((init.bootstrap ?? []).flatMap(a => {
      try {
        const id = multiaddr(a).getComponents().findLast(c => c.name === 'p2p')?.value
        return id == null ? [] : [id]
      } catch { return [] }
    }))
  }

  readonly [Symbol.toStringTag] = 'tally:connection-target'

  start (): void {
    if (this.minConnections === 0) return
    this.running = true
    this.controller = new AbortController()
    this.timer = setInterval(() => { void this.check() }, this.intervalMs)
    this.timer.unref?.()
  }

  stop (): void {
    this.running = false
    clearInterval(this.timer)
    this.controller?.abort()
  }

  /** distinct remote peers with an open connection */
  connectedPeers (): string[] {
    return [...new Set(this.c.connectionManager.getConnections().filter((c: Connection) => c.status === 'open').map((c: Connection) => c.remotePeer.toString()))]
  }

  /** whether the node still needs its bootstrap peers: fewer than the target of others */
  needsBootstrap (): boolean {
    if (this.minConnections === 0) return true
    return this.connectedPeers().filter(p => !this.bootstrapPeers.has(p)).length < this.minConnections
  }

  /** one round: top up below the minimum, release bootstrap peers above it */
  async check (): Promise<void> {
    if (!this.running || this.busy) return
    this.busy = true
    try {
      const connected = new Set(this.connectedPeers())
      const others = [...connected].filter(p => !this.bootstrapPeers.has(p))
      if (others.length >= this.minConnections) {
        for (const p of connected) {
          if (!this.bootstrapPeers.has(p)) continue
          this.log('enough peers (%d): releasing bootstrap peer %s', others.length, p)
          await this.c.connectionManager.closeConnections(this.peerIdOf(p)).catch(() => {})
        }
        return
      }
      // counted without the bootstrap peers: they are released once the others suffice
      await this.topUp(connected, this.minConnections - others.length)
    } catch (err) {
      this.log.error('connection target round failed: %e', err)
    } finally {
      this.busy = false
    }
  }

  private peerIdOf (id: string): PeerId {
    for (const c of this.c.connectionManager.getConnections()) if (c.remotePeer.toString() === id) return c.remotePeer
    throw new Error(`not connected to ${id}`)
  }

  private recentlyFailed (id: string): boolean {
    const at = this.failedAt.get(id)
    return at != null && Date.now() - at < Math.max(FAILED_PEER_BACKOFF_MS, this.intervalMs * 3)
  }

  private async dialPeer (peer: PeerId): Promise<boolean> {
    const d = deadline(this.dialTimeoutMs, [this.controller?.signal])
    try {
      await this.c.connectionManager.openConnection(peer, { signal: d.signal })
      return true
    } catch {
      this.failedAt.set(peer.toString(), Date.now())
      return false
    } finally {
      d.clear()
    }
  }

  private async topUp (connected: Set<string>, wanted: number): Promise<void> {
    const self = this.c.peerId.toString()
    const known = (await this.c.peerStore.all()).filter(p => {
      const id = p.id.toString()
      return id !== self && !connected.has(id) && p.addresses.length > 0 && !this.recentlyFailed(id)
    })
    // random order: joiners that all know the same peers spread over them
    for (let i = known.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      ;[known[i], known[j]] = [known[j], known[i]]
    }
    // bootstrap peers last: they are the fallback, not the mesh
    known.sort((a, b) => Number(this.bootstrapPeers.has(a.id.toString())) - Number(this.bootstrapPeers.has(b.id.toString())))
    let got = 0
    const batch = known.slice(0, wanted)
    const results = await Promise.all(batch.map(async p => await this.dialPeer(p.id)))
    got += results.filter(Boolean).length
    if (got >= wanted || !this.running) return
    await this.walk(connected, wanted - got)
  }

  /** peers found by a DHT lookup of a random key (none without a DHT) */
  private async walk (connected: Set<string>, wanted: number): Promise<void> {
    if (!this.randomWalk) return
    let routing: PeerRouting
    try {
      routing = this.c.peerRouting
    } catch {
      return
    }
    const self = this.c.peerId.toString()
    const d = deadline(WALK_MS, [this.controller?.signal])
    const signal = d.signal
    // a lookup of a random key walks the DHT towards it, meeting peers all over the key space;
    // every step is raced with the signal, so a round always ends and the next check runs
    const aborted = new Promise<undefined>(resolve => { signal.addEventListener('abort', () => { resolve(undefined) }, { once: true }) })
    const it = routing.getClosestPeers(randomBytes(32), { signal })[Symbol.asyncIterator]()
    let got = 0
    try {
      while (!signal.aborted && got < wanted) {
        const step = await Promise.race([it.next(), aborted])
        if (step == null || step.done === true) break
        const id = step.value.id.toString()
        if (id === self || connected.has(id) || this.recentlyFailed(id)) continue
        connected.add(id)
        if (await this.dialPeer(step.value.id)) got++
      }
    } catch (err) {
      if (!signal.aborted) this.log('random walk ended: %e', err)
    } finally {
      void it.return?.(undefined)?.catch(() => {})
      d.clear()
    }
  }
}

export function connectionTarget (init: ConnectionTargetInit = {}): (components: ConnectionTargetComponents) => ConnectionTarget {
  return (components) => new ConnectionTarget(components, init)
}

/**
 * A bound on libp2p's peer store. libp2p keeps an entry (public key, addresses, protocols,
 * metadata: a few KB with the buffers it pins) for every peer that ever connected, for hours
 * (@libp2p/peer-store evicts only peers without addresses, after 6 h). On an open network
 * anyone can dial a seller with a fresh key, so a thousand keys are a thousand entries at every
 * seller they touched: a sybil-drain attack at 300 peers (1,000 keys × 90 sellers) left 90,000.
 *
 * Here a peer that disconnected is forgotten (its peer store entry deleted) once it has been
 * gone `maxAgeMs`, or sooner when more than `maxDisconnected` peers are waiting, oldest first —
 * unless it connected again or carries a tag (bootstrap, DHT routing table, relay: whoever
 * tagged it wants it kept). Peers this node never saw connect are left alone. So the store holds
 * at most the connected peers, the tagged ones and `maxDisconnected` others.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'

/** disconnected, untagged peers a node remembers at most */
export const DEFAULT_MAX_DISCONNECTED_PEERS = 256
/** a disconnected, untagged peer is forgotten after this long */
export const DEFAULT_DISCONNECTED_PEER_AGE_MS = 10 * 60_000

export interface PeerStoreBoundInit {
  /** disconnected, untagged peers remembered at most (default 256) */
  maxDisconnected?: number
  /** how long a disconnected, untagged peer is remembered (default 10 min) */
  maxAgeMs?: number
}

export class PeerStoreBound {
  /** disconnected peers by id, oldest disconnect first */
  private readonly gone = new Map<string, { peer: PeerId, at: number }>()
  private readonly maxDisconnected: number
  private readonly maxAgeMs: number
  private timer: ReturnType<typeof setInterval> | undefined
  /** entries deleted so far */
  forgotten = 0

  constructor (private readonly libp2p: Libp2p, init: PeerStoreBoundInit = {}) {
    this.maxDisconnected = Math.max(0, init.maxDisconnected ?? DEFAULT_MAX_DISCONNECTED_PEERS)
    this.maxAgeMs = Math.max(1, init.maxAgeMs ?? DEFAULT_DISCONNECTED_PEER_AGE_MS)
  }

  /** disconnected peers waiting to be forgotten */
  get waiting (): number { return this.gone.size }

  start (): void {
    if (this.timer != null) return
    this.libp2p.addEventListener('peer:connect', this.onConnect)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.timer = setInterval(() => { this.sweep() }, Math.max(1_000, Math.ceil(this.maxAgeMs / 4)))
    this.timer.unref?.()
  }

  stop (): void {
    if (this.timer == null) return
    clearInterval(this.timer)
    this.timer = undefined
    this.libp2p.removeEventListener('peer:connect', this.onConnect)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    this.gone.clear()
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    this.gone.delete(evt.detail.toString())
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const key = evt.detail.toString()
    this.gone.delete(key)
    this.gone.set(key, { peer: evt.detail, at: Date.now() })
    while (this.gone.size > this.maxDisconnected) {
      const [oldest, e] = this.gone.entries().next().value as [string, { peer: PeerId }]
      this.gone.delete(oldest)
      void this.forget(e.peer)
    }
  }

  /** forget the peers gone longer than maxAgeMs */
  sweep (): void {
    const before = Date.now() - this.maxAgeMs
    for (const [key, e] of this.gone) {
      if (e.at > before) break
      this.gone.delete(key)
      void this.forget(e.peer)
    }
  }

  private async forget (peer: PeerId): Promise<void> {
    try {
      if (this.libp2p.getConnections(peer).length > 0) return
      const entry = await this.libp2p.peerStore.get(peer)
      if (entry.tags.size > 0) return
      // it may have reconnected while the entry was read
      if (this.libp2p.getConnections(peer).length > 0) return
      await this.libp2p.peerStore.delete(peer)
      this.forgotten++
    } catch {
      // not in the store (any more), or the node is stopping: nothing to forget
    }
  }
}

/**
 * Keeps a node connected to its configured bootstrap peers: dial on start, redial with
 * exponential backoff when a dial fails or the connection drops, stop cleanly with the node.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { deadline } from '../wire/deadline.js'

export interface BootstrapInit {
  /** first retry delay; doubles per failure */
  initialBackoffMs?: number
  /** longest wait between tries, so a bootstrap peer that comes back is found within this */
  maxBackoffMs?: number
  /** one dial may take this long before it counts as failed */
  dialTimeoutMs?: number
  /**
   * whether the node still needs its bootstrap peers; when not, a dropped bootstrap connection is
   * not redialled (the connection target hangs up on them once the node has enough others)
   */
  needed?: () => boolean
}

/** a restarting peer is usually back within a second */
export const DEFAULT_INITIAL_BACKOFF_MS = 1_000
/** a peer down for long is still retried twice a minute */
export const DEFAULT_MAX_BACKOFF_MS = 30_000
/** a loopback or LAN dial completes in milliseconds; internet dials in a few seconds */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000

interface Target { addr: Multiaddr, peer: string, backoffMs: number, timer?: ReturnType<typeof setTimeout>, dialing: boolean }

export class BootstrapDialer {
  private readonly libp2p: Libp2p
  private readonly targets: Target[]
  private readonly initialBackoffMs: number
  private readonly maxBackoffMs: number
  private readonly dialTimeoutMs: number
  private readonly needed: () => boolean
  private controller?: AbortController

  constructor (libp2p: Libp2p, addrs: string[], init: BootstrapInit = {}) {
    this.libp2p = libp2p
    this.initialBackoffMs = init.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS
    this.maxBackoffMs = init.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS
    this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
    this.needed = init.needed ?? (() => true)
    this.targets = addrs.map(a => {
      const addr = multiaddr(a)
      const peer = addr.getComponents().find(c => c.name === 'p2p')?.value ?? ''
      return { addr, peer, backoffMs: this.initialBackoffMs, dialing: false }
    }).filter(t => t.peer !== libp2p.peerId.toString())
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    if (!this.needed()) return
    for (const t of this.targets) if (t.peer === id) this.schedule(t, this.initialBackoffMs)
  }

  start (): void {
    if (this.targets.length === 0) return
    this.controller = new AbortController()
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.targets) void this.dial(t)
  }

  stop (): void {
    this.controller?.abort()
    this.controller = undefined
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.targets) {
      clearTimeout(t.timer)
      t.timer = undefined
    }
  }

  private schedule (t: Target, delayMs: number): void {
    if (this.controller == null || t.timer != null) return
    t.timer = setTimeout(() => {
      t.timer = undefined
      void this.dial(t)
    }, delayMs)
    t.timer.unref?.()
  }

  private async dial (t: Target): Promise<void> {
    const controller = this.controller
    if (controller == null || t.dialing) return
    t.dialing = true
    const limit = deadline(this.dialTimeoutMs, controller.signal)
    try {
      await this.libp2p.dial(t.addr, { signal: limit.signal })
      t.backoffMs = this.initialBackoffMs
    } catch {
      if (controller.signal.aborted) return
      const delay = t.backoffMs
      t.backoffMs = Math.min(t.backoffMs * 2, this.maxBackoffMs)
      this.schedule(t, delay)
    } finally {
      limit.clear()
      t.dialing = false
    }
  }
}

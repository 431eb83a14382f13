/**
 * Catching up with a neighbour as it joins: its offers over /tally/offers (BookSync.askOnce) when
 * it joins the offers topic, a ledger reconciliation (/tally/sync) when it joins the records topic.
 */
import type { ComponentLogger, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { BookSync } from '../market/book-sync.js'
import type { LedgerSync } from '../ledger/sync/service.js'
import type { EventEmitter } from 'node:events'
import type { BaseNode, BaseNodeEvents } from './node.js'
import type { Clock } from './clock.js'
import type { TallyService } from './services.js'

/** a peer that rejoins within this long is not reconciled with again on joining */
export const RESYNC_PEER_AFTER_MS = 10_000
/** peers remembered for the resync interval; the memory is dropped past this many */
const MAX_RESYNC_PEERS = 10_000

export interface PeerJoinSyncInit {
  resyncAfterMs?: number
}

export interface PeerJoinSyncComponents {
  /** the base node's gossip-peer events and topic names */
  base: Pick<EventEmitter<BaseNodeEvents>, 'on' | 'off'> & Pick<BaseNode, 'topics'>
  book: Pick<BookSync, 'askOnce'>
  sync: Pick<LedgerSync, 'syncWith'>
  clock: Clock
  logger: ComponentLogger
}

export function peerJoinSync (init: PeerJoinSyncInit = {}) {
  return (components: PeerJoinSyncComponents) => new PeerJoinSync(components, init)
}

/**
 * A neighbour joined a topic: fetch the offers it holds, and reconcile ledgers with it (a late
 * joiner catches up at once instead of at the next periodic pull), at most once per
 * RESYNC_PEER_AFTER_MS (10 s) per peer by default.
 */
export class PeerJoinSync implements TallyService {
  /** when each peer was last reconciled with on joining */
  private readonly syncedWith = new Map<string, number>()
  private readonly log: Logger
  private readonly resyncAfterMs: number

  constructor (private readonly c: PeerJoinSyncComponents, init: PeerJoinSyncInit = {}) {
    this.log = c.logger.forComponent('tally:node:join')
    this.resyncAfterMs = init.resyncAfterMs ?? RESYNC_PEER_AFTER_MS
  }

  start (): void { this.c.base.on('gossip-peer', this.onGossipPeer) }
  stop (): void { this.c.base.off('gossip-peer', this.onGossipPeer) }

  private readonly onGossipPeer = ({ peerId, topic }: { peerId: string, topic: string }): void => {
    if (topic === this.c.base.topics.offers) {
      void this.c.book.askOnce(peerIdFromString(peerId)).catch((err: Error) => { this.log('book sync with %s: %s', peerId, err.message) })
    } else if (topic === this.c.base.topics.records) {
      const now = this.c.clock.now()
      if ((this.syncedWith.get(peerId) ?? -Infinity) + this.resyncAfterMs > now) return
      if (this.syncedWith.size > MAX_RESYNC_PEERS) this.syncedWith.clear()
      this.syncedWith.set(peerId, now)
      void this.c.sync.syncWith(peerIdFromString(peerId)).catch((err: Error) => { this.log('ledger sync with %s: %s', peerId, err.message) })
    }
  }
}

/** PeerJoinSync: a peer joining the records topic is reconciled with at most once per interval. */
import { EventEmitter } from 'node:events'
import { defaultLogger } from '@libp2p/logger'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { peerJoinSync, RESYNC_PEER_AFTER_MS } from '../../src/node/peer-join-sync.js'
import type { BaseNodeEvents } from '../../src/node/node.js'

describe('PeerJoinSync', () => {
  it('reconciles with a joining peer once per interval, asks for its offers on every offers join, and stops listening on stop', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const base = Object.assign(new EventEmitter<BaseNodeEvents>(), { topics: { offers: 'tally/x/offers/1', bids: 'tally/x/bids/1', records: 'tally/x/records/1' } })
    let nowMs = 1_000_000
    const synced: string[] = []
    const asked: string[] = []
    const svc = peerJoinSync()({
      base,
      book: { askOnce: async (p) => { asked.push(p.toString()); return undefined } },
      sync: { syncWith: async (p) => { synced.push(p.toString()); return { rounds: 1, bytesSent: 0, bytesReceived: 0, needed: 0, fetched: 0, pushedIdsPeerLacks: 0 } } },
      clock: { now: () => nowMs },
      logger: defaultLogger()
    })
    svc.start()
    const join = (topic: string): void => { base.emit('gossip-peer', { peerId: peer, topic }) }
    join(base.topics.records)
    join(base.topics.records)
    expect(synced).toEqual([peer])
    nowMs += RESYNC_PEER_AFTER_MS - 1
    join(base.topics.records)
    expect(synced).toHaveLength(1)
    nowMs += 1
    join(base.topics.records)
    expect(synced).toHaveLength(2)
    join(base.topics.offers)
    join(base.topics.bids)
    expect(asked).toEqual([peer])
    svc.stop()
    nowMs += RESYNC_PEER_AFTER_MS
    join(base.topics.records)
    join(base.topics.offers)
    expect(synced).toHaveLength(2)
    expect(asked).toHaveLength(1)
  })
})

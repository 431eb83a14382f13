/**
 * Issue 15.3: a hostile peer opening many silent /tally/negotiate streams over several
 * connections holds at most its per-peer share of the seller's negotiation slots, is disconnected
 * after repeated cap hits and refused during its cool-down, while an honest buyer keeps getting
 * contracts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Connection } from '@libp2p/interface'
import { NEGOTIATE_PROTOCOL, type NegotiateInit } from '../../src/contract/negotiate.js'
import { stopAll } from './market-helpers.js'
import { MODEL, negotiatingPeer, type NegotiatingPeer } from './negotiate-helpers.js'
import { waitFor } from '../helpers/wait.js'
import { silentStreams } from './hostile/peer.js'

let all: NegotiatingPeer[] = []

afterEach(async () => {
  await Promise.all(all.map(async p => p.svc.stop()))
  await stopAll(all.map(p => p.peer))
  all = []
})

async function np (init: NegotiateInit = {}, terms = MODEL): Promise<NegotiatingPeer> {
  const p = await negotiatingPeer(init, { sellerTerms: m => m === terms.modelId ? terms : undefined })
  all.push(p)
  return p
}

describe('/tally/negotiate under stream exhaustion', () => {
  it('6 connections × 32 silent streams: the squatter holds ≤ 4 slots, is disconnected and cooled down; the honest buyer gets every contract', async () => {
    // the reference node's caps: 32 streams per connection, 128 in progress, 4 per peer
    const seller = await np({ maxInboundStreams: 32, timeoutMs: 5_000 }, { ...MODEL, maxSessions: 8 })
    const squatter = await np()
    const honest = await np()
    const to = seller.peer.libp2p.getMultiaddrs()
    const conns: Connection[] = []
    for (let i = 0; i < 6; i++) conns.push(await squatter.peer.libp2p.dial(to, { force: true }))
    expect(new Set(conns.map(c => c.id)).size).toBe(6)
    // the squatter never holds more than its share of the slots
    let most = 0
    const squatterId = squatter.peer.libp2p.peerId.toString()
    const watch = setInterval(() => { most = Math.max(most, (seller.svc as any).inFlightByPeer.get(squatterId) ?? 0) }, 5)
    // every stream of the attack is open (or already reset) before the honest buyer starts
    await Promise.all(conns.map(async c => await silentStreams(c, 32, NEGOTIATE_PROTOCOL)))

    // honest buyer: six contracts while the squatter keeps trying (it re-dials and opens more)
    const retry = (async () => {
      for (let i = 0; i < 5; i++) {
        const c = await squatter.peer.libp2p.dial(to, { force: true }).catch(() => undefined)
        if (c != null) await silentStreams(c, 8, NEGOTIATE_PROTOCOL)
      }
    })()
    for (let i = 0; i < 6; i++) {
      const c = await honest.svc.negotiate(to, { modelId: MODEL.modelId, maxSpendUc: 10_000n, sessionExpiresAtMs: BigInt(Date.now() + 60_000) })
      expect(c.buyerId).toBe(honest.peer.libp2p.peerId.toString())
      seller.svc.releaseSession(c.contractId)
    }
    // the squatter hit the per-peer cap over and over: disconnected, and cooled down
    expect(seller.svc.isCooling(squatter.peer.libp2p.peerId)).toBe(true)
    expect(seller.svc.stats.peersDisconnected).toBe(1)
    await retry
    clearInterval(watch)
    // over the whole attack, cool-down included, the squatter held at most its per-peer share
    // (sampled: the hang-up frees even those within a few ms)
    expect(most).toBeLessThanOrEqual(4)
    expect(seller.svc.isCooling(honest.peer.libp2p.peerId)).toBe(false)
    expect(seller.svc.stats.contractsSigned).toBe(6)
    await waitFor(() => seller.peer.libp2p.getConnections(squatter.peer.libp2p.peerId).length === 0, 'the squatter is hung up on again')
  })

  it('an honest burst of negotiations with one seller queues on the buyer and never strikes', async () => {
    const seller = await np({ maxInboundStreams: 32 }, { ...MODEL, maxSessions: 16 })
    const buyer = await np()
    const to = seller.peer.libp2p.getMultiaddrs()
    const contracts = await Promise.all(Array.from({ length: 16 }, async () => await buyer.svc.negotiate(to, { modelId: MODEL.modelId, maxSpendUc: 10_000n, sessionExpiresAtMs: BigInt(Date.now() + 60_000) })))
    expect(contracts).toHaveLength(16)
    expect(seller.svc.stats.streamsAborted).toBe(0)
    expect(seller.svc.stats.refusals).toBe(0)
    expect(seller.svc.isCooling(buyer.peer.libp2p.peerId)).toBe(false)
  })

  it('a peer whose streams keep running into the deadline is struck too, within the per-peer cap', async () => {
    const seller = await np({ timeoutMs: 100, strikesToDisconnect: 3 })
    const slow = await np()
    const to = seller.peer.libp2p.getMultiaddrs()
    const conn = await slow.peer.libp2p.dial(to)
    // one silent stream at a time: never over a cap, each reset by the deadline
    for (let i = 0; i < 3; i++) {
      const before = seller.svc.stats.streamsAborted
      await silentStreams(conn, 1, NEGOTIATE_PROTOCOL)
      await waitFor(() => seller.svc.stats.streamsAborted > before, 'the deadline resets the stream')
    }
    await waitFor(() => seller.svc.isCooling(slow.peer.libp2p.peerId), 'the slow peer is disconnected')
    await waitFor(() => seller.peer.libp2p.getConnections(slow.peer.libp2p.peerId).length === 0, 'hung up')
  })
})

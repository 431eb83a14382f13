/**
 * Hostile peers on /tally/sync and /tally/fetch: garbage, oversized frames, wrong versions,
 * silence, endless rounds, oversized fetches. Each gets a typed error or a reset stream, and the
 * honest node keeps serving the next peer.
 */
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { FETCH_PROTOCOL, SYNC_PROTOCOL, SyncTimeoutError, TooManyRoundsError, type LedgerSyncInit } from '../../src/ledger/sync/index.js'
import { FetchRequest } from '../../src/wire/pb/sync.js'
import { makeItem, MemStore, recordId, splitSets } from '../unit/ledger/sync/helpers.js'
import { connect, syncNode, type SyncNode } from '../unit/ledger/sync/nodes.js'
import type { PeerId } from '@libp2p/interface'

const nodes: SyncNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => n.stop()))
})

async function node (store: MemStore, init: LedgerSyncInit = {}): Promise<SyncNode> {
  const n = await syncNode(store, { intervalMs: 0, ...init })
  nodes.push(n)
  return n
}

const MAX_FRAME = 8192

/**
 * Open `protocol` on `to` and speak raw length-prefixed frames: each frame is followed by reading
 * one reply, and after the last frame `extraReplies` more are read. Reports the replies and
 * whether the stream failed (was reset) on the way.
 */
async function raw (from: SyncNode, to: PeerId, protocol: string, frames: Uint8Array[], extraReplies = 0): Promise<{ replies: string[], failed: boolean }> {
  const stream = await from.dialProtocol(to, protocol, { signal: AbortSignal.timeout(5000), negotiateFully: true })
  const lp = lpStream(stream, { maxDataLength: 1 << 20 })
  const replies: string[] = []
  const readOne = async (): Promise<void> => {
    replies.push(Buffer.from((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()).toString('hex'))
  }
  try {
    for (const f of frames) {
      await lp.write(f, { signal: AbortSignal.timeout(5000) })
      await readOne()
    }
    for (let i = 0; i < extraReplies; i++) await readOne()
    await stream.close()
    return { replies, failed: false }
  } catch {
    return { replies, failed: true }
  }
}

/** a fresh honest peer that already holds all but 10 of the server's records syncs the rest */
async function expectHonestSyncStillWorks (server: SyncNode, init: LedgerSyncInit = {}): Promise<void> {
  const held = [...server.store.records.values()].slice(10)
  const honest = await node(new MemStore(held), { recordId, maxFrameBytes: MAX_FRAME, ...init })
  await connect(honest, server)
  const r = await honest.services.sync.syncWith(server.peerId)
  expect(r.fetched).toBe(10)
  expect(honest.store.ids()).toEqual(server.store.ids())
}

describe('sync under hostile input', () => {
  it('garbage, oversized and wrong-version frames reset the stream; the node keeps serving', async () => {
    const server = await node(new MemStore(Array.from({ length: 500 }, (_, i) => makeItem(1, i, i))), { maxFrameBytes: MAX_FRAME })
    const evil = await node(new MemStore())
    await connect(evil, server)

    // valid version byte, then a bound whose id prefix claims 200 bytes
    expect((await raw(evil, server.peerId, SYNC_PROTOCOL, [Uint8Array.of(0x61, 0x00, 0xc8, 0x01)])).failed).toBe(true)
    // random bytes that are not a Negentropy message at all
    expect((await raw(evil, server.peerId, SYNC_PROTOCOL, [Uint8Array.of(0x01, 0x02, 0x03)])).failed).toBe(true)
    // a frame over the limit
    expect((await raw(evil, server.peerId, SYNC_PROTOCOL, [new Uint8Array(MAX_FRAME + 1).fill(0x61)])).failed).toBe(true)
    // a newer protocol version gets the spec's downgrade answer (0x61), not an error
    const newer = await raw(evil, server.peerId, SYNC_PROTOCOL, [Uint8Array.from(Buffer.from('62aabbccddeeff', 'hex'))])
    expect(newer).toEqual({ replies: ['61'], failed: false })

    await expectHonestSyncStillWorks(server)
  })

  it('a peer that never answers times out with SyncTimeoutError', async () => {
    const silent = await node(new MemStore())
    await silent.unhandle(SYNC_PROTOCOL)
    await silent.handle(SYNC_PROTOCOL, () => { /* accept the stream and never answer */ })
    const client = await node(new MemStore([makeItem(2, 0, 1)]), { timeoutMs: 300 })
    await connect(client, silent)
    await expect(client.services.sync.syncWith(silent.peerId)).rejects.toThrow(SyncTimeoutError)

    const server = await node(new MemStore(Array.from({ length: 50 }, (_, i) => makeItem(3, i, i))))
    await connect(client, server)
    const r = await client.services.sync.syncWith(server.peerId)
    expect(r.fetched).toBe(50)
  })

  it('too many rounds: the initiator gives up with TooManyRoundsError, the responder resets a looping peer', async () => {
    const { a, b } = splitSets(4, 5000, 10, 1, 1, 1000)
    const server = await node(new MemStore(b), { maxRounds: 5, maxFrameBytes: MAX_FRAME })
    const client = await node(new MemStore(a), { maxRounds: 1, maxFrameBytes: MAX_FRAME })
    await connect(client, server)
    await expect(client.services.sync.syncWith(server.peerId)).rejects.toThrow(TooManyRoundsError)

    // replaying the same opening message forever: three answers, then the stream is reset
    const opening = Uint8Array.from([0x61, 0x00, 0x00, 0x01, ...new Uint8Array(16)]) // one fingerprint over everything
    const loop = await raw(client, server.peerId, SYNC_PROTOCOL, [opening, opening, opening, opening, opening, opening])
    expect(loop.replies.length).toBe(5)
    expect(loop.failed).toBe(true)

    await expectHonestSyncStillWorks(server)
  })

  it('fetch: too many ids, both selectors, or garbage reset the stream; the node keeps serving', async () => {
    const items = Array.from({ length: 20 }, (_, i) => makeItem(5, i, i))
    const server = await node(new MemStore(items), { maxIdsPerFetch: 8 })
    const evil = await node(new MemStore())
    await connect(evil, server)

    const tooMany = FetchRequest.encode({ ids: Array.from({ length: 9 }, (_, i) => new Uint8Array(items[i].id)), account: '', fromSeq: 0n, limit: 0 })
    expect((await raw(evil, server.peerId, FETCH_PROTOCOL, [tooMany])).failed).toBe(true)
    const both = FetchRequest.encode({ ids: [new Uint8Array(items[0].id)], account: 'acct-1', fromSeq: 0n, limit: 2 })
    expect((await raw(evil, server.peerId, FETCH_PROTOCOL, [both])).failed).toBe(true)
    const chainTooLong = FetchRequest.encode({ ids: [], account: 'acct-1', fromSeq: 0n, limit: 9 })
    expect((await raw(evil, server.peerId, FETCH_PROTOCOL, [chainTooLong])).failed).toBe(true)
    const shortId = FetchRequest.encode({ ids: [new Uint8Array(31)], account: '', fromSeq: 0n, limit: 0 })
    expect((await raw(evil, server.peerId, FETCH_PROTOCOL, [shortId])).failed).toBe(true)
    expect((await raw(evil, server.peerId, FETCH_PROTOCOL, [Uint8Array.of(0xff, 0xff, 0xff)])).failed).toBe(true)

    // an honest request of exactly the limit is answered: a 4-byte count, then the records
    const ok = FetchRequest.encode({ ids: Array.from({ length: 8 }, (_, i) => new Uint8Array(items[i].id)), account: '', fromSeq: 0n, limit: 0 })
    const answer = await raw(evil, server.peerId, FETCH_PROTOCOL, [ok], 8)
    expect(answer.failed).toBe(false)
    expect(answer.replies[0]).toBe('00000008')

    await expectHonestSyncStillWorks(server, { maxIdsPerFetch: 8 })
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { MalformedFetchError, TooManyIdsError, type LedgerSyncInit } from '../../src/ledger/sync/index.js'
import { hex, makeItem, MemStore, recordId, splitSets } from '../unit/ledger/sync/helpers.js'
import { connect, syncNode, type SyncNode } from '../unit/ledger/sync/nodes.js'
import { waitFor } from '../helpers/wait.js'

const nodes: SyncNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => n.stop()))
})

async function node (store: MemStore, init: LedgerSyncInit = {}): Promise<SyncNode> {
  const n = await syncNode(store, init)
  nodes.push(n)
  return n
}

describe('/tally/sync and /tally/fetch over libp2p (memory transport)', () => {
  it('two nodes with 10k items differing in 1% reconcile and fetch exactly the difference', async () => {
    const { a, b, onlyA, onlyB } = splitSets(42, 10_000, 198, 1, 1, 1_000_000)
    expect(onlyA.size).toBeGreaterThan(0)
    expect(onlyB.size).toBeGreaterThan(0)
    const lacks: string[] = []
    const na = await node(new MemStore(a), { intervalMs: 0, recordId, maxFrameBytes: 16_384, onPeerLacks: (_p, ids) => lacks.push(...ids.map(hex)) })
    const nb = await node(new MemStore(b), { intervalMs: 0, recordId, maxFrameBytes: 16_384 })
    await connect(na, nb)

    const r = await na.services.sync.syncWith(nb.peerId)
    expect(r.needed).toBe(onlyB.size)
    expect(r.fetched).toBe(onlyB.size)
    expect(r.pushedIdsPeerLacks).toBe(onlyA.size)
    expect(new Set(lacks)).toEqual(onlyA)
    expect(r.rounds).toBeGreaterThan(1)
    expect(r.bytesSent).toBeGreaterThan(0)
    expect(r.bytesReceived).toBeGreaterThan(0)
    for (const id of onlyB) expect(na.store.records.has(id)).toBe(true)

    // the other direction completes the union; a second pass finds nothing
    const back = await nb.services.sync.syncWith(na.peerId)
    expect(back.fetched).toBe(onlyA.size)
    expect(nb.store.ids()).toEqual(na.store.ids())
    const again = await na.services.sync.syncWith(nb.peerId)
    expect(again).toMatchObject({ rounds: 1, needed: 0, fetched: 0, pushedIdsPeerLacks: 0 })
  })

  it('a periodic pull with no connected peer does nothing and does not throw', async () => {
    const lonely = await node(new MemStore([makeItem(12, 0, 1)]), { intervalMs: 0 })
    expect(await lonely.services.sync.pullOnce()).toBeUndefined()
    expect(lonely.store.ids().size).toBe(1)
  })

  it('items the source holds with an unsyncable timestamp are left out instead of breaking sync', async () => {
    const items = Array.from({ length: 50 }, (_, i) => makeItem(13, i, i))
    const store = new MemStore(items)
    const poisonedId = makeItem(13, 99, 0).id
    const real = store.items.bind(store)
    // the reserved "infinity" timestamp cannot be an item
    const withPoison = (): Array<{ timestamp: bigint | number, id: Uint8Array }> => [...real(), { timestamp: 2n ** 64n - 1n, id: poisonedId }]
    store.items = withPoison as typeof store.items
    const server = await node(store, { intervalMs: 0 })
    const client = await node(new MemStore(), { intervalMs: 0, recordId })
    await connect(client, server)
    const r = await client.services.sync.syncWith(server.peerId)
    expect(r.fetched).toBe(50)
  })

  it('reuses a sealed view younger than maxStorageAgeMs, then rebuilds it', async () => {
    let clock = 1_000_000
    const items = Array.from({ length: 100 }, (_, i) => makeItem(14, i, i))
    const server = await node(new MemStore(items.slice(0, 99)), { intervalMs: 0, maxStorageAgeMs: 5000, now: () => clock })
    const client = await node(new MemStore(), { intervalMs: 0, recordId })
    await connect(client, server)
    expect((await client.services.sync.syncWith(server.peerId)).fetched).toBe(99)
    await server.store.add(items[99].payload)
    clock += 4999
    expect((await client.services.sync.syncWith(server.peerId)).needed).toBe(0)
    clock += 1
    expect((await client.services.sync.syncWith(server.peerId)).fetched).toBe(1)
    expect(client.store.ids()).toEqual(server.store.ids())
  })

  it('fetches records by id and by account chain', async () => {
    const items = Array.from({ length: 200 }, (_, i) => makeItem(9, i, 1000 + i))
    const server = await node(new MemStore(items), { intervalMs: 0 })
    const client = await node(new MemStore(), { intervalMs: 0, recordId, maxIdsPerFetch: 64 })
    await connect(client, server)

    const unknown = new Uint8Array(32).fill(7)
    const got = await client.services.sync.fetchIds(server.peerId, [items[3].id, unknown, items[150].id])
    expect(got.map(b => hex(recordId(b)))).toEqual([hex(items[3].id), hex(items[150].id)])

    const chain = server.store.chain('acct-2', 0n, 1000)
    const fetched = await client.services.sync.fetchChain(server.peerId, 'acct-2', 5n, 10)
    expect(fetched.map(hex)).toEqual(chain.slice(5, 15).map(hex))

    await expect(client.services.sync.fetchIds(server.peerId, Array.from({ length: 65 }, () => unknown))).rejects.toThrow(TooManyIdsError)
  })

  it('refuses a fetched record that was not asked for', async () => {
    const items = Array.from({ length: 10 }, (_, i) => makeItem(10, i, i))
    const liarStore = new MemStore(items)
    // the liar answers every id with the bytes of item 0
    liarStore.get = () => items[0].payload
    const liar = await node(liarStore, { intervalMs: 0 })
    const client = await node(new MemStore(), { intervalMs: 0, recordId })
    await connect(client, liar)
    await expect(client.services.sync.fetchIds(liar.peerId, [items[1].id])).rejects.toThrow(MalformedFetchError)
  })

  it('three nodes: a partition heals through periodic pulls from random peers', async () => {
    const all = Array.from({ length: 3000 }, (_, i) => makeItem(11, i, i % 97))
    const shared = all.slice(0, 2000)
    const stores = [0, 1, 2].map(k => new MemStore([...shared, ...all.slice(2000 + k * 300, 2000 + (k + 1) * 300)]))
    // node 2 alone also wrote a further 100 records while partitioned
    for (const it of all.slice(2900, 3000)) void stores[2].add(it.payload)
    const [n0, n1, n2] = await Promise.all(stores.map(async s => node(s, { intervalMs: 40, recordId, timeoutMs: 5000 })))
    await connect(n0, n1)
    // before the heal, n2 is unreachable: n0 and n1 converge on their own union only
    const union01 = new Set([...stores[0].ids(), ...stores[1].ids()])
    await waitFor(() => setEq(stores[0].ids(), union01) && setEq(stores[1].ids(), union01))
    expect(stores[2].ids().size).toBe(2400)

    await connect(n2, n1) // heal
    const everything = new Set(all.map(it => hex(it.id)))
    await waitFor(() => stores.every(s => setEq(s.ids(), everything)))
    for (const s of stores) expect(s.ids()).toEqual(everything)
  })
})

function setEq (a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false
  for (const x of a) if (!b.has(x)) return false
  return true
}


/**
 * Ledger sync figures: Negentropy reconciliation of two 100k-item stores differing in 1%
 * (pure in-process, and over libp2p memory transport with fetch of the missing records), and a
 * late joiner pulling N records (ids + raw 200-byte payloads) from one peer.
 * SYNC_BENCH_LATE_JOINER=N sets N (default 100,000; the figure is also extrapolated to 1M).
 */
import '../../src/polyfill.js'
import { DEFAULT_MAX_FRAME_BYTES, reconcileInMemory, storageFromItems } from '../../src/ledger/sync/index.js'
import { makeItem, MemStore, prng, recordId, type TestItem } from '../unit/ledger/sync/helpers.js'
import { connect, syncNode } from '../unit/ledger/sync/nodes.js'

const N = 100_000
const PAYLOAD_BYTES = 200

function twoStores (n: number, seed: number): { a: TestItem[], b: TestItem[] } {
  const rnd = prng(seed)
  const a: TestItem[] = []
  const b: TestItem[] = []
  const base = 1_700_000_000
  for (let i = 0; i < n; i++) {
    const it = makeItem(seed, i, base + Math.floor(i / 3), PAYLOAD_BYTES)
    const r = rnd()
    if (r < 0.005) a.push(it)
    else if (r < 0.01) b.push(it)
    else { a.push(it); b.push(it) }
  }
  return { a, b }
}

function ms (since: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - since) / 1e4) / 100
}

export default async function (): Promise<Record<string, unknown>> {
  const { a, b } = twoStores(N, 1)
  const out: Record<string, unknown> = { items: N, differingPct: 1, payloadBytes: PAYLOAD_BYTES }

  // pure, in-process
  let t = process.hrtime.bigint()
  const sa = storageFromItems(a)
  const sb = storageFromItems(b)
  out.pureSealBothMs = ms(t)
  for (const frame of [0, DEFAULT_MAX_FRAME_BYTES, 65_536]) {
    t = process.hrtime.bigint()
    const r = reconcileInMemory(sa, sb, frame)
    out[`pure_frame${frame === 0 ? 'Unlimited' : frame}`] = {
      rounds: r.rounds, bytesSent: r.bytesSent, bytesReceived: r.bytesReceived,
      have: new Set(r.haveIds.map(x => Buffer.from(x).toString('hex'))).size,
      need: new Set(r.needIds.map(x => Buffer.from(x).toString('hex'))).size,
      ms: ms(t)
    }
  }

  // libp2p memory transport: sync + fetch of the missing payloads
  {
    const na = await syncNode(new MemStore(a), { intervalMs: 0, recordId })
    const nb = await syncNode(new MemStore(b), { intervalMs: 0, recordId })
    await connect(na, nb)
    t = process.hrtime.bigint()
    const r = await na.services.sync.syncWith(nb.peerId)
    out.libp2pMemory = { ...r, msIncludingFetch: ms(t) }
    await na.stop()
    await nb.stop()
  }

  // late joiner
  const lateN = Number(process.env.SYNC_BENCH_LATE_JOINER ?? 100_000)
  {
    const items: TestItem[] = []
    for (let i = 0; i < lateN; i++) items.push(makeItem(2, i, 1_700_000_000 + Math.floor(i / 10), PAYLOAD_BYTES))
    const peerStore = new MemStore(items)
    items.length = 0
    const peer = await syncNode(peerStore, { intervalMs: 0, recordId })
    const joiner = await syncNode(new MemStore(), { intervalMs: 0, recordId })
    await connect(joiner, peer)
    t = process.hrtime.bigint()
    const r = await joiner.services.sync.syncWith(peer.peerId)
    const total = ms(t)
    out.lateJoiner = {
      records: lateN,
      ...r,
      ms: total,
      recordsPerSec: Math.round(lateN / (total / 1000)),
      extrapolated1MSec: Math.round(total / 1000 * (1_000_000 / lateN) * 10) / 10,
      complete: joiner.store.records.size === lateN
    }
    await joiner.stop()
    await peer.stop()
  }
  return out
}

/**
 * A hostile raw libp2p peer and what it sends: silent streams, junk and oversized record
 * envelopes, offers from fresh keys. Shared by the per-point e2e tests (negotiate-exhaustion,
 * ledger-gossip-hostile, market-flood), the hostile-node suite and the attack bench.
 */
import '../../../src/polyfill.js'
import type { Connection, Stream } from '@libp2p/interface'
import { createLibp2p, type Libp2p } from 'libp2p'
import { memory } from '@libp2p/memory'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { createPeer, type TestPeer } from '../market-helpers.js'
import { ledgerSync, type LedgerSync } from '../../../src/ledger/sync/index.js'
import { recordIdOf } from '../../../src/ledger/record.js'
import type { Ed25519Signer } from '../../../src/identity/ed25519.js'
import { MAX_RECORD_BYTES } from '../../../src/ledger/record.js'
import type { OfferTerms } from '../../../src/market/offer.js'
import { Domain } from '../../../src/wire/domains.js'
import { sealEnvelope } from '../../../src/wire/envelope.js'

/**
 * A raw gossip peer as a hostile node would run it: plain gossipsub (it validates and scores
 * nothing), unsigned messages as Tally's topics require, noise like a Tally node.
 */
export async function hostilePeer (): Promise<TestPeer> {
  return await createPeer({ marketScoring: false, encryption: 'noise', gossip: { globalSignaturePolicy: 'StrictNoSign' } })
}

/** open `n` silent streams of `protocol` on one connection; whatever the other side does to them is fine */
export async function silentStreams (conn: Connection, n: number, protocol: string): Promise<Stream[]> {
  const got = await Promise.allSettled(Array.from({ length: n }, async () => await conn.newStream(protocol, { negotiateFully: false })))
  return got.flatMap(r => r.status === 'fulfilled' ? [r.value] : [])
}

/** a record envelope (signed, domain tally/record/1) over the 8192-byte limit: `i` makes each one differ */
export function oversizedRecord (signer: Ed25519Signer, net: Uint8Array, i: number): Uint8Array {
  const payload = new Uint8Array(MAX_RECORD_BYTES + 100).fill(7)
  new DataView(payload.buffer).setUint32(0, i)
  return sealEnvelope(signer, Domain.record, net, payload).bytes
}

/** a few bytes that are no record at all; `i` makes each one differ */
export function junk (i: number): Uint8Array {
  return new Uint8Array([0xff, 0xfe, i & 0xff, (i >> 8) & 0xff])
}

/** valid offer terms for a made-up model, as a flooder announces them */
export const floodTerms = (modelId: string): OfferTerms => ({
  modelId,
  fingerprint: 'f'.repeat(64),
  fingerprintVerified: false,
  params: 7_000_000_000n,
  quantization: 'Q4_K_M',
  contextLength: 4096,
  priceInPerMTokUc: 1n,
  priceOutPerMTokUc: 1n,
  maxSessions: 8,
  tokensPerSec: 100,
  region: '',
  multiaddrs: ['/ip4/10.255.255.1/tcp/1']
})

let syncPeers = 0

/**
 * A raw peer that answers /tally/sync and /tally/fetch from a fixed set of records it never
 * judges (hand-made, invalid ones included), as a hostile node would serve them to a puller.
 * `time` is each record's timestamp for reconciliation.
 */
export async function hostileSyncPeer (net: Uint8Array, records: Array<{ bytes: Uint8Array, time: bigint }>): Promise<Libp2p<{ sync: LedgerSync }>> {
  const byId = new Map<string, { id: Uint8Array, bytes: Uint8Array, time: bigint }>()
  for (const r of records) {
    const id = recordIdOf(r.bytes, net)
    byId.set(Buffer.from(id).toString('hex'), { id, bytes: r.bytes, time: r.time })
  }
  const source = {
    items: function * () { for (const r of byId.values()) yield { timestamp: r.time, id: r.id } },
    get: (id: Uint8Array) => byId.get(Buffer.from(id).toString('hex'))?.bytes,
    revision: () => 0,
    size: () => byId.size
  }
  return await createLibp2p({
    addresses: { listen: [`/memory/tally-hostile-sync-${process.pid}-${syncPeers++}-${Math.random().toString(36).slice(2)}`] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: {
      // libp2p's components object is a proxy that throws on unknown keys: pick, never spread
      sync: (c: any) => ledgerSync({ recordId: (b) => recordIdOf(b, net), intervalMs: 0, missingIntervalMs: 0 })({
        registrar: c.registrar, connectionManager: c.connectionManager, logger: c.logger, source, sink: { add: async () => {} }
      })
    }
  })
}

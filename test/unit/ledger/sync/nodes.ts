/** Real libp2p nodes on the memory transport carrying a LedgerSync service over a MemStore (e2e and bench). */
import { yamux } from '@chainsafe/libp2p-yamux'
import { memory } from '@libp2p/memory'
import { plaintext } from '@libp2p/plaintext'
import { createLibp2p, type Libp2p } from 'libp2p'
import { ledgerSync, type LedgerSync, type LedgerSyncComponents, type LedgerSyncInit } from '../../../../src/ledger/sync/index.js'
import { MemStore } from './helpers.js'

export type SyncNode = Libp2p<{ sync: LedgerSync }> & { store: MemStore }

let counter = 0

/** nodes see their store's changes at once (maxStorageAgeMs 0) unless `init` says otherwise */
export async function syncNode (store: MemStore, init: LedgerSyncInit = {}): Promise<SyncNode> {
  init = { maxStorageAgeMs: 0, ...init }
  const name = `/memory/sync-${process.pid}-${counter++}-${Math.random().toString(36).slice(2)}`
  const node = await createLibp2p({
    addresses: { listen: [name] },
    transports: [memory()],
    connectionEncrypters: [plaintext()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: Infinity },
    services: {
      // libp2p's components object is a proxy that throws on unknown keys: pick, never spread
      sync: (c: Omit<LedgerSyncComponents, 'source' | 'sink'>) => ledgerSync(init)({
        registrar: c.registrar, connectionManager: c.connectionManager, logger: c.logger, source: store, sink: store
      })
    }
  })
  return Object.assign(node, { store })
}

export async function connect (a: Libp2p, b: Libp2p): Promise<void> {
  await a.dial(b.getMultiaddrs()[0])
}

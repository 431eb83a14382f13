/**
 * Test helper for the market and negotiation e2e tests and benches: plain libp2p 3 nodes
 * (memory or TCP transport, plaintext or noise, yamux, identify, gossipsub 17 with the market's
 * scoring), each with an ed25519 signer whose key is also the node's PeerId.
 */
import '../../src/polyfill.js'
import { createLibp2p, type Libp2p } from 'libp2p'
import { memory } from '@libp2p/memory'
import { tcp } from '@libp2p/tcp'
import { plaintext } from '@libp2p/plaintext'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub, type GossipSub, type GossipsubOpts } from '@libp2p/gossipsub'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { createSigner, generateSeed, type Ed25519Signer } from '../../src/identity/ed25519.js'
import { netId, type Genesis } from '../../src/ledger/genesis.js'
import { marketGossipsubOptions } from '../../src/market/gossip-options.js'

export const testGenesis: Genesis = { name: 'market-test', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1_000_000_000n }
export const testNet = netId(testGenesis)
export const otherNet = netId({ ...testGenesis, name: 'another-network' })

/** the gossipsub class has these beyond the GossipSub interface */
export type TestPubSub = GossipSub & { getMeshPeers(topic: string): string[], getScore(peerId: string): number }

export interface TestPeer {
  libp2p: Libp2p<{ pubsub: TestPubSub, identify: unknown }>
  signer: Ed25519Signer
  seed: Uint8Array
}

let counter = 0

export interface PeerOptions {
  transport?: 'memory' | 'tcp'
  encryption?: 'plaintext' | 'noise'
  gossip?: Partial<GossipsubOpts>
  /** false: plain gossipsub defaults (a hostile node does not validate anything) */
  marketScoring?: boolean
  net?: Uint8Array
}

export async function createPeer (opts: PeerOptions = {}): Promise<TestPeer> {
  const seed = generateSeed()
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed)
  const transport = opts.transport ?? 'memory'
  const scoring = opts.marketScoring === false ? {} : marketGossipsubOptions(opts.net ?? testNet)
  const libp2p = await createLibp2p({
    privateKey,
    addresses: { listen: [transport === 'memory' ? `/memory/tally-test-${process.pid}-${counter++}-${Math.random().toString(36).slice(2)}` : '/ip4/127.0.0.1/tcp/0'] },
    transports: [transport === 'memory' ? memory() : tcp()],
    connectionEncrypters: [opts.encryption === 'noise' ? noise() : plaintext()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, heartbeatInterval: 200, ...scoring, ...opts.gossip })
    }
  })
  return { libp2p: libp2p as any, signer: createSigner(seed), seed }
}

export async function connect (a: TestPeer, b: TestPeer): Promise<void> {
  await a.libp2p.dial(b.libp2p.getMultiaddrs()[0])
}

export async function stopAll (peers: TestPeer[]): Promise<void> {
  await Promise.all(peers.map(async p => {
    try { await p.libp2p.stop() } catch {}
  }))
}

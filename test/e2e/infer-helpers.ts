/**
 * Test helper for the infer e2e tests and bench: plain libp2p 3 nodes (memory or TCP, noise,
 * yamux) whose PeerId key is also the ed25519 signer, plus session terms and raw-protocol
 * helpers for playing a dishonest buyer or seller.
 */
import '../../src/polyfill.js'
import { randomBytes } from 'node:crypto'
import { createLibp2p, type Libp2p } from 'libp2p'
import { memory } from '@libp2p/memory'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { createSigner, generateSeed, type Ed25519Signer } from '../../src/identity/ed25519.js'
import { netId } from '../../src/ledger/genesis.js'
import type { SessionTerms } from '../../src/exec/infer/terms.js'

export const inferNet = netId({ name: 'infer-test', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1_000_000_000n })
export const otherInferNet = netId({ name: 'infer-test-other', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1_000_000_000n })

export interface InferPeer {
  libp2p: Libp2p
  signer: Ed25519Signer
}

let seq = 0

export async function createInferPeer (transport: 'memory' | 'tcp' = 'memory'): Promise<InferPeer> {
  const seed = generateSeed()
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed)
  const libp2p = await createLibp2p({
    privateKey,
    addresses: { listen: [transport === 'memory' ? `/memory/tally-infer-${process.pid}-${seq++}-${Math.random().toString(36).slice(2)}` : '/ip4/127.0.0.1/tcp/0'] },
    transports: [transport === 'memory' ? memory() : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false }
  })
  return { libp2p, signer: createSigner(seed) }
}

/** two started peers, the buyer connected to the seller */
export async function connectedPair (transport: 'memory' | 'tcp' = 'memory'): Promise<{ buyer: InferPeer, seller: InferPeer }> {
  const [buyer, seller] = await Promise.all([createInferPeer(transport), createInferPeer(transport)])
  await buyer.libp2p.dial(seller.libp2p.getMultiaddrs()[0])
  return { buyer, seller }
}

export function makeTerms (buyer: InferPeer, seller: InferPeer, over: Partial<SessionTerms> = {}): SessionTerms {
  return {
    contractId: new Uint8Array(randomBytes(32)),
    buyer: buyer.signer.publicKey,
    seller: seller.signer.publicKey,
    modelId: 'simulated-1b',
    params: 1_000_000_000,
    priceInPerMTokUc: 500_000n,
    priceOutPerMTokUc: 1_500_000n,
    maxSpendUc: 1_000_000n,
    expiresAtMs: Date.now() + 3_600_000,
    ...over
  }
}

export async function stopAll (...peers: InferPeer[]): Promise<void> {
  await Promise.all(peers.map(async p => { await p.libp2p.stop() }))
}

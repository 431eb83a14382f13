/**
 * A sybil fleet: many fresh keys, each a bare libp2p host with only the buyer's side of
 * /tally/negotiate (no ledger, no gossip: a key costs its owner nothing), trying to buy on credit
 * from every seller. A contract won would be the seller taking a risk on a key with nothing
 * behind it; the key then asks for a completion without ever publishing an open or paying.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { plaintext } from '@libp2p/plaintext'
import { yamux } from '@chainsafe/libp2p-yamux'
import { defaultLogger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createHash } from 'node:crypto'
import { identityFromSeed } from '../../identity/keystore.js'
import { Negotiator } from '../../contract/negotiate.js'
import { decodeSellerFrame, encodeRequest, INFER_PROTOCOL, MAX_SELLER_FRAME_BYTES } from '../../exec/infer/codec.js'
import { simTransport, type SimNetwork } from '../net/index.js'

/** what one key got from one seller */
export interface SybilAttempt {
  /** the seller's refusal reason, or 'contract' when it signed one, or the error's name */
  outcome: string
  /** output tokens the seller streamed to the key (no open, no voucher behind them) */
  outputTokens: number
}

export interface SybilKey {
  account: string
  /** try to buy from the seller at `addr`: a contract on credit, then a request without an open */
  attempt: (addr: string, model: string, lockUc: bigint, signal?: AbortSignal) => Promise<SybilAttempt>
  stop: () => Promise<void>
}

/** the seed of the adversary's `i`-th key in a run */
export function sybilSeed (runSeed: string, i: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`tally-sim-sybil:${runSeed}:${i}`).digest())
}

/** start one fresh key on the run's links */
export async function sybilKey (network: SimNetwork, net: Uint8Array, seed: Uint8Array): Promise<SybilKey> {
  const identity = identityFromSeed(seed)
  const libp2p: Libp2p = await createLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', seed),
    addresses: { listen: [`/memory/${identity.account}`] },
    transports: [simTransport(network)],
    connectionEncrypters: [plaintext()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false }
  })
  const negotiator = new Negotiator({ libp2p, signer: identity.signer, net, logger: defaultLogger() })
  const attempt = async (addr: string, model: string, lockUc: bigint, signal?: AbortSignal): Promise<SybilAttempt> => {
    const ma = multiaddr(addr)
    let contractId: Uint8Array
    try {
      const c = await negotiator.negotiate(ma, { modelId: model, maxSpendUc: lockUc, sessionExpiresAtMs: BigInt(Date.now() + 60_000), signal })
      contractId = c.contractId
    } catch (err: any) {
      return { outcome: String(err?.reason ?? err?.name ?? 'Error'), outputTokens: 0 }
    }
    // a contract on credit: ask for work with no open behind it and never pay
    let outputTokens = 0
    try {
      const stream = await libp2p.dialProtocol(ma, INFER_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_SELLER_FRAME_BYTES })
      try {
        await lp.write(encodeRequest(contractId, { messages: [{ role: 'user', content: 'serve a key with nothing behind it' }], maxTokens: 64 }), { signal })
        for (;;) {
          const frame = decodeSellerFrame(await lp.read({ signal }))
          if (frame.chunk == null) break
          outputTokens += Number(frame.chunk.outputTokens)
        }
      } finally {
        stream.abort(new Error('sybil leaves'))
      }
    } catch {
      // refused or timed out: what was streamed is counted
    }
    return { outcome: 'contract', outputTokens }
  }
  await libp2p.start()
  return { account: identity.account, attempt, stop: async () => { await libp2p.stop() } }
}

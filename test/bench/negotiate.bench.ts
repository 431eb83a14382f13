/**
 * Negotiation round trip: QuoteRequest → signed Quote → signed Accept → countersigned Contract,
 * verified by the buyer, on a fresh stream each time (connection reused), over the memory
 * transport and over TCP loopback (noise + yamux). Prints p50/p99 in ms; never fails on time.
 */
import '../../src/polyfill.js'
import { defaultLogger } from '@libp2p/logger'
import { negotiate, type Negotiator, type SellerTerms } from '../../src/contract/negotiate.js'
import { createPeer, testNet, stopAll, type TestPeer } from '../e2e/market-helpers.js'

const WARMUP = 30
const RUNS = 400

const terms: SellerTerms = { modelId: 'bench-7b', fingerprint: 'f'.repeat(64), fingerprintVerified: true, params: 7_000_000_000n, priceInPerMTokUc: 3_000_000n, priceOutPerMTokUc: 7_000_000n, maxSessions: 1_000 }

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return Math.round(s[Math.min(s.length - 1, Math.floor(s.length * p))] * 1000) / 1000 }

async function run (transport: 'memory' | 'tcp'): Promise<Record<string, number>> {
  const peers: TestPeer[] = [await createPeer({ transport, encryption: 'noise' }), await createPeer({ transport, encryption: 'noise' })]
  const [sp, bp] = peers
  const seller: Negotiator = negotiate()({ libp2p: sp.libp2p, signer: sp.signer, net: testNet, logger: defaultLogger(), sellerTerms: m => m === terms.modelId ? terms : undefined })
  const buyer: Negotiator = negotiate()({ libp2p: bp.libp2p, signer: bp.signer, net: testNet, logger: defaultLogger() })
  await seller.start()
  await buyer.start()
  seller.addEventListener('contract', (e: any) => { seller.releaseSession(e.detail.contractId) })
  const addrs = sp.libp2p.getMultiaddrs()
  const times: number[] = []
  try {
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const t = performance.now()
      await buyer.negotiate(addrs, { modelId: terms.modelId, maxSpendUc: 100_000n, sessionExpiresAtMs: BigInt(Date.now() + 60_000), expectedInputTokens: 500n, expectedOutputTokens: 500n })
      if (i >= WARMUP) times.push(performance.now() - t)
    }
  } finally {
    await seller.stop()
    await buyer.stop()
    await stopAll(peers)
  }
  return { runs: RUNS, p50Ms: pct(times, 0.5), p90Ms: pct(times, 0.9), p99Ms: pct(times, 0.99), maxMs: pct(times, 1) }
}

export default async function (): Promise<Record<string, unknown>> {
  const memory = await run('memory')
  const tcp = await run('tcp')
  return { encryption: 'noise', muxer: 'yamux', freshStreamEach: true, memory, tcpLoopback: tcp, targetTcpP50Ms: 3 }
}

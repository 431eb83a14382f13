/**
 * Embeddings benchmark (infer.md § Embeddings): the tiny embedded model's `embed` called directly
 * vs bought through /tally/infer on the memory transport (request frame, vector frames, one
 * voucher), for batches of 1, 32 and 256 inputs: p50 ms per request and vectors per second, and
 * the protocol's added ms. Prints figures, never fails on time.
 */
import '../../src/polyfill.js'
import { createEmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'
import type { Backend, EmbedRequest } from '../../src/exec/backend.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import { connectedPair, inferNet, makeTerms, stopAll } from '../e2e/infer-helpers.js'

const REPS = 7
const BATCHES = [1, 32, 256]
const TEXT = 'Alice was beginning to get very tired of sitting'

function p50 (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d

export default async function (): Promise<Record<string, unknown>> {
  const engine = await createEmbeddedBackend({ modelPath: ensureTinyModel() })
  const backend: Backend = { ...engine, kind: engine.kind, model: engine.model, maxConcurrency: 1, capabilities: engine.capabilities, stream: (r, s) => engine.stream(r, s), embed: async (r, s) => await engine.embed!(r, s), close: async () => {} }
  const { buyer, seller } = await connectedPair('memory')
  const sellerSessions = new SellerSessions({ net: inferNet, now: Date.now })
  const svc = new InferSeller({ registrar: seller.libp2p, backend, sessions: sellerSessions })
  await svc.start()
  const client = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
  const terms = makeTerms(buyer, seller, { modelId: engine.model.id, maxSpendUc: 10n ** 15n })
  sellerSessions.add(terms)
  const figures: Record<string, unknown> = { model: engine.model.id, dimensions: 0, inputChars: TEXT.length, reps: REPS }
  try {
    for (const n of BATCHES) {
      const request: EmbedRequest = { inputs: Array.from({ length: n }, (_, i) => `${TEXT} ${i}`) }
      await engine.embed!(request, new AbortController().signal)
      await client.embed(seller.libp2p.peerId, terms, request)
      const direct: number[] = []
      const bought: number[] = []
      for (let i = 0; i < REPS; i++) {
        let t0 = performance.now()
        const d = await engine.embed!(request, new AbortController().signal)
        direct.push(performance.now() - t0)
        figures.dimensions = d.vectors[0].length
        t0 = performance.now()
        await client.embed(seller.libp2p.peerId, terms, request)
        bought.push(performance.now() - t0)
      }
      figures[`batch${n}`] = {
        directMsP50: round(p50(direct)),
        protocolMsP50: round(p50(bought)),
        addedMsP50: round(p50(bought) - p50(direct)),
        directVectorsPerSec: round(n / (p50(direct) / 1000), 1),
        protocolVectorsPerSec: round(n / (p50(bought) / 1000), 1)
      }
    }
  } finally {
    await svc.stop()
    await stopAll(buyer, seller)
    await engine.close()
  }
  return figures
}

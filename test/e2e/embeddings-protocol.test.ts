/**
 * Embeddings on /tally/infer (infer.md § Embeddings) between real libp2p peers: a buyer signs one
 * voucher for a whole, consistent answer and nothing for a hostile one (wrong count, wrong or
 * changing dimensions, non-finite values, inflated tokens, chat frames); an honest seller on the
 * tiny embedded model refuses what its budget or unpaid room cannot carry before it sends a
 * vector, and a buyer that never pays costs it at most the one request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { createEmbeddedBackend, createEmbeddedTokenizer, type EmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { maxEmbedInputTokens } from '../../src/exec/infer/token-counter.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'
import type { Backend, EmbedRequest } from '../../src/exec/backend.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import { decodeBuyerFrame, decodeSellerFrame, embeddingsFrames, encodeEmbedRequest, encodeSellerFrame, INFER_PROTOCOL, packVectors } from '../../src/exec/infer/codec.js'
import { BudgetExhaustedError, ProtocolViolationError, RemoteInferError, SellerOverclaimError } from '../../src/exec/infer/errors.js'
import { sessionAmountUc } from '../../src/exec/pricing.js'
import type { SellerFrame } from '../../src/wire/pb/infer.js'
import type { SessionTerms } from '../../src/exec/infer/terms.js'
import { connectedPair, inferNet, makeTerms, stopAll, type InferPeer } from './infer-helpers.js'

const request: EmbedRequest = { inputs: ['the White Rabbit', 'Alice'] }

let engine: EmbeddedBackend
/** one connected pair for the file: each test registers its own seller end and its own contract */
let buyer: InferPeer
let seller: InferPeer
let stopSeller: (() => Promise<void>) | undefined

beforeAll(async () => {
  engine = await createEmbeddedBackend({ modelPath: ensureTinyModel() })
  const pair = await connectedPair()
  buyer = pair.buyer
  seller = pair.seller
}, 60_000)
afterAll(async () => {
  await stopAll(buyer, seller)
  await engine?.close()
})
afterEach(async () => {
  await stopSeller?.()
  stopSeller = undefined
})

/** the shared engine as a seller's backend (the seller's stop does not close it) */
function shared (): Backend {
  return { kind: engine.kind, model: engine.model, maxConcurrency: 1, capabilities: engine.capabilities, stream: (r, s) => engine.stream(r, s), embed: async (r, s) => await engine.embed!(r, s), close: async () => {} }
}

function done (inputTokens: bigint, t: SessionTerms, over: Partial<NonNullable<SellerFrame['done']>> = {}): Uint8Array {
  return encodeSellerFrame({ done: { inputTokens, outputTokens: 0n, totalInputTokens: inputTokens, totalOutputTokens: 0n, amountUc: sessionAmountUc(inputTokens, 0n, t), finishReason: 'stop', usageSource: 'reported', stopReason: '', ...over } })
}

/** packed vectors as a frame field */
const packed = (vs: Float32Array[], dims: number): Uint8Array<ArrayBuffer> => packVectors(vs, dims) as Uint8Array<ArrayBuffer>

const vectors = (n: number, dims: number): Float32Array[] => Array.from({ length: n }, (_, i) => new Float32Array(dims).fill(i + 0.5))

describe('a hostile seller of embeddings', () => {
  async function rogueSeller (behave: (lp: ReturnType<typeof lpStream>, terms: SessionTerms) => Promise<void>) {
    const terms = makeTerms(buyer, seller)
    const vouchers: number[] = []
    stopSeller = async () => { await seller.libp2p.unhandle(INFER_PROTOCOL) }
    await seller.libp2p.handle(INFER_PROTOCOL, (stream) => {
      const lp = lpStream(stream)
      void (async () => {
        decodeBuyerFrame(await lp.read(), true)
        await behave(lp, terms)
        // whatever the buyer still sends is a voucher; then the seller ends its side, as the reference does
        decodeBuyerFrame(await lp.read(), false)
        vouchers.push(1)
        await stream.close()
      })().catch(() => {})
    })
    const sessions = new BuyerSessions({ now: Date.now })
    const svc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions }, { firstTokenTimeoutMs: 2000 })
    return { seller, terms, sessions, svc, vouchers }
  }

  it('an honest answer gets exactly one voucher, for the input tokens at the rule', async () => {
    const { seller, terms, sessions, svc } = await rogueSeller(async (lp, t) => {
      for (const f of embeddingsFrames(vectors(2, 4), 4)) await lp.write(f)
      await lp.write(done(25n, t))
    })
    const r = await svc.embed(seller.libp2p.peerId, terms, request)
    expect(r.vectors.map(v => [...v])).toEqual(vectors(2, 4).map(v => [...v]))
    expect(r.usage.inputTokens).toBe(25)
    expect(r.finalVoucher).toMatchObject({ nonce: 1n, inputTokens: 25n, outputTokens: 0n, amountUc: sessionAmountUc(25n, 0n, terms) })
    expect(sessions.lastVoucher(terms.contractId)).toBe(r.finalVoucher)
  })

  const hostile: Array<[string, (lp: ReturnType<typeof lpStream>, t: SessionTerms) => Promise<void>, new (...a: any[]) => Error]> = [
    ['fewer vectors than inputs', async (lp, t) => {
      for (const f of embeddingsFrames(vectors(1, 4), 4)) await lp.write(f)
      await lp.write(done(5n, t))
    }, ProtocolViolationError],
    ['more vectors than inputs', async (lp) => {
      for (const f of embeddingsFrames(vectors(3, 4), 4)) await lp.write(f)
    }, ProtocolViolationError],
    ['a dimension that changes between frames', async (lp, t) => {
      await lp.write(encodeSellerFrame({ embeddings: { firstIndex: 0, dimensions: 4, vectors: packed(vectors(1, 4), 4) } }))
      await lp.write(encodeSellerFrame({ embeddings: { firstIndex: 1, dimensions: 8, vectors: packed(vectors(1, 8), 8) } }))
      await lp.write(done(5n, t))
    }, ProtocolViolationError],
    ['a partial vector', async (lp) => {
      await lp.write(encodeSellerFrame({ embeddings: { firstIndex: 0, dimensions: 4, vectors: new Uint8Array(20) } }))
    }, ProtocolViolationError],
    ['a frame out of order', async (lp) => {
      await lp.write(encodeSellerFrame({ embeddings: { firstIndex: 1, dimensions: 4, vectors: packed(vectors(1, 4), 4) } }))
    }, ProtocolViolationError],
    ['a value that is not a number', async (lp) => {
      await lp.write(encodeSellerFrame({ embeddings: { firstIndex: 0, dimensions: 2, vectors: packed([Float32Array.of(1, Number.NaN), Float32Array.of(1, 2)], 2) } }))
    }, ProtocolViolationError],
    ['more input tokens than the inputs can hold', async (lp, t) => {
      for (const f of embeddingsFrames(vectors(2, 4), 4)) await lp.write(f)
      // 'the White Rabbit' + 'Alice' = 21 bytes, + 4 per input: at most 29
      await lp.write(done(30n, t))
    }, SellerOverclaimError],
    ['output tokens on an embeddings request', async (lp, t) => {
      for (const f of embeddingsFrames(vectors(2, 4), 4)) await lp.write(f)
      await lp.write(done(5n, t, { outputTokens: 3n, totalOutputTokens: 3n }))
    }, SellerOverclaimError],
    ['a chat chunk instead of vectors', async (lp, t) => {
      await lp.write(encodeSellerFrame({ chunk: { text: 'hi', outputTokens: 1, totalInputTokens: 0n, totalOutputTokens: 1n, amountUc: sessionAmountUc(0n, 1n, t) } }))
    }, ProtocolViolationError]
  ]

  for (const [what, behave, error] of hostile) {
    it(`${what}: refused with ${error.name}, nothing signed`, async () => {
      const { seller, terms, sessions, svc, vouchers } = await rogueSeller(behave)
      await expect(svc.embed(seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(error)
      expect(sessions.lastVoucher(terms.contractId)).toBeUndefined()
      expect(vouchers).toHaveLength(0)
    })
  }

  it('vectors in answer to a chat request are a protocol violation', async () => {
    const { seller, terms, svc } = await rogueSeller(async (lp) => {
      for (const f of embeddingsFrames(vectors(1, 4), 4)) await lp.write(f)
    })
    await expect(svc.infer(seller.libp2p.peerId, terms, { messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 })).rejects.toBeInstanceOf(ProtocolViolationError)
  })
})

describe('an honest seller of embeddings (tiny embedded model)', () => {
  async function honest (backend: Backend, terms: Partial<SessionTerms> = {}, voucherTimeoutMs = 10_000) {
    const sellerSessions = new SellerSessions({ net: inferNet, now: Date.now })
    const svc = new InferSeller({ registrar: seller.libp2p, backend, sessions: sellerSessions }, { voucherTimeoutMs })
    await svc.start()
    stopSeller = async () => { await svc.stop() }
    const t = makeTerms(buyer, seller, { modelId: engine.model.id, ...terms })
    sellerSessions.add(t)
    const buyerSessions = new BuyerSessions({ now: Date.now })
    const client = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: buyerSessions })
    return { buyer, seller, terms: t, sellerSessions, client }
  }

  it('serves vectors and chat on one session, one voucher per embeddings request', async () => {
    const { seller, terms, sellerSessions, client } = await honest(shared())
    const a = await client.embed(seller.libp2p.peerId, terms, request)
    expect(a.vectors).toHaveLength(2)
    expect(a.vectors[0]).toHaveLength(128)
    expect([...a.vectors[0]]).not.toEqual([...a.vectors[1]])
    // one token per ASCII char plus the beginning token
    expect(a.usage.inputTokens).toBe('the White Rabbit'.length + 1 + 'Alice'.length + 1)
    expect(a.finalVoucher.nonce).toBe(1n)
    const chat = await client.infer(seller.libp2p.peerId, terms, { messages: [{ role: 'user', content: 'Alice' }], maxTokens: 3, seed: 1 })
    const b = await client.embed(seller.libp2p.peerId, terms, { inputs: ['Alice'] })
    expect([...b.vectors[0]]).toEqual([...a.vectors[1]])
    expect(b.finalVoucher.nonce).toBe(chat.finalVoucher.nonce + 1n)
    expect(b.finalVoucher.inputTokens).toBe(chat.finalVoucher.inputTokens + 6n)
    expect(sellerSessions.highestVoucher(terms.contractId)?.nonce).toBe(b.finalVoucher.nonce)
  })

  it('refuses before computing past its budget or its unpaid room, and the session stays usable', async () => {
    // 22 input tokens at 1 credit per 1M tokens... a max spend of 10 µc cannot carry 22 tokens at 1 µc each
    const { seller, terms, client } = await honest(shared(), { priceInPerMTokUc: 1_000_000n, maxSpendUc: 10n })
    await expect(client.embed(seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(BudgetExhaustedError)
    const small = await client.embed(seller.libp2p.peerId, terms, { inputs: ['Al'] })
    expect(small.finalVoucher.amountUc).toBe(3n)

    await stopSeller?.()
    const roomy = await honest(shared(), { priceInPerMTokUc: 1_000_000n, maxUnpaidUc: 5n })
    await expect(roomy.client.embed(roomy.seller.libp2p.peerId, roomy.terms, request)).rejects.toThrow(/unpaid/)
    expect(roomy.sellerSessions.unpaid().requests).toBe(0)
  })

  it('a buyer that takes the vectors and never signs costs the seller that one request, and the session closes', async () => {
    const { buyer, seller, terms, sellerSessions } = await honest(shared(), {}, 300)
    const stream = await buyer.libp2p.dialProtocol(seller.libp2p.peerId, INFER_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(encodeEmbedRequest(terms.contractId, request))
    const frames: SellerFrame[] = []
    while (true) {
      const f = decodeSellerFrame(await lp.read({ signal: AbortSignal.timeout(5000) }))
      frames.push(f)
      if (f.embeddings == null) break
    }
    expect(frames.at(-2)?.embeddings?.dimensions).toBe(128)
    const d = frames.at(-1)!.done!
    expect(decodeSellerFrame(await lp.read({ signal: AbortSignal.timeout(5000) })).failure?.code).toBe('voucher-timeout')
    const u = sellerSessions.unpaid()
    expect(u).toMatchObject({ requests: 1, inputTokens: d.inputTokens, outputTokens: 0n, amountUc: d.amountUc })
    expect(sellerSessions.get(terms.contractId)?.closed).toBe(true)
  })

  it('with the model\'s tokenizer the buyer counts the inputs exactly and refuses one token more, which the bytes bound lets through', async () => {
    const tokenizer = await createEmbeddedTokenizer(ensureTinyModel())
    try {
      const exact = await tokenizer.countEmbedTokens(request.inputs)
      const honestSeller = await honest(shared())
      const a = await honestSeller.client.embed(honestSeller.seller.libp2p.peerId, honestSeller.terms, request, { maxInputTokens: exact })
      expect(a.usage.inputTokens).toBe(exact)
      await stopSeller?.()
      const inflating: Backend = { ...shared(), embed: async (r, s) => { const e = await engine.embed!(r, s); return { ...e, usage: { ...e.usage, inputTokens: e.usage.inputTokens + 1 } } } }
      const cheat = await honest(inflating)
      expect(exact + 1).toBeLessThanOrEqual(maxEmbedInputTokens(request.inputs))
      await expect(cheat.client.embed(cheat.seller.libp2p.peerId, cheat.terms, request, { maxInputTokens: exact })).rejects.toBeInstanceOf(SellerOverclaimError)
      // a fresh session on the same seller: the buyer without the tokenizer signs for the inflated count
      const fresh = makeTerms(buyer, seller, { modelId: engine.model.id })
      cheat.sellerSessions.add(fresh)
      const loose = await cheat.client.embed(cheat.seller.libp2p.peerId, fresh, request)
      expect(loose.usage.inputTokens).toBe(exact + 1)
    } finally {
      await tokenizer.close()
    }
  })

  it('a seller whose backend does not embed answers bad-request', async () => {
    const { seller, terms, client } = await honest(new SimulatedBackend({ modelId: engine.model.id }))
    const err = await client.embed(seller.libp2p.peerId, terms, request).catch(e => e)
    expect(err).toBeInstanceOf(RemoteInferError)
    expect(err.message).toMatch(/does not serve embeddings/)
  })
})

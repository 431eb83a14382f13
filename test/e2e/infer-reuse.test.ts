/**
 * Stream reuse and the paid-ahead window on /tally/infer (infer.md § Stream reuse, Flow 5): a
 * session's sequential requests share one stream; an old seller (no keep_open, no window_uc) still
 * serves a new buyer; a buyer that stops signing costs the seller at most the window, exactly.
 * Real libp2p nodes (memory transport), the simulated backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import type { Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { ChatRequest } from '../../src/exec/backend.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller, type InferSellerInit } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import { decodeBuyerFrame, decodeSellerFrame, encodeRequest, encodeSellerFrame, INFER_PROTOCOL } from '../../src/exec/infer/codec.js'
import { openVoucher } from '../../src/exec/voucher.js'
import { sessionAmountUc } from '../../src/exec/pricing.js'
import type { SessionTerms } from '../../src/exec/infer/terms.js'
import { connectedPair, inferNet, makeTerms, stopAll, type InferPeer } from './infer-helpers.js'
import { waitFor } from '../helpers/wait.js'

const request: ChatRequest = { messages: [{ role: 'user', content: 'again and again' }], maxTokens: 24, seed: 3 }

let buyer: InferPeer
let seller: InferPeer
beforeAll(async () => { ({ buyer, seller } = await connectedPair()) })
afterAll(async () => { await stopAll(buyer, seller) })

/** the seller's registrar, counting the /tally/infer streams its handler is given and those still being handled */
function countingRegistrar () {
  const counts = { opened: 0, live: 0 }
  let protocol = ''
  return {
    counts,
    registrar: {
      async handle (p: string, handler: StreamHandler, options?: StreamHandlerOptions) {
        protocol = p
        await seller.libp2p.handle(p, (stream, connection) => {
          counts.opened++
          counts.live++
          stream.addEventListener('close', () => { counts.live-- })
          return handler(stream, connection)
        }, options)
      },
      async unhandle () { await seller.libp2p.unhandle(protocol) }
    }
  }
}

async function setup (sellerInit: InferSellerInit = {}, terms: Partial<SessionTerms> = {}, backend = new SimulatedBackend({ naturalTokens: 1000 })) {
  const sessions = new SellerSessions({ net: inferNet, now: Date.now })
  const { registrar, counts } = countingRegistrar()
  const svc = new InferSeller({ registrar, backend, sessions }, { voucherTimeoutMs: 1000, ...sellerInit })
  await svc.start()
  const t = makeTerms(buyer, seller, terms)
  sessions.add(t)
  const b = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
  return { svc, sessions, counts, terms: t, b }
}

describe('stream reuse', () => {
  it('N sequential requests on one session open exactly one stream, with the same counters and vouchers as separate streams', async () => {
    const { svc, sessions, counts, terms, b } = await setup()
    const n = 5
    let out = 0
    for (let i = 0; i < n; i++) {
      const r = await b.infer(seller.libp2p.peerId, terms, { ...request, seed: i })
      out += r.usage.outputTokens
      expect(r.finalVoucher.outputTokens).toBe(BigInt(out))
    }
    expect(counts.opened).toBe(1)
    expect(b.stats).toMatchObject({ streamsOpened: 1, streamsReused: n - 1, resent: 0, tailErrors: 0 })
    await b.settled(terms.contractId)
    await expect.poll(() => sessions.highestVoucher(terms.contractId)?.outputTokens).toBe(BigInt(out))
    // the close settles on the last final voucher, and the kept stream ends
    const closed = await b.closeSession(seller.libp2p.peerId, terms.contractId)
    expect(closed.totalOutputTokens).toBe(BigInt(out))
    await waitFor(() => counts.live === 0, 'the seller ended every stream')
    await svc.stop()
  })

  it('a seller without keep_open (as an old seller) still serves a new buyer: one stream per request', async () => {
    const { svc, counts, terms, b } = await setup({ keepOpen: false })
    for (let i = 0; i < 3; i++) expect((await b.infer(seller.libp2p.peerId, terms, request)).usage.outputTokens).toBe(24)
    expect(counts.opened).toBe(3)
    expect(b.stats).toMatchObject({ streamsOpened: 3, streamsReused: 0 })
    await svc.stop()
  })

  it('a kept stream the seller closed when idle: the next request goes once more, on a new stream', async () => {
    const { svc, counts, terms, b } = await setup({ streamIdleMs: 50 })
    await b.infer(seller.libp2p.peerId, terms, request)
    // the seller ends its side after 50 ms idle; the buyer closes its own and drops the kept stream
    await waitFor(() => counts.live === 0, 'the seller closed the idle stream')
    expect(b.stats.streamsOpened).toBe(1)
    expect((await b.infer(seller.libp2p.peerId, terms, request)).usage.outputTokens).toBe(24)
    expect(counts.opened).toBe(2)
    await svc.stop()
  })
})

describe('kept streams and the connection\'s stream limit', () => {
  it('a seller keeps at most half its per-connection stream limit open between requests; every session still gets served', async () => {
    const sessions = new SellerSessions({ net: inferNet, now: Date.now })
    const { registrar, counts } = countingRegistrar()
    const svc = new InferSeller({ registrar, backend: new SimulatedBackend({ naturalTokens: 1000 }), sessions }, { maxInboundStreams: 4 })
    await svc.start()
    const b = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
    const all = Array.from({ length: 5 }, () => { const t = makeTerms(buyer, seller); sessions.add(t); return t })
    for (const t of all) await b.infer(seller.libp2p.peerId, t, request)
    // 5 sessions, 5 streams, 2 (= 4 / 2) kept: the others were closed after their request
    await waitFor(() => counts.live === 2, 'two kept streams left')
    for (const t of all) expect((await b.infer(seller.libp2p.peerId, t, request)).usage.outputTokens).toBe(24)
    expect(counts.live).toBeLessThanOrEqual(4)
    await svc.stop()
  })
})

describe('an old seller (window of one chunk, no window_uc, no stream_open)', () => {
  it('gets a voucher after every chunk from a new buyer, even with a stated max_unpaid_uc', async () => {
    const t = makeTerms(buyer, seller, { maxUnpaidUc: 100_000n })
    const chunks = 4
    const vouchers: bigint[] = []
    const ask: string[] = []
    const proto = '/tally/infer/1.0.0'
    await seller.libp2p.handle(proto, async (stream: Stream) => {
      const lp = lpStream(stream)
      const first = decodeBuyerFrame(await lp.read(), true)
      ask.push(String(first.request?.keepOpen))
      for (let i = 1; i <= chunks; i++) {
        await lp.write(encodeSellerFrame({ chunk: { text: 'ab', outputTokens: 2, totalInputTokens: 0n, totalOutputTokens: BigInt(2 * i), amountUc: sessionAmountUc(0n, BigInt(2 * i), t) } }))
        // an old seller waits for the voucher that covers each chunk before the next
        const v = openVoucher(decodeBuyerFrame(await lp.read(), false).voucher!, inferNet)
        vouchers.push(v.outputTokens)
      }
      await lp.write(encodeSellerFrame({ done: { inputTokens: 3n, outputTokens: 8n, totalInputTokens: 3n, totalOutputTokens: 8n, amountUc: sessionAmountUc(3n, 8n, t), finishReason: 'stop', usageSource: 'reported', stopReason: '' } }))
      vouchers.push(openVoucher(decodeBuyerFrame(await lp.read(), false).voucher!, inferNet).inputTokens)
      await stream.close()
    })
    try {
      const b = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) }, { idleTimeoutMs: 2000 })
      const r = await b.infer(seller.libp2p.peerId, t, request)
      expect(r.text).toBe('abababab')
      await b.settled(t.contractId)
      expect(vouchers).toEqual([2n, 4n, 6n, 8n, 3n])
      expect(ask).toEqual(['true'])
      expect(b.stats.streamsReused).toBe(0)
    } finally {
      await seller.libp2p.unhandle(proto)
    }
  })
})

describe('a buyer that stops signing under a paid-ahead window', () => {
  it('costs the seller at most the window, exactly: chunks flow without vouchers up to it, then voucher-timeout', async () => {
    // 1 µc per output token, a 40 µc window, one token per backend output
    const windowUc = 40n
    const { svc, sessions, terms } = await setup({ voucherTimeoutMs: 300 }, { priceInPerMTokUc: 0n, priceOutPerMTokUc: 1_000_000n, maxUnpaidUc: windowUc }, new SimulatedBackend({ tokensPerChunk: 1, naturalTokens: 1000 }))
    const stream = await buyer.libp2p.dialProtocol(seller.libp2p.peerId, INFER_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(encodeRequest(terms.contractId, { ...request, maxTokens: 500 }))
    let out = 0n
    let failure: string | undefined
    const windows = new Set<bigint | undefined>()
    while (failure == null) {
      const f = decodeSellerFrame(await lp.read({ signal: AbortSignal.timeout(5000) }))
      if (f.chunk != null) { out += BigInt(f.chunk.outputTokens); windows.add(f.chunk.windowUc) }
      failure = f.failure?.code
      expect(f.done).toBeUndefined()
    }
    expect(failure).toBe('voucher-timeout')
    // the seller ran ahead by the whole window and not one token more
    expect(out).toBe(40n)
    expect([...windows]).toEqual([windowUc])
    await expect.poll(() => sessions.unpaid().requests).toBe(1)
    const unpaid = sessions.unpaid()
    expect(unpaid.amountUc).toBe(windowUc)
    expect(unpaid.amountUc).toBeLessThanOrEqual(unpaid.boundUc)
    stream.abort(new Error('done'))
    await svc.stop()
  })

  it('an honest buyer under the same window pays from half of it: at least one voucher per window, fewer than chunks, no stall', async () => {
    const { svc, terms, b } = await setup({}, { priceInPerMTokUc: 0n, priceOutPerMTokUc: 1_000_000n, maxUnpaidUc: 40n }, new SimulatedBackend({ tokensPerChunk: 1, naturalTokens: 1000 }))
    const r = await b.infer(seller.libp2p.peerId, terms, { ...request, maxTokens: 400 })
    expect(r.usage.outputTokens).toBe(400)
    // a voucher once half the window (20 µc) is unvouchered: at least one per 40 µc of output
    expect(Number(r.finalVoucher.nonce)).toBeGreaterThanOrEqual(10)
    expect(Number(r.finalVoucher.nonce)).toBeLessThan(400)
    await svc.stop()
  })
})

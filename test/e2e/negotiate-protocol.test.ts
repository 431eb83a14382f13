import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { Envelope } from '../../src/wire/pb/envelope.js'
import { RefusalReason } from '../../src/wire/pb/negotiate.js'
import { NegotiationRefusedError } from '../../src/contract/errors.js'
import { openQuote, signAccept, verifyContract } from '../../src/contract/messages.js'
import { DEFAULT_MAX_SESSION_MS, type NegotiateInit, type NegotiateComponents } from '../../src/contract/negotiate.js'
import { evaluateBuyer } from '../../src/contract/policy.js'
import { otherNet, stopAll, testNet, type TestPeer } from './market-helpers.js'
import { MODEL, negotiatingPeer, rawStream, receive, send, type NegotiatingPeer } from './negotiate-helpers.js'
import { waitFor } from '../helpers/wait.js'

let all: NegotiatingPeer[] = []

afterEach(async () => {
  await Promise.all(all.map(async p => p.svc.stop()))
  await stopAll(all.map(p => p.peer))
  all = []
})

async function np (init: NegotiateInit = {}, extra: Partial<NegotiateComponents> = {}): Promise<NegotiatingPeer> {
  const p = await negotiatingPeer(init, extra)
  all.push(p)
  return p
}

async function seller (init: NegotiateInit = {}, extra: Partial<NegotiateComponents> = {}, terms = MODEL): Promise<NegotiatingPeer> {
  return np(init, { sellerTerms: m => m === terms.modelId ? terms : undefined, ...extra })
}

const session = (over: Record<string, unknown> = {}): any => ({
  modelId: MODEL.modelId,
  expectedInputTokens: 1000n,
  expectedOutputTokens: 1000n,
  maxSpendUc: 50_000n,
  sessionExpiresAtMs: BigInt(Date.now() + 60_000),
  ...over
})

async function refusedWith (p: Promise<unknown>, reason: RefusalReason): Promise<void> {
  const err: any = await p.then(() => undefined, e => e)
  expect(err).toBeInstanceOf(NegotiationRefusedError)
  expect(err.reason).toBe(reason)
}

/** the honest buyer still gets a contract: the seller survived whatever came before */
async function stillServes (s: NegotiatingPeer): Promise<void> {
  const honest = await np()
  const c = await honest.svc.negotiate(s.peer.libp2p.getMultiaddrs(), session())
  expect(c.sellerId).toBe(s.peer.libp2p.peerId.toString())
  s.svc.releaseSession(c.contractId)
}

/** request a quote on a raw stream, as `buyer` */
async function rawQuote (buyer: TestPeer, s: NegotiatingPeer): Promise<{ quoteBytes: Uint8Array, lp: any, stream: any }> {
  const { lp, stream } = await rawStream(buyer, s.peer)
  await send(lp, { quoteRequest: { modelId: MODEL.modelId, expectedInputTokens: 1n, expectedOutputTokens: 1n, buyer: buyer.signer.publicKey as Uint8Array<ArrayBuffer>, nonce: randomBytes(16), maxPriceInPerMtokUc: 0n, maxPriceOutPerMtokUc: 0n, maxSpendUc: 0n, sessionExpiresAtMs: 0n, bidQuote: new Uint8Array(0) } })
  const f = await receive(lp)
  expect(f.quote).toBeDefined()
  return { quoteBytes: f.quote as Uint8Array, lp, stream }
}

/** the session end a quote states: an accept must carry it */
const endOf = (quoteBytes: Uint8Array): bigint => openQuote(quoteBytes, testNet).sessionExpiresAtMs ?? 0n

async function expectReset (lp: any): Promise<void> {
  const err: any = await lp.read({ signal: AbortSignal.timeout(20_000) }).then(() => undefined, (e: any) => e)
  expect(err).toBeInstanceOf(Error)
  expect(err.name).not.toBe('TimeoutError')
}

describe('/tally/negotiate/1.0.0', () => {
  it('buyer and seller end with the same verified two-signed contract', async () => {
    const s = await seller()
    const b = await np()
    let sellerCopy: Uint8Array | undefined
    s.svc.addEventListener('contract', (e: any) => { sellerCopy = e.detail.bytes })
    // the buyer's side of the same negotiation: one 'negotiated' event, with the contract and its duration
    const negotiated: Array<{ contract: { bytes: Uint8Array }, durationMs: number }> = []
    b.svc.addEventListener('negotiated', (e: any) => { negotiated.push(e.detail) })
    const c = await b.svc.negotiate(s.peer.libp2p.getMultiaddrs(), session({ maxPriceOutPerMTokUc: MODEL.priceOutPerMTokUc }))
    expect(negotiated).toHaveLength(1)
    expect(negotiated[0].contract.bytes).toBe(c.bytes)
    expect(negotiated[0].durationMs).toBeGreaterThan(0)
    await waitFor(() => sellerCopy != null)
    expect(Buffer.from(sellerCopy as Uint8Array)).toEqual(Buffer.from(c.bytes))
    const v = verifyContract(c.bytes, testNet)
    expect(Buffer.from(v.contractId)).toEqual(Buffer.from(c.contractId))
    expect(v.buyerId).toBe(b.peer.libp2p.peerId.toString())
    expect(v.sellerId).toBe(s.peer.libp2p.peerId.toString())
    expect(v.priceOutPerMTokUc).toBe(MODEL.priceOutPerMTokUc)
    expect(v.maxSpendUc).toBe(50_000n)
    expect(() => verifyContract(c.bytes, otherNet)).toThrow(expect.objectContaining({ name: 'InvalidSignatureError' }))
    expect(s.svc.reserved(MODEL.modelId)).toBe(1)
    expect(s.svc.releaseSession(c.contractId)).toBe(true)
    expect(s.svc.reserved(MODEL.modelId)).toBe(0)
  })

  it('refuses with reason codes: unknown model, price changed, no capacity, flagged, no credit', async () => {
    const s = await seller({}, {
      canServe: (buyer, maxSpendUc) => {
        if (buyer[0] === flaggedFirstByte) return { ok: false, reason: RefusalReason.BUYER_FLAGGED, message: 'double spender' }
        if (maxSpendUc > 100_000n) return { ok: false, reason: RefusalReason.INSUFFICIENT_CREDIT }
        return { ok: true }
      }
    })
    let flaggedFirstByte = -1
    const b = await np()
    const to = s.peer.libp2p.getMultiaddrs()
    await refusedWith(b.svc.negotiate(to, session({ modelId: 'nope' })), RefusalReason.UNKNOWN_MODEL)
    await refusedWith(b.svc.negotiate(to, session({ maxPriceOutPerMTokUc: MODEL.priceOutPerMTokUc - 1n })), RefusalReason.PRICE_CHANGED)
    await refusedWith(b.svc.negotiate(to, session({ maxSpendUc: 100_001n })), RefusalReason.INSUFFICIENT_CREDIT)
    const c1 = await b.svc.negotiate(to, session())
    const c2 = await b.svc.negotiate(to, session())
    await refusedWith(b.svc.negotiate(to, session()), RefusalReason.NO_CAPACITY)
    s.svc.releaseSession(c1.contractId)
    s.svc.releaseSession(c2.contractId)
    flaggedFirstByte = b.peer.signer.publicKey[0]
    await refusedWith(b.svc.negotiate(to, session()), RefusalReason.BUYER_FLAGGED)
    flaggedFirstByte = -1
    await stillServes(s)
  })

  it('one buyer cannot hoard capacity with open quotes', async () => {
    const s = await seller({ maxOpenQuotesPerBuyer: 1 }, {}, { ...MODEL, maxSessions: 5 })
    const hoarder = await np()
    await rawQuote(hoarder.peer, s)
    const { lp } = await rawStream(hoarder.peer, s.peer)
    await send(lp, { quoteRequest: { modelId: MODEL.modelId, expectedInputTokens: 1n, expectedOutputTokens: 1n, buyer: hoarder.peer.signer.publicKey as Uint8Array<ArrayBuffer>, nonce: randomBytes(16), maxPriceInPerMtokUc: 0n, maxPriceOutPerMtokUc: 0n, maxSpendUc: 0n, sessionExpiresAtMs: 0n, bidQuote: new Uint8Array(0) } })
    const f = await receive(lp)
    expect(f.refusal?.reason).toBe(RefusalReason.NO_CAPACITY)
    expect(s.svc.reserved(MODEL.modelId)).toBe(1)
    await stillServes(s)
  })

  it('garbage bytes reset the stream; the seller keeps serving', async () => {
    const s = await seller()
    const h = await np()
    const { lp } = await rawStream(h.peer, s.peer)
    await lp.write(new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]))
    await expectReset(lp)
    await stillServes(s)
    expect(s.svc.stats.streamsAborted).toBeGreaterThanOrEqual(1)
  })

  it('an oversized frame resets the stream', async () => {
    const s = await seller({ maxFrameBytes: 4096 })
    const h = await np()
    const { lp } = await rawStream(h.peer, s.peer)
    await lp.write(new Uint8Array(5000))
    await expectReset(lp)
    await stillServes(s)
  })

  it('a stream that never finishes times out', async () => {
    const s = await seller({ timeoutMs: 300 })
    const h = await np()
    const { lp } = await rawStream(h.peer, s.peer)
    await expectReset(lp)
    expect(s.svc.stats.streamsAborted).toBe(1)
    await stillServes(s)
  })

  it('wrong net: the buyer rejects the quote, the seller refuses the accept', async () => {
    const s = await seller()
    const wrong = await np()
    ;(wrong.svc as any).c.net = otherNet
    const err: any = await wrong.svc.negotiate(s.peer.libp2p.getMultiaddrs(), session()).then(() => undefined, e => e)
    expect(err?.name).toBe('InvalidSignatureError')
    // an accept signed for another network
    const h = await np()
    const { quoteBytes, lp } = await rawQuote(h.peer, s)
    const quote = openQuote(quoteBytes, testNet)
    const accept = signAccept(h.peer.signer, otherNet, quote, 1000n, endOf(quoteBytes))
    await send(lp, { accept: accept.bytes as Uint8Array<ArrayBuffer> })
    expect((await receive(lp)).refusal?.reason).toBe(RefusalReason.BAD_REQUEST)
    await stillServes(s)
  })

  it('a bad signature on the accept is refused', async () => {
    const s = await seller()
    const h = await np()
    const { quoteBytes, lp } = await rawQuote(h.peer, s)
    const accept = signAccept(h.peer.signer, testNet, openQuote(quoteBytes, testNet), 1000n, endOf(quoteBytes))
    const env = Envelope.decode(accept.bytes)
    env.signature[5] ^= 0x40
    await send(lp, { accept: Envelope.encode(env) })
    const f = await receive(lp)
    expect(f.refusal?.reason).toBe(RefusalReason.BAD_REQUEST)
    expect(f.refusal?.message).toMatch(/signature/)
    await stillServes(s)
  })

  it('an accept for a quote issued to another buyer is refused', async () => {
    const s = await seller()
    const victim = await np()
    const thief = await np()
    const { quoteBytes } = await rawQuote(victim.peer, s)
    const quote = openQuote(quoteBytes, testNet)
    // the thief signs an accept of the victim's quote
    const { lp } = await rawStream(thief.peer, s.peer)
    await send(lp, { accept: signAccept(thief.peer.signer, testNet, quote, 1000n, endOf(quoteBytes)).bytes as Uint8Array<ArrayBuffer> })
    expect((await receive(lp)).refusal?.reason).toBe(RefusalReason.BAD_REQUEST)
    // or replays the victim's own signed accept from its connection
    const victimAccept = signAccept(victim.peer.signer, testNet, quote, 1000n, endOf(quoteBytes))
    const second = await rawStream(thief.peer, s.peer)
    await send(second.lp, { accept: victimAccept.bytes as Uint8Array<ArrayBuffer> })
    const f = await receive(second.lp)
    expect(f.refusal?.reason).toBe(RefusalReason.BAD_REQUEST)
    expect(f.refusal?.message).toMatch(/another buyer/)
    expect(s.svc.stats.contractsSigned).toBe(0)
    await stillServes(s)
  })

  it('the same quote accepted twice gets one contract', async () => {
    const s = await seller()
    const b = await np()
    const { quoteBytes, lp } = await rawQuote(b.peer, s)
    const accept = signAccept(b.peer.signer, testNet, openQuote(quoteBytes, testNet), 1000n, endOf(quoteBytes))
    await send(lp, { accept: accept.bytes as Uint8Array<ArrayBuffer> })
    const first = await receive(lp)
    expect(first.contract).toBeDefined()
    const again = await rawStream(b.peer, s.peer)
    await send(again.lp, { accept: accept.bytes as Uint8Array<ArrayBuffer> })
    const f = await receive(again.lp)
    expect(f.refusal?.reason).toBe(RefusalReason.BAD_REQUEST)
    expect(f.refusal?.message).toMatch(/already accepted/)
    expect(s.svc.stats.contractsSigned).toBe(1)
    expect(s.svc.reserved(MODEL.modelId)).toBe(1)
    await stillServes(s)
  })

  it('an expired quote is refused and its capacity released', async () => {
    const s = await seller({ quoteTtlMs: 150 })
    const b = await np()
    const { quoteBytes, lp } = await rawQuote(b.peer, s)
    expect(s.svc.reserved(MODEL.modelId)).toBe(1)
    await waitFor(() => s.svc.reserved(MODEL.modelId) === 0)
    const accept = signAccept(b.peer.signer, testNet, openQuote(quoteBytes, testNet), 1000n, endOf(quoteBytes))
    await send(lp, { accept: accept.bytes as Uint8Array<ArrayBuffer> })
    expect((await receive(lp)).refusal?.reason).toBe(RefusalReason.QUOTE_EXPIRED)
    await stillServes(s)
  })

  it('more concurrent streams than allowed are reset', async () => {
    const s = await seller({ maxInboundStreams: 2, timeoutMs: 3_000 })
    const h = await np()
    const open = [await rawStream(h.peer, s.peer), await rawStream(h.peer, s.peer)]
    // the third stream on the same connection is over the limit
    const third = await rawStream(h.peer, s.peer).then(async r => { await expectReset(r.lp); return 'reset' }, () => 'refused')
    expect(['reset', 'refused']).toContain(third)
    // the two within the limit are still being served: a frame on one of them gets an answer
    await send(open[0].lp, { quoteRequest: { modelId: MODEL.modelId, expectedInputTokens: 1n, expectedOutputTokens: 1n, buyer: h.peer.signer.publicKey as Uint8Array<ArrayBuffer>, nonce: randomBytes(16), maxPriceInPerMtokUc: 0n, maxPriceOutPerMtokUc: 0n, maxSpendUc: 0n, sessionExpiresAtMs: 0n, bidQuote: new Uint8Array(0) } })
    expect((await receive(open[0].lp)).quote).toBeDefined()
    // a global cap below the per-connection one
    const s2 = await seller({ maxConcurrentNegotiations: 1, timeoutMs: 3_000 })
    const idle = await rawStream(h.peer, s2.peer)
    await waitFor(() => (s2.svc as any).inFlight.size === 1)
    const over = await rawStream(h.peer, s2.peer)
    await expectReset(over.lp)
    expect(s2.svc.stats.streamsAborted).toBeGreaterThanOrEqual(1)
    idle.stream.abort(new Error('done'))
    await waitFor(() => (s2.svc as any).inFlight.size === 0)
    await stillServes(s2)
    await stillServes(s)
  })

  it('a session longer than the seller allows is clamped in the quote: a 59-minute ask gets a 10-minute contract', async () => {
    const s = await seller()
    const b = await np()
    const asked = BigInt(Date.now() + 59 * 60_000)
    const t0 = Date.now()
    const c = await b.svc.negotiate(s.peer.libp2p.getMultiaddrs(), session({ sessionExpiresAtMs: asked }))
    expect(c.expiresAtMs).toBeLessThanOrEqual(BigInt(Date.now() + DEFAULT_MAX_SESSION_MS))
    expect(c.expiresAtMs).toBeGreaterThanOrEqual(BigInt(t0 + DEFAULT_MAX_SESSION_MS))
    // the contract carries the quote's terms: the exact lock and the open deadline
    expect(c.maxSpendUc).toBe(50_000n)
    expect(c.openWithinMs).toBe(5_000n)
    // a buyer that needs a longer session than the seller gives refuses the quote
    const err: any = await b.svc.negotiate(s.peer.libp2p.getMultiaddrs(), session({ sessionExpiresAtMs: asked, accepts: { minSessionMs: 30 * 60_000 } })).then(() => undefined, e => e)
    expect(err?.name).toBe('QuoteTermsUnmetError')
    expect(err?.code).toBe('quote-terms-unmet')
    // a raw accept that keeps the 59 minutes is refused by the seller
    const { quoteBytes, lp } = await rawQuote(b.peer, s)
    await send(lp, { accept: signAccept(b.peer.signer, testNet, openQuote(quoteBytes, testNet), 1000n, asked).bytes as Uint8Array<ArrayBuffer> })
    expect((await receive(lp)).refusal?.reason).toBe(RefusalReason.BAD_REQUEST)
    s.svc.releaseSession(c.contractId)
  })

  it('the risk policy refuses a broke or untrusted buyer before any capacity is reserved, and shapes max_unpaid_uc', async () => {
    const view = { flagged: false, spendableUc: 0n, ownFundsUc: 0n, records: 0, earned: false }
    let quoted = 0
    const s = await seller({ maxUnpaidTotalUc: 2_000n }, {
      buyerPolicy: (_buyer, request) => evaluateBuyer(view, request, { serveOnCredit: false, maxUnpaidYoungUc: 1_600n }),
      onCapacity: () => { quoted++ }
    }, { ...MODEL, maxSessions: 12 })
    const b = await np()
    const to = s.peer.libp2p.getMultiaddrs()
    const refused = async (reason: RefusalReason, code: string): Promise<void> => {
      const err: any = await b.svc.negotiate(to, session()).then(() => undefined, e => e)
      expect(err).toBeInstanceOf(NegotiationRefusedError)
      expect(err.reason).toBe(reason)
      expect(err.code).toBe(code)
    }
    await refused(RefusalReason.INSUFFICIENT_CREDIT, 'insufficient-credit')
    view.spendableUc = 1_000_000n
    await refused(RefusalReason.BUYER_NOT_TRUSTED, 'buyer-not-trusted')
    // nothing was ever reserved for the refused requests
    expect(quoted).toBe(0)
    expect(s.svc.stats.quotesIssued).toBe(0)
    view.ownFundsUc = 1_000_000n
    // a young buyer's allowance (1,600 µc) is split: one eighth per session
    const c1 = await b.svc.negotiate(to, session())
    expect(c1.maxUnpaidUc).toBe(200n)
    // the seller's total cap (2,000 µc) bounds every buyer together
    const other = await np()
    const held: bigint[] = [c1.maxUnpaidUc]
    for (let i = 0; i < 7; i++) held.push((await b.svc.negotiate(to, session())).maxUnpaidUc)
    expect(held.reduce((a, x) => a + x, 0n)).toBe(1_600n)
    const c9 = await other.svc.negotiate(to, session())
    expect(c9.maxUnpaidUc).toBe(200n)
    // the first buyer's allowance is spent: no ninth session for it
    await refused(RefusalReason.NO_CAPACITY, 'seller-busy')
  })

  it('the buyer checks the quote against what it can meet and signs nothing otherwise', async () => {
    const s = await seller({ openWithinMs: 200 }, { buyerPolicy: () => ({ ok: true, minBuyerSpendableUc: 5_000_000n }) }, { ...MODEL, secondPeerAboveUc: 10_000n })
    const b = await np()
    const to = s.peer.libp2p.getMultiaddrs()
    const unmet = async (accepts: Record<string, unknown>, re: RegExp): Promise<void> => {
      const err: any = await b.svc.negotiate(to, session({ accepts })).then(() => undefined, e => e)
      expect(err?.code).toBe('quote-terms-unmet')
      expect(err?.message).toMatch(re)
    }
    await unmet({}, /open within 200 ms/)
    await unmet({ minOpenWithinMs: 100, spendableUc: 1_000_000n }, /requires 5000000 µc spendable/)
    await unmet({ minOpenWithinMs: 100, secondPeer: false }, /second peer/)
    expect(s.svc.stats.contractsSigned).toBe(0)
    const c = await b.svc.negotiate(to, session({ accepts: { minOpenWithinMs: 100, spendableUc: 5_000_000n, secondPeer: true } }))
    expect(c.minBuyerSpendableUc).toBe(5_000_000n)
    expect(c.secondPeerAboveUc).toBe(10_000n)
  })
})

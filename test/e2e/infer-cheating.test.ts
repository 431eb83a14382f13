/**
 * Cheating is bounded: dishonest buyers and sellers speak the raw protocol against an honest
 * counterpart on real libp2p nodes (memory transport).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { ChatRequest } from '../../src/exec/backend.js'
import { BuyerSessions, SellerSessions } from '../../src/exec/infer/sessions.js'
import { InferSeller, type InferSellerInit } from '../../src/exec/infer/seller.js'
import { InferBuyer } from '../../src/exec/infer/buyer.js'
import { decodeBuyerFrame, decodeSellerFrame, encodeRequest, encodeSellerFrame, encodeVoucherFrame, INFER_PROTOCOL } from '../../src/exec/infer/codec.js'
import { FirstTokenTimeoutError, ProtocolViolationError, SellerOverclaimError, StreamIdleTimeoutError } from '../../src/exec/infer/errors.js'
import { makeVoucher, type VoucherFields } from '../../src/exec/voucher.js'
import { sessionAmountUc } from '../../src/exec/pricing.js'
import { createSigner, generateSeed } from '../../src/identity/ed25519.js'
import type { SellerFrame } from '../../src/wire/pb/infer.js'
import type { SessionTerms } from '../../src/exec/infer/terms.js'
import { connectedPair, inferNet, makeTerms, otherInferNet, stopAll, type InferPeer } from './infer-helpers.js'

const request: ChatRequest = { messages: [{ role: 'user', content: 'cheat me if you can' }], maxTokens: 50, seed: 1 }

let peers: InferPeer[] = []
afterEach(async () => { await stopAll(...peers); peers = [] })

async function honestSeller (backendInit: ConstructorParameters<typeof SimulatedBackend>[0] = {}, voucherTimeoutMs = 400, sellerInit: InferSellerInit = {}) {
  const { buyer, seller } = await connectedPair()
  peers.push(buyer, seller)
  const sessions = new SellerSessions({ net: inferNet, now: Date.now })
  const svc = new InferSeller({ registrar: seller.libp2p, backend: new SimulatedBackend(backendInit), sessions }, { voucherTimeoutMs, ...sellerInit })
  await svc.start()
  const terms = makeTerms(buyer, seller)
  sessions.add(terms)
  return { buyer, seller, sessions, svc, terms }
}

/** a raw buyer: sends the request and hands back the framed stream */
async function rawBuyer (buyer: InferPeer, seller: InferPeer, terms: SessionTerms) {
  const stream = await buyer.libp2p.dialProtocol(seller.libp2p.peerId, INFER_PROTOCOL)
  const lp = lpStream(stream)
  await lp.write(encodeRequest(terms.contractId, request))
  const read = async (): Promise<SellerFrame> => decodeSellerFrame(await lp.read({ signal: AbortSignal.timeout(5000) }))
  return { stream, lp, read }
}

function voucherFor (terms: SessionTerms, nonce: bigint, outputTokens: bigint, over: Partial<VoucherFields> = {}): VoucherFields {
  return { contractId: terms.contractId, nonce, inputTokens: 0n, outputTokens, amountUc: sessionAmountUc(0n, outputTokens, terms), ...over }
}

describe('a dishonest buyer', () => {
  it('that never signs gets exactly one chunk, then a voucher-timeout failure', async () => {
    const { buyer, seller, sessions, terms } = await honestSeller({ tokensPerChunk: 2 })
    const raw = await rawBuyer(buyer, seller, terms)
    const first = await raw.read()
    expect(first.chunk?.outputTokens).toBeGreaterThan(0)
    const second = await raw.read()
    expect(second.chunk).toBeUndefined()
    expect(second.failure?.code).toBe('voucher-timeout')
    expect(sessions.highestVoucher(terms.contractId)).toBeUndefined()
    // the seller resynchronizes on what was signed: the unpaid chunk is its whole loss
    await expect.poll(() => sessions.get(terms.contractId)!.busy).toBe(false)
    expect(sessions.get(terms.contractId)!.totalOutputTokens).toBe(0n)
    // and it is counted as unpaid work, within the one-chunk bound
    const unpaid = sessions.unpaid()
    expect(unpaid.requests).toBe(1)
    expect(unpaid.outputTokens).toBe(BigInt(first.chunk!.outputTokens))
    expect(unpaid.amountUc).toBe(sessionAmountUc(0n, BigInt(first.chunk!.outputTokens), terms))
    expect(unpaid.amountUc).toBeLessThanOrEqual(unpaid.boundUc)
  })

  it('that stops signing after one voucher loses the seller one chunk only', async () => {
    // chunks of at most 8 tokens: the 50-token answer cannot leave in the chunk after the voucher
    const { buyer, seller, sessions, terms } = await honestSeller({ tokensPerChunk: 1, naturalTokens: 1000 }, 400, { maxChunkTokens: 8 })
    const raw = await rawBuyer(buyer, seller, terms)
    const first = await raw.read()
    const out1 = first.chunk!.totalOutputTokens
    await raw.lp.write(encodeVoucherFrame(makeVoucher(buyer.signer, inferNet, voucherFor(terms, 1n, out1)).bytes))
    const second = await raw.read()
    expect(second.chunk).toBeDefined()
    const third = await raw.read()
    expect(third.failure?.code).toBe('voucher-timeout')
    const held = sessions.highestVoucher(terms.contractId)!
    expect(held.outputTokens).toBe(out1)
    // unpaid: exactly the second chunk
    expect(second.chunk!.totalOutputTokens - held.outputTokens).toBe(BigInt(second.chunk!.outputTokens))
    await expect.poll(() => sessions.unpaid().requests).toBe(1)
    const unpaid = sessions.unpaid()
    expect(unpaid.outputTokens).toBe(BigInt(second.chunk!.outputTokens))
    expect(unpaid.amountUc).toBe(sessionAmountUc(0n, second.chunk!.totalOutputTokens, terms) - held.amountUc)
    expect(unpaid.amountUc).toBeLessThanOrEqual(unpaid.boundUc)
  })

  const badVouchers: Array<[string, (t: SessionTerms, out: bigint, b: InferPeer) => Uint8Array]> = [
    ['from another session', (t, out, b) => makeVoucher(b.signer, inferNet, voucherFor(t, 1n, out, { contractId: new Uint8Array(32).fill(9) })).bytes],
    ['signed by someone else', (t, out) => makeVoucher(createSigner(generateSeed()), inferNet, voucherFor(t, 1n, out)).bytes],
    ['signed for another network', (t, out, b) => makeVoucher(b.signer, otherInferNet, voucherFor(t, 1n, out)).bytes],
    ['with a wrong signature', (t, out, b) => { const v = makeVoucher(b.signer, inferNet, voucherFor(t, 1n, out)).bytes.slice(); v[v.length - 5] ^= 1; return v }],
    ['with an amount off the rule', (t, out, b) => makeVoucher(b.signer, inferNet, voucherFor(t, 1n, out, { amountUc: 0n })).bytes],
    ['above max spend', (t, out, b) => makeVoucher(b.signer, inferNet, voucherFor(t, 1n, 10_000_000n, { amountUc: t.maxSpendUc + 1n })).bytes],
    ['that is not a voucher', () => new Uint8Array([1, 2, 3, 4])]
  ]
  for (const [what, make] of badVouchers) {
    it(`sending a voucher ${what} is refused with bad-voucher`, async () => {
      const { buyer, seller, sessions, terms } = await honestSeller()
      const raw = await rawBuyer(buyer, seller, terms)
      const first = await raw.read()
      await raw.lp.write(encodeVoucherFrame(make(terms, first.chunk!.totalOutputTokens, buyer)))
      const next = await raw.read()
      expect(next.failure?.code).toBe('bad-voucher')
      expect(sessions.highestVoucher(terms.contractId)).toBeUndefined()
    })
  }

  it('replaying a lower nonce is refused and the highest voucher stays', async () => {
    const { buyer, seller, sessions, terms } = await honestSeller({ tokensPerChunk: 1, naturalTokens: 1000 }, 400, { maxChunkTokens: 8 })
    const raw = await rawBuyer(buyer, seller, terms)
    const first = await raw.read()
    const v2 = makeVoucher(buyer.signer, inferNet, voucherFor(terms, 2n, first.chunk!.totalOutputTokens))
    await raw.lp.write(encodeVoucherFrame(v2.bytes))
    const second = await raw.read()
    const stale = makeVoucher(buyer.signer, inferNet, voucherFor(terms, 1n, second.chunk!.totalOutputTokens))
    await raw.lp.write(encodeVoucherFrame(stale.bytes))
    const third = await raw.read()
    expect(third.failure?.code).toBe('bad-voucher')
    expect(sessions.highestVoucher(terms.contractId)!.nonce).toBe(2n)
  })

  it('that is not the contract\'s buyer is refused before any token', async () => {
    const { seller, terms } = await honestSeller()
    const { buyer: stranger } = await connectedPair()
    peers.push(stranger)
    await stranger.libp2p.dial(seller.libp2p.getMultiaddrs()[0])
    const raw = await rawBuyer(stranger, seller, terms)
    expect((await raw.read()).failure?.code).toBe('wrong-buyer')
  })

  it('sending garbage as its request gets bad-request', async () => {
    const { buyer, seller } = await honestSeller()
    const stream = await buyer.libp2p.dialProtocol(seller.libp2p.peerId, INFER_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(new Uint8Array([0xff, 0xff, 0xff]))
    const frame = decodeSellerFrame(await lp.read({ signal: AbortSignal.timeout(5000) }))
    expect(frame.failure?.code).toBe('bad-request')
  })
})

describe('a dishonest seller', () => {
  async function rogueSeller (behave: (lp: ReturnType<typeof lpStream>, terms: SessionTerms) => Promise<void>) {
    const { buyer, seller } = await connectedPair()
    peers.push(buyer, seller)
    const terms = makeTerms(buyer, seller)
    await seller.libp2p.handle(INFER_PROTOCOL, (stream) => {
      const lp = lpStream(stream)
      void (async () => {
        decodeBuyerFrame(await lp.read(), true)
        await behave(lp, terms)
      })().catch(() => {})
    })
    const sessions = new BuyerSessions({ now: Date.now })
    const svc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions }, { firstTokenTimeoutMs: 300 })
    return { buyer, seller, terms, sessions, svc }
  }

  it('claiming more output tokens than it sent is refused a voucher', async () => {
    const { seller, terms, sessions, svc } = await rogueSeller(async (lp, t) => {
      // "hi" is two UTF-8 bytes: at most two tokens
      await lp.write(encodeSellerFrame({ chunk: { text: 'hi', outputTokens: 50, totalInputTokens: 0n, totalOutputTokens: 50n, amountUc: sessionAmountUc(0n, 50n, t) } }))
      await lp.read()
    })
    await expect(svc.infer(seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(SellerOverclaimError)
    expect(sessions.lastVoucher(terms.contractId)).toBeUndefined()
  })

  it('inflating the usage at the end keeps the buyer on its last honest voucher', async () => {
    const { seller, terms, sessions, svc } = await rogueSeller(async (lp, t) => {
      await lp.write(encodeSellerFrame({ chunk: { text: ' hello', outputTokens: 1, totalInputTokens: 0n, totalOutputTokens: 1n, amountUc: sessionAmountUc(0n, 1n, t) } }))
      await lp.read()
      await lp.write(encodeSellerFrame({ done: { inputTokens: 1_000_000n, outputTokens: 1n, totalInputTokens: 1_000_000n, totalOutputTokens: 1n, amountUc: sessionAmountUc(1_000_000n, 1n, t), finishReason: 'stop', usageSource: 'reported', stopReason: '' } }))
      await lp.read()
    })
    await expect(svc.infer(seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(SellerOverclaimError)
    const last = sessions.lastVoucher(terms.contractId)!
    expect(last.outputTokens).toBe(1n)
    expect(last.inputTokens).toBe(0n)
  })

  it('asking for more than the pricing rule is refused', async () => {
    const { seller, terms, sessions, svc } = await rogueSeller(async (lp, t) => {
      await lp.write(encodeSellerFrame({ chunk: { text: ' hello', outputTokens: 1, totalInputTokens: 0n, totalOutputTokens: 1n, amountUc: sessionAmountUc(0n, 1n, t) + 100n } }))
      await lp.read()
    })
    await expect(svc.infer(seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(SellerOverclaimError)
    expect(sessions.lastVoucher(terms.contractId)).toBeUndefined()
  })

  it('stalling mid-stream is abandoned and the buyer keeps the voucher for what it received', async () => {
    const { seller, terms, sessions, svc } = await rogueSeller(async (lp, t) => {
      await lp.write(encodeSellerFrame({ chunk: { text: ' hello', outputTokens: 1, totalInputTokens: 0n, totalOutputTokens: 1n, amountUc: sessionAmountUc(0n, 1n, t) } }))
      await lp.read()
      await new Promise(resolve => setTimeout(resolve, 5000))
    })
    await expect(svc.infer(seller.libp2p.peerId, terms, request, { idleTimeoutMs: 300 })).rejects.toBeInstanceOf(StreamIdleTimeoutError)
    expect(sessions.lastVoucher(terms.contractId)!.outputTokens).toBe(1n)
  })

  it('sending a frame that is not a seller frame is a protocol error, not a voucher', async () => {
    const { seller, terms, sessions, svc } = await rogueSeller(async (lp) => {
      await lp.write(encodeSellerFrame({ done: { inputTokens: 0n, outputTokens: 0n, totalInputTokens: 0n, totalOutputTokens: 0n, amountUc: 0n, finishReason: 'exploded', usageSource: 'reported', stopReason: '' } }))
      await lp.read()
    })
    await expect(svc.infer(seller.libp2p.peerId, terms, request)).rejects.toBeInstanceOf(ProtocolViolationError)
    expect(sessions.lastVoucher(terms.contractId)).toBeUndefined()
  })

  it('stalling past the first-token timeout is abandoned, and the honest seller stops its backend', async () => {
    const { buyer, seller, sessions, terms } = await honestSeller({ ttftMs: 30_000 })
    const svc = new InferBuyer({ dialer: buyer.libp2p, signer: buyer.signer, net: inferNet, sessions: new BuyerSessions({ now: Date.now }) })
    await expect(svc.infer(seller.libp2p.peerId, terms, request, { firstTokenTimeoutMs: 300 })).rejects.toBeInstanceOf(FirstTokenTimeoutError)
    // the buyer reset the stream: the seller aborted the backend and freed the session
    await expect.poll(() => sessions.get(terms.contractId)!.busy, { timeout: 5000 }).toBe(false)
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { defaultLogger } from '@libp2p/logger'
import type { PeerId } from '@libp2p/interface'
import { BuyerRouter, type BuyerRouterComponents, type BuyerRouterInit } from '../../../src/node/buyer.js'
import { CostBook } from '../../../src/node/costs.js'
import { OrderBook } from '../../../src/market/order-book.js'
import { QualityTracker } from '../../../src/market/router.js'
import { signOffer, sellerIdOf, type OfferTerms } from '../../../src/market/offer.js'
import { InsufficientCreditError, MidStreamError, NoSellerError, UnknownModelError } from '../../../src/market/router-types.js'
import { signAccept, signContract, signQuote, type Contract } from '../../../src/contract/messages.js'
import type { Negotiator, NegotiateRequest } from '../../../src/contract/negotiate.js'
import { BuyerSessions } from '../../../src/exec/infer/sessions.js'
import type { InferBuyer, InferOptions, InferResult } from '../../../src/exec/infer/buyer.js'
import type { SessionTerms } from '../../../src/exec/infer/terms.js'
import type { ChatRequest } from '../../../src/exec/backend.js'
import type { MeterRecord } from '../../../src/exec/metering.js'
import { makeVoucher } from '../../../src/exec/voucher.js'
import { sessionAmountUc } from '../../../src/exec/pricing.js'
import { LedgerService } from '../../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { createSigner, type Ed25519Signer } from '../../../src/identity/ed25519.js'
import { World, seed } from '../ledger/world.js'

const NOW = 1_700_000_000_000
const MODEL = 'm'
/** 1 µc per token in and out */
const PRICE = 1_000_000n

/** how a fake seller answers a request */
type Behaviour = 'ok' | 'fail-before-token' | 'fail-mid-stream'

const request: ChatRequest = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 16 } as ChatRequest

/**
 * A BuyerRouter with its real collaborators: OrderBook holding real signed offers, QualityTracker,
 * CostBook, the buyer's LedgerService on a memory store (real opens and locks), and the real
 * BuyerSessions record behind the infer side (what the buyer signed, real vouchers). Fakes stand
 * only at the network edges: the negotiator (a real one negotiates over a libp2p stream; this
 * one signs the same contract the seller would) and the infer buyer (a real one streams over
 * /tally/infer; this one plays a scripted seller into the real session record).
 */
async function setup (opts: { creditUc?: bigint, priceOut?: bigint, init?: BuyerRouterInit, duringNegotiation?: (ledger: LedgerService) => Promise<void> } = {}) {
  const w = new World(4)
  const buyerSigner = createSigner(seed(1))
  const sellers: Ed25519Signer[] = [createSigner(seed(2)), createSigner(seed(3))]
  const ledger = new LedgerService({ genesis: w.genesis, signer: buyerSigner, store: new MemoryLedgerStore() })
  await ledger.start()
  if ((opts.creditUc ?? 100_000n) > 0n) ledger.add((await w.sign(0, { type: 'credit', to: buyerSigner.publicKey, amountUc: opts.creditUc ?? 100_000n })).bytes)
  const net = ledger.ledger.net
  let now = NOW
  const book = new OrderBook()
  const offerOf = (i: number, over: Partial<OfferTerms> = {}): void => {
    const terms: OfferTerms = {
      modelId: MODEL, fingerprint: 'f', fingerprintVerified: false, params: 1_000_000_000n, quantization: 'q', contextLength: 4096,
      priceInPerMTokUc: PRICE, priceOutPerMTokUc: opts.priceOut ?? PRICE, maxSessions: 2, tokensPerSec: 10, region: '', multiaddrs: [], ...over
    }
    expect(book.add(signOffer(sellers[i], net, terms, { seq: 1n, expiresAtMs: BigInt(NOW + 3_600_000) }), now)).toBe('accepted')
  }
  const idOf = (i: number): string => sellerIdOf(sellers[i].publicKey)

  const negotiations: string[] = []
  const negotiator = {
    negotiate: async (peer: PeerId, req: NegotiateRequest): Promise<Contract> => {
      negotiations.push(peer.toString())
      await opts.duringNegotiation?.(ledger)
      const seller = sellers.find(s => sellerIdOf(s.publicKey) === peer.toString())!
      const quote = signQuote(seller, net, {
        quoteId: randomBytes(16), buyer: buyerSigner.publicKey, requestNonce: randomBytes(16), modelId: req.modelId, fingerprint: 'f',
        fingerprintVerified: false, params: 1_000_000_000n, priceInPerMTokUc: req.maxPriceInPerMTokUc!, priceOutPerMTokUc: req.maxPriceOutPerMTokUc!,
        validUntilMs: BigInt(now + 10_000)
      })
      return signContract(seller, net, signAccept(buyerSigner, net, quote, req.maxSpendUc, req.sessionExpiresAtMs))
    }
  } as unknown as Negotiator

  const record = new BuyerSessions({ now: () => now })
  const behaviour = new Map<string, Behaviour>()
  const closes: string[] = []
  const infer = {
    lastVoucher: (contractId: Uint8Array) => record.lastVoucher(contractId),
    closeSession: async (peer: PeerId, contractId: Uint8Array) => {
      closes.push(peer.toString())
      record.closeSession(contractId)
      return { totalInputTokens: 0n, totalOutputTokens: 0n, amountUc: 0n }
    },
    infer: async (peer: PeerId, terms: SessionTerms, _req: ChatRequest, o: InferOptions = {}): Promise<InferResult> => {
      const b = behaviour.get(peer.toString()) ?? 'ok'
      record.add(terms)
      const s = record.beginRequest(terms.contractId)
      try {
        if (b === 'fail-before-token') throw new Error('the seller\'s backend broke')
        const sign = (outputTokens: bigint): void => {
          const total = s.totalOutputTokens + outputTokens
          record.recordVoucher(s, makeVoucher(buyerSigner, net, { contractId: terms.contractId, nonce: s.nonce + 1n, inputTokens: 0n, outputTokens: total, amountUc: sessionAmountUc(0n, total, terms) }))
        }
        const before = s.amountUc
        sign(4n)
        o.onChunk?.('four')
        if (b === 'fail-mid-stream') throw new Error('the seller went away mid-stream')
        sign(4n)
        o.onChunk?.(' more')
        return {
          text: 'four more', usage: { inputTokens: 0, outputTokens: 8, source: 'reported' }, finishReason: 'stop', finalVoucher: record.lastVoucher(terms.contractId)!,
          ttftMs: 1, tokensPerSec: 100, meter: { amountUc: s.amountUc - before, bpt: '0' } as unknown as MeterRecord
        }
      } finally {
        record.endRequest(s)
      }
    }
  } as unknown as InferBuyer

  const quality = new QualityTracker()
  const costs = new CostBook()
  const router = new BuyerRouter({
    // no dial happens: the fake negotiator stands for the network
    libp2p: { getConnections: () => [], peerStore: { merge: async () => {} } } as unknown as BuyerRouterComponents['libp2p'],
    book, negotiator, infer, ledger, quality, costs,
    maxSessionLockUc: w.genesis.maxSessionLockUc,
    now: () => now,
    log: defaultLogger().forComponent('test:router')
  }, { sessionLockUc: 5_000n, ...opts.init })
  return { router, ledger, book, offerOf, idOf, negotiations, behaviour, closes, costs, quality, record, setNow: (t: number) => { now = t }, cleanup: async () => { router.stop(); await ledger.stop() } }
}

let cleanup: (() => Promise<void>) | undefined
afterEach(async () => { await cleanup?.(); cleanup = undefined })

describe('BuyerRouter', () => {
  it('routes to the cheapest seller, locks its session in the ledger, books the cost and reuses the session', async () => {
    const t = await setup()
    cleanup = t.cleanup
    t.offerOf(0, { priceOutPerMTokUc: 2n * PRICE })
    t.offerOf(1)
    const r = await t.router.infer(MODEL, request, {})
    expect(r).toMatchObject({ seller: t.idOf(1), text: 'four more', costUc: 8n, attempts: 1 })
    expect(t.negotiations).toEqual([t.idOf(1)])
    expect(t.ledger.balance().lockedUc).toBe(5_000n)
    expect(t.costs.all().map(e => [e.counterparty, e.amountUc])).toEqual([[t.idOf(1), 8n]])
    const again = await t.router.infer(MODEL, request, {})
    expect(again.costUc).toBe(8n)
    expect(t.negotiations).toHaveLength(1)
    expect(t.router.openSessions()).toBe(1)
  })

  it('falls back to the next seller when the cheapest fails before a token, and does not reuse the broken session', async () => {
    const t = await setup()
    cleanup = t.cleanup
    t.offerOf(0)
    t.offerOf(1, { priceOutPerMTokUc: 2n * PRICE })
    t.behaviour.set(t.idOf(0), 'fail-before-token')
    const r = await t.router.infer(MODEL, request, {})
    expect(r).toMatchObject({ seller: t.idOf(1), attempts: 2 })
    expect(t.closes).toEqual([t.idOf(0)])
    expect(t.router.openSessions()).toBe(1)
  })

  it('a seller failing mid-stream is a MidStreamError for a streaming caller, and what was signed for is booked', async () => {
    const t = await setup()
    cleanup = t.cleanup
    t.offerOf(0)
    t.behaviour.set(t.idOf(0), 'fail-mid-stream')
    const seen: string[] = []
    await expect(t.router.infer(MODEL, request, {}, { onDelta: (text) => { seen.push(text) } })).rejects.toBeInstanceOf(MidStreamError)
    expect(seen.length).toBeGreaterThan(0)
    expect(t.costs.all().map(e => [e.outputTokens, e.amountUc])).toEqual([[4, 4n]])
    expect(t.closes).toEqual([t.idOf(0)])
  })

  it('a non-streamed request whose only seller fails mid-way is retried, then fails as no seller; the partial is still booked', async () => {
    const t = await setup()
    cleanup = t.cleanup
    t.offerOf(0)
    t.behaviour.set(t.idOf(0), 'fail-mid-stream')
    // nothing reached the caller, so the router may try the next seller; there is none
    await expect(t.router.infer(MODEL, request, {})).rejects.toMatchObject({ name: 'NoSellerError' })
    expect(t.costs.all().map(e => [e.outputTokens, e.amountUc])).toEqual([[4, 4n]])
  })

  it('a session too spent for the next request is closed and a new one opened', async () => {
    const t = await setup({ init: { sessionLockUc: 200n } })
    cleanup = t.cleanup
    t.offerOf(0)
    // each request spends 8 µc; the estimate (prompt bound + 16 output tokens) is under 200 µc
    // until the session has spent enough
    let n = 0
    while (t.negotiations.length < 2 && n < 30) { await t.router.infer(MODEL, request, {}); n++ }
    expect(t.negotiations).toHaveLength(2)
    expect(t.closes).toEqual([t.idOf(0)])
    expect(t.router.openSessions()).toBe(1)
  })

  it('a buyer that cannot lock the request\'s estimate is refused at once, without negotiating', async () => {
    const t = await setup({ creditUc: 0n, priceOut: 100n * PRICE })
    cleanup = t.cleanup
    t.offerOf(0, { priceOutPerMTokUc: 100n * PRICE })
    await expect(t.router.infer(MODEL, request, {})).rejects.toBeInstanceOf(InsufficientCreditError)
    expect(t.negotiations).toEqual([])
  })

  it('an open the buyer\'s own ledger refuses (credit spent while negotiating) stops the request: 402 code, no seller blamed, no other seller asked', async () => {
    const t = await setup({
      // the buyer's credit goes elsewhere between the router's balance check and its open
      duringNegotiation: async (ledger) => { await ledger.pay(sellerIdOf(createSigner(seed(9)).publicKey), ledger.balance().spendableUc - 1n) }
    })
    cleanup = t.cleanup
    t.offerOf(0)
    t.offerOf(1, { priceOutPerMTokUc: 2n * PRICE })
    await expect(t.router.infer(MODEL, request, {})).rejects.toMatchObject({ code: 'insufficient-credit' })
    expect(t.negotiations).toEqual([t.idOf(0)])
    expect(t.quality.snapshot(t.idOf(0))?.failures ?? 0).toBe(0)
    expect(t.router.openSessions()).toBe(0)
  })

  it('an unknown model and unmet constraints are typed errors', async () => {
    const t = await setup()
    cleanup = t.cleanup
    t.offerOf(0)
    await expect(t.router.infer('nope', request, {})).rejects.toBeInstanceOf(UnknownModelError)
    await expect(t.router.infer(MODEL, request, { maxPriceOutPerMTokUc: 1n })).rejects.toBeInstanceOf(NoSellerError)
  })

  it('a warm session idle for idleCloseMs is closed; closeAll closes the rest', async () => {
    const t = await setup({ init: { idleCloseMs: 60_000 } })
    cleanup = t.cleanup
    t.offerOf(0)
    t.offerOf(1, { priceOutPerMTokUc: 2n * PRICE })
    await t.router.infer(MODEL, request, {})
    t.setNow(NOW + 59_999)
    expect(t.router.retireIdle()).toBe(0)
    t.setNow(NOW + 60_000)
    expect(t.router.retireIdle()).toBe(1)
    await expect.poll(() => t.closes).toEqual([t.idOf(0)])
    expect(t.router.openSessions()).toBe(0)
    await t.router.infer(MODEL, request, {})
    expect(await t.router.closeAll()).toBe(1)
    expect(t.closes).toEqual([t.idOf(0), t.idOf(0)])
  })
})

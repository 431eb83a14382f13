/**
 * The buyer's session pool and queue (issue 17.5, infer.md § Capacity), as a property: for any
 * credit, seller slot count and burst of concurrent requests, the router never holds more sessions
 * than its credit covers or the seller runs at once, and every request is either served or ends
 * with the right code: 402 only when credit cannot cover one lock and no session exists, 503
 * seller-busy with a Retry-After when it waited its whole queue wait. The router's real
 * collaborators (OrderBook with a signed offer, the buyer's LedgerService with real opens and
 * locks, BuyerSessions with real vouchers); fakes only at the network edge (negotiator, infer).
 */
import { afterEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { randomBytes } from 'node:crypto'
import { defaultLogger } from '@libp2p/logger'
import type { PeerId } from '@libp2p/interface'
import { BuyerRouter, type BuyerRouterComponents } from '../../../src/node/buyer.js'
import { CostBook } from '../../../src/node/costs.js'
import { OrderBook } from '../../../src/market/order-book.js'
import { QualityTracker } from '../../../src/market/router.js'
import { signOffer, type OfferTerms } from '../../../src/market/offer.js'
import { signAccept, signContract, signQuote, type Contract } from '../../../src/contract/messages.js'
import type { Negotiator, NegotiateRequest } from '../../../src/contract/negotiate.js'
import { BuyerSessions } from '../../../src/exec/infer/sessions.js'
import type { InferBuyer, InferOptions, InferResult } from '../../../src/exec/infer/buyer.js'
import type { SessionTerms } from '../../../src/exec/infer/terms.js'
import type { ChatRequest } from '../../../src/exec/backend.js'
import type { MeterRecord } from '../../../src/exec/metering.js'
import { makeVoucher } from '../../../src/exec/voucher.js'
import { sessionAmountUc } from '../../../src/exec/pricing.js'
import { errorCode } from '../../../src/errors/index.js'
import { LedgerService } from '../../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { createSigner } from '../../../src/identity/ed25519.js'
import { World, seed } from '../ledger/world.js'

const MODEL = 'm'
const PRICE = 1_000_000n
/** 100 µc per output token: a request's estimate (its prompt bound + 16 output tokens) is ~1,700 µc, above the test network's 1,000 µc credit line, so `credits` locks are all the buyer can hold */
const PRICE_OUT = 100n * PRICE
const LOCK_UC = 5_000n
const request: ChatRequest = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 16 } as ChatRequest

interface Run { credits: number, maxSessions: number, requests: number, holdMs: number, queueWaitMs: number }

async function setup (r: Run) {
  const w = new World(4)
  const buyerSigner = createSigner(seed(1))
  const seller = createSigner(seed(2))
  const ledger = new LedgerService({ genesis: w.genesis, signer: buyerSigner, store: new MemoryLedgerStore() })
  await ledger.start()
  if (r.credits > 0) ledger.add((await w.sign(0, { type: 'credit', to: buyerSigner.publicKey, amountUc: BigInt(r.credits) * LOCK_UC })).bytes)
  const net = ledger.ledger.net
  const book = new OrderBook()
  const terms: OfferTerms = {
    modelId: MODEL, fingerprint: 'f', fingerprintVerified: false, params: 1_000_000_000n, quantization: 'q', contextLength: 4096,
    priceInPerMTokUc: PRICE, priceOutPerMTokUc: PRICE_OUT, maxSessions: r.maxSessions, tokensPerSec: 10, region: '', multiaddrs: []
  }
  book.add(signOffer(seller, net, terms, { seq: 1n, expiresAtMs: BigInt(Date.now() + 3_600_000) }), Date.now())
  let negotiations = 0
  const negotiator = {
    negotiate: async (_peer: PeerId, req: NegotiateRequest): Promise<Contract> => {
      negotiations++
      await new Promise(resolve => setTimeout(resolve, 1))
      const quote = signQuote(seller, net, {
        quoteId: randomBytes(16), buyer: buyerSigner.publicKey, requestNonce: randomBytes(16), modelId: req.modelId, fingerprint: 'f',
        fingerprintVerified: false, params: 1_000_000_000n, priceInPerMTokUc: req.maxPriceInPerMTokUc!, priceOutPerMTokUc: req.maxPriceOutPerMTokUc!,
        validUntilMs: BigInt(Date.now() + 10_000)
      })
      return signContract(seller, net, signAccept(buyerSigner, net, quote, req.maxSpendUc, req.sessionExpiresAtMs))
    }
  } as unknown as Negotiator
  const record = new BuyerSessions({ now: () => Date.now() })
  /** the most requests the fake seller ran at once, and sessions the router held at once */
  const peak = { running: 0, sessions: 0 }
  let running = 0
  let router: BuyerRouter | undefined
  const infer = {
    lastVoucher: (contractId: Uint8Array) => record.lastVoucher(contractId),
    closeSession: async (_peer: PeerId, contractId: Uint8Array) => {
      record.closeSession(contractId)
      return { totalInputTokens: 0n, totalOutputTokens: 0n, amountUc: 0n }
    },
    infer: async (_peer: PeerId, t: SessionTerms, _req: ChatRequest, o: InferOptions = {}): Promise<InferResult> => {
      if (record.get?.(t.contractId) == null) record.add(t)
      const s = record.beginRequest(t.contractId)
      running++
      peak.running = Math.max(peak.running, running)
      peak.sessions = Math.max(peak.sessions, router!.openSessions())
      try {
        await new Promise(resolve => setTimeout(resolve, r.holdMs))
        const total = s.totalOutputTokens + 2n
        const before = s.amountUc
        record.recordVoucher(s, makeVoucher(buyerSigner, net, { contractId: t.contractId, nonce: s.nonce + 1n, inputTokens: 0n, outputTokens: total, amountUc: sessionAmountUc(0n, total, t) }))
        o.onChunk?.('ok')
        return {
          text: 'ok', usage: { inputTokens: 0, outputTokens: 2, source: 'reported' }, finishReason: 'stop', finalVoucher: record.lastVoucher(t.contractId)!,
          ttftMs: 1, tokensPerSec: 100, meter: { amountUc: s.amountUc - before, bpt: '0' } as unknown as MeterRecord
        }
      } finally {
        running--
        record.endRequest(s)
      }
    }
  } as unknown as InferBuyer
  router = new BuyerRouter({
    libp2p: { getConnections: () => [], peerStore: { merge: async () => {} } } as unknown as BuyerRouterComponents['libp2p'],
    book, negotiator, infer, ledger, quality: new QualityTracker(), costs: new CostBook(),
    maxSessionLockUc: w.genesis.maxSessionLockUc,
    now: () => Date.now(),
    log: defaultLogger().forComponent('test:pool')
  }, { sessionLockUc: LOCK_UC, queueWaitMs: r.queueWaitMs })
  return { router, ledger, peak, negotiations: () => negotiations, cleanup: async () => { router!.stop(); await ledger.stop() } }
}

let cleanup: (() => Promise<void>) | undefined
afterEach(async () => { await cleanup?.(); cleanup = undefined })

describe('the buyer session pool and queue', () => {
  it('never holds more sessions than credit covers or the seller runs; every request is served, or 402 only without credit for one lock, or 503 + Retry-After after its wait', async () => {
    await fc.assert(fc.asyncProperty(
      fc.record({
        credits: fc.integer({ min: 0, max: 4 }),
        maxSessions: fc.integer({ min: 1, max: 4 }),
        requests: fc.integer({ min: 1, max: 12 }),
        holdMs: fc.integer({ min: 1, max: 30 }),
        // short enough, against the hold, that some runs end queued requests by the wait
        queueWaitMs: fc.constantFrom(20, 2_000)
      }),
      async (r) => {
        const t = await setup(r)
        cleanup = t.cleanup
        const settled = await Promise.allSettled(Array.from({ length: r.requests }, async () => await t.router.infer(MODEL, request, {})))
        const slots = Math.min(r.credits, r.maxSessions)
        // never more sessions than credit covers (one lock each) or the seller runs at once
        expect(t.peak.sessions).toBeLessThanOrEqual(slots)
        expect(t.peak.running).toBeLessThanOrEqual(slots)
        expect(t.router.queued()).toBe(0)
        for (const s of settled) {
          if (s.status === 'fulfilled') continue
          const code = errorCode(s.reason)
          if (r.credits === 0) {
            expect(code).toBe('insufficient-credit')
          } else {
            // it waited its whole queue wait behind busy sessions: 503 with when to come back
            expect(code).toBe('seller-busy')
            expect((s.reason as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0)
          }
        }
        const served = settled.filter(s => s.status === 'fulfilled').length
        if (r.credits === 0) {
          expect(served).toBe(0)
          expect(t.negotiations()).toBe(0)
        } else {
          // at least the first burst that found or opened a session is served
          expect(served).toBeGreaterThanOrEqual(Math.min(slots, r.requests))
          // a wait long enough for every hold: every request is served
          if (r.queueWaitMs >= 2_000) expect(served).toBe(r.requests)
        }
        await t.cleanup()
        cleanup = undefined
      }
    ), { numRuns: 25 })
  }, 60_000)
})

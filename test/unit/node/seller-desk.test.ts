import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { defaultLogger } from '@libp2p/logger'
import { SellerDesk, UnknownContractError } from '../../../src/node/seller.js'
import { SellerSessions } from '../../../src/exec/infer/sessions.js'
import { makeVoucher } from '../../../src/exec/voucher.js'
import { sessionAmountUc } from '../../../src/exec/pricing.js'
import { signAccept, signContract, signQuote, type Contract } from '../../../src/contract/messages.js'
import { DEFAULT_OPEN_WITHIN_MS, type Negotiator } from '../../../src/contract/negotiate.js'
import { LedgerService } from '../../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { createSigner } from '../../../src/identity/ed25519.js'
import { World, seed } from '../ledger/world.js'

const LOCK_UC = 10_000n
const T0 = 1_000_000
const TTL_MS = 60_000

/**
 * One seller desk with its real collaborators (SellerSessions, LedgerServices of buyer and
 * seller on memory stores, real signed contracts and vouchers) on a clock the test moves.
 * The negotiator is a fake: the desk only tells it that a contract's open took its slot or that
 * its capacity is free, and a real one holds a reservation only after a negotiation over libp2p;
 * the fake records both (the real one's counting is in test/e2e/seller-squat.test.ts).
 */
async function setup (opts: { seenElsewhere?: () => Promise<boolean> } = {}) {
  const w = new World(3)
  const buyerSigner = createSigner(seed(1))
  const sellerSigner = createSigner(seed(2))
  const buyer = new LedgerService({ genesis: w.genesis, signer: buyerSigner, store: new MemoryLedgerStore() })
  const seller = new LedgerService({ genesis: w.genesis, signer: sellerSigner, store: new MemoryLedgerStore() })
  await buyer.start()
  await seller.start()
  const credit = await w.sign(0, { type: 'credit', to: buyerSigner.publicKey, amountUc: 100_000n })
  buyer.add(credit.bytes)
  seller.add(credit.bytes)
  const net = seller.ledger.net
  let now = T0
  const released: string[] = []
  const opened: string[] = []
  const negotiator = {
    releaseSession: (id: Uint8Array) => { released.push(Buffer.from(id).toString('hex')); return true },
    markOpened: (id: Uint8Array) => { opened.push(Buffer.from(id).toString('hex')); return true }
  } as unknown as Negotiator
  const sessions = new SellerSessions({ net, now: () => now })
  const desk = new SellerDesk({
    ledger: seller,
    negotiator,
    sessions,
    now: () => now,
    log: defaultLogger().forComponent('test:desk'),
    seenElsewhere: opts.seenElsewhere,
    machine: { confirmForMs: 1_000, drainMs: 5_000 }
  }, sellerSigner.publicKey)

  const contract = (secondPeerAboveUc = 0n, openWithinMs?: bigint): Contract => {
    const quote = signQuote(sellerSigner, net, {
      quoteId: randomBytes(16),
      buyer: buyerSigner.publicKey,
      requestNonce: randomBytes(16),
      modelId: 'm',
      fingerprint: 'f',
      fingerprintVerified: false,
      params: 1n,
      priceInPerMTokUc: 1_000_000n,
      priceOutPerMTokUc: 1_000_000n,
      validUntilMs: BigInt(T0 + 10_000),
      secondPeerAboveUc,
      openWithinMs
    })
    return signContract(sellerSigner, net, signAccept(buyerSigner, net, quote, LOCK_UC, BigInt(T0 + TTL_MS)))
  }
  /** the buyer publishes its open; the seller's ledger takes it and tells the desk */
  const open = async (c: Contract, maxSpendUc = c.maxSpendUc): Promise<string> => {
    const o = await buyer.openSession({ seller: c.seller, contractId: c.contractId, maxSpendUc })
    desk.onAccepted(seller.add(o.bytes).accepted)
    return o.id
  }
  const voucher = (c: Contract, nonce: bigint, outputTokens: bigint): Uint8Array =>
    makeVoucher(buyerSigner, net, { contractId: c.contractId, nonce, inputTokens: 0n, outputTokens, amountUc: sessionAmountUc(0n, outputTokens, { priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n, maxSpendUc: LOCK_UC }) }).bytes
  const sellerBalance = (): bigint => seller.balance().balanceUc
  const hex = (c: Contract): string => Buffer.from(c.contractId).toString('hex')
  return { w, buyer, seller, desk, sessions, released, opened, contract, open, voucher, sellerBalance, hex, setNow: (t: number) => { now = t }, cleanup: async () => { await desk.stop(); await buyer.stop(); await seller.stop() } }
}

let cleanup: (() => Promise<void>) | undefined
afterEach(async () => { await cleanup?.(); cleanup = undefined })

describe('SellerDesk', () => {
  it('serves a contract once its open is in the ledger, and settles the highest voucher when the buyer closes', async () => {
    const t = await setup()
    cleanup = t.cleanup
    const c = t.contract()
    t.desk.onContract(c)
    const waiting = t.desk.awaitSession(c.contractId, AbortSignal.timeout(10_000))
    expect(t.sessions.get(c.contractId)).toBeUndefined()
    await t.open(c)
    await waiting
    expect(t.desk.activeSessions()).toBe(1)
    const s = t.sessions.beginRequest(c.contractId, c.buyer)
    t.sessions.acceptVoucher(c.contractId, t.voucher(c, 1n, 100n))
    t.sessions.acceptVoucher(c.contractId, t.voucher(c, 2n, 250n))
    t.sessions.endRequest(s)
    t.desk.onClosed(t.sessions.closeSession(c.contractId)!)
    await expect.poll(() => t.desk.settled).toBe(1)
    expect(t.sellerBalance()).toBe(250n)
    expect(t.released).toEqual([t.hex(c)])
    expect(t.sessions.get(c.contractId)).toBeUndefined()
    expect(t.desk.activeSessions()).toBe(0)
    // a second close of the same contract changes nothing
    t.desk.onClosed({ terms: s.terms })
    await t.desk.stop()
    expect(t.desk.settled).toBe(1)
    expect(t.released).toHaveLength(1)
  })

  it('a contract whose open never comes is released at the reservation deadline (5 s), not its expiry, and its waiting request is refused', async () => {
    const t = await setup()
    cleanup = t.cleanup
    const c = t.contract()
    t.desk.onContract(c)
    const waiting = t.desk.awaitSession(c.contractId, AbortSignal.timeout(10_000))
    t.setNow(T0 + DEFAULT_OPEN_WITHIN_MS - 1)
    t.desk.tick()
    expect(t.released).toEqual([])
    t.setNow(T0 + DEFAULT_OPEN_WITHIN_MS)
    t.desk.tick()
    await expect(waiting).rejects.toBeInstanceOf(UnknownContractError)
    expect(t.released).toEqual([t.hex(c)])
    expect(t.opened).toEqual([])
    await expect(t.desk.awaitSession(c.contractId, AbortSignal.timeout(10_000))).rejects.toBeInstanceOf(UnknownContractError)
    // an open that comes after the reservation ended starts nothing
    await t.open(c)
    expect(t.sessions.get(c.contractId)).toBeUndefined()
    expect(t.opened).toEqual([])
  })

  it('the quote\'s open_within_ms term sets the reservation', async () => {
    const t = await setup()
    cleanup = t.cleanup
    const c = t.contract(0n, 2_000n)
    t.desk.onContract(c)
    t.setNow(T0 + 1_999)
    t.desk.tick()
    expect(t.released).toEqual([])
    t.setNow(T0 + 2_000)
    t.desk.tick()
    expect(t.released).toEqual([t.hex(c)])
  })

  it('a squatter\'s contracts hold no slot past the reservation; an honest contract during the squat takes its slot at its open and is served', async () => {
    const t = await setup()
    cleanup = t.cleanup
    const squats = [t.contract(), t.contract(), t.contract()]
    for (const c of squats) t.desk.onContract(c)
    t.setNow(T0 + 1_000)
    const honest = t.contract()
    t.desk.onContract(honest)
    await t.open(honest)
    await t.desk.awaitSession(honest.contractId, AbortSignal.timeout(10_000))
    // only the opened contract took a slot; the squats are reservations
    expect(t.opened).toEqual([t.hex(honest)])
    expect(t.desk.activeSessions()).toBe(1)
    t.setNow(T0 + DEFAULT_OPEN_WITHIN_MS)
    t.desk.tick()
    expect(t.released.sort()).toEqual(squats.map(t.hex).sort())
    // the honest session outlives the squatters' reservations
    const s = t.sessions.beginRequest(honest.contractId, honest.buyer)
    t.sessions.acceptVoucher(honest.contractId, t.voucher(honest, 1n, 50n))
    t.sessions.endRequest(s)
    t.setNow(T0 + 2 * DEFAULT_OPEN_WITHIN_MS)
    t.desk.tick()
    expect(t.sessions.get(honest.contractId)).toBeDefined()
    expect(t.released).not.toContain(t.hex(honest))
  })

  it('refuses to wait on a contract it never signed', async () => {
    const t = await setup()
    cleanup = t.cleanup
    await expect(t.desk.awaitSession(new Uint8Array(32).fill(9), AbortSignal.timeout(10_000))).rejects.toBeInstanceOf(UnknownContractError)
  })

  it('an open that arrives before its contract is used once the contract comes', async () => {
    const t = await setup()
    cleanup = t.cleanup
    const c = t.contract()
    await t.open(c)
    expect(t.desk.activeSessions()).toBe(0)
    t.desk.onContract(c)
    expect(t.sessions.get(c.contractId)).toBeDefined()
    await t.desk.awaitSession(c.contractId, AbortSignal.timeout(10_000))
  })

  it('an open for another amount than the contract is ignored', async () => {
    const t = await setup()
    cleanup = t.cleanup
    const c = t.contract()
    t.desk.onContract(c)
    await t.open(c, c.maxSpendUc - 1n)
    expect(t.sessions.get(c.contractId)).toBeUndefined()
    expect(t.desk.activeSessions()).toBe(0)
  })

  it('a served session past its expiry is settled with its highest voucher on the next tick, once its request ends', async () => {
    const t = await setup()
    cleanup = t.cleanup
    const c = t.contract()
    t.desk.onContract(c)
    await t.open(c)
    const s = t.sessions.beginRequest(c.contractId, c.buyer)
    t.sessions.acceptVoucher(c.contractId, t.voucher(c, 1n, 400n))
    t.setNow(T0 + TTL_MS)
    t.desk.tick()
    expect(t.released).toEqual([]) // the request still runs
    t.sessions.endRequest(s)
    await expect.poll(() => t.desk.settled).toBe(1)
    expect(t.sellerBalance()).toBe(400n)
    expect(t.released).toEqual([t.hex(c)])
  })

  it('stop settles what is open with what was vouchered and releases unopened contracts', async () => {
    const t = await setup()
    cleanup = t.cleanup
    const served = t.contract()
    const unopened = t.contract()
    t.desk.onContract(served)
    t.desk.onContract(unopened)
    const waiting = t.desk.awaitSession(unopened.contractId, AbortSignal.timeout(10_000))
    await t.open(served)
    t.sessions.acceptVoucher(served.contractId, t.voucher(served, 1n, 70n))
    await t.desk.stop()
    // the request waiting on the unopened contract is told the seller is shutting down (infer.md)
    await expect(waiting).rejects.toMatchObject({ name: 'SellerStoppingError', code: 'seller-shutting-down' })
    expect(t.desk.settled).toBe(1)
    expect(t.sellerBalance()).toBe(70n)
    expect(t.released.sort()).toEqual([t.hex(served), t.hex(unopened)].sort())
  })

  it('a large open no second peer holds is not served and its lock is released with an empty settle', async () => {
    const t = await setup({ seenElsewhere: async () => false })
    cleanup = t.cleanup
    const c = t.contract(1_000n)
    t.desk.onContract(c)
    const waiting = t.desk.awaitSession(c.contractId, AbortSignal.timeout(10_000))
    await t.open(c)
    expect(t.sessions.get(c.contractId)).toBeUndefined()
    t.setNow(T0 + 1_000)
    await expect(waiting).rejects.toBeInstanceOf(UnknownContractError)
    await expect.poll(() => t.desk.settled).toBe(1)
    expect(t.sellerBalance()).toBe(0n)
    expect(t.buyer.balance().lockedUc).toBe(LOCK_UC) // the buyer's own ledger has not seen the settle yet
    expect(t.released).toEqual([t.hex(c)])
  })

  it('a large open another peer holds is served', async () => {
    const t = await setup({ seenElsewhere: async () => true })
    cleanup = t.cleanup
    const c = t.contract(1_000n)
    t.desk.onContract(c)
    const waiting = t.desk.awaitSession(c.contractId, AbortSignal.timeout(10_000))
    await t.open(c)
    await waiting
    expect(t.sessions.get(c.contractId)).toBeDefined()
  })
})

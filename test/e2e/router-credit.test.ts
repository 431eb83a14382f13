/**
 * A buyer that cannot pay is told so at once (insufficient-credit, HTTP 402), and only then:
 * concurrent requests it cannot all cover with locks of their own wait for the session it holds
 * or is opening (locks being negotiated count against the balance, so they reach no seller) and
 * are served on it (issue 17.5); a refusal from a seller stops the request: the router negotiates
 * with no further seller and blames no seller for it. The refusal by the buyer's own ledger at `open`
 * time is covered in test/unit/node/buyer-router.test.ts.
 * Real nodes on the memory transport, simulated backends, real ledgers.
 */
import { describe, expect, it } from 'vitest'
import type { TallyNode } from '../../src/node/tally.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { toHttpError } from '../../src/api/errors.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'

useTallyCleanup()

/** credit line and session cap are equal: the buyer can hold one session's lock, never two */
const CREDIT_UC = 1_000_000n
const ONE_LOCK = { name: 'one-lock', issuers: [], defaultCreditLimitUc: CREDIT_UC.toString(), maxSessionLockUc: CREDIT_UC.toString(), development: true }
const MODEL = 'sim-3b'

async function seller (priceOut: bigint, bootstrap: string[] = []): Promise<TallyNode> {
  return await startNode({ bootstrap, genesis: ONE_LOCK }, {
    sell: { backend: new SimulatedBackend({ modelId: MODEL, params: 3_000_000_000, tokensPerChunk: 2, maxConcurrency: 4 }), priceInPerMTokUc: priceOut / 2n, priceOutPerMTokUc: priceOut, maxSessions: 4 }
  })
}

async function buyerOf (sellers: TallyNode[]): Promise<TallyNode> {
  const buyer = await startNode({ bootstrap: sellers[0].addrs(), genesis: ONE_LOCK })
  await expect.poll(() => buyer.offerList(MODEL).length, { timeout: 15_000 }).toBe(sellers.length)
  return buyer
}

const request = (content: string): Parameters<TallyNode['infer']>[1] => ({ messages: [{ role: 'user', content }], maxTokens: 8 })

function failuresOf (buyer: TallyNode, s: TallyNode): number {
  return buyer.quality.snapshot(s.account)?.failures ?? 0
}

async function twoAtOnce (buyer: TallyNode): Promise<{ ok: Array<Awaited<ReturnType<TallyNode['infer']>>>, errors: unknown[] }> {
  // both requests start before either has opened: the router counts the first one's lock while it
  // is being negotiated, so the second cannot lock one of its own and queues for the first one's
  // session (before that it was a 402, and before that the buyer's ledger refused its `open`)
  const settled = await Promise.allSettled([buyer.infer(MODEL, request('first')), buyer.infer(MODEL, request('second'))])
  return {
    ok: settled.flatMap(r => r.status === 'fulfilled' ? [r.value] : []),
    errors: settled.flatMap(r => r.status === 'rejected' ? [r.reason] : [])
  }
}

describe('the router when the buyer cannot pay', () => {
  it('one seller, two concurrent requests the buyer can lock only one session for: the second waits for it and is served on it, not a 402', async () => {
    const only = await seller(1_000_000n)
    const buyer = await buyerOf([only])
    const { ok, errors } = await twoAtOnce(buyer)
    expect(errors).toEqual([])
    expect(ok.map(r => r.seller)).toEqual([only.account, only.account])
    expect(failuresOf(buyer, only)).toBe(0)
    // the waiting request reserved none of the seller's capacity: one quote, one session for both
    expect(only.negotiator.stats.quotesIssued).toBe(1)
    expect(buyer.router.openSessions()).toBe(1)
  })

  it('two sellers: the request the buyer cannot also lock for waits for its one session; no seller is blamed, the next is not asked', async () => {
    const cheap = await seller(1_000_000n)
    const dear = await seller(4_000_000n, cheap.addrs())
    const buyer = await buyerOf([cheap, dear])
    const { ok, errors } = await twoAtOnce(buyer)
    expect(errors).toEqual([])
    expect(ok.map(r => r.seller)).toEqual([cheap.account, cheap.account])
    // the buyer's own shortfall is no seller's fault
    expect(failuresOf(buyer, cheap)).toBe(0)
    expect(failuresOf(buyer, dear)).toBe(0)
    expect(dear.negotiator.stats.quotesIssued).toBe(0)
    expect(buyer.router.openSessions()).toBe(1)
  })

  it('credit spent between the balance check and the open: 402, not 503, and the seller is not blamed', async () => {
    const only = await seller(1_000_000n)
    const buyer = await buyerOf([only])
    // the router's balance check runs synchronously inside infer(); the payment is signed before
    // the open, which waits for the negotiation's round trips. Whether the seller refuses to quote
    // (it saw the payment by gossip) or the buyer's ledger refuses the open, the answer is the same.
    const inferring = buyer.infer(MODEL, request('after the check'))
    const paying = buyer.pay(only.account, CREDIT_UC)
    const err = await inferring.then(() => undefined, (e: unknown) => e)
    await paying
    expect(toHttpError(err).status).toBe(402)
    expect(err).toMatchObject({ code: 'insufficient-credit' })
    expect(failuresOf(buyer, only)).toBe(0)
    expect(buyer.router.openSessions()).toBe(0)
  })
})

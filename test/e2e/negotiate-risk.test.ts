/**
 * The seller's risk policy on real nodes (negotiate.md § Seller risk policy): a seller that serves
 * no buyer on credit refuses one before reserving anything, and the buyer's router reports it as
 * buyer-not-trusted (HTTP 402) without blaming or waiting for the seller; a young buyer's session
 * carries the small unpaid window as a signed term.
 */
import { describe, expect, it } from 'vitest'
import type { TallyNode, TallyNodeInit } from '../../src/node/tally.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { toHttpError } from '../../src/api/errors.js'
import { DEFAULT_MAX_UNPAID_YOUNG_UC } from '../../src/contract/policy.js'
import { UNPAID_SHARES_PER_BUYER } from '../../src/contract/negotiate.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'

useTallyCleanup()

/** a development network: every key may spend 10 credits on the network's credit line */
const DEV = { name: 'risk', development: true, issuers: [], defaultCreditLimitUc: '10000000', maxSessionLockUc: '1000000' }
const MODEL = 'sim-3b'

async function seller (risk: NonNullable<TallyNodeInit['sell']>['risk']): Promise<TallyNode> {
  return await startNode({ genesis: DEV }, {
    sell: { backend: new SimulatedBackend({ modelId: MODEL, params: 3_000_000_000, tokensPerChunk: 2, maxConcurrency: 2 }), priceInPerMTokUc: 500_000n, priceOutPerMTokUc: 1_000_000n, maxSessions: 2, risk }
  })
}

async function buyerOf (s: TallyNode): Promise<TallyNode> {
  const buyer = await startNode({ bootstrap: s.addrs(), genesis: DEV }, { buy: { sessionLockUc: 100_000n } })
  await expect.poll(() => buyer.offerList(MODEL).length, { timeout: 15_000 }).toBe(1)
  return buyer
}

const request = { messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 8 }

describe('seller risk policy on real nodes', () => {
  it('a seller that serves nobody on credit refuses a buyer living on the credit line: 402 buyer-not-trusted, nothing reserved, nobody blamed', async () => {
    const s = await seller({ serveOnCredit: false })
    const buyer = await buyerOf(s)
    const err: any = await buyer.infer(MODEL, request).then(() => undefined, e => e)
    expect(err).toMatchObject({ code: 'buyer-not-trusted' })
    expect(toHttpError(err).status).toBe(402)
    expect(s.negotiator.stats.quotesIssued).toBe(0)
    expect(s.negotiator.stats.refusals).toBeGreaterThanOrEqual(1)
    expect(buyer.quality.snapshot(s.account)?.failures ?? 0).toBe(0)
  })

  it('a young buyer is served under the young window, signed in its contract', async () => {
    const s = await seller({})
    const buyer = await buyerOf(s)
    const r = await buyer.infer(MODEL, request)
    expect(r.seller).toBe(s.account)
    const [contract] = s.negotiator.activeSessions()
    expect(contract.maxUnpaidUc).toBe(DEFAULT_MAX_UNPAID_YOUNG_UC / UNPAID_SHARES_PER_BUYER)
    expect(contract.openWithinMs).toBe(5_000n)
    // the session end is the seller's to cap: never more than 10 minutes out
    expect(Number(contract.expiresAtMs) - Date.now()).toBeLessThanOrEqual(10 * 60_000)
  })
})

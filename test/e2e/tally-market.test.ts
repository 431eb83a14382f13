/**
 * The whole node on the memory transport: two sellers (simulated backends at different prices)
 * and one buyer. The buyer's router picks the cheaper seller, pays through vouchers, the seller
 * settles on close, and every node's ledger agrees; fallback when the cheap seller is gone.
 */
import { describe, expect, it } from 'vitest'
import type { TallyNode, TallyNodeInit } from '../../src/node/tally.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

async function node (opts: { bootstrap?: string[], priceOut?: bigint, init?: TallyNodeInit, secondPeerAboveUc?: bigint } = {}): Promise<TallyNode> {
  return await startNode({ bootstrap: opts.bootstrap }, {
    sell: opts.priceOut != null
      ? { backend: new SimulatedBackend({ modelId: 'sim-7b', params: 7_000_000_000, tokensPerChunk: 4 }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: opts.priceOut, secondPeerAboveUc: opts.secondPeerAboveUc }
      : undefined,
    ...(opts.init ?? {})
  })
}

function balancesKey (n: TallyNode): string {
  return JSON.stringify(n.balances().map(b => [b.account, b.balanceUc.toString(), b.lockedUc.toString()]))
}

describe('a Tally market of real nodes', () => {
  it('routes to the cheapest seller, pays by voucher, settles, and every ledger agrees', async () => {
    const cheap = await node({ priceOut: 2_000_000n })
    const dear = await node({ priceOut: 9_000_000n, bootstrap: cheap.addrs() })
    const buyer = await node({ bootstrap: cheap.addrs() })
    await waitFor(() => buyer.offerList('sim-7b').length === 2, 'both offers in the buyer book')
    expect(buyer.offerList('sim-7b').map(o => o.seller)).toEqual([cheap.account, dear.account])
    expect(buyer.models()).toMatchObject([{ id: 'sim-7b', sellers: 2, bestPriceOutPerMTokUc: 2_000_000n }])

    const deltas: string[] = []
    const r1 = await buyer.infer('sim-7b', { messages: [{ role: 'user', content: 'hi there' }], maxTokens: 20, seed: 3 }, { tag: 'proj-a' }, { onDelta: d => deltas.push(d) })
    expect(r1.seller).toBe(cheap.account)
    expect(r1.outputTokens).toBeGreaterThan(0)
    expect(deltas.join('')).toBe(r1.text)
    expect(r1.costUc).toBeGreaterThan(0n)
    // a second request reuses the warm session
    const r2 = await buyer.infer('sim-7b', { messages: [{ role: 'user', content: 'again' }], maxTokens: 10 }, { tag: 'proj-b' })
    expect(r2.seller).toBe(cheap.account)
    expect(buyer.router.openSessions()).toBe(1)

    expect(await buyer.closeSessions()).toBe(1)
    await waitFor(() => cheap.settledSessions === 1, 'the seller settles')
    const spent = r1.costUc + r2.costUc
    await waitFor(() => balancesKey(buyer) === balancesKey(cheap) && balancesKey(cheap) === balancesKey(dear) && (buyer.balances().length >= 2), 'ledgers agree')
    // the buyer acks the settle (its lock is released) with its next record; balances already count the settle
    const sellerBal = (await dear.balance(cheap.account)).balanceUc
    expect(sellerBal).toBe(spent)
    expect((await dear.balance(buyer.account)).balanceUc).toBe(-spent)
    expect(buyer.balances().reduce((s, b) => s + b.balanceUc, 0n)).toBe(0n)

    const report = await buyer.report({ by: 'tag' })
    expect(report.rows.map(r => r.key).sort()).toEqual(['proj-a', 'proj-b'])
    expect(report.rows.reduce((s, r) => s + r.spentUc, 0n)).toBe(spent)
  })

  it('falls back to the next seller when the cheapest is gone, and pays another agent', async () => {
    const cheap = await node({ priceOut: 1_000_000n })
    const dear = await node({ priceOut: 5_000_000n, bootstrap: cheap.addrs() })
    const buyer = await node({ bootstrap: cheap.addrs() })
    await waitFor(() => buyer.offerList('sim-7b').length === 2, 'both offers')
    // the cheap seller dies without withdrawing: its offer is still in the book
    await cheap.libp2p.stop()
    const r = await buyer.infer('sim-7b', { messages: [{ role: 'user', content: 'hello' }], maxTokens: 8 }, {})
    expect(r.seller).toBe(dear.account)
    expect(r.attempts).toBe(2)

    const paid = await buyer.pay(dear.account, 12_345n, { memo: 'for the summary', tag: 'agents' })
    expect(paid.amountUc).toBe(12_345n)
    await waitFor(() => dear.costs.all().some(e => e.kind === 'payment-received' && e.amountUc === 12_345n), 'the payee books the payment')
    expect((await buyer.report({ by: 'tag' })).rows.find(x => x.key === 'agents')?.paymentsSentUc).toBe(12_345n)
  })

  it('serves a large session only once a second peer holds the buyer\'s open', async () => {
    const seller = await node({ priceOut: 1_000_000n, secondPeerAboveUc: 100_000n, init: { inferSeller: { requestTimeoutMs: 1_500 } } })
    const buyer = await node({ bootstrap: seller.addrs(), init: { buy: { sessionLockUc: 500_000n } } })
    await waitFor(() => buyer.offerList('sim-7b').length === 1, 'the offer')
    const ask = async (): Promise<unknown> => await buyer.infer('sim-7b', { messages: [{ role: 'user', content: 'big job' }], maxTokens: 8 }, {})
    // only the buyer itself holds its open: the seller does not serve
    const refused = await ask().then(() => 'served', (err: Error) => err.message)
    expect(refused).toMatch(/did not arrive in time|unknown-contract/)
    // a third node joins both; it holds the buyer's records, so a new session is served
    const witness = await node({ bootstrap: [...seller.addrs(), ...buyer.addrs()] })
    await waitFor(() => witness.balances().length > 0, 'the witness to hold the buyer\'s open')
    const r: any = await ask()
    expect(r.seller).toBe(seller.account)
  })

  it('a seller that never settles costs the buyer at most that session\'s lock, and nothing is debited', async () => {
    const seller = await node({ priceOut: 3_000_000n })
    const buyer = await node({ bootstrap: seller.addrs(), init: { buy: { sessionLockUc: 400_000n } } })
    const witness = await node({ bootstrap: [...seller.addrs(), ...buyer.addrs()] })
    await waitFor(() => buyer.offerList('sim-7b').length === 1 && witness.offerList('sim-7b').length === 1, 'the offer')
    const r = await buyer.infer('sim-7b', { messages: [{ role: 'user', content: 'work' }], maxTokens: 12 }, {})
    expect(r.costUc).toBeGreaterThan(0n)
    // the seller vanishes holding the buyer's vouchers: no settle is ever published
    await seller.libp2p.stop()
    const before = await buyer.balance()
    expect(before.lockedUc).toBe(400_000n)
    expect(before.balanceUc).toBe(0n)
    expect(before.spendableUc).toBe(before.creditLimitUc - 400_000n)
    // every other node agrees: the buyer is out at most the lock, and has paid nothing
    await waitFor(() => witness.balances().some(b => b.account === buyer.account && b.lockedUc === 400_000n), 'the witness sees the lock')
    expect((await witness.balance(buyer.account)).balanceUc).toBe(0n)
  })

  it('a burst of concurrent requests from one buyer to one seller all complete (busy is not failure)', async () => {
    const seller = await startNode({}, { sell: { backend: new SimulatedBackend({ modelId: 'sim-7b', params: 7_000_000_000, tokensPerChunk: 4, maxConcurrency: 16, tokensPerSec: 400 }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n, maxSessions: 16 } })
    const buyer = await node({ bootstrap: seller.addrs(), init: { buy: { sessionLockUc: 100_000n } } })
    await waitFor(() => buyer.offerList('sim-7b').length === 1, 'the offer')
    const results = await Promise.allSettled(Array.from({ length: 24 }, async (_, i) => await buyer.infer('sim-7b', { messages: [{ role: 'user', content: `job ${i}` }], maxTokens: 8 }, {})))
    const failed = results.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason?.message)
    expect(failed).toEqual([])
    expect(buyer.quality.snapshot(seller.account)?.failures ?? 0).toBe(0)
  })

  it('a warm session left idle is closed and settled, freeing the seller\'s slot', async () => {
    const seller = await node({ priceOut: 2_000_000n })
    const buyer = await node({ bootstrap: seller.addrs(), init: { buy: { sessionLockUc: 100_000n, idleCloseMs: 300 } } })
    await waitFor(() => buyer.offerList('sim-7b').length === 1, 'the offer')
    await buyer.infer('sim-7b', { messages: [{ role: 'user', content: 'one request, then silence' }], maxTokens: 8 }, {})
    expect(seller.negotiator.activeSessions()).toHaveLength(1)
    await waitFor(() => seller.negotiator.activeSessions().length === 0, 'the idle session closed')
    await waitFor(() => seller.settledSessions === 1, 'the seller settled it')
    expect(buyer.router.openSessions()).toBe(0)
  })

  it('when the cheaper sellers are busy, the router goes on down the price list instead of waiting', async () => {
    const sell = (priceOut: bigint): TallyNodeInit => ({ sell: { backend: new SimulatedBackend({ modelId: 'sim-7b', params: 7_000_000_000, tokensPerChunk: 2, tokensPerSec: 20 }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: priceOut, maxSessions: 1 } })
    const s1 = await startNode({}, sell(2_000_000n))
    const s2 = await startNode({ bootstrap: s1.addrs() }, sell(3_000_000n))
    const s3 = await startNode({ bootstrap: s1.addrs() }, sell(4_000_000n))
    // one seller per round: without skipping busy sellers the router would wait for the cheapest
    const buyer = await node({ bootstrap: s1.addrs(), init: { buy: { sessionLockUc: 100_000n, maxAttempts: 1 } } })
    await waitFor(() => buyer.offerList('sim-7b').length === 3, 'three offers')
    const results = await Promise.all([0, 1, 2].map(async i => await buyer.infer('sim-7b', { messages: [{ role: 'user', content: `slow job ${i}` }], maxTokens: 16 }, {})))
    expect(new Set(results.map(r => r.seller))).toEqual(new Set([s1.account, s2.account, s3.account]))
  })
})

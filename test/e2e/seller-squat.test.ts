/**
 * Capacity squatting (issue 14.3, 15.3): a buyer that takes contracts and never publishes their
 * `open` holds no slot. Its contracts are reservations that end open_within_ms after signing,
 * whatever the contract's end; the seller's offer is never marked busy because of them; an honest
 * buyer is served during the squat, or, when squatters fill every reservation, as soon as the
 * reservations end. Real nodes on the memory transport, simulated backends, real ledgers.
 */
import { describe, expect, it } from 'vitest'
import type { TallyNode } from '../../src/node/tally.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

const MODEL = 'sim-7b'
/** the seller's quote term open_within_ms (short, so the test need not wait 5 s) */
const OPEN_WITHIN_MS = 2_000
const LOCK_UC = 10_000n
/** the squatter's contracts run this long: far beyond the reservation */
const CONTRACT_MS = 60_000

async function seller (maxSessions: number): Promise<{ node: TallyNode, fullCalls: boolean[] }> {
  const node = await startNode({}, {
    sell: { backend: new SimulatedBackend({ modelId: MODEL, params: 7_000_000_000, tokensPerChunk: 4, maxConcurrency: 4 }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n, maxSessions },
    negotiate: { openWithinMs: OPEN_WITHIN_MS }
  })
  // every decision to mark the offer busy (true) or free (false): it is never withdrawn
  const fullCalls: boolean[] = []
  const setBusy = node.market.setBusy.bind(node.market)
  node.market.setBusy = (model, busy) => { fullCalls.push(busy); setBusy(model, busy) }
  return { node, fullCalls }
}

/** a contract the squatter never opens */
async function squat (squatter: TallyNode, s: TallyNode): Promise<{ expiresAtMs: number }> {
  const sessionExpiresAtMs = BigInt(Date.now() + CONTRACT_MS)
  await squatter.negotiator.negotiate(s.libp2p.getMultiaddrs(), { modelId: MODEL, maxSpendUc: LOCK_UC, sessionExpiresAtMs })
  return { expiresAtMs: Number(sessionExpiresAtMs) }
}

const request = { messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 8 }

describe('a squatter holds no seller capacity', () => {
  it('with room for more reservations than one squatter may hold, an honest buyer is served during the squat', async () => {
    const { node: s, fullCalls } = await seller(2)
    const squatter = await startNode({ bootstrap: s.addrs() })
    const buyer = await startNode({ bootstrap: s.addrs() })
    await waitFor(() => buyer.offerList(MODEL).length === 1, 'the offer in the buyer\'s book')
    const first = await squat(squatter, s)
    await squat(squatter, s)
    // a third unopened contract of the same buyer is refused: it may hold 2
    await expect(squat(squatter, s)).rejects.toMatchObject({ code: 'seller-busy' })
    // both slots are free and the offer stays up
    expect(s.negotiator.reserved(MODEL)).toBe(0)
    expect(s.negotiator.reservations(MODEL).unopened).toBe(2)
    const r = await buyer.infer(MODEL, request)
    expect(r.seller).toBe(s.account)
    expect(r.outputTokens).toBeGreaterThan(0)
    // the squatter's contracts are still reservations while the honest session is served
    expect(s.negotiator.reservations(MODEL).unopened).toBe(2)
    expect(s.negotiator.reserved(MODEL)).toBe(1)
    expect(fullCalls).not.toContain(true)
    // they end on their reservation's deadline, long before the contract's end
    await waitFor(() => s.negotiator.reservations(MODEL).unopened === 0, 'the squatter\'s reservations end')
    expect(Date.now()).toBeLessThan(first.expiresAtMs)
    expect(s.negotiator.reserved(MODEL)).toBe(1)
    expect(fullCalls).not.toContain(true)
  })

  it('squatters filling every reservation withdraw no offer and keep an honest buyer out for at most open_within_ms', async () => {
    const { node: s, fullCalls } = await seller(1)
    const squatters = [await startNode({ bootstrap: s.addrs() }), await startNode({ bootstrap: s.addrs() })]
    const buyer = await startNode({ bootstrap: s.addrs() })
    await waitFor(() => buyer.offerList(MODEL).length === 1, 'the offer in the buyer\'s book')
    // one slot: a buyer's own unopened contract counts as a slot for its next quote
    const first = await squat(squatters[0], s)
    await expect(squat(squatters[0], s)).rejects.toMatchObject({ code: 'seller-busy' })
    await squat(squatters[1], s)
    const squattedAt = Date.now()
    // 1 slot × 2 reservations, both held: the slot is free, the offer up
    expect(s.negotiator.reserved(MODEL)).toBe(0)
    expect(s.negotiator.reservations(MODEL).unopened).toBe(2)
    expect(fullCalls).not.toContain(true)

    // the honest buyer is refused (seller-busy: not a failure of the seller; the router tries
    // again) until the first reservation ends
    let refused = 0
    let served: Awaited<ReturnType<TallyNode['infer']>> | undefined
    while (served == null) {
      try {
        served = await buyer.infer(MODEL, request)
      } catch (err: any) {
        expect(err.code).toMatch(/seller-busy|no-seller/)
        // no request runs while the buyer is refused: the offer was never marked busy
        expect(fullCalls).not.toContain(true)
        refused++
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
    const unavailableMs = Date.now() - squattedAt
    // only the honest request, running in the one slot, marked the offer busy
    expect(fullCalls.filter(full => full)).toHaveLength(1)
    expect(served.seller).toBe(s.account)
    expect(refused + served.attempts).toBeGreaterThan(1)
    await waitFor(() => s.negotiator.reservations(MODEL).unopened === 0, 'the squatters\' reservations end')
    expect(Date.now()).toBeLessThan(first.expiresAtMs)
    // the honest session is open (idle now): it holds one of the open sessions, not the slot
    expect(s.negotiator.reserved(MODEL)).toBe(1)
    await waitFor(() => fullCalls.at(-1) === false, 'the request ended: the slot is free again')
    console.log(JSON.stringify({ figure: 'squatted seller unavailable to an honest buyer', openWithinMs: OPEN_WITHIN_MS, unavailableMs, attempts: served.attempts + refused }))
  })
})

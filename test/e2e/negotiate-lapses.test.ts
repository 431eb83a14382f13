/**
 * Lapsed reservations on real libp2p nodes (negotiate.md § Lapsed reservations): contracts whose
 * open never came count against their buyer; past the allowance its quote requests are refused
 * RESERVATIONS_LAPSED with a retry-after that doubles per lapse, other buyers are quoted as ever,
 * and the buyer is quoted again once the cool-down has passed. Opened sessions and released
 * reservations that were not lapses cost nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { RefusalReason } from '../../src/wire/pb/negotiate.js'
import { NegotiationRefusedError } from '../../src/contract/errors.js'
import type { NegotiateInit } from '../../src/contract/negotiate.js'
import { toHttpError } from '../../src/api/errors.js'
import { stopAll } from './market-helpers.js'
import { MODEL, negotiatingPeer, type NegotiatingPeer } from './negotiate-helpers.js'
import { waitFor } from '../helpers/wait.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'

let all: NegotiatingPeer[] = []
afterEach(async () => {
  await Promise.all(all.map(async p => p.svc.stop()))
  await stopAll(all.map(p => p.peer))
  all = []
})

async function np (init: NegotiateInit = {}, seller = false): Promise<NegotiatingPeer> {
  const p = await negotiatingPeer(init, seller ? { sellerTerms: m => m === MODEL.modelId ? { ...MODEL, maxSessions: 4 } : undefined } : {})
  all.push(p)
  return p
}

const session = (): any => ({ modelId: MODEL.modelId, maxSpendUc: 50_000n, sessionExpiresAtMs: BigInt(Date.now() + 60_000) })
const COOL_MS = 400

describe('lapsed reservations', () => {
  it('past the allowance a squatting buyer gets RESERVATIONS_LAPSED with a doubling retry-after; others are quoted; it is quoted again after the cool-down', async () => {
    const s = await np({ slotsOnOpen: true, lapses: { coolDownMs: COOL_MS, maxCoolDownMs: 60_000 } }, true)
    const squatter = await np()
    const honest = await np()
    const at = s.peer.libp2p.getMultiaddrs()
    const take = async (b: NegotiatingPeer): Promise<Uint8Array> => (await b.svc.negotiate(at, session())).contractId

    // one lapse is free
    s.svc.releaseSession(await take(squatter), { lapsed: true })
    expect(s.svc.stats.lapsedReservations).toBe(1)
    // two more lapse together (a squatter's two reservations)
    const [a, b] = [await take(squatter), await take(squatter)]
    s.svc.releaseSession(a, { lapsed: true })
    s.svc.releaseSession(b, { lapsed: true })
    const err: any = await take(squatter).then(() => undefined, e => e)
    expect(err).toBeInstanceOf(NegotiationRefusedError)
    expect(err).toMatchObject({ reason: RefusalReason.RESERVATIONS_LAPSED, code: 'reservations-lapsed' })
    // 3 lapses: 2 past the allowance of 1, so 2 × the first cool-down, less the time since
    expect(err.retryAfterMs).toBeGreaterThan(0)
    expect(err.retryAfterMs).toBeLessThanOrEqual(2 * COOL_MS)
    expect(toHttpError(err).status).toBe(429)
    // refused before anything is reserved
    expect(s.svc.reservations(MODEL.modelId)).toEqual({ quotes: 0, unopened: 0 })

    // an honest buyer is quoted as ever, and its opened session costs nothing when released
    const h = await take(honest)
    expect(s.svc.markOpened(h)).toBe(true)
    s.svc.releaseSession(h, { lapsed: true })
    s.svc.releaseSession(await take(honest))
    expect(s.svc.stats.lapsedReservations).toBe(3)
    await take(honest)

    // the squatter is quoted again once its cool-down has passed; one more lapse doubles it
    await waitFor(async () => await take(squatter).then(c => { s.svc.releaseSession(c, { lapsed: true }); return true }, () => false), 'the squatter quoted again after its cool-down')
    const again: any = await take(squatter).then(() => undefined, e => e)
    expect(again).toMatchObject({ reason: RefusalReason.RESERVATIONS_LAPSED })
    expect(again.retryAfterMs).toBeGreaterThan(2 * COOL_MS)
    expect(again.retryAfterMs).toBeLessThanOrEqual(4 * COOL_MS)
  })

  it('without slots on open (every contract holds a slot) or with the rule off, nothing is counted', async () => {
    for (const init of [{}, { slotsOnOpen: true, lapses: false as const }]) {
      const s = await np(init, true)
      const buyer = await np()
      for (let i = 0; i < 4; i++) {
        const c = await buyer.svc.negotiate(s.peer.libp2p.getMultiaddrs(), session())
        s.svc.releaseSession(c.contractId, { lapsed: true })
      }
      expect(s.svc.stats.lapsedReservations).toBe(0)
    }
  })
})

describe('lapsed reservations on whole nodes', () => {
  useTallyCleanup()

  it('the seller desk releases a squatter\'s unopened contracts at open_within_ms as lapses; its next request is refused reservations-lapsed (429) with a retry-after; an honest buyer is served', async () => {
    const model = 'sim-7b'
    const s = await startNode({}, {
      sell: { backend: new SimulatedBackend({ modelId: model, params: 7_000_000_000, tokensPerChunk: 4, maxConcurrency: 4 }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n, maxSessions: 4 },
      // the shortest reservation a buyer accepts (DEFAULT_MIN_OPEN_WITHIN_MS), so the test need not wait 5 s
      negotiate: { openWithinMs: 1_000 }
    })
    const squatter = await startNode({ bootstrap: s.addrs() })
    const honest = await startNode({ bootstrap: s.addrs() })
    await waitFor(() => squatter.offerList(model).length === 1 && honest.offerList(model).length === 1, 'the offer in both books')
    // two contracts, never opened (the squatter never publishes their open)
    for (let i = 0; i < 2; i++) await squatter.negotiator.negotiate(s.libp2p.getMultiaddrs(), { modelId: model, maxSpendUc: 10_000n, sessionExpiresAtMs: BigInt(Date.now() + 60_000) })
    await waitFor(() => s.negotiator.stats.lapsedReservations === 2, 'both reservations lapsed at open_within_ms')
    expect(s.negotiator.reservations(model)).toEqual({ quotes: 0, unopened: 0 })
    const err: any = await squatter.infer(model, { messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 }).then(() => undefined, e => e)
    expect(err).toMatchObject({ code: 'reservations-lapsed' })
    expect(err.retryAfterMs).toBeGreaterThan(0)
    expect(toHttpError(err).status).toBe(429)
    expect(squatter.quality.snapshot(s.account)?.failures ?? 0).toBe(0)
    // the honest buyer opens its session in time: served, nothing counted against it
    const r = await honest.infer(model, { messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 })
    expect(r.seller).toBe(s.account)
    expect(s.negotiator.stats.lapsedReservations).toBe(2)
  })
})

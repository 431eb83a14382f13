/**
 * Concurrency on the default development network (issue 17.5): concurrent requests to one seller
 * share the buyer's sessions and queue for them instead of each locking a credit of their own
 * (402), an idle warm session never makes a seller look full to another buyer, and a seller whose
 * slots all run a request stays on the market marked busy. Real nodes on the memory transport,
 * simulated backends, real ledgers, real HTTP through the gateway.
 */
import { describe, expect, it } from 'vitest'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { BackendBusyError, type BackendEvent, type ChatRequest } from '../../src/exec/backend.js'
import { startGateway } from '../../src/api/gateway.js'
import type { TallyNode } from '../../src/node/tally.js'
import { startNode, trackGateway, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

const MODEL = 'sim-conc'

async function post (url: string, content: string): Promise<{ status: number, retryAfter: string | null, body: any }> {
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }] })
  })
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() }
}

/**
 * A simulated backend whose requests wait for `open` (so sessions are held busy while more
 * requests arrive), refusing one past its concurrency with BackendBusyError as the real backends do.
 */
class GatedBackend extends SimulatedBackend {
  received = 0
  private active = 0
  private readonly gate = Promise.withResolvers<void>()
  open (): void { this.gate.resolve() }
  override async * stream (request: ChatRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    if (this.active >= this.maxConcurrency) throw new BackendBusyError(`backend runs ${this.active} of ${this.maxConcurrency} requests`)
    this.active++
    try {
      this.received++
      await this.gate.promise
      yield * super.stream(request, signal)
    } finally {
      this.active--
    }
  }
}

describe('concurrent requests through the gateway on the default development network', () => {
  it('64 at once to one seller all complete: they share and queue for sessions, none is a 402', async () => {
    const backend = new GatedBackend({ modelId: MODEL, params: 1_000_000_000, tokensPerChunk: 4, naturalTokens: 8, maxConcurrency: 64 })
    const seller = await startNode({}, { sell: { backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n } })
    const buyer = await startNode({ bootstrap: seller.addrs() })
    await waitFor(() => buyer.offerList(MODEL).length === 1, 'the offer in the buyer book')
    const gw = trackGateway(await startGateway(buyer, { port: 0 }))
    let answered = 0
    const answers = Promise.all(Array.from({ length: 64 }, async (_, i) => {
      const a = await post(gw.url, `request ${i}`)
      answered++
      return a
    }))
    // every session the buyer could open runs a request the backend holds: the rest queue (before,
    // they were answered 402 once the line was locked, or 503 after the busy back-off)
    await waitFor(() => answered > 0 || ((buyer.router as { queued?: () => number }).queued?.() ?? 0) > 0, 'requests queued (or answered)')
    backend.open()
    const all = await answers
    const failed = all.filter(a => a.status !== 200)
    expect(failed.map(a => a.status), JSON.stringify(failed[0]?.body)).toEqual([])
    // sessions were shared: far fewer than requests
    expect(seller.negotiator.stats.contractsSigned).toBeLessThan(64)
    expect(buyer.router.queued()).toBe(0)
  })

  it('a seller with one slot: an idle warm session of one buyer does not hide it from a second buyer (no 404)', async () => {
    const seller = await startNode({}, {
      sell: { backend: new SimulatedBackend({ modelId: MODEL, params: 1_000_000_000, tokensPerChunk: 2, naturalTokens: 4, maxConcurrency: 1 }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n, maxSessions: 1 }
    })
    const first = await startNode({ bootstrap: seller.addrs() })
    const second = await startNode({ bootstrap: seller.addrs() })
    await waitFor(() => first.offerList(MODEL).length === 1 && second.offerList(MODEL).length === 1, 'the offer in both books')
    const gw1 = trackGateway(await startGateway(first, { port: 0 }))
    const gw2 = trackGateway(await startGateway(second, { port: 0 }))
    expect((await post(gw1.url, 'first buyer')).status).toBe(200)
    // the first buyer keeps its session warm (idle)
    expect(first.router.openSessions()).toBe(1)
    const r = await post(gw2.url, 'second buyer')
    expect(r.status, JSON.stringify(r.body)).toBe(200)
  })

  it('a seller with one slot running a request: marked busy, not gone; a buyer with a short queue wait gets 503 + Retry-After, one with the default wait is queued and served', async () => {
    const backend = new GatedBackend({ modelId: MODEL, params: 1_000_000_000, tokensPerChunk: 4, naturalTokens: 4, maxConcurrency: 1 })
    const seller = await startNode({}, { sell: { backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n, maxSessions: 1 } })
    const first = await startNode({ bootstrap: seller.addrs() })
    const impatient = await startNode({ bootstrap: seller.addrs() }, { buy: { queueWaitMs: 300 } })
    const patient = await startNode({ bootstrap: seller.addrs() })
    await waitFor(() => [first, impatient, patient].every(b => b.offerList(MODEL).length === 1), 'the offer in every book')
    const [gw1, gw2, gw3] = [trackGateway(await startGateway(first, { port: 0 })), trackGateway(await startGateway(impatient, { port: 0 })), trackGateway(await startGateway(patient, { port: 0 }))]
    const running = post(gw1.url, 'holds the one slot')
    await waitFor(() => backend.received === 1, 'the first request runs')
    // the offer stays in the other buyers' books, flagged busy
    await waitFor(() => impatient.book.query({ model: MODEL }, Date.now()).some(r => r.offer.busy), 'the busy flag reaches the other buyers')
    expect(impatient.offerList(MODEL)).toHaveLength(1)
    const refused = await post(gw2.url, 'no room now')
    expect(refused.status, JSON.stringify(refused.body)).toBe(503)
    expect(refused.body.error.code).toBe('seller_busy')
    expect(Number(refused.retryAfter)).toBeGreaterThan(0)
    const queued = post(gw3.url, 'waits its turn')
    await waitFor(() => patient.router.queued() > 0, 'the patient buyer queues')
    backend.open()
    expect((await running).status).toBe(200)
    const served = await queued
    expect(served.status, JSON.stringify(served.body)).toBe(200)
    // the slot is free again: the flag is cleared (re-announced at most once a second)
    await waitFor(() => patient.book.query({ model: MODEL }, Date.now()).every(r => !r.offer.busy), 'the busy flag cleared')
  })
})

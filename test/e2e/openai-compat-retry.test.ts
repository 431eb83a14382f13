/**
 * A non-streamed request whose seller fails mid-way is answered by the next seller: the client
 * has seen nothing yet, so nothing is lost but what the first seller was vouchered, which stays
 * paid, is booked under it and shows as `tally.abandoned_cost_uc`.
 */
import { describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { startGateway } from '../../src/api/gateway.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { startNode, trackGateway, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

describe('a seller dying mid-way on a non-streamed request', () => {
  it('is retried on the next seller; the partial tokens are paid and reported as abandoned', async () => {
    const sim = (init: ConstructorParameters<typeof SimulatedBackend>[0]): SimulatedBackend => new SimulatedBackend({ modelId: 'sim-8b', params: 8_000_000_000, tokensPerChunk: 2, naturalTokens: 60, ...init })
    const cheap = await startNode({}, { sell: { backend: sim({ failAfterTokens: 30 }), priceInPerMTokUc: 500_000n, priceOutPerMTokUc: 1_000_000n } })
    const dear = await startNode({ bootstrap: cheap.addrs() }, { sell: { backend: sim({}), priceInPerMTokUc: 2_500_000n, priceOutPerMTokUc: 5_000_000n } })
    const buyer = await startNode({ bootstrap: cheap.addrs() })
    const gw = trackGateway(await startGateway(buyer, { port: 0 }))
    await waitFor(() => buyer.offerList('sim-8b').length === 2, 'both offers in the buyer book')
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 })

    const r = await client.chat.completions.create({ model: 'sim-8b', messages: [{ role: 'user', content: 'a long answer please' }], max_tokens: 50 })
    const tally = (r as any).tally
    expect(tally.seller).toBe(dear.account)
    expect(tally.attempts).toBe(2)
    expect(r.choices[0].message.content?.length).toBeGreaterThan(0)
    const paidToCheap = buyer.costs.all().filter(e => e.counterparty === cheap.account).reduce((s, e) => s + e.amountUc, 0n)
    expect(paidToCheap).toBeGreaterThan(0n)
    expect(tally.abandoned_cost_uc).toBe(Number(paidToCheap))

    // neither seller offers raw text completion: refused up front, naming the field, nothing bought
    const before = buyer.costs.all().length
    const text = await client.completions.create({ model: 'sim-8b', prompt: 'Once upon a time' }).catch(e => e)
    expect(text).toBeInstanceOf(OpenAI.BadRequestError)
    expect(text).toMatchObject({ code: 'capability_unavailable', param: 'prompt' })
    expect(buyer.costs.all().length).toBe(before)
  })
})

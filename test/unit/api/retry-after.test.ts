/** a refusal that says when the seller quotes again reaches the HTTP client as Retry-After */
import { describe, expect, it } from 'vitest'
import { toHttpError } from '../../../src/api/errors.js'
import { NegotiationRefusedError } from '../../../src/contract/errors.js'
import { RefusalReason } from '../../../src/wire/pb/negotiate.js'
import { startGateway, type GatewayBuyer } from '../../../src/api/gateway.js'

describe('Retry-After', () => {
  it('a reservations-lapsed refusal is a 429 carrying its wait; others carry none', () => {
    const lapsed = toHttpError(new NegotiationRefusedError(RefusalReason.RESERVATIONS_LAPSED, 'too many lapsed reservations', 30_500))
    expect(lapsed.status).toBe(429)
    expect(lapsed.retryAfterMs).toBe(30_500)
    expect(toHttpError(new NegotiationRefusedError(RefusalReason.BUYER_NOT_TRUSTED, 'no')).retryAfterMs).toBe(0)
  })

  it('the gateway sends it as a header in whole seconds, rounded up', async () => {
    const refusing = { account: 'x', models: () => [], infer: async () => { throw new NegotiationRefusedError(RefusalReason.RESERVATIONS_LAPSED, 'wait', 30_500) } } as unknown as GatewayBuyer
    const gw = await startGateway(refusing, { port: 0 })
    try {
      const res = await gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { host: new URL(gw.url).host }, payload: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } })
      expect(res.statusCode).toBe(429)
      expect(res.headers['retry-after']).toBe('31')
      expect(res.json().error.code).toBe('reservations_lapsed')
    } finally { await gw.close() }
  })
})

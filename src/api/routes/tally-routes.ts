/** Tally's JSON routes (`/tally/*`), `/metrics` and the dashboard page. */
import type { FastifyInstance } from 'fastify'
import { HttpApiError } from '../errors.js'
import { parseGrantBody, parsePayBody, parseReportQuery, parseRevokeBody, wantsAllBalances, type Query } from '../tally-requests.js'
import { dashboardRoutes } from '../dashboard.js'
import { send } from '../http-util.js'
import type { GatewayMetrics } from '../metrics.js'
import type { GatewayBuyer } from '../gateway.js'
import { parseNetworkQuery, parseReceiptsQuery, parseTimeseriesQuery } from '../operator-requests.js'

/** Tally's JSON routes (`/tally/*`), `/metrics` and the dashboard */
export function tallyRoutes (app: FastifyInstance, buyer: GatewayBuyer, metrics: GatewayMetrics): void {
  app.get('/tally/balance', async (req, reply) => {
    const q = req.query as Query
    if (wantsAllBalances(q)) {
      const all = buyer.balances() as Array<{ balanceUc: bigint }>
      return send(reply, 200, { balances: all, sumUc: all.reduce((s, b) => s + b.balanceUc, 0n) })
    }
    return send(reply, 200, await buyer.balance(q.account))
  })
  app.get('/tally/offers', async (req, reply) => {
    const model = (req.query as Query).model
    const r = await buyer.offers(model) as { offers: Array<{ model: string }> }
    if (model != null || !Array.isArray(r?.offers)) return send(reply, 200, r)
    // every model's offers: the flat list, and the same grouped by model
    const byModel = new Map<string, unknown[]>()
    for (const o of r.offers) byModel.set(o.model, [...(byModel.get(o.model) ?? []), o])
    const models = [...byModel.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([m, offers]) => ({ model: m, offers }))
    return send(reply, 200, { offers: models.flatMap(m => m.offers), models })
  })
  app.get('/tally/report', async (req, reply) => send(reply, 200, await buyer.report(parseReportQuery(req.query as Query))))
  app.get('/tally/history', async (req, reply) => {
    if (buyer.history == null) throw new HttpApiError(404, 'invalid_request_error', 'history is not available', null, 'not_found')
    return send(reply, 200, await buyer.history((req.query as Query).account))
  })
  app.post('/tally/pay', async (req, reply) => {
    const p = parsePayBody(req.body)
    return send(reply, 200, await buyer.pay(p.to, p.amountUc, { memo: p.memo, tag: p.tag }))
  })
  app.post('/tally/grant', async (req, reply) => {
    if (buyer.grant == null) throw new HttpApiError(404, 'invalid_request_error', 'grants are not available', null, 'not_found')
    const p = parseGrantBody(req.body)
    return send(reply, 200, await buyer.grant(p.to, p.amountUc))
  })
  app.post('/tally/revoke', async (req, reply) => {
    if (buyer.revoke == null) throw new HttpApiError(404, 'invalid_request_error', 'grants are not available', null, 'not_found')
    const p = parseRevokeBody(req.body)
    return send(reply, 200, await buyer.revoke(p.grantId, p.amountUc))
  })
  app.get('/metrics', async (_req, reply) => {
    const { contentType, text } = await metrics.scrape()
    return reply.header('content-type', contentType).send(text)
  })
  dashboardRoutes(app)
}

/** the operator's JSON (src/node/operator.ts): what the dashboard and `tally doctor` read */
export function operatorRoutes (app: FastifyInstance, buyer: GatewayBuyer): void {
  const operator = (): NonNullable<GatewayBuyer['operator']> => {
    if (buyer.operator == null) throw new HttpApiError(404, 'invalid_request_error', 'the operator view is not available', null, 'not_found')
    return buyer.operator
  }
  app.get('/tally/status', async (_req, reply) => send(reply, 200, operator().status()))
  app.get('/tally/market', async (_req, reply) => send(reply, 200, operator().market()))
  app.get('/tally/sessions', async (_req, reply) => send(reply, 200, operator().sessions()))
  app.get('/tally/receipts', async (req, reply) => send(reply, 200, operator().receipts(parseReceiptsQuery(req.query as Query).limit)))
  app.get('/tally/timeseries', async (req, reply) => send(reply, 200, operator().timeseries(parseTimeseriesQuery(req.query as Query).sinceMs)))
  app.get('/tally/diagnosis', async (_req, reply) => send(reply, 200, operator().diagnosis()))
  app.get('/tally/network', async (req, reply) => {
    const { probe } = parseNetworkQuery(req.query as Query)
    const op = operator()
    if (op.network == null) throw new HttpApiError(404, 'invalid_request_error', 'the network view is not available', null, 'not_found')
    return send(reply, 200, await op.network({ probe }))
  })
}

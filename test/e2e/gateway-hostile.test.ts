/**
 * Abusive HTTP clients against a real gateway on a real node (issue 15, points 6-8): sockets that
 * announce a body and never send it, sockets that send nothing, DNS rebinding (a foreign Host),
 * cross-origin pages (Origin), CORS preflights, and the bind rule decided by address.
 */
import { describe, expect, it } from 'vitest'
import { request } from 'node:http'
import type { TallyNode } from '../../src/node/tally.js'
import { GatewayConfigError, startGateway, type Gateway, type GatewayInit } from '../../src/api/gateway.js'
import { startNode, trackGateway, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'
import { http, LYING_POST, stalledSocket } from './hostile/http.js'

useTallyCleanup()

async function gatewayOn (node: TallyNode, init: GatewayInit = {}): Promise<Gateway> {
  return trackGateway(await startGateway(node, { port: 0, ...init }))
}

describe('gateway against sockets that never finish a request', () => {
  it('a body announced by Content-Length and never sent is closed at the request deadline with 408', async () => {
    const node = await startNode()
    const gw = await gatewayOn(node, { headersTimeoutMs: 300, requestTimeoutMs: 600 })
    const port = new URL(gw.url).port
    const stalled = await stalledSocket(gw, LYING_POST(port))
    const silent = await stalledSocket(gw, '')
    const halfHeaders = await stalledSocket(gw, `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`)
    await waitFor(() => stalled.closed() && silent.closed() && halfHeaders.closed(), 'every stalled socket closed by the gateway', 15_000)
    expect(stalled.received()).toMatch(/^HTTP\/1\.1 408/)
    // the deadline is on receiving the request only: an honest request still completes
    expect((await http(gw, 'GET', '/v1/models')).status).toBe(200)
  })

  it('honest clients get through while 100 sockets with a lying Content-Length are held open', async () => {
    const node = await startNode()
    const other = await startNode()
    // deadlines far away: the caps alone must let honest requests in
    const gw = await gatewayOn(node, { maxConnections: 64, maxConnectionsPerAddress: 32 })
    const port = new URL(gw.url).port
    const stalled: Array<Awaited<ReturnType<typeof stalledSocket>>> = []
    for (let i = 0; i < 100; i++) stalled.push(await stalledSocket(gw, LYING_POST(port)))
    // the oldest stalled sockets made room for the newest: the address holds at most its cap
    await waitFor(() => stalled.filter(s => !s.closed()).length <= 32, 'stalled sockets beyond the per-address cap closed')
    for (let i = 0; i < 5; i++) {
      const r = await http(gw, 'POST', '/tally/pay', {}, JSON.stringify({ to: other.account, amount_uc: '1' }))
      expect(r.status, r.body).toBe(200)
      expect((await http(gw, 'GET', '/v1/models')).status).toBe(200)
    }
    for (const s of stalled) s.socket.destroy()
  })
})

describe('gateway Host and Origin checks (DNS rebinding, cross-origin pages)', () => {
  const pay = (to: string): string => JSON.stringify({ to, amount_uc: '1' })

  it('a loopback gateway answers loopback Host values with its port and refuses others with 421', async () => {
    const node = await startNode()
    const other = await startNode()
    const gw = await gatewayOn(node)
    const port = new URL(gw.url).port
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      expect((await http(gw, 'GET', '/tally/balance', { host })).status, host).toBe(200)
    }
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, `127.0.0.1:${Number(port) + 1}`, '127.0.0.1', `localhost.:${port}`]) {
      const r = await http(gw, 'POST', '/tally/pay', { host }, pay(other.account))
      expect(r.status, host).toBe(421)
      expect(JSON.parse(r.body).error.code).toBe('misdirected_request')
    }
    // nothing was paid by the refused requests; an honest pay goes through
    expect((await http(gw, 'POST', '/tally/pay', {}, pay(other.account))).status).toBe(200)
  })

  it('browser requests from a foreign origin are refused with 403, the own origin and allowed origins pass', async () => {
    const node = await startNode()
    const other = await startNode()
    const gw = await gatewayOn(node, { allowOrigins: ['http://localhost:3000'] })
    const own = gw.url
    const foreign = await http(gw, 'POST', '/tally/pay', { origin: 'http://evil.example' }, pay(other.account))
    expect(foreign.status).toBe(403)
    expect(JSON.parse(foreign.body).error.code).toBe('origin_not_allowed')
    expect((await http(gw, 'POST', '/tally/pay', { origin: 'null' }, pay(other.account))).status).toBe(403)
    expect((await http(gw, 'GET', '/tally/balance', { origin: 'http://localhost:3001' })).status).toBe(403)

    const same = await http(gw, 'POST', '/tally/pay', { origin: own }, pay(other.account))
    expect(same.status, same.body).toBe(200)
    expect(same.headers['access-control-allow-origin']).toBeUndefined()
    const allowed = await http(gw, 'GET', '/tally/balance', { origin: 'http://localhost:3000' })
    expect(allowed.status).toBe(200)
    expect(allowed.headers['access-control-allow-origin']).toBe('http://localhost:3000')
  })

  it('CORS preflight is answered only for allowed origins', async () => {
    const node = await startNode()
    const gw = await gatewayOn(node, { allowOrigins: ['http://localhost:3000'] })
    const preflight = { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }
    const ok = await http(gw, 'OPTIONS', '/tally/pay', { origin: 'http://localhost:3000', ...preflight })
    expect(ok.status).toBe(204)
    expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:3000')
    expect(ok.headers['access-control-allow-methods']).toMatch(/POST/)
    const refused = await http(gw, 'OPTIONS', '/tally/pay', { origin: 'http://evil.example', ...preflight })
    expect(refused.status).toBe(403)
    expect(refused.headers['access-control-allow-origin']).toBeUndefined()
  })
})

describe('gateway bind rule by address', () => {
  it('a name that merely starts like a loopback address is not exempt from the token', async () => {
    const node = await startNode()
    // resolves to a public address (or, offline, to nothing): either way a token is required
    const resolver = async (): Promise<Array<{ address: string }>> => [{ address: '203.0.113.9' }]
    await expect(startGateway(node, { host: '127.0.0.1.evil.example', port: 0, resolver })).rejects.toThrow(/bearer token/)
    const mixed = async (): Promise<Array<{ address: string }>> => [{ address: '127.0.0.1' }, { address: '203.0.113.9' }]
    await expect(startGateway(node, { host: 'mostly-local.example', port: 0, resolver: mixed })).rejects.toThrow(/bearer token/)
    const unresolvable = async (): Promise<never> => { throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' }) }
    const err = await startGateway(node, { host: 'nowhere.invalid', port: 0, resolver: unresolvable }).catch(e => e)
    expect(err).toBeInstanceOf(GatewayConfigError)
    expect(err.code).toBe('gateway-config')
    expect(err.message).toMatch(/cannot resolve/)
  })

  it('a name that resolves only to loopback is exempt, binds to that address and answers to its name', async () => {
    const node = await startNode()
    const resolver = async (): Promise<Array<{ address: string }>> => [{ address: '127.0.0.1' }]
    const gw = trackGateway(await startGateway(node, { host: 'tally.test', port: 0, resolver }))
    const port = new URL(gw.url).port
    const addr = gw.app.server.address()
    expect(typeof addr === 'object' && addr?.address).toBe('127.0.0.1')
    const r = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/v1/models', headers: { host: `tally.test:${port}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
    })
    expect(r).toBe(200)
  })
})

/**
 * The gateway's connection caps on a real HTTP server (connections.ts) and the file-descriptor
 * budget they are derived from (fd-budget.ts).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, request, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { ConnectionGuard, type ConnectionEvent } from '../../../src/api/connections.js'
import { gatewayConnectionBudget, MAX_GATEWAY_CONNECTIONS, MIN_GATEWAY_CONNECTIONS, openFileLimit, parseProcLimits } from '../../../src/api/fd-budget.js'
import { waitFor } from '../../helpers/wait.js'

const servers: Server[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(servers.splice(0).map(async s => { s.closeAllConnections(); await new Promise(resolve => s.close(resolve)) }))
})

/** a server whose /hold answers only when `release` is called; every other path answers at once */
async function holdingServer (guard: ConnectionGuard): Promise<{ port: number, release: () => void, held: () => number }> {
  const waiting: Array<() => void> = []
  const server = createServer((req, res) => {
    if (req.url === '/hold') waiting.push(() => res.end('held'))
    else res.end('ok')
  })
  guard.attach(server)
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  return { port: typeof addr === 'object' && addr != null ? addr.port : 0, release: () => { for (const w of waiting.splice(0)) w() }, held: () => waiting.length }
}

async function rawSocket (port: number, text: string): Promise<{ closed: () => boolean, received: () => string }> {
  const socket = connect(port, '127.0.0.1')
  sockets.push(socket)
  let closed = false
  let received = ''
  socket.on('close', () => { closed = true })
  socket.on('error', () => {})
  socket.on('data', (d) => { received += d.toString('latin1') })
  await new Promise<void>(resolve => socket.once('connect', resolve))
  if (text !== '') socket.write(text)
  return { closed: () => closed, received: () => received }
}

async function get (port: number, path: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = ''
      res.on('data', (c) => { body += c })
      res.on('end', () => { resolve(body) })
    }).on('error', reject).end()
  })
}

describe('ConnectionGuard', () => {
  it('at the per-address cap the oldest socket without a complete request is closed for the new one', async () => {
    const events: ConnectionEvent[] = []
    const guard = new ConnectionGuard({ maxTotal: 100, maxPerAddress: 3 }, e => events.push(e))
    const { port } = await holdingServer(guard)
    const stalled: Array<Awaited<ReturnType<typeof rawSocket>>> = []
    for (let i = 0; i < 5; i++) stalled.push(await rawSocket(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n'))
    await waitFor(() => stalled.filter(s => s.closed()).length === 2, 'the two oldest closed')
    expect(stalled.slice(0, 2).every(s => s.closed())).toBe(true)
    expect(await get(port, '/')).toBe('ok')
    expect(events.filter(e => e === 'evicted').length).toBe(3)
    expect(guard.open).toBeLessThanOrEqual(3)
  })

  it('a socket whose complete request is being answered is never closed; a new socket is refused instead', async () => {
    const events: ConnectionEvent[] = []
    const guard = new ConnectionGuard({ maxTotal: 2, maxPerAddress: 10 }, e => events.push(e))
    const { port, release, held } = await holdingServer(guard)
    const busy = [await rawSocket(port, 'GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'), await rawSocket(port, 'GET /hold HTTP/1.1\r\nHost: x\r\n\r\n')]
    await waitFor(() => held() === 2, 'both requests in the handler')
    const late = await rawSocket(port, '')
    await waitFor(() => late.closed(), 'the new socket refused')
    expect(events).toEqual(['refused'])
    expect(busy.some(b => b.closed())).toBe(false)
    release()
    await waitFor(() => busy.every(b => b.received().includes('held')), 'both answered in full')
    // answered, the two are idle keep-alive sockets: evictable for a new client
    expect(await get(port, '/')).toBe('ok')
  })

  it('closeWaiting closes idle and stalled sockets, not one being answered', async () => {
    const guard = new ConnectionGuard({ maxTotal: 10, maxPerAddress: 10 })
    const { port, release, held } = await holdingServer(guard)
    const busy = await rawSocket(port, 'GET /hold HTTP/1.1\r\nHost: x\r\n\r\n')
    const stalled = await rawSocket(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n')
    await waitFor(() => held() === 1 && guard.open === 2, 'both connected, one held')
    guard.closeWaiting()
    await waitFor(() => stalled.closed(), 'the stalled socket closed')
    expect(busy.closed()).toBe(false)
    release()
    await waitFor(() => busy.received().includes('held'), 'the held request answered')
  })
})

describe('file-descriptor budget', () => {
  it('reads the soft limit from /proc/self/limits text', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            256                  4096                 files     \n'
    expect(parseProcLimits(text)).toBe(256)
    expect(parseProcLimits(text.replace('256 ', 'unlimited'))).toBe(Number.MAX_SAFE_INTEGER)
    expect(parseProcLimits('garbage')).toBeUndefined()
  })

  it('this process has a positive limit', () => {
    expect(openFileLimit()).toBeGreaterThan(0)
  })

  it('the gateway takes half of what the reserve leaves, within bounds', () => {
    expect(gatewayConnectionBudget(256)).toBe(64)
    expect(gatewayConnectionBudget(512)).toBe(192)
    expect(gatewayConnectionBudget(1024)).toBe(448)
    expect(gatewayConnectionBudget(100)).toBe(MIN_GATEWAY_CONNECTIONS)
    expect(gatewayConnectionBudget(1_000_000)).toBe(MAX_GATEWAY_CONNECTIONS)
  })
})

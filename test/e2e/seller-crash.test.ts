import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { build } from 'esbuild'
import { createSigner } from '../../src/identity/ed25519.js'
import { LedgerService } from '../../src/ledger/service.js'
import { LevelLedgerStore } from '../../src/ledger/store.js'
import { Ledger } from '../../src/ledger/ledger.js'
import { signVoucher, toHex } from '../../src/ledger/record.js'
import { BUYER_SEED, crashGenesis, SELLER_SEED } from '../fixtures/seller/journal-net.js'

/** lanes run side by side, each SIGKILLing its own seller child over one data dir */
const LANES = Number(process.env.H6_LANES ?? 10)
const KILLS_PER_LANE = 10
/** each chunk costs this much: the window a crash may lose */
const CHUNK_UC = 1_000n
const LOCK_UC = 10n ** 12n
const CHILD_SRC = join(import.meta.dirname, '../fixtures/seller/journal-seller.ts')
/**
 * the child bundled once (esbuild, which tsx brings) so each of the ~110 starts skips the
 * TypeScript loader: a third of the CPU per start on two shared cores
 */
const CHILD = join(import.meta.dirname, `../../node_modules/.cache/tally-seller-crash/child-${process.pid}.mjs`)

interface Session { openId: string, contract: string, signedUc: bigint, admitted: boolean }

/** start the seller on `dir`, let it recover, run one session while signing every voucher, SIGKILL it at a random moment (or stop it cleanly) */
async function runOnce (dir: string, chain: Uint8Array[], s: Session | undefined, buyer: ReturnType<typeof createSigner>, net: Uint8Array, rand: () => number, kill: boolean): Promise<{ ready: boolean }> {
  const child = spawn(process.execPath, [CHILD, dir], { stdio: ['pipe', 'pipe', 'pipe'] })
  let err = ''
  let buf = ''
  let ready = false
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  child.stdin.on('error', () => {})
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  const send = (l: string): void => { if (child.exitCode == null && !child.killed) child.stdin.write(l + '\n') }
  const readyP = new Promise<void>(resolve => {
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      const lines = buf.split('\n')
      buf = lines.pop()!
      for (const l of lines) {
        if (l.startsWith('ready')) {
          ready = true
          resolve()
          if (s != null) send(`open ${s.contract} ${s.openId}`)
          else send('quit')
        } else if (l.startsWith('chunk ') && s != null) {
          // the buyer got chunk n: it signs voucher n for it (cumulative), and remembers it
          const n = BigInt(l.slice(6))
          s.admitted = true
          const amountUc = n * CHUNK_UC
          const v = signVoucher(buyer, net, { contractId: Buffer.from(s.contract, 'hex'), nonce: n, amountUc })
          if (amountUc > s.signedUc) s.signedUc = amountUc
          send(`voucher ${n} ${toHex(v)}`)
        }
      }
    })
    void exited.then(() => resolve())
  })
  send(`chain ${chain.map(toHex).join(',')}`)
  if (kill) {
    // mostly kill mid-session; sometimes during start or recovery
    if (rand() < 0.15) await new Promise(resolve => setTimeout(resolve, 50 + rand() * 700))
    else {
      await readyP
      await new Promise(resolve => setTimeout(resolve, rand() * 150))
    }
    child.kill('SIGKILL')
  }
  const code = await exited
  if (code !== null && code !== 0) throw new Error(`seller child exited with ${code}: ${err}`)
  return { ready }
}

async function lane (seed: number): Promise<{ dir: string, sessions: Session[], chain: Uint8Array[], readies: number }> {
  let x = seed
  const rand = (): number => { x = (x * 1103515245 + 12345) % 2 ** 31; return x / 2 ** 31 }
  const dir = mkdtempSync(join(tmpdir(), 'tally-seller-crash-'))
  const buyerSigner = createSigner(BUYER_SEED)
  const buyer = new LedgerService({ genesis: crashGenesis(), signer: buyerSigner })
  await buyer.start()
  const seller = createSigner(SELLER_SEED).publicKey
  const chain: Uint8Array[] = []
  const sessions: Session[] = []
  let readies = 0
  for (let i = 0; i < KILLS_PER_LANE; i++) {
    const contract = randomBytes(32)
    const open = await buyer.openSession({ seller, contractId: contract, maxSpendUc: LOCK_UC })
    chain.push(open.bytes)
    const s: Session = { openId: open.id, contract: toHex(contract), signedUc: 0n, admitted: false }
    sessions.push(s)
    if ((await runOnce(dir, chain, s, buyerSigner, buyer.ledger.net, rand, true)).ready) readies++
  }
  // a last clean start settles what the last crash left
  await runOnce(dir, chain, undefined, buyerSigner, buyer.ledger.net, rand, false)
  return { dir, sessions, chain, readies }
}

describe('seller crash safety', () => {
  it('SIGKILL at ≥ 100 random points of live sessions: each restart settles what was vouchered, less at most one chunk, never more', async () => {
    await build({ entryPoints: [CHILD_SRC], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: CHILD, logLevel: 'warning' })
    const lanes = await Promise.all(Array.from({ length: LANES }, async (_, i) => await lane(1 + i * 7919 + Date.now() % 1000)))
    const sellerKey = toHex(createSigner(SELLER_SEED).publicKey)
    try {
      expect(lanes.reduce((n, l) => n + l.sessions.length, 0)).toBe(LANES * KILLS_PER_LANE)
      let vouchered = 0
      let lostUc = 0n
      for (const l of lanes) {
        expect(l.readies).toBeGreaterThan(0)
        const store = new LevelLedgerStore(join(l.dir, 'ledger'))
        await store.open()
        const stored = await store.load()
        await store.close()
        const ledger = new Ledger({ genesis: crashGenesis() })
        for (const b of [...l.chain, ...stored.records]) ledger.add(b)
        expect(ledger.fraudProofs()).toEqual([])
        const settles = new Map<string, bigint[]>()
        for (const r of ledger.records()) {
          if (r.from === sellerKey && r.kind.type === 'settle') settles.set(r.kind.openId, [...(settles.get(r.kind.openId) ?? []), r.kind.amountUc])
        }
        for (const s of l.sessions) {
          const got = settles.get(s.openId) ?? []
          expect(got.length).toBeLessThanOrEqual(1)
          // a session the seller admitted (it sent chunk 1) ends settled: the buyer's lock is released
          if (s.admitted) expect(got).toHaveLength(1)
          if (s.signedUc === 0n) {
            // nothing was vouchered: an empty settle, if any
            expect(got.every(a => a === 0n)).toBe(true)
            continue
          }
          vouchered++
          // the buyer's lock ended, the seller paid within one chunk of what the buyer signed
          expect(got).toHaveLength(1)
          expect(got[0]).toBeLessThanOrEqual(s.signedUc)
          expect(got[0]).toBeGreaterThanOrEqual(s.signedUc - CHUNK_UC)
          lostUc += s.signedUc - got[0]
        }
      }
      // most kills hit a live session
      expect(vouchered).toBeGreaterThan(LANES * KILLS_PER_LANE / 2)
      console.log(`seller crash: ${lanes.reduce((n, l) => n + l.sessions.length, 0)} kills, ${vouchered} vouchered sessions, lost ${lostUc} µc in all (≤ ${CHUNK_UC} µc each)`)
    } finally {
      for (const l of lanes) rmSync(l.dir, { recursive: true, force: true })
      rmSync(CHILD, { force: true })
    }
  }, 240_000)
})

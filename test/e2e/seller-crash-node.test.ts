import { describe, expect, it } from 'vitest'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { multiaddr } from '@multiformats/multiaddr'
import { createTallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { BackendEvent, ChatRequest } from '../../src/exec/backend.js'
import { amountUc } from '../../src/exec/pricing.js'
import { windowBoundUc } from '../../src/exec/infer/window.js'
import { waitFor } from '../helpers/wait.js'
import { NODE_MODEL, NODE_PRICE_IN, NODE_PRICE_OUT } from '../fixtures/seller/journal-net.js'

const KILLS = 8
const CHILD_SRC = join(import.meta.dirname, '../fixtures/seller/node-seller.ts')
/** bundled once, so each start skips the TypeScript loader */
const CHILD = join(import.meta.dirname, `../../node_modules/.cache/tally-seller-crash/node-${process.pid}.mjs`)
const REQUEST: ChatRequest = { messages: [{ role: 'user', content: 'Write a long story about a market of machines.' }], maxTokens: 4_000, seed: 5 }

interface Child { proc: ChildProcessWithoutNullStreams, addr: string, exited: Promise<number | null> }

async function startSeller (dir: string): Promise<Child> {
  const proc = spawn(process.execPath, [CHILD, dir], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stderr.on('data', (d: Buffer) => { err += d.toString() })
  proc.stdin.on('error', () => {})
  const exited = new Promise<number | null>(resolve => proc.on('exit', code => resolve(code)))
  const addr = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /^ready (\S+)/m.exec(out)
      if (m != null) resolve(m[1])
    })
    void exited.then(code => reject(new Error(`seller exited with ${code} before ready: ${err}`)))
  })
  return { proc, addr, exited }
}

describe('seller crash safety, whole node', () => {
  it('a selling node SIGKILLed mid-session and restarted on its data dir is paid what the buyer signed, less at most the window', async () => {
    await build({ entryPoints: [CHILD_SRC], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: CHILD, logLevel: 'warning' })
    const sellerDir = mkdtempSync(join(tmpdir(), 'tally-seller-node-'))
    const buyerDir = mkdtempSync(join(tmpdir(), 'tally-buyer-node-'))
    const buyer = await createTallyNode(parseConfig({ dataDir: buyerDir, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'] }), { memoryLedger: true })
    await buyer.start()
    let child: Child | undefined
    try {
      // what a crash may cost (infer.md § Seller durability, Bound): the contract's paid-ahead window W
      // (max_unpaid_uc; the buyer signs at half of it, so a voucher it signed may never reach the
      // seller), or one backend output when larger, plus the request's input tokens, + 1 µc
      let inputTokens = 0
      for await (const ev of new SimulatedBackend({ modelId: NODE_MODEL }).stream(REQUEST, new AbortController().signal) as AsyncIterable<BackendEvent>) {
        if (ev.type === 'done') inputTokens = ev.usage.inputTokens
      }
      const oneOutputUc = amountUc(0n, 1n, NODE_PRICE_IN, NODE_PRICE_OUT)
      const inputUc = amountUc(BigInt(inputTokens), 0n, NODE_PRICE_IN, NODE_PRICE_OUT)
      // W from the buyer's copy of the contract (0 when it holds none: the check below fails)
      const termOf = (contractId: Uint8Array): bigint => buyer.buyerSessions.get(contractId)?.terms.maxUnpaidUc ?? 0n
      const boundOf = (contractId: Uint8Array): bigint => windowBoundUc(termOf(contractId), oneOutputUc) + inputUc + 1n
      let x = 12345 + Date.now() % 1000
      const rand = (): number => { x = (x * 1103515245 + 12345) % 2 ** 31; return x / 2 ** 31 }

      for (let k = 0; k < KILLS; k++) {
        child = await startSeller(sellerDir)
        await buyer.libp2p.dial(multiaddr(child.addr))
        await waitFor(() => buyer.offerList(NODE_MODEL).length === 1, 'the seller\'s offer at the buyer')
        // half the kills early (the abort voucher, below W / 2, is the only one); half after more
        // output than W + the input is worth (~700 tokens at 2 µc: the buyer signed at W / 2 and W),
        // so a seller that lost its journaled vouchers would settle more than the bound below
        const killAfter = k % 2 === 0 ? 1 + Math.floor(rand() * 40) : 700 + Math.floor(rand() * 200)
        let deltas = 0
        // kill the seller mid-stream; the buyer gives up on the request at once (no blame: it
        // aborted). A request that failed before any token (the open still on its way) is retried.
        for (let attempt = 0; attempt < 5 && deltas < killAfter; attempt++) {
          deltas = 0
          const ctrl = new AbortController()
          const c = child
          await buyer.infer(NODE_MODEL, REQUEST, {}, {
            signal: ctrl.signal,
            onDelta: () => { if (++deltas === killAfter) { c.proc.kill('SIGKILL'); ctrl.abort() } }
          }).catch(() => undefined)
        }
        expect(deltas).toBeGreaterThanOrEqual(killAfter)
        await child.exited
        child = undefined
      }
      // a last start settles what the last kill left; the settles reach the buyer by sync
      child = await startSeller(sellerDir)
      await buyer.libp2p.dial(multiaddr(child.addr))
      const me = Buffer.from(buyer.base.publicKey).toString('hex')
      const opens = buyer.ledger.ledger.history(me).filter(r => r.from === me && r.kind.type === 'open')
      expect(opens.length).toBeGreaterThanOrEqual(KILLS)
      const settleOf = (openId: string): bigint | undefined => {
        for (const r of buyer.ledger.ledger.history(me)) if (r.kind.type === 'settle' && r.kind.openId === openId) return r.kind.amountUc
        return undefined
      }
      const signedOf = (o: { kind: unknown }): bigint => buyer.buyerSessions.signedUc(Buffer.from((o.kind as { contractId: string }).contractId, 'hex'))
      // every session the buyer signed for is owed a settle. One it signed nothing for (the seller
      // died before admitting it, or it was retried elsewhere) may never be journaled: its lock
      // ends by the buyer's release after end + grace (test/unit/ledger/release.test.ts), nothing
      // was served on it, so nothing is lost.
      const owed = opens.filter(o => signedOf(o) > 0n)
      // a settle the restarted seller wrote before the buyer dialled comes with the join sync; one it
      // wrote later (the open reached it late: retried every 5 s) by gossip, or else by the next
      // periodic sync (30 s): allow two rounds on a loaded machine
      await waitFor(() => owed.every(o => settleOf(o.id) != null), 'a settle for every session the buyer signed for', 65_000).catch((err) => {
        const missing = owed.filter(o => settleOf(o.id) == null).map(o => ({ open: o.id.slice(0, 12), signedUc: signedOf(o).toString() }))
        throw new Error(`${(err as Error).message}; unsettled: ${JSON.stringify(missing)} of ${owed.length}`)
      })
      let lost = 0n
      for (const o of opens) {
        const signed = signedOf(o)
        const settled = settleOf(o.id)
        if (settled == null) { expect(signed).toBe(0n); continue }
        expect(settled).toBeLessThanOrEqual(signed)
        const cid = Buffer.from((o.kind as { contractId: string }).contractId, 'hex')
        expect(termOf(cid)).toBeGreaterThan(0n)
        expect(settled).toBeGreaterThanOrEqual(signed - boundOf(cid))
        lost += signed - settled
      }
      // every lock ended but those of never-journaled sessions (released after end + grace); the
      // buyer's cost report equals the ledger: spent is what the settles charged, the rest of what
      // it signed shows as never charged, not as spent (read together: a late settle may land)
      await waitFor(async () => {
        const unsettled = opens.filter(o => settleOf(o.id) == null)
        const stuck = unsettled.reduce((n, o) => n + (o.kind as { maxSpendUc: bigint }).maxSpendUc, 0n)
        const charged = opens.reduce((n, o) => n + (settleOf(o.id) ?? 0n), 0n)
        const b = await buyer.balance()
        const row = (await buyer.report({ by: 'seller' })).rows.find(r => r.requests > 0)!
        return b.lockedUc === stuck && -b.balanceUc === charged && row.spentUc === charged && row.pendingUc === 0n && row.spentUc + row.unchargedUc === row.signedUc
      }, 'locks and the cost report equal to the ledger')
      console.log(`seller crash (node): ${KILLS} kills, lost ${lost} µc in all (input ${inputUc} µc, windows ${opens.map(o => termOf(Buffer.from((o.kind as { contractId: string }).contractId, 'hex'))).join(',')} µc, from the buyer's sessions: ${opens.filter(o => buyer.buyerSessions.get(Buffer.from((o.kind as { contractId: string }).contractId, 'hex')) != null).length}/${opens.length})`)
      child.proc.stdin.write('quit\n')
      expect(await child.exited).toBe(0)
      child = undefined
    } finally {
      child?.proc.kill('SIGKILL')
      await buyer.stop()
      rmSync(sellerDir, { recursive: true, force: true })
      rmSync(buyerDir, { recursive: true, force: true })
      rmSync(CHILD, { force: true })
    }
  }, 180_000)
})

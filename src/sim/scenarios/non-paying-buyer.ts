/**
 * non-paying-buyer: an adversary negotiates real sessions with honest sellers and reads the
 * stream without ever signing a voucher, asking for more output than the seller's paid-ahead window
 * covers. Each seller must pause once its billed amount reaches the window (the contract's
 * max_unpaid_uc, infer.md § Flow 5), give up at the voucher timeout and settle the lock with
 * nothing; its loss is at most max(window, one backend output).
 */
import { defineScenario } from '../scenario.js'
import { freeRide } from '../adversaries/free-rider.js'
import { amountUc } from '../../exec/pricing.js'
import { windowBoundUc } from '../../exec/infer/window.js'

/** output tokens per backend output of the simulated backend (world.ts: tokensPerChunk) */
const SIM_OUTPUT_TOKENS = 4n

/** sellers the free rider tries */
const VICTIMS = 3

export default defineScenario({
  name: 'non-paying-buyer',
  description: `an adversary opens sessions with ${VICTIMS} sellers and never pays a voucher`,
  defaults: { sellersShare: 0.3, durationMs: 8_000 },
  run: async (ctx) => {
    const rider = await ctx.addPeer({ role: 'buyer', adversary: 'non-paying-buyer' })
    await ctx.sleep(500)
    const victims = ctx.rng.sample(ctx.sellers().filter(p => p.adversary == null), VICTIMS)
    const rides = await Promise.all(victims.map(async v => {
      try {
        return await freeRide(rider.node, v.node.addrs()[0], ctx.model, v.priceOutUc, v.priceOutUc / 4n, 15_000)
      } catch (err: any) {
        ctx.event(`free ride on peer ${v.index} refused: ${String(err?.name ?? 'Error')}`)
        return undefined
      }
    }))
    const done = rides.filter(r => r != null)
    for (const r of done) ctx.event(`free ride: ${r.chunks} chunks, ${r.outputTokens} tokens unpaid, ended by ${r.failure ?? 'done'}`)
    ctx.figure('freeRides', done.length)
    ctx.figure('maxUnpaidChunksPerSession', done.reduce((m, r) => Math.max(m, r.chunks), 0))
    ctx.figure('maxUnpaidTokensPerSession', done.reduce((m, r) => Math.max(m, r.outputTokens), 0))
    // the window bound (Flow 5): a session's unpaid output is at most max(W, one backend output)
    const bounds = rides.map((r, i) => r == null ? 0n : windowBoundUc(r.windowUc, amountUc(0n, SIM_OUTPUT_TOKENS, 0n, victims[i]!.priceOutUc)))
    ctx.figure('maxUnpaidUcPerSession', done.reduce((m, r) => r.unpaidUc > m ? r.unpaidUc : m, 0n).toString())
    ctx.figure('minWindowUc', done.reduce((m, r) => m < 0n || r.windowUc < m ? r.windowUc : m, -1n).toString())
    ctx.figure('ridesWithoutWindow', done.filter(r => r.windowUc === 0n || r.windowUc > r.termUc).length)
    ctx.figure('ridesBeyondWindow', rides.filter((r, i) => r != null && r.unpaidUc > bounds[i]!).length)
    // rides the window cut short (no done): the bound was exercised, not only met by a short answer
    ctx.figure('ridesStoppedByWindow', done.filter(r => !r.done).length)
    // the seller's loss: the unpaid tokens at its price (output side)
    const lossUc = done.reduce((s, r, i) => s + BigInt(r.outputTokens) * (victims[i]?.priceOutUc ?? 0n) / 1_000_000n, 0n)
    ctx.figure('honestSellersLossUc', lossUc.toString())
  },
  finish: async (ctx) => {
    const rider = ctx.peers.find(p => p.adversary === 'non-paying-buyer')!
    const ref = ctx.running().find(p => p.adversary == null)!.node
    const b = ref.ledger.balance(rider.node.account)
    ctx.figure('riderBalanceUc', b.balanceUc.toString())
    ctx.figure('riderLockedUc', b.lockedUc.toString())
  }
})

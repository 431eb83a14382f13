/**
 * stalling-seller: the cheapest seller on the market accepts contracts but never produces a
 * first token. Buyers time out on the first token and fall back to the next seller; the
 * staller earns nothing.
 */
import { defineScenario } from '../scenario.js'
import { SimulatedBackend } from '../../exec/backends/simulated.js'

/** cheaper than any honest simulated seller (3..12 credits per 1M tokens out) */
const STALLER_PRICE_OUT_UC = 1_000_000n

export default defineScenario({
  name: 'stalling-seller',
  description: 'the cheapest seller never sends a first token; buyers must fall back',
  defaults: { sellersShare: 0.3, durationMs: 8_000 },
  run: async (ctx) => {
    await ctx.addPeer({
      role: 'seller',
      adversary: 'stalling-seller',
      priceOutUc: STALLER_PRICE_OUT_UC,
      init: { sell: { backend: new SimulatedBackend({ modelId: ctx.model, params: 7_000_000_000, ttftMs: 3_600_000 }), priceInPerMTokUc: STALLER_PRICE_OUT_UC / 4n, priceOutPerMTokUc: STALLER_PRICE_OUT_UC } }
    })
  },
  finish: async (ctx) => {
    const staller = ctx.peers.find(p => p.adversary === 'stalling-seller')!
    const done = ctx.requests().filter(r => r.ok)
    ctx.figure('servedByStaller', done.filter(r => r.seller === staller.node.account).length)
    ctx.figure('requestsAfterFallback', done.filter(r => r.attempts > 1).length)
    const ref = ctx.running().find(p => p.adversary == null)!.node
    ctx.figure('stallerBalanceUc', ref.ledger.balance(staller.node.account).balanceUc.toString())
  }
})

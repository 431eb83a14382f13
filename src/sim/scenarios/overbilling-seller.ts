/**
 * overbilling-seller: the cheapest seller claims ten times the output tokens it streams. Honest
 * buyers check every claim against the text they received, refuse to sign for it and fall back;
 * the overbiller earns no more than the fair value of what it really delivered.
 */
import { defineScenario, type SimContext } from '../scenario.js'
import { SimulatedBackend } from '../../exec/backends/simulated.js'
import { OverbillingBackend } from '../adversaries/overbilling-backend.js'

const OVERBILLER_PRICE_OUT_UC = 1_000_000n
/** claimed tokens per real token */
const FACTOR = 10
const backends = new WeakMap<SimContext, OverbillingBackend>()

export default defineScenario({
  name: 'overbilling-seller',
  description: `the cheapest seller claims ${FACTOR}x the output tokens it streams`,
  defaults: { sellersShare: 0.3, durationMs: 8_000 },
  run: async (ctx) => {
    const backend = new OverbillingBackend(new SimulatedBackend({ modelId: ctx.model, params: 7_000_000_000, tokensPerChunk: 4, tokensPerSec: 2_000 }), FACTOR)
    await ctx.addPeer({
      role: 'seller',
      adversary: 'overbilling-seller',
      priceOutUc: OVERBILLER_PRICE_OUT_UC,
      init: { sell: { backend, priceInPerMTokUc: OVERBILLER_PRICE_OUT_UC / 4n, priceOutPerMTokUc: OVERBILLER_PRICE_OUT_UC } }
    })
    backends.set(ctx, backend)
  },
  finish: async (ctx) => {
    const ob = ctx.peers.find(p => p.adversary === 'overbilling-seller')!
    const done = ctx.requests().filter(r => r.ok)
    ctx.figure('servedByOverbiller', done.filter(r => r.seller === ob.node.account).length)
    ctx.figure('requestsAfterFallback', done.filter(r => r.attempts > 1).length)
    const ref = ctx.running().find(p => p.adversary == null)!.node
    const earned = ref.ledger.balance(ob.node.account).balanceUc
    const backend = backends.get(ctx)!
    ctx.figure('overbillerTrueOutputTokens', backend.trueOutputTokens)
    ctx.figure('overbillerClaimedOutputTokens', backend.claimedOutputTokens)
    // fair value of what it really streamed, output side (counting input tokens would only raise it)
    const fairOutUc = BigInt(backend.trueOutputTokens) * OVERBILLER_PRICE_OUT_UC / 1_000_000n
    ctx.figure('overbillerEarnedUc', earned.toString())
    ctx.figure('honestBuyersLossUc', (earned > fairOutUc ? earned - fairOutUc : 0n).toString())
  }
})

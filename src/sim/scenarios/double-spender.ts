/**
 * double-spender: an account signs two different payments for one chain seq (a fork) and
 * publishes both. Every honest node must flag it (the simulator measures the time from the
 * second record's publication until each node flags the account); sellers then refuse it.
 */
import { defineScenario } from '../scenario.js'
import { doubleSpend } from '../adversaries/double-spend.js'

/** each branch of the fork pays this much (within the default credit line) */
const FORK_AMOUNT_UC = 4_000_000n

export default defineScenario({
  name: 'double-spender',
  description: 'an adversary pays two honest peers with two records of the same seq; every node must flag it',
  defaults: { sellersShare: 0.3, durationMs: 8_000 },
  run: async (ctx) => {
    const adv = await ctx.addPeer({ role: 'buyer', adversary: 'double-spender' })
    await ctx.sleep(Math.min(1_500, ctx.durationMs / 4))
    const [a, b] = ctx.rng.sample(ctx.running().filter(p => p.adversary == null), 2)
    const ds = await doubleSpend(adv.node, a.node.account, b.node.account, FORK_AMOUNT_UC, () => { ctx.markDoubleSpend(adv.node.account) })
    ctx.event(`double spend: records ${ds.firstId.slice(0, 12)} and ${ds.secondId.slice(0, 12)} share one seq`)
    ctx.figure('forkAmountUc', FORK_AMOUNT_UC.toString())
    ctx.at(Math.floor(ctx.durationMs * 0.75), async () => {
      // a flagged account tries to buy: sellers must refuse it
      try {
        await adv.node.infer(ctx.model, { messages: [{ role: 'user', content: 'serve a flagged buyer?' }], maxTokens: 8 })
        ctx.figure('flaggedBuyerServed', true)
      } catch (err: any) {
        ctx.figure('flaggedBuyerServed', false)
        ctx.figure('flaggedBuyerError', String(err?.name ?? 'Error'))
      }
    })
  },
  finish: async (ctx) => {
    const adv = ctx.peers.find(p => p.adversary === 'double-spender')!
    const honest = ctx.running().filter(p => p.adversary == null)
    ctx.figure('flaggedOnEveryHonestNode', honest.every(p => p.node.ledger.isFlagged(adv.node.account)))
    // the loss is bounded by the account's credit line: its balance never goes below it
    const bal = honest[0].node.ledger.balance(adv.node.account)
    ctx.figure('doubleSpenderBalanceUc', bal.balanceUc.toString())
    ctx.figure('lossWithinCreditLine', -bal.balanceUc <= bal.creditLimitUc * 2n)
  }
})

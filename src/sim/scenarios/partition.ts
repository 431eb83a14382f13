/**
 * partition: the network splits in two halves (every link between them cut and refused), both
 * halves keep trading, then the cut heals; the ledgers must converge again. Measures the time
 * from the heal until every running node holds the same balances.
 */
import { defineScenario } from '../scenario.js'

/** longest the scenario waits for the healed ledgers to agree */
const HEAL_WAIT_MS = 20_000

export default defineScenario({
  name: 'partition',
  description: 'split the peers in two halves at 20% of the run, heal at 40%, measure how fast the ledgers converge',
  defaults: { sellersShare: 0.3, durationMs: 12_000 },
  run: async (ctx) => {
    ctx.at(Math.floor(ctx.durationMs * 0.2), async () => {
      const all = ctx.rng.shuffle(ctx.running())
      // each half keeps sellers so both can trade
      const sellers = all.filter(p => p.role === 'seller'); const buyers = all.filter(p => p.role === 'buyer')
      const a = [...sellers.filter((_, i) => i % 2 === 0), ...buyers.filter((_, i) => i % 2 === 0)]
      const b = [...sellers.filter((_, i) => i % 2 === 1), ...buyers.filter((_, i) => i % 2 === 1)]
      await ctx.partition(a, b)
      ctx.figure('groupA', a.length)
      ctx.figure('groupB', b.length)
    })
    ctx.at(Math.floor(ctx.durationMs * 0.4), async () => {
      ctx.figure('viewsBeforeHeal', ctx.balanceViews())
      const healedAt = ctx.elapsedMs()
      await ctx.heal()
      // trading goes on, so views may differ for a moment while records travel: the first instant they agree counts
      const deadline = healedAt + HEAL_WAIT_MS
      while (ctx.balanceViews() > 1 && ctx.elapsedMs() < deadline) await ctx.sleep(50)
      if (ctx.balanceViews() === 1) ctx.figure('convergedAfterHealMs', Math.round(ctx.elapsedMs() - healedAt))
    })
  }
})

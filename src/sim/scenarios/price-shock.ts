/**
 * price-shock: at 30% of the run the cheapest third of the sellers triple their prices. Routing
 * should follow: new sessions go to the now-cheaper sellers (warm sessions keep their firm
 * contract price until they close). Measures the shocked sellers' share before and after and
 * the time until no new request starts on a shocked seller.
 */
import { defineScenario } from '../scenario.js'

export default defineScenario({
  name: 'price-shock',
  description: 'the cheapest third of sellers triple their prices at 30% of the run; measure how fast routing follows',
  defaults: { sellersShare: 0.3, durationMs: 12_000 },
  run: async (ctx) => {
    const shockAt = Math.floor(ctx.durationMs * 0.3)
    const shocked = new Set<string>()
    ctx.at(shockAt, async () => {
      const sellers = ctx.sellers().slice().sort((a, b) => (a.priceOutUc < b.priceOutUc ? -1 : 1))
      const cheap = sellers.slice(0, Math.max(1, Math.ceil(sellers.length / 3)))
      for (const s of cheap) shocked.add(s.node.account)
      await Promise.all(cheap.map(async s => { await ctx.setPrice(s, s.priceOutUc * 3n) }))
      ctx.figure('shockedSellers', cheap.length)
    })
    ctx.at(ctx.durationMs - 50, () => {
      const done = ctx.requests().filter(r => r.ok && r.seller != null)
      const before = done.filter(r => r.startMs < shockAt)
      const after = done.filter(r => r.startMs >= shockAt)
      const share = (xs: typeof done): number => xs.length === 0 ? 0 : Math.round(xs.filter(r => shocked.has(r.seller!)).length / xs.length * 1000) / 10
      ctx.figure('shockedShareBeforePct', share(before))
      ctx.figure('shockedShareAfterPct', share(after))
      // new sessions: a buyer's first request after the shock on each seller
      const lastOnShocked = after.filter(r => shocked.has(r.seller!)).reduce((m, r) => Math.max(m, r.startMs), shockAt)
      ctx.figure('lastRequestOnShockedAfterMs', Math.round(lastOnShocked - shockAt))
      ctx.figure('requestsAfterShock', after.length)
    })
  }
})

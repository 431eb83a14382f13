/**
 * Writing a new scenario: "flash sale". Halfway through, one expensive seller drops its price
 * below everyone else's; we measure how long until a buyer's request lands on it. A scenario is
 * `{ name, description, defaults, run(ctx) }`; `ctx` gives the running peers, seeded randomness,
 * `at`/`every` timers, partitions, churn, price changes, extra peers and metric recorders.
 * `npx tsx examples/my-scenario.ts`
 */
import '../src/polyfill.js'
import { defineScenario, runSimulation } from '../src/sim/index.js'

const flashSale = defineScenario({
  name: 'flash-sale',
  description: 'the dearest seller becomes the cheapest at half time',
  defaults: { sellersShare: 0.3, durationMs: 10_000 },
  run: async (ctx) => {
    ctx.at(ctx.durationMs / 2, async () => {
      const dearest = ctx.sellers().slice().sort((a, b) => (a.priceOutUc > b.priceOutUc ? -1 : 1))[0]
      const cheapest = ctx.sellers().reduce((m, s) => (s.priceOutUc < m ? s.priceOutUc : m), dearest.priceOutUc)
      const saleAt = ctx.elapsedMs()
      await ctx.setPrice(dearest, cheapest / 2n)
      // poll the traffic the simulator sends: the first request served by the sale seller
      while (!ctx.signal.aborted) {
        const hit = ctx.requests().find(r => r.ok && r.seller === dearest.node.account && r.startMs >= saleAt)
        if (hit != null) {
          ctx.figure('firstSaleRequestAfterMs', Math.round(hit.startMs - saleAt))
          return
        }
        await ctx.sleep(50)
      }
      ctx.figure('firstSaleRequestAfterMs', 'none before the end')
    })
  }
})

const result = await runSimulation({ peers: 30, scenario: flashSale, seed: 'flash' })
process.stdout.write(JSON.stringify({ figures: result.figures, requests: result.requests, balancesAgree: result.balancesAgree }, null, 2) + '\n')

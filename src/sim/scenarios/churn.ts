/**
 * churn: peers leave and join all the time. Each period a share of the running peers stops
 * (a buyer's node closes its sessions on the way out, a seller's settles); peers stopped in the
 * previous period come back, alternately with the same identity and with a new one.
 */
import { defineScenario } from '../scenario.js'

/** share of running peers leaving per period */
export const CHURN_SHARE = 0.1
/** periods per run */
const PERIODS = 5

export default defineScenario({
  name: 'churn',
  description: `every ${100 / PERIODS}% of the run ${CHURN_SHARE * 100}% of the peers leave and the previous leavers rejoin (same or new identity)`,
  defaults: { sellersShare: 0.3, durationMs: 15_000 },
  run: async (ctx) => {
    let left: typeof ctx.peers[number][] = []
    let joins = 0; let leaves = 0; let newIds = 0
    const period = Math.max(200, Math.floor(ctx.durationMs / (PERIODS + 1)))
    for (let i = 1; i <= PERIODS; i++) {
      ctx.at(period * i, async () => {
        const back = left
        // peer 0 stays: it is everyone's first bootstrap peer
        const candidates = ctx.running().filter(p => p.index !== 0 && p.adversary == null)
        left = ctx.rng.sample(candidates, Math.max(1, Math.round(candidates.length * CHURN_SHARE)))
        await Promise.all(left.map(async p => { await ctx.stopPeer(p) }))
        leaves += left.length
        await Promise.all(back.map(async (p, k) => {
          const newIdentity = k % 2 === 1
          await ctx.startPeer(p, { newIdentity })
          joins++
          if (newIdentity) newIds++
        }))
        ctx.figure('leaves', leaves)
        ctx.figure('joins', joins)
        ctx.figure('joinsWithNewIdentity', newIds)
      })
    }
  }
})

/**
 * capacity-squatter: an adversary with enough keys to fill every reservation of every seller
 * (2 unopened contracts per key and seller, 2 × max_sessions reservations per seller) takes
 * contracts and never publishes their `open`, re-squatting whatever frees up, for the middle of
 * the run. A contract is only a reservation until `open_within_ms` (infer.md § Capacity), so
 * the figures are how long a seller stayed closed to honest buyers, above all after the last
 * squat, and how many honest requests completed.
 */
import { defineScenario, type SimContext, type SimPeer } from '../scenario.js'
import { squat } from '../adversaries/squatter.js'
import { DEFAULT_MAX_UNOPENED_PER_BUYER, DEFAULT_OPEN_WITHIN_MS, DEFAULT_RESERVATIONS_PER_SLOT } from '../../contract/negotiate.js'

/** the squatter's lock per contract: small (it is never locked), within any seller's policy */
const SQUAT_LOCK_UC = 10_000n
/** the contracts it asks for run this long: far beyond the reservation */
const SQUAT_CONTRACT_MS = 60_000
/** each squatter key goes round every seller this often */
const SQUAT_ROUND_MS = 250
/** the sellers' state is sampled this often */
const SAMPLE_MS = 50
/** the attack runs over this part of the run (the rest shows the sellers free again) */
const ATTACK_FROM = 0.05
const ATTACK_TO = 0.55

interface Stretch { from: number, to?: number }

/** each run's last squat (ms into trading), for its finish */
const lastSquatAt = new WeakMap<SimContext, number>()

/**
 * the seller refuses an honest buyer (one without reservations of its own) a quote because the
 * model's reservations are all taken (infer.md § Capacity); a seller full of opened sessions is
 * not counted: that is honest business, not the squat
 */
function closedToHonest (s: SimPeer, model: string): boolean {
  const terms = s.node.market.ownTerms(model)
  if (terms == null) return false
  const r = s.node.negotiator.reservations(model)
  return r.quotes + r.unopened >= DEFAULT_RESERVATIONS_PER_SLOT * terms.maxSessions
}

/** squatter keys that fill every reservation of the largest seller */
function keysNeeded (ctx: SimContext): number {
  const most = ctx.sellers().reduce((m, s) => Math.max(m, s.node.market.ownTerms(ctx.model)?.maxSessions ?? 0), 1)
  return Math.ceil(DEFAULT_RESERVATIONS_PER_SLOT * most / DEFAULT_MAX_UNOPENED_PER_BUYER)
}

export default defineScenario({
  name: 'capacity-squatter',
  description: 'an adversary with enough keys to fill every seller\'s reservations takes contracts and never opens them; sellers must be open to honest buyers again within open_within_ms of the last squat',
  defaults: { sellersShare: 0.3, durationMs: 12_000 },
  run: async (ctx) => {
    const victims = ctx.sellers().filter(p => p.adversary == null)
    const nKeys = keysNeeded(ctx)
    const squatters = await Promise.all(Array.from({ length: nKeys }, async () => await ctx.addPeer({ role: 'buyer', adversary: 'capacity-squatter' })))
    const attackFrom = Math.floor(ctx.durationMs * ATTACK_FROM)
    const attackTo = Math.floor(ctx.durationMs * ATTACK_TO)
    ctx.figure('squatterKeys', nKeys)
    ctx.figure('attackFromMs', attackFrom)
    ctx.figure('attackToMs', attackTo)
    ctx.figure('openWithinMs', DEFAULT_OPEN_WITHIN_MS)

    // the sellers' state: stretches closed to honest buyers, per seller
    const stretches = new Map<number, Stretch[]>(victims.map(v => [v.index, []]))
    const sample = (): void => {
      const t = ctx.elapsedMs()
      for (const v of victims) {
        const xs = stretches.get(v.index)!
        const last = xs[xs.length - 1]
        const closed = v.running && closedToHonest(v, ctx.model)
        if (closed && (last == null || last.to != null)) xs.push({ from: t })
        else if (!closed && last != null && last.to == null) last.to = t
      }
    }
    ctx.every(SAMPLE_MS, sample)

    // the attack: every key round every seller, re-squatting what frees up
    const lastSquatOn = new Map<number, number>()
    let contracts = 0; let refused = 0; let beyondReservation = 0
    // refusals for lapsed reservations (negotiate.md § Lapsed reservations): the cool-down at work
    let refusedLapsed = 0
    const expiries: number[] = []
    const attack = async (sq: SimPeer): Promise<void> => {
      await ctx.sleep(Math.max(0, attackFrom - ctx.elapsedMs()))
      while (ctx.elapsedMs() < attackTo && !ctx.signal.aborted) {
        await Promise.all(victims.map(async v => {
          try {
            const s = await squat(sq.node, v.node.addrs()[0], ctx.model, SQUAT_LOCK_UC, SQUAT_CONTRACT_MS, ctx.signal)
            contracts++
            lastSquatOn.set(v.index, ctx.elapsedMs())
            expiries.push(s.expiresAtMs - Date.now())
            if (s.openWithinMs === 0 || s.openWithinMs > DEFAULT_OPEN_WITHIN_MS) beyondReservation++
          } catch (err: any) {
            refused++
            if (err?.code === 'reservations-lapsed') refusedLapsed++
          }
        }))
        await ctx.sleep(SQUAT_ROUND_MS)
      }
    }
    void Promise.all(squatters.map(attack)).then(() => {
      ctx.figure('squatContracts', contracts)
      ctx.figure('squatRefusals', refused)
      ctx.figure('squatRefusalsReservationsLapsed', refusedLapsed)
      ctx.figure('squatContractsWithoutReservationTerm', beyondReservation)
      ctx.figure('squatContractLeftAtSigningMinMs', expiries.length === 0 ? 0 : Math.round(Math.min(...expiries)))
    })

    // the figures, just before the run ends
    ctx.at(ctx.durationMs - 50, () => {
      sample()
      const now = ctx.elapsedMs()
      let longest = 0; let afterLast = 0; let closedAtEnd = 0; let everClosed = 0; let closedInAttack = 0
      for (const v of victims) {
        const xs = stretches.get(v.index)!
        if (xs.length > 0) everClosed++
        for (const s of xs) {
          longest = Math.max(longest, (s.to ?? now) - s.from)
          closedInAttack += Math.max(0, Math.min(s.to ?? now, attackTo) - Math.max(s.from, attackFrom))
        }
        const last = xs[xs.length - 1]
        if (last != null && last.to == null) closedAtEnd++
        // from this seller's last squat until it was open to honest buyers again (the stretch that
        // holds the squat, or starts at the next sample)
        const at = lastSquatOn.get(v.index)
        if (at == null) continue
        const held = xs.find(s => s.from <= at + 2 * SAMPLE_MS && (s.to == null || s.to >= at))
        if (held != null) afterLast = Math.max(afterLast, (held.to ?? now) - at)
      }
      const lastSquat = Math.max(0, ...lastSquatOn.values())
      ctx.figure('closedToHonestDuringAttackPct', Math.round(closedInAttack / Math.max(1, (attackTo - attackFrom) * victims.length) * 1000) / 10)
      ctx.figure('sellers', victims.length)
      ctx.figure('sellersEverClosedToHonest', everClosed)
      ctx.figure('sellersClosedAtEnd', closedAtEnd)
      ctx.figure('longestUnavailableMs', Math.round(longest))
      ctx.figure('unavailableAfterLastSquatMs', Math.round(afterLast))
      ctx.figure('lastSquatMs', Math.round(lastSquat))
      ctx.figure('sellersFullAtEnd', victims.filter(v => v.node.negotiator.reserved(ctx.model) >= (v.node.market.ownTerms(ctx.model)?.maxSessions ?? 0)).length)
      ctx.figure('unopenedAtEnd', victims.reduce((n, v) => n + v.node.negotiator.reservations(ctx.model).unopened, 0))
      lastSquatAt.set(ctx, lastSquat)
    })
  },
  // honest requests once every one of them has ended (those in flight at the end included)
  finish: async (ctx) => {
    const attackFrom = Math.floor(ctx.durationMs * ATTACK_FROM)
    const attackTo = Math.floor(ctx.durationMs * ATTACK_TO)
    const honest = ctx.requests()
    const during = honest.filter(r => r.startMs >= attackFrom && r.startMs < attackTo)
    const after = honest.filter(r => r.startMs >= (lastSquatAt.get(ctx) ?? attackTo) + DEFAULT_OPEN_WITHIN_MS)
    const pct = (xs: typeof honest): number => xs.length === 0 ? 100 : Math.round(xs.filter(r => r.ok).length / xs.length * 1000) / 10
    ctx.figure('honestCompletedPct', pct(honest))
    ctx.figure('honestCompletedDuringAttackPct', pct(during))
    ctx.figure('honestCompletedAfterReservationsPct', pct(after))
    ctx.figure('honestRequestsAfterReservations', after.length)
  }
})

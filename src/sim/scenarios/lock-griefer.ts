/**
 * lock-griefer: the cheapest seller serves honest buyers but never settles, so each buyer's lock
 * on a session with it would stay counted forever; it leaves the market after GRIEF_FOR_MS. Its
 * contracts are short (GRIEF_SESSION_MS), so their ends come early in the run: a buyer releases
 * its own stuck lock with a `release` record once its signed time is past the open's end plus the
 * grace (ledger.md, RELEASE_GRACE_MS: 5 min), checked every minute. The run lasts that long on
 * the virtual clock. Figures: every lock with the griefer released, how long after end + grace,
 * nothing locked at the end, and the buyers' loss (charged) against what they signed.
 */
import { defineScenario, type SimContext } from '../scenario.js'
import { neverSettle } from '../adversaries/never-settle.js'
import { RELEASE_GRACE_MS } from '../../ledger/validity.js'
import { DEFAULT_RELEASE_CHECK_MS as RELEASE_CHECK_MS } from '../../ledger/service.js'

/** cheaper than any honest simulated seller (3..12 credits per 1M tokens out) */
const GRIEFER_PRICE_OUT_UC = 1_000_000n
/** the griefer's sessions end this long after their contract (it clamps every quote to it) */
export const GRIEF_SESSION_MS = 2_000
/** the griefer sells this long, then leaves */
export const GRIEF_FOR_MS = 6_000
/** the scenario's burst of honest requests starts this far into the run (the griefer's offer has spread) */
const BURST_AT_MS = 1_000

interface GriefOpen { id: string, buyer: string, maxSpendUc: bigint, endsAtMs: bigint, contractId: string }

/** the opens honest buyers made with the griefer, from an honest node's ledger */
function griefOpens (ctx: SimContext, griefer: string): GriefOpen[] {
  const ref = ctx.running().find(p => p.adversary == null)!.node.ledger.ledger
  const key = ref.keyOf(griefer)
  const out: GriefOpen[] = []
  for (const p of ctx.peers) {
    if (p.adversary != null || p.role !== 'buyer') continue
    for (const r of ref.history(p.node.account)) {
      if (r.kind.type === 'open' && r.kind.seller === key) out.push({ id: r.id, buyer: p.node.account, maxSpendUc: r.kind.maxSpendUc, endsAtMs: r.kind.endsAtMs, contractId: r.kind.contractId })
    }
  }
  return out
}

export default defineScenario({
  name: 'lock-griefer',
  description: `the cheapest seller never settles (${GRIEF_SESSION_MS / 1000} s contracts, gone after ${GRIEF_FOR_MS / 1000} s); buyers release their locks at the contract's end + ${RELEASE_GRACE_MS / 60_000} min`,
  // end + grace + one release check + the gossip's time: a slow trickle of traffic meanwhile
  // (the griefer's customers come from a burst the scenario sends while it sells)
  defaults: { sellersShare: 0.3, durationMs: GRIEF_FOR_MS + RELEASE_GRACE_MS + RELEASE_CHECK_MS + 10_000, requestsPerSec: 0.1 },
  run: async (ctx) => {
    const griefer = await ctx.addPeer({
      role: 'seller',
      adversary: 'lock-griefer',
      priceOutUc: GRIEFER_PRICE_OUT_UC,
      init: { negotiate: { maxSessionMs: GRIEF_SESSION_MS } }
    })
    const withheld = neverSettle(griefer.node)
    // while it sells, every honest buyer asks once (the cheapest offer: the griefer first), twice
    for (const at of [BURST_AT_MS, BURST_AT_MS + GRIEF_SESSION_MS + 500]) {
      ctx.at(at, async () => {
        const buyers = ctx.buyers().filter(p => p.adversary == null)
        const done = await Promise.all(buyers.map(async b => {
          try {
            return (await b.node.infer(ctx.model, { messages: [{ role: 'user', content: `burst from peer ${b.index}` }], maxTokens: 16 })).seller
          } catch {
            return undefined
          }
        }))
        burst.sent += buyers.length
        burst.served += done.filter(x => x != null).length
        burst.byGriefer += done.filter(x => x === griefer.node.account).length
        ctx.figure('burstSent', burst.sent)
        ctx.figure('burstServed', burst.served)
        ctx.figure('burstServedByGriefer', burst.byGriefer)
      })
    }
    const burst = { sent: 0, served: 0, byGriefer: 0 }
    ctx.at(GRIEF_FOR_MS, async () => {
      ctx.figure('settlesWithheld', withheld.withheld())
      await ctx.stopPeer(griefer)
    })
  },
  finish: async (ctx) => {
    const griefer = ctx.peers.find(p => p.adversary === 'lock-griefer')!
    const account = griefer.node.account
    const ref = ctx.running().find(p => p.adversary == null)!.node
    const ledger = ref.ledger.ledger
    const opens = griefOpens(ctx, account)
    let locked = 0n; let lockedCount = 0; let released = 0; let settled = 0; let maxDelay = -Infinity; let maxEnd = 0n
    let chargedUc = 0n; let signedUc = 0n
    for (const o of opens) {
      const history = ledger.history(o.buyer)
      const release = history.find(r => r.kind.type === 'release' && r.kind.openId === o.id)
      const settle = ledger.history(account).find(r => r.kind.type === 'settle' && r.kind.openId === o.id)
      if (settle != null && settle.kind.type === 'settle') { settled++; chargedUc += settle.kind.amountUc }
      if (release != null) {
        released++
        maxDelay = Math.max(maxDelay, Number(release.time - (o.endsAtMs + BigInt(RELEASE_GRACE_MS))))
      }
      if (release == null && settle == null) { locked += o.maxSpendUc; lockedCount++ }
      if (o.endsAtMs > maxEnd) maxEnd = o.endsAtMs
      const buyer = ctx.peers.find(p => p.node.account === o.buyer)!
      const contract = Buffer.from(o.contractId, 'hex')
      for (const life of [...(buyer.pastLives ?? []), buyer.node]) {
        const s = life.buyerSessions.signedUc(contract)
        if (s > 0n) { signedUc += s; break }
      }
    }
    ctx.figure('griefLocks', opens.length)
    ctx.figure('griefLocksWithEnd', opens.filter(o => o.endsAtMs > 0n).length)
    ctx.figure('griefLocksReleased', released)
    ctx.figure('griefLocksSettled', settled)
    ctx.figure('griefLocksStillLocked', lockedCount)
    ctx.figure('griefLockedAtEndUc', locked.toString())
    ctx.figure('maxReleaseAfterEndPlusGraceMs', opens.length === 0 || released === 0 ? 0 : maxDelay)
    ctx.figure('releaseGraceMs', RELEASE_GRACE_MS)
    ctx.figure('griefSignedUc', signedUc.toString())
    ctx.figure('griefChargedUc', chargedUc.toString())
    // every honest account's locks at the end (honest sellers settled theirs)
    ctx.figure('honestLockedAtEndUc', ctx.running().filter(p => p.adversary == null).reduce((s, p) => s + ledger.balance(p.node.account).lockedUc, 0n).toString())
    ctx.figure('griefBalanceUc', ledger.balance(account).balanceUc.toString())
    const rs = ctx.requests()
    ctx.figure('honestCompletedPct', rs.length === 0 ? 100 : Math.round(rs.filter(r => r.ok).length / rs.length * 1000) / 10)
    ctx.figure('servedByGriefer', rs.filter(r => r.ok && r.seller === account).length)
  }
})

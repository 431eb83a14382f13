/**
 * grant-chain: explicit credit lines (ledger.md, `grant` / `revoke`) on a network without a
 * default credit line. Four funded honest buyers grant each other in a ring (A→B→C→D→A), then each
 * tries to pass on the line it received as a grant of its own; a funded buyer grants a fresh key,
 * which tries to grant the next fresh key on (a chain), spends its line and never pays back; the
 * grantor then revokes. A grant is backed by its author's own funds only, so neither the ring nor
 * the chain creates credit. Figures, sampled on an honest ledger through the run: Σ of what all
 * accounts can spend against Σ of their own funds (issued + earned − spent: grants move
 * spendability, never add to it), what any account bears for others (its outstanding grants)
 * against its own funds, accounts below their bound, and the grantor's loss.
 */
import { defineScenario, type SimContext, type SimPeer } from '../scenario.js'

/** each ring member grants the next this much (of its 10 starting credits) */
const RING_GRANT_UC = 6_000_000n
/** the chain's head grants the first fresh key this much */
const CHAIN_GRANT_UC = 3_000_000n
/** fresh keys in the chain after its funded head */
const CHAIN_KEYS = 3
/** the ledgers are sampled this often */
const SAMPLE_MS = 250
const START_MS = 500

/** the account's own funds: what it holds, less its locks (grants it extended are still its own) */
function ownFunds (b: { balanceUc: bigint, lockedUc: bigint }): bigint {
  const f = b.balanceUc - b.lockedUc
  return f > 0n ? f : 0n
}

/** a grant refused by the author's own ledger, by its reason */
async function tryGrant (from: SimPeer, to: SimPeer, amountUc: bigint, refused: Record<string, number>): Promise<string | undefined> {
  try {
    return (await from.node.ledger.grant(to.node.account, amountUc)).id
  } catch (err: any) {
    const why = String(err?.reason ?? err?.code ?? err?.name ?? 'Error')
    refused[why] = (refused[why] ?? 0) + 1
    return undefined
  }
}

export default defineScenario({
  name: 'grant-chain',
  description: 'funded buyers grant each other in a ring and a funded buyer starts a chain of grants through fresh keys; no grant creates credit',
  defaults: { sellersShare: 0.3, durationMs: 5_000, genesis: 'issued' },
  run: async (ctx) => {
    const honest = ctx.buyers().filter(p => p.adversary == null)
    const [ring, head] = [honest.slice(0, 4), honest[4]]
    const chain = [head, ...await Promise.all(Array.from({ length: CHAIN_KEYS }, async () => await ctx.addPeer({ role: 'buyer', adversary: 'grant-chain' })))]
    const sink = ctx.sellers().find(p => p.adversary == null)!
    const ref = (): SimContext['peers'][number]['node'] => ctx.running().find(p => p.adversary == null)!.node
    const refused: Record<string, number> = {}
    let maxExcess = -(2n ** 63n); let maxOverGranted = -(2n ** 63n); let worstBelow = 0; let samples = 0
    ctx.every(SAMPLE_MS, () => {
      const l = ref().ledger
      let spendable = 0n; let own = 0n; let below = 0
      for (const b of l.balances()) {
        if (l.isIssuer(l.ledger.keyOf(b.account))) continue
        spendable += b.spendableUc > 0n ? b.spendableUc : 0n
        own += ownFunds(b)
        const { linesUc, grantedUc } = l.ledger.grants(b.account)
        // every grant backed by a positive balance: what an account bears for others is its own
        if (grantedUc - ownFunds(b) > maxOverGranted) maxOverGranted = grantedUc - ownFunds(b)
        if (!b.flagged && b.availableUc < -(b.creditLimitUc + linesUc + l.ledger.overdraftUc(b.account))) below++
      }
      samples++
      if (spendable - own > maxExcess) maxExcess = spendable - own
      worstBelow = Math.max(worstBelow, below)
      ctx.figure('samples', samples)
      ctx.figure('maxSpendableOverOwnFundsUc', maxExcess.toString())
      ctx.figure('maxGrantedOverOwnFundsUc', maxOverGranted.toString())
      ctx.figure('maxAccountsBelowBound', worstBelow)
    })
    await ctx.sleep(START_MS)

    // the ring: each grants the next, then (once the lines are acked) tries to grant on what it received
    const ringGrants = await Promise.all(ring.map(async (p, i) => await tryGrant(p, ring[(i + 1) % ring.length], RING_GRANT_UC, refused)))
    ctx.figure('ringGrantsValid', ringGrants.filter(g => g != null).length)
    await ctx.sleep(500)
    const before = ring.map(p => ref().ledger.balance(p.node.account))
    ctx.figure('ringSpendableUc', before.reduce((s, b) => s + b.spendableUc, 0n).toString())
    ctx.figure('ringOwnFundsUc', before.reduce((s, b) => s + ownFunds(b), 0n).toString())
    // passing a received line on: a grant beyond the author's own funds
    const onward = await Promise.all(ring.map(async (p, i) => {
      const own = ownFunds(p.node.ledger.balance()) - p.node.ledger.grants().grantedUc
      return await tryGrant(p, ring[(i + 1) % ring.length], (own > 0n ? own : 0n) + RING_GRANT_UC, refused)
    }))
    ctx.figure('ringOnwardGrantsValid', onward.filter(g => g != null).length)

    // the chain: the funded head grants the first fresh key, each fresh key tries to grant the next
    const headGrant = await tryGrant(head, chain[1], CHAIN_GRANT_UC, refused)
    ctx.figure('chainHeadGrantValid', headGrant != null)
    await ctx.sleep(500)
    let chainValid = 0
    for (let i = 1; i < chain.length - 1; i++) if (await tryGrant(chain[i], chain[i + 1], CHAIN_GRANT_UC, refused) != null) chainValid++
    ctx.figure('chainOnwardGrantsValid', chainValid)
    // the first fresh key spends its whole line and never pays back; then the head revokes it
    try {
      await chain[1].node.ledger.pay(sink.node.account, CHAIN_GRANT_UC, { memo: 'spent a granted line' })
      ctx.figure('chainLineSpentUc', CHAIN_GRANT_UC.toString())
    } catch (err: any) {
      ctx.figure('chainLineSpentUc', '0')
      ctx.event(`the fresh key could not spend its line: ${String(err?.message ?? err).slice(0, 120)}`)
    }
    // more than the line: refused
    try {
      await chain[1].node.ledger.pay(sink.node.account, 1n, { memo: 'beyond the line' })
      ctx.figure('chainBeyondLineSpent', true)
    } catch {
      ctx.figure('chainBeyondLineSpent', false)
    }
    if (headGrant != null) await head.node.ledger.revoke(headGrant, CHAIN_GRANT_UC).catch((err: any) => { ctx.event(`revoke failed: ${String(err?.message ?? err).slice(0, 120)}`) })
    ctx.at(ctx.durationMs - 100, () => {
      for (const [k, n] of Object.entries(refused)) ctx.figure(`grantsRefused_${k}`, n)
      const l = ref().ledger
      // the head's loss: its grant stays held (the used part can never come back)
      const h = l.ledger.grants(head.node.account)
      ctx.figure('chainHeadStillGrantedUc', h.grantedUc.toString())
      ctx.figure('chainHeadLossBoundUc', CHAIN_GRANT_UC.toString())
      ctx.figure('chainKeyBalanceUc', l.balance(chain[1].node.account).balanceUc.toString())
    })
  }
})

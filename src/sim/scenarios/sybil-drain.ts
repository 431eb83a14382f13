/**
 * sybil-drain: on a network with no default credit line (genesis 'issued': an issuer credits
 * each honest buyer its starting balance), an adversary controls many fresh keys (5 per peer,
 * 1,000 at most: 100 at 20 peers, 1,000 at 200 and more) and tries, with each, to buy on credit
 * from every honest seller: negotiate a contract, then ask for work without an open. A seller's
 * policy refuses a buyer with nothing spendable before it reserves anything (negotiate.md §
 * Seller risk policy), so the figures are what the keys got (contracts, tokens, credits taken
 * from honest sellers: goal 0) and how much honest traffic still completes; `sybil-drain-baseline`
 * is the same run without the keys, for the comparison.
 */
import { defineScenario, type Scenario, type SimContext } from '../scenario.js'
import { sybilKey, sybilSeed, type SybilAttempt } from '../adversaries/sybil.js'

/** keys per peer of the run, and at most */
export const SYBIL_KEYS_PER_PEER = 5
export const MAX_SYBIL_KEYS = 1_000
/** keys trying at once (each has its own host for the time of its tries) */
const SYBIL_CONCURRENCY = 20
/** what each key asks to lock: the honest router's session lock */
const SYBIL_LOCK_UC = 1_000_000n
/** the attack starts this far into the run */
const ATTACK_AT_MS = 500

/** each run's sybil accounts, for its finish */
const runAccounts = new WeakMap<SimContext, string[]>()

export function sybilKeysFor (peers: number): number {
  return Math.min(MAX_SYBIL_KEYS, peers * SYBIL_KEYS_PER_PEER)
}

/** honest requests completed, % of those sent */
function honestCompletedPct (ctx: SimContext): number {
  const rs = ctx.requests()
  return rs.length === 0 ? 100 : Math.round(rs.filter(r => r.ok).length / rs.length * 10_000) / 100
}

/** the scenario with `keys` sybil keys (undefined: sybilKeysFor(peers); 0: the baseline) */
export function sybilDrain (opts: { name: string, keys?: number }): Scenario {
  return defineScenario({
    name: opts.name,
    description: opts.keys === 0
      ? 'sybil-drain without the adversary: the same network and traffic, for the comparison'
      : `an adversary with ${SYBIL_KEYS_PER_PEER} fresh keys per peer (at most ${MAX_SYBIL_KEYS}) tries to buy on credit from every seller, on a network without a default credit line`,
    defaults: { sellersShare: 0.3, durationMs: 5_000, genesis: 'issued' },
    run: async (ctx) => {
      const nKeys = opts.keys ?? sybilKeysFor(ctx.peers.length)
      ctx.figure('sybilKeys', nKeys)
      if (nKeys === 0) return
      const victims = ctx.sellers().filter(p => p.adversary == null)
      const outcomes: Record<string, number> = {}
      let attempts = 0; let contracts = 0; let served = 0; let tokens = 0; let takenUc = 0n
      const accounts: string[] = []
      runAccounts.set(ctx, accounts)
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < nKeys && !ctx.signal.aborted) {
          const i = next++
          const key = await sybilKey(ctx.links, ctx.net, sybilSeed(String(ctx.peers[0].node.account), i))
          accounts.push(key.account)
          try {
            const got: SybilAttempt[] = await Promise.all(victims.map(async v => await key.attempt(v.node.addrs()[0], ctx.model, SYBIL_LOCK_UC, ctx.signal)))
            got.forEach((a, k) => {
              attempts++
              outcomes[a.outcome] = (outcomes[a.outcome] ?? 0) + 1
              if (a.outcome === 'contract') contracts++
              if (a.outputTokens > 0) served++
              tokens += a.outputTokens
              takenUc += BigInt(a.outputTokens) * victims[k].priceOutUc / 1_000_000n
            })
          } finally {
            await key.stop().catch(() => {})
          }
        }
      }
      await ctx.sleep(ATTACK_AT_MS)
      const t0 = ctx.elapsedMs()
      ctx.event(`sybil attack: ${nKeys} keys against ${victims.length} sellers`)
      await Promise.all(Array.from({ length: Math.min(SYBIL_CONCURRENCY, nKeys) }, worker))
      ctx.event(`sybil attack done: ${attempts} attempts`)
      ctx.figure('sybilAttackMs', Math.round(ctx.elapsedMs() - t0))
      ctx.figure('sybilKeysTried', accounts.length)
      ctx.figure('sybilAttempts', attempts)
      for (const [k, n] of Object.entries(outcomes)) ctx.figure(`sybilOutcome_${k}`, n)
      ctx.figure('sybilContracts', contracts)
      ctx.figure('sybilRequestsServed', served)
      ctx.figure('sybilOutputTokens', tokens)
      ctx.figure('creditsTakenFromHonestSellersUc', takenUc.toString())
    },
    finish: async (ctx) => {
      ctx.figure('honestCompletedPct', honestCompletedPct(ctx))
      ctx.figure('honestRequestsSent', ctx.requests().length)
      const ref = ctx.running().find(p => p.adversary == null)?.node
      const accounts = runAccounts.get(ctx) ?? []
      if (ref == null) return
      // what the keys hold on the honest ledger: nothing was credited to them, nothing locked
      let bal = 0n; let locked = 0n; let withRecords = 0
      for (const a of accounts) {
        const b = ref.ledger.balance(a)
        bal += b.balanceUc; locked += b.lockedUc
        if (ref.ledger.history(a).length > 0) withRecords++
      }
      ctx.figure('sybilBalanceUc', bal.toString())
      ctx.figure('sybilLockedUc', locked.toString())
      ctx.figure('sybilAccountsWithRecords', withRecords)
      // the honest sellers' own count of work no voucher covers
      const unpaid = ctx.peers.filter(p => p.adversary == null && p.running && p.role === 'seller').reduce((s, p) => s + p.node.sellerSessions.unpaid().amountUc, 0n)
      ctx.figure('honestSellersUnpaidUc', unpaid.toString())
      // what the keys left in the sellers' libp2p peer stores: bounded by the node (src/node/peer-store-bound.ts)
      let peerStoreMax = 0
      for (const p of ctx.peers) {
        if (p.adversary != null || !p.running || p.role !== 'seller') continue
        peerStoreMax = Math.max(peerStoreMax, (await p.node.libp2p.peerStore.all()).length)
      }
      ctx.figure('honestSellerPeerStoreMax', peerStoreMax)
    }
  })
}

export default sybilDrain({ name: 'sybil-drain' })
export const sybilDrainBaseline = sybilDrain({ name: 'sybil-drain-baseline', keys: 0 })

/**
 * The loss ledger of a simulation run: for every honest account, what it lost to the others and
 * the bound the protocols promise (protocols/infer.md, protocols/ledger.md).
 *
 * - A seller's loss is work it streamed that no voucher covers; window 1 bounds it, per request,
 *   by one chunk of output plus that request's input tokens (counted by the seller itself).
 * - A buyer's loss is any settle on its contracts above the last voucher it signed for that
 *   contract (bound: 0 — a settle carries the buyer's own signed voucher).
 * - A forked (double-spending) account can spend its spendable balance once per extra branch:
 *   its overdraft beyond its credit line (and the explicit lines granted to it, which their
 *   grantors bear) is the market's loss, bounded by the credit line times the number of
 *   conflicting seqs proven against it.
 */
import type { TallyNode } from '../node/tally.js'
import type { PastLife, SimPeer } from './scenario.js'

export interface AccountLoss {
  index: number
  account: string
  role: string
  /** seller: work streamed that no voucher covers, µc */
  unpaidWorkUc: string
  /** seller: Σ per request of the one-chunk + input bound, µc */
  unpaidBoundUc: string
  unpaidRequests: number
  /** buyer: settled above what it signed, µc (bound 0) */
  overchargedUc: string
  /** still locked in opens no settle closed (released at settle or expiry), µc */
  lockedUc: string
  withinBound: boolean
}

export interface Overdraft {
  index: number
  account: string
  adversary: string
  balanceUc: string
  creditLimitUc: string
  /** −balance − credit limit − lines granted to it, when positive */
  overdraftUc: string
  /** credit limit × conflicting seqs proven */
  boundUc: string
  withinBound: boolean
}

export interface LossLedger {
  /** honest accounts with any unpaid work, overcharge or open lock (the rest lost nothing) */
  accounts: AccountLoss[]
  honestAccounts: number
  honestSellersUnpaidUc: string
  honestSellersUnpaidBoundUc: string
  honestBuyersOverchargedUc: string
  overdrafts: Overdraft[]
  /** every honest account within its bound and every overdraft within its bound */
  withinBounds: boolean
}

/** what a buyer was charged above its own last signed voucher, over every settle on its contracts */
function overcharged (ref: TallyNode, account: string, lives: readonly PastLife[]): bigint {
  const ledger = ref.ledger.ledger
  let over = 0n
  for (const r of ledger.history(account)) {
    if (r.kind.type !== 'settle') continue
    const open = ledger.get(r.kind.openId)?.rec
    if (open == null || open.kind.type !== 'open' || ledger.accountId(open.from) !== account) continue
    const contract = Buffer.from(open.kind.contractId, 'hex')
    // the contract may belong to an earlier life of the account (a peer that left and came back)
    const signed = lives.reduce((m, l) => { const s = l.buyerSessions.signedUc(contract); return s > m ? s : m }, 0n)
    if (r.kind.amountUc > signed) over += r.kind.amountUc - signed
  }
  return over
}

/**
 * Build the loss ledger from each honest peer's own counters and a reference honest node's
 * ledger (every honest ledger agrees at the end of a converged run).
 */
export function lossLedger (peers: readonly SimPeer[], ref: TallyNode | undefined): LossLedger {
  const honest = peers.filter(p => p.adversary == null && p.running)
  const accounts: AccountLoss[] = []
  let unpaid = 0n; let bound = 0n; let over = 0n
  let ok = true
  for (const p of honest) {
    const lives: PastLife[] = [...(p.pastLives ?? []).filter(l => l.account === p.node.account), p.node]
    const u = lives.map(l => l.sellerSessions.unpaid()).reduce((a, b) => ({ requests: a.requests + b.requests, inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens, amountUc: a.amountUc + b.amountUc, boundUc: a.boundUc + b.boundUc, maxOutputTokens: a.maxOutputTokens > b.maxOutputTokens ? a.maxOutputTokens : b.maxOutputTokens }))
    const o = ref == null ? 0n : overcharged(ref, p.node.account, lives)
    const locked = ref == null ? 0n : ref.ledger.ledger.balance(p.node.account).lockedUc
    const within = u.amountUc <= u.boundUc && o === 0n
    unpaid += u.amountUc; bound += u.boundUc; over += o
    ok &&= within
    if (u.requests > 0 || o > 0n || locked > 0n) {
      accounts.push({ index: p.index, account: p.node.account, role: p.role, unpaidWorkUc: u.amountUc.toString(), unpaidBoundUc: u.boundUc.toString(), unpaidRequests: u.requests, overchargedUc: o.toString(), lockedUc: locked.toString(), withinBound: within })
    }
  }
  const overdrafts: Overdraft[] = []
  if (ref != null) {
    const proofs = new Map<string, number>()
    for (const f of ref.ledger.ledger.fraudProofs()) proofs.set(f.account, (proofs.get(f.account) ?? 0) + 1)
    for (const p of peers) {
      const b = ref.ledger.ledger.balance(p.node.account)
      // an explicit credit line it received (grant) is spendable like the credit limit: its grantor bears it
      const od = -b.balanceUc - b.creditLimitUc - ref.ledger.ledger.grants(p.node.account).linesUc
      if (od <= 0n && !b.flagged) continue
      const odBound = b.creditLimitUc * BigInt(proofs.get(p.node.account) ?? 0)
      const within = od <= odBound
      ok &&= within
      overdrafts.push({ index: p.index, account: p.node.account, adversary: p.adversary ?? '', balanceUc: b.balanceUc.toString(), creditLimitUc: b.creditLimitUc.toString(), overdraftUc: (od > 0n ? od : 0n).toString(), boundUc: odBound.toString(), withinBound: within })
    }
  }
  return {
    accounts,
    honestAccounts: honest.length,
    honestSellersUnpaidUc: unpaid.toString(),
    honestSellersUnpaidBoundUc: bound.toString(),
    honestBuyersOverchargedUc: over.toString(),
    overdrafts,
    withinBounds: ok
  }
}

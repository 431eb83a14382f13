/**
 * The validity rule of a record given its causal ancestors (protocols/ledger.md §Validity).
 * Pure: no clock, no I/O; the caller supplies a view of already-valid records. A record's
 * verdict depends only on itself and records it names (prev, acks, the settled open), so
 * once valid it stays valid, whatever else arrives.
 */
import type { Genesis } from './genesis.js'
import type { ParsedRecord } from './record.js'
import type { RejectReason } from './errors.js'
import { toHex } from './record.js'

/** Running sums of one chain, after a record (all µc). */
export interface ChainState {
  /** acked incoming credit (transfers, credits, settle refunds) plus own settle payouts */
  acked: bigint
  /** transfers out and settled amounts of own opens */
  debits: bigint
  /** max spend of own opens whose settle this chain has not acked */
  locked: bigint
  /** credit lines extended (issuers only) */
  issued: bigint
  /** explicit credit lines this chain extended and still bears: grants − revokes returned */
  granted: bigint
  /** explicit credit lines this chain received and acked: acked grants − acked revokes */
  lines: bigint
}

/**
 * How long after its contract's end (Open.endsAtMs) a buyer must wait before releasing a lock
 * its seller did not settle: room for a settle in flight. A protocol constant: compared with the
 * release record's own signed time, never with a clock.
 */
export const RELEASE_GRACE_MS = 5 * 60_000

export const EMPTY_STATE: ChainState = Object.freeze({ acked: 0n, debits: 0n, locked: 0n, issued: 0n, granted: 0n, lines: 0n })

export interface ValidRecord {
  rec: ParsedRecord
  state: ChainState
}

/** What validity may read: valid records, and the two "before in this chain" questions. */
export interface AncestorView {
  get(id: string): ValidRecord | undefined
  /** known to be invalid (its dependants are invalid too) */
  isRejected(id: string): boolean
  /** does the chain ending at `head` (inclusive) contain a record by `author` that acks `ackId`? */
  ackedInChain(author: string, ackId: string, head: ValidRecord | undefined): boolean
  /** does the chain ending at `head` (inclusive) contain a settle of `openId`? */
  settledInChain(author: string, openId: string, head: ValidRecord | undefined): boolean
  /**
   * has the chain of `author` ending at `head` (inclusive) released the lock of `openId`, and how:
   * 'settle' when one of its records acked a settle of the open, else 'release' when one of its
   * records is a release of it; undefined when the lock is still held in this chain
   */
  releasedInChain(author: string, openId: string, head: ValidRecord | undefined): LockRelease | undefined
  /** is the valid record `id` on the chain ending at `head` (inclusive)? */
  inChain(id: string, head: ValidRecord | undefined): boolean
  /** Σ amounts of the revokes of `grantId` on the chain of `author` ending at `head` (inclusive) */
  revokedInChain(author: string, grantId: string, head: ValidRecord | undefined): bigint
  /** has the chain of `author` ending at `head` (inclusive) acked a record that acked the revoke `revokeId`? */
  returnedInChain(author: string, revokeId: string, head: ValidRecord | undefined): boolean
}

/** how a chain released an open's lock (at most once per chain, whatever the seller's forks) */
export type LockRelease = 'settle' | 'release'

export interface NetRules {
  defaultCreditLimitUc: bigint
  maxSessionLockUc: bigint
  /** smallest transfer (µc); 0 = none */
  minTransferUc: bigint
  /** hex public key → cap (µc) */
  issuers: Map<string, bigint>
}

export function netRules (g: Genesis): NetRules {
  return {
    defaultCreditLimitUc: g.defaultCreditLimitUc,
    maxSessionLockUc: g.maxSessionLockUc,
    minTransferUc: g.minTransferUc ?? 0n,
    issuers: new Map(g.issuers.map(i => [toHex(i.publicKey), i.capUc]))
  }
}

export type Verdict =
  | { ok: true, state: ChainState }
  | { ok: false, reason: RejectReason, message: string }
  | { ok: 'missing', missing: string[] }

/** the ids a record needs before it can be judged */
export function dependencies (rec: ParsedRecord): string[] {
  const deps: string[] = []
  if (rec.prev !== '') deps.push(rec.prev)
  for (const a of rec.acks) deps.push(a)
  if (rec.kind.type === 'settle' || rec.kind.type === 'release') deps.push(rec.kind.openId)
  if (rec.kind.type === 'revoke') deps.push(rec.kind.grantId)
  return deps
}

const no = (reason: RejectReason, message: string): Verdict => ({ ok: false, reason, message })

/** What an acked record is worth to `author`: income, or a settle of one of its own opens. */
function ackEffect (author: string, target: ValidRecord, view: AncestorView): { income: bigint } | { openId: string, maxSpendUc: bigint, debit: bigint } | undefined {
  const k = target.rec.kind
  if ((k.type === 'transfer' || k.type === 'credit') && k.to === author) return { income: k.amountUc }
  if (k.type === 'settle') {
    const open = view.get(k.openId)
    if (open?.rec.kind.type === 'open' && open.rec.from === author) return { openId: k.openId, maxSpendUc: open.rec.kind.maxSpendUc, debit: k.amountUc }
  }
  return undefined
}

/** a grant to `author`, or a revoke of a grant to `author` */
function lineEffect (author: string, target: ValidRecord, view: AncestorView): { type: 'grant', amountUc: bigint } | { type: 'revoke', grantId: string, amountUc: bigint } | undefined {
  const k = target.rec.kind
  if (k.type === 'grant' && k.to === author) return { type: 'grant', amountUc: k.amountUc }
  if (k.type === 'revoke') {
    const g = view.get(k.grantId)?.rec.kind
    if (g?.type === 'grant' && g.to === author) return { type: 'revoke', grantId: k.grantId, amountUc: k.amountUc }
  }
  return undefined
}

export function judge (rec: ParsedRecord, view: AncestorView, rules: NetRules): Verdict {
  const deps = dependencies(rec)
  const missing: string[] = []
  for (const d of deps) {
    if (view.get(d) != null) continue
    if (view.isRejected(d)) return no('invalid-ancestor', `depends on invalid record ${d}`)
    missing.push(d)
  }
  if (missing.length > 0) return { ok: 'missing', missing }

  let head: ValidRecord | undefined
  if (rec.prev !== '') {
    head = view.get(rec.prev)!
    if (head.rec.from !== rec.from || head.rec.seq !== rec.seq - 1n) return no('bad-chain', `prev must be the author's record at seq ${rec.seq - 1n}`)
  }
  const s = head?.state ?? EMPTY_STATE
  let { acked, debits, locked, issued, granted, lines } = s

  // opens whose settle this record acks: a chain acks at most one settle per open
  const settledHere = new Set<string>()
  // grants acked here (a revoke of one may be acked in the same record), revokes returned here
  const grantsHere = new Set<string>()
  for (const a of rec.acks) if (view.get(a)!.rec.kind.type === 'grant') grantsHere.add(a)
  const returnedHere = new Set<string>()
  let acksRevoke = false
  for (const a of rec.acks) {
    const target = view.get(a)!
    if (view.ackedInChain(rec.from, a, head)) return no('double-ack', `ack ${a} was acked before in this chain`)
    // the grantor acks the grantee's record that acked its revokes: the revoked part comes back,
    // once per revoke per chain (a forked grantee acking one revoke on two branches returns it once)
    let returned = false
    for (const b of target.rec.acks) {
      const rv = view.get(b)?.rec
      if (rv?.kind.type !== 'revoke' || rv.from !== rec.from || target.rec.from === rec.from) continue
      if (!view.inChain(b, head)) continue
      if (returnedHere.has(b) || view.returnedInChain(rec.from, b, head)) return no('double-release', `revoke ${b} was returned before in this chain`)
      returnedHere.add(b)
      granted -= rv.kind.amountUc
      returned = true
    }
    const line = lineEffect(rec.from, target, view)
    if (line != null) {
      if (line.type === 'grant') {
        lines += line.amountUc
      } else {
        if (!grantsHere.has(line.grantId) && !view.ackedInChain(rec.from, line.grantId, head)) return no('bad-ack', `revoke ${a} names grant ${line.grantId}, which this chain has not acked`)
        lines -= line.amountUc
        acksRevoke = true
      }
      continue
    }
    const effect = ackEffect(rec.from, target, view)
    if (effect == null) {
      if (returned) continue
      return no('bad-ack', `ack ${a} does not credit this account`)
    }
    if ('income' in effect) {
      acked += effect.income
      continue
    }
    const released = settledHere.has(effect.openId) ? 'settle' : view.releasedInChain(rec.from, effect.openId, head)
    if (released === 'settle') return no('double-release', `a settle of open ${effect.openId} was acked before in this chain: its lock is released once`)
    settledHere.add(effect.openId)
    // the buyer owes what it vouchered; the lock comes off only if no release took it off before
    debits += effect.debit
    if (released == null) locked -= effect.maxSpendUc
  }

  const k = rec.kind
  if (k.type === 'transfer') {
    if (k.amountUc < rules.minTransferUc) return no('bad-amount', `transfer of ${k.amountUc} µc is below the network's minimum ${rules.minTransferUc}`)
    debits += k.amountUc
  } else if (k.type === 'open') {
    if (rules.maxSessionLockUc > 0n && k.maxSpendUc > rules.maxSessionLockUc) return no('lock-too-large', `open locks ${k.maxSpendUc} µc, net maximum ${rules.maxSessionLockUc}`)
    locked += k.maxSpendUc
  } else if (k.type === 'settle') {
    const open = view.get(k.openId)!
    const o = open.rec.kind
    if (o.type !== 'open') return no('bad-settle', 'settle must name an open record')
    if (o.seller !== rec.from) return no('bad-settle', 'only the open\'s seller may settle it')
    if (view.settledInChain(rec.from, k.openId, head)) return no('double-settle', `open ${k.openId} was settled before in this chain`)
    if (k.voucher != null) {
      if (k.voucher.signer !== open.rec.from) return no('bad-voucher', 'voucher is not signed by the open\'s buyer')
      if (k.voucher.contractId !== o.contractId) return no('bad-voucher', 'voucher is for another contract')
    }
    if (k.amountUc > o.maxSpendUc) return no('bad-settle', `settle amount ${k.amountUc} exceeds the lock ${o.maxSpendUc}`)
    acked += k.amountUc
  } else if (k.type === 'release') {
    const o = view.get(k.openId)!.rec
    if (o.kind.type !== 'open') return no('bad-release', 'release must name an open record')
    if (o.from !== rec.from) return no('bad-release', 'only the open\'s buyer may release it')
    if (o.kind.endsAtMs === 0n) return no('bad-release', 'the open has no end (endsAtMs 0): only a settle releases it')
    const from = o.kind.endsAtMs + BigInt(RELEASE_GRACE_MS)
    if (rec.time < from) return no('release-too-early', `release dated ${rec.time}, allowed from ${from} (the contract's end + ${RELEASE_GRACE_MS} ms)`)
    if (settledHere.has(k.openId) || view.releasedInChain(rec.from, k.openId, head) != null) return no('double-release', `the lock of open ${k.openId} was released before in this chain`)
    locked -= o.kind.maxSpendUc
  } else if (k.type === 'credit') {
    const cap = rules.issuers.get(rec.from)
    if (cap == null) return no('not-issuer', 'credit lines come only from genesis issuers')
    issued += k.amountUc
    if (issued > cap) return no('over-cap', `issuer would extend ${issued} µc, cap ${cap}`)
  } else if (k.type === 'grant') {
    // backed by the author's own funds only: lines it received never back a grant
    granted += k.amountUc
    if (acked - debits - locked - granted < -rules.defaultCreditLimitUc) return no('grant-unbacked', `own headroom ${acked - debits - locked - granted} µc after the grant is below the credit limit -${rules.defaultCreditLimitUc} (received lines do not back grants)`)
  } else if (k.type === 'revoke') {
    const g = view.get(k.grantId)!.rec
    if (g.kind.type !== 'grant') return no('bad-revoke', 'revoke must name a grant record')
    if (g.from !== rec.from) return no('bad-revoke', 'only the grant\'s author may revoke it')
    const total = view.revokedInChain(rec.from, k.grantId, head) + k.amountUc
    if (total > g.kind.amountUc) return no('bad-revoke', `revokes of grant ${k.grantId} would total ${total} µc, the grant is ${g.kind.amountUc}`)
  }

  // only the kinds that spend must keep the headroom: the others only raise it, except the ack of
  // a settle that came after its lock's release, which the buyer owes (the overdraft it can cause
  // is bounded by that lock: ledger.md § Balances)
  // a received line raises the floor; acking a revoke lowers it, so only the unused part can be revoked
  if ((k.type === 'transfer' || k.type === 'open' || acksRevoke) && acked - debits - locked - granted < -(rules.defaultCreditLimitUc + lines)) {
    return no('overspend', `headroom ${acked - debits - locked - granted} µc is below the credit limit -${rules.defaultCreditLimitUc} and lines ${lines}`)
  }
  return { ok: true, state: { acked, debits, locked, issued, granted, lines } }
}

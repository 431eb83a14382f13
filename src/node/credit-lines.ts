/**
 * An account's explicit credit lines as this node's ledger holds them (ledger.md, grant and
 * revoke): the lines it granted others (amount still borne, used, unused) and the lines it
 * received (from whom, amount, used). Read-only over the Ledger's queries; no clock.
 *
 * `used` is the grantee's draw on its lines: how far its own funds plus the network's credit
 * line are below 0, at most the sum of its acked lines. A chain does not say which line a debit
 * drew on, so the draw is put on the grantee's lines in the order its chain acked them, oldest
 * first (each grantor sees the same figure for its own line, on any node with the same records).
 */
import type { Ledger, ParsedRecord, ValidRecord } from '../ledger/index.js'

export interface LineGranted {
  grantId: string
  /** the grantee's account id */
  grantee: string
  /** the grant less the revokes returned to this account: what it still bears (µc) */
  amountUc: bigint
  /** what the grantee has drawn on it (µc) */
  usedUc: bigint
  /** amountUc − usedUc: what a revoke can still take back */
  unusedUc: bigint
}

export interface LineReceived {
  grantId: string
  /** the grantor's account id */
  grantor: string
  /** the grantor's public key, hex */
  grantorKey: string
  /** the grant less the revokes this account gave back (µc) */
  amountUc: bigint
  /** what this account has drawn on it (µc); 0 until it acked the grant */
  usedUc: bigint
  /** this account's chain acked the grant (before that it only counts as incoming credit) */
  acked: boolean
}

export interface CreditLines {
  granted: LineGranted[]
  /** (what the API answers names accounts by id only) */
  received: Array<Omit<LineReceived, 'grantorKey'>>
}

/** the account's head (highest seq, smallest id on a tie), as the ledger picks it */
function headOf (ledger: Ledger, key: string, history: ParsedRecord[]): ValidRecord | undefined {
  let head: ParsedRecord | undefined
  for (const r of history) {
    if (r.from !== key) continue
    if (head == null || r.seq > head.seq || (r.seq === head.seq && r.id < head.id)) head = r
  }
  return head != null ? ledger.get(head.id) : undefined
}

/** lines granted to `key` (hex) that count in its spendable balance: acked, or valid and not acked yet; `withUse` fills usedUc */
export function receivedLines (ledger: Ledger, key: string, withUse = true): LineReceived[] {
  const history = ledger.history(key)
  const head = headOf(ledger, key, history)
  const revokes = new Map<string, ParsedRecord[]>()
  for (const r of history) if (r.kind.type === 'revoke') revokes.set(r.kind.grantId, [...(revokes.get(r.kind.grantId) ?? []), r])
  const lines: LineReceived[] = []
  for (const g of history) {
    if (g.kind.type !== 'grant' || g.kind.to !== key || g.from === key) continue
    let back = 0n
    for (const rv of revokes.get(g.id) ?? []) if (rv.kind.type === 'revoke' && ledger.ackedInChain(key, rv.id, head)) back += rv.kind.amountUc
    const amountUc = g.kind.amountUc - back
    if (amountUc <= 0n) continue
    lines.push({ grantId: g.id, grantor: ledger.accountId(g.from), grantorKey: g.from, amountUc, usedUc: 0n, acked: ledger.ackedInChain(key, g.id, head) })
  }
  if (!withUse || lines.length === 0) return lines
  const s = ledger.headState(key)
  const own = s.acked - s.debits - s.locked - s.granted + ledger.creditLimit(key)
  let draw = own < 0n ? -own : 0n
  // the chain's ack order: the first record of the chain that acked each line
  const ackedAt = new Map<string, bigint>()
  for (const r of history) {
    if (r.from !== key) continue
    for (const a of r.acks) if (!ackedAt.has(a) || ackedAt.get(a)! > r.seq) ackedAt.set(a, r.seq)
  }
  const order = lines.filter(l => l.acked).sort((a, b) => {
    const x = ackedAt.get(a.grantId) ?? 0n
    const y = ackedAt.get(b.grantId) ?? 0n
    return x < y ? -1 : x > y ? 1 : a.grantId < b.grantId ? -1 : 1
  })
  for (const l of order) {
    l.usedUc = draw < l.amountUc ? draw : l.amountUc
    draw -= l.usedUc
  }
  return lines
}

/** lines `key` (hex) granted that it still bears, with each grantee's draw on it */
export function grantedLines (ledger: Ledger, key: string): LineGranted[] {
  const history = ledger.history(key)
  const head = headOf(ledger, key, history)
  const lines: LineGranted[] = []
  for (const g of history) {
    if (g.kind.type !== 'grant' || g.from !== key) continue
    let returned = 0n
    for (const rv of history) {
      if (rv.kind.type === 'revoke' && rv.kind.grantId === g.id && rv.from === key && ledger.returnedInChain(key, rv.id, head)) returned += rv.kind.amountUc
    }
    const amountUc = g.kind.amountUc - returned
    if (amountUc <= 0n) continue
    const theirs = receivedLines(ledger, g.kind.to).find(l => l.grantId === g.id)
    const used = theirs?.usedUc ?? 0n
    const usedUc = used < amountUc ? used : amountUc
    lines.push({ grantId: g.id, grantee: ledger.accountId(g.kind.to), amountUc, usedUc, unusedUc: amountUc - usedUc })
  }
  return lines
}

/** both sides of an account's credit lines */
export function creditLines (ledger: Ledger, account: string | Uint8Array): CreditLines {
  const key = ledger.keyOf(account)
  return { granted: grantedLines(ledger, key), received: receivedLines(ledger, key).map(({ grantorKey: _, ...l }) => l) }
}

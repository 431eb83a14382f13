/**
 * Cost accounting in compute: every routed request and every agent payment is one entry,
 * with an optional tag; reports group them by tag, model or seller. Entries are appended to a
 * JSON-lines file in the data dir (or kept in memory), so `tally report` survives restarts.
 * What inference cost is reconciled with the ledger: a report separates what a settle charged
 * (spent) from what the buyer signed for a session not settled yet (pending) and from what it
 * signed beyond the settle that ended the session (never charged: a seller that crashed or
 * settled low), so the report's spent equals what the ledger took.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { formatNanoBpt, nanoBpt } from '../exec/pricing.js'

/** 'embeddings': an embeddings request, bought and settled like inference (input tokens only) */
export type CostKind = 'inference' | 'embeddings' | 'payment-sent' | 'payment-received'

/** a purchase from a seller on a session (settled by the contract's settle) */
export function isPurchase (kind: CostKind): boolean {
  return kind === 'inference' || kind === 'embeddings'
}

export interface CostEntry {
  atMs: number
  kind: CostKind
  tag: string
  model: string
  /** seller for inference, counterparty for payments */
  counterparty: string
  inputTokens: number
  outputTokens: number
  /** tokens × params: Bpt × 1e9, exact */
  tokenParams: bigint
  amountUc: bigint
  /** inference: the session's contract id (hex), to match the ledger's settle of its open */
  contractId?: string
}

export interface ReportRow {
  key: string
  requests: number
  inputTokens: number
  outputTokens: number
  bpt: string
  /** inference the ledger charged: the part of what was signed that a settle covered */
  spentUc: bigint
  /** every voucher amount the buyer signed (= spent + pending + uncharged) */
  signedUc: bigint
  /** signed for sessions the ledger has not settled yet (or that name no contract) */
  pendingUc: bigint
  /** signed, but the session's settle charged less: never spent */
  unchargedUc: bigint
  paymentsSentUc: bigint
  paymentsReceivedUc: bigint
}

export type ReportBy = 'tag' | 'model' | 'seller'

/** Bpt as an exact decimal string from tokens × params */
export const formatBpt = formatNanoBpt

export function tokenParams (inputTokens: number, outputTokens: number, params: number): bigint {
  return nanoBpt(inputTokens + outputTokens, params)
}

/** the untagged group's name in reports */
export const UNTAGGED = '(untagged)'

/** the amount a settle charged for a contract (hex id); undefined while its session is not settled */
export type SettledLookup = (contractId: string) => bigint | undefined

/**
 * Each inference entry's share of its contract's settle. A session's vouchers are cumulative, so
 * a settle covers a prefix of what was signed: entries, in the order booked, take it first come.
 */
function settledShares (entries: readonly CostEntry[], settled: SettledLookup): Map<CostEntry, bigint | undefined> {
  const out = new Map<CostEntry, bigint | undefined>()
  const before = new Map<string, bigint>()
  for (const e of entries) {
    if (!isPurchase(e.kind) || e.contractId == null) continue
    const s = settled(e.contractId)
    const from = before.get(e.contractId) ?? 0n
    before.set(e.contractId, from + e.amountUc)
    if (s == null) { out.set(e, undefined); continue }
    const covered = s - from
    out.set(e, covered <= 0n ? 0n : covered >= e.amountUc ? e.amountUc : covered)
  }
  return out
}

export function aggregate (entries: Iterable<CostEntry>, by: ReportBy, sinceMs = 0, settled: SettledLookup = () => undefined): ReportRow[] {
  const all = [...entries]
  const shares = settledShares(all, settled)
  const rows = new Map<string, ReportRow & { tp: bigint }>()
  for (const e of all) {
    if (e.atMs < sinceMs) continue
    const key = by === 'tag' ? (e.tag === '' ? UNTAGGED : e.tag) : by === 'model' ? (e.model === '' ? '(payments)' : e.model) : e.counterparty
    let r = rows.get(key)
    if (r == null) {
      r = { key, requests: 0, inputTokens: 0, outputTokens: 0, bpt: '0', spentUc: 0n, signedUc: 0n, pendingUc: 0n, unchargedUc: 0n, paymentsSentUc: 0n, paymentsReceivedUc: 0n, tp: 0n }
      rows.set(key, r)
    }
    if (isPurchase(e.kind)) {
      r.requests++
      r.inputTokens += e.inputTokens
      r.outputTokens += e.outputTokens
      r.tp += e.tokenParams
      r.signedUc += e.amountUc
      const share = shares.get(e)
      if (share == null) r.pendingUc += e.amountUc
      else {
        r.spentUc += share
        r.unchargedUc += e.amountUc - share
      }
    } else if (e.kind === 'payment-sent') {
      r.paymentsSentUc += e.amountUc
    } else {
      r.paymentsReceivedUc += e.amountUc
    }
  }
  return [...rows.values()]
    .map(({ tp, ...r }) => ({ ...r, bpt: formatBpt(tp) }))
    .sort((a, b) => (a.signedUc === b.signedUc ? (a.key < b.key ? -1 : 1) : a.signedUc > b.signedUc ? -1 : 1))
}

interface StoredEntry { atMs: number, kind: CostKind, tag: string, model: string, counterparty: string, inputTokens: number, outputTokens: number, tokenParams: string, amountUc: string, contractId?: string }

export class CostBook {
  private readonly entries: CostEntry[] = []

  /** @param file JSON-lines file to load and append to; omit for memory only */
  constructor (private readonly file?: string) {
    if (file != null && existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trim() === '') continue
        try {
          const s = JSON.parse(line) as StoredEntry
          this.entries.push({ ...s, tokenParams: BigInt(s.tokenParams), amountUc: BigInt(s.amountUc) })
        } catch {
          // a torn last line after a crash: the entries before it stand
        }
      }
    }
  }

  add (e: CostEntry): void {
    this.entries.push(e)
    if (this.file != null) {
      const s: StoredEntry = { ...e, tokenParams: e.tokenParams.toString(), amountUc: e.amountUc.toString() }
      appendFileSync(this.file, JSON.stringify(s) + '\n')
    }
  }

  all (): readonly CostEntry[] {
    return this.entries
  }

  /** grouped totals; with `settled` (the ledger's view) inference is split into spent, pending and uncharged */
  report (by: ReportBy = 'tag', sinceMs = 0, settled?: SettledLookup): ReportRow[] {
    return aggregate(this.entries, by, sinceMs, settled)
  }
}

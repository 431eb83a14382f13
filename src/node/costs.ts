/**
 * Cost accounting in compute: every routed request and every agent payment is one entry,
 * with an optional tag; reports group them by tag, model or seller. Entries are appended to a
 * JSON-lines file in the data dir (or kept in memory), so `tally report` survives restarts.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { formatNanoBpt, nanoBpt } from '../exec/pricing.js'

export type CostKind = 'inference' | 'payment-sent' | 'payment-received'

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
}

export interface ReportRow {
  key: string
  requests: number
  inputTokens: number
  outputTokens: number
  bpt: string
  spentUc: bigint
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

export function aggregate (entries: Iterable<CostEntry>, by: ReportBy, sinceMs = 0): ReportRow[] {
  const rows = new Map<string, ReportRow & { tp: bigint }>()
  for (const e of entries) {
    if (e.atMs < sinceMs) continue
    const key = by === 'tag' ? (e.tag === '' ? UNTAGGED : e.tag) : by === 'model' ? (e.model === '' ? '(payments)' : e.model) : e.counterparty
    let r = rows.get(key)
    if (r == null) {
      r = { key, requests: 0, inputTokens: 0, outputTokens: 0, bpt: '0', spentUc: 0n, paymentsSentUc: 0n, paymentsReceivedUc: 0n, tp: 0n }
      rows.set(key, r)
    }
    if (e.kind === 'inference') {
      r.requests++
      r.inputTokens += e.inputTokens
      r.outputTokens += e.outputTokens
      r.tp += e.tokenParams
      r.spentUc += e.amountUc
    } else if (e.kind === 'payment-sent') {
      r.paymentsSentUc += e.amountUc
    } else {
      r.paymentsReceivedUc += e.amountUc
    }
  }
  return [...rows.values()]
    .map(({ tp, ...r }) => ({ ...r, bpt: formatBpt(tp) }))
    .sort((a, b) => (a.spentUc === b.spentUc ? (a.key < b.key ? -1 : 1) : a.spentUc > b.spentUc ? -1 : 1))
}

interface StoredEntry { atMs: number, kind: CostKind, tag: string, model: string, counterparty: string, inputTokens: number, outputTokens: number, tokenParams: string, amountUc: string }

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

  report (by: ReportBy = 'tag', sinceMs = 0): ReportRow[] {
    return aggregate(this.entries, by, sinceMs)
  }
}

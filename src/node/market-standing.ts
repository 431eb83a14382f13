/**
 * A seller's standing for the order book's admission (protocols/market.md § Order book), read
 * from the ledger: sessions it settled for a paid amount, and its balance when positive. The book
 * stays pure; the node composes this callback into it.
 */
import type { Ledger } from '../ledger/ledger.js'
import type { SellerStanding } from '../market/order-book.js'

export function sellerStanding (ledger: Ledger, sellerId: string): SellerStanding | undefined {
  let key: string
  try {
    key = ledger.keyOf(sellerId)
  } catch {
    return undefined
  }
  let settledSessions = 0
  for (const r of ledger.history(key)) {
    if (r.from === key && r.kind.type === 'settle' && r.kind.amountUc > 0n) settledSessions++
  }
  const balance = ledger.balance(key).balanceUc
  return { settledSessions, earnedUc: balance > 0n ? balance : 0n }
}

/** Live bids seen on the bids topic, per (buyer, model), bounded; pure like the order book. */
import { openBid, type Bid } from './bid.js'

/** bids are optional hints to sellers; a small cap is enough */
export const DEFAULT_MAX_BIDS = 2_000

export type BidIngestResult =
  | { status: 'accepted' | 'stale' | 'duplicate', bid: Bid }
  | { status: 'rejected', error: Error }

export class BidBook {
  private readonly entries = new Map<string, Bid>()
  constructor (private readonly maxBids = DEFAULT_MAX_BIDS) {}

  get size (): number {
    return this.entries.size
  }

  ingest (bytes: Uint8Array, net: Uint8Array, nowMs: number): BidIngestResult {
    let bid: Bid
    try {
      bid = openBid(bytes, net, nowMs)
    } catch (error: any) {
      return { status: 'rejected', error }
    }
    const key = `${bid.buyerId}\n${bid.modelId}`
    const held = this.entries.get(key)
    if (held != null && BigInt(Math.floor(nowMs)) < held.expiresAtMs) {
      if (held.seq === bid.seq && Buffer.compare(held.id, bid.id) === 0) return { status: 'duplicate', bid }
      if (bid.seq <= held.seq) return { status: 'stale', bid }
    }
    this.entries.delete(key)
    this.entries.set(key, bid)
    while (this.entries.size > this.maxBids) {
      const first = this.entries.keys().next().value
      if (first === undefined) break
      this.entries.delete(first)
    }
    return { status: 'accepted', bid }
  }

  /** live bids, optionally for one model, oldest first */
  list (nowMs: number, model?: string): Bid[] {
    const now = BigInt(Math.floor(nowMs))
    return [...this.entries.values()].filter(b => b.expiresAtMs > now && (model == null || b.modelId === model))
  }
}

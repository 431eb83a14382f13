/**
 * /tally/offers/1.0.0: a joining peer asks a neighbour for the offers it holds, so it need not
 * wait for every seller's next re-announce. The answer is a stream of signed offer envelopes,
 * each verified and ranged exactly as if it had come over gossip; it is a hint, never trusted.
 */
import { lpStream } from '@libp2p/utils'
import type { Connection, Logger, PeerId, Stream } from '@libp2p/interface'
import type { OrderBook } from './order-book.js'
import { MAX_OFFER_BYTES } from '../wire/limits.js'
import { deadline, endStream } from '../wire/deadline.js'

export const BOOK_SYNC_PROTOCOL = '/tally/offers/1.0.0'
/** offers sent to one asking peer (newest first) */
export const MAX_SNAPSHOT_OFFERS = 2_000
/** the whole exchange is bounded by this */
export const BOOK_SYNC_TIMEOUT_MS = 5_000
/** one peer is asked again at most this often */
const REASK_AFTER_MS = 60_000
const MAX_INBOUND_STREAMS = 4

export interface BookSyncComponents {
  libp2p: {
    handle: (protocol: string, handler: (stream: Stream, connection: Connection) => void, opts?: { maxInboundStreams?: number }) => Promise<void>
    unhandle: (protocol: string) => Promise<void>
    dialProtocol: (peer: PeerId, protocol: string, opts?: { signal?: AbortSignal }) => Promise<Stream>
  }
  book: OrderBook
  net: Uint8Array
  now: () => number
  log: Logger
}

export interface BookSyncResult { received: number, accepted: number, rejected: number }

/** nothing to tune yet: the limits are protocol constants */
export interface BookSyncInit {}

export function bookSync (_init: BookSyncInit = {}) {
  return (components: BookSyncComponents) => new BookSync(components)
}

export class BookSync {
  private readonly asked = new Map<string, number>()

  constructor (private readonly c: BookSyncComponents) {}

  async start (): Promise<void> {
    await this.c.libp2p.handle(BOOK_SYNC_PROTOCOL, (stream) => { void this.serve(stream) }, { maxInboundStreams: MAX_INBOUND_STREAMS })
  }

  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(BOOK_SYNC_PROTOCOL)
  }

  private async serve (stream: Stream): Promise<void> {
    const limit = deadline(BOOK_SYNC_TIMEOUT_MS)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_OFFER_BYTES })
      for (const bytes of this.c.book.snapshot(this.c.now(), MAX_SNAPSHOT_OFFERS)) await lp.write(bytes, { signal: limit.signal })
    } catch (err: any) {
      stream.abort(err)
      return
    } finally {
      limit.clear()
    }
    // an asker that does not close once it has read the snapshot is reset (src/wire/deadline.ts)
    await endStream(stream, BOOK_SYNC_TIMEOUT_MS)
  }

  /** ask a peer for its book, at most once a minute per peer */
  async askOnce (peer: PeerId): Promise<BookSyncResult | undefined> {
    const key = peer.toString()
    const now = this.c.now()
    if ((this.asked.get(key) ?? -Infinity) + REASK_AFTER_MS > now) return undefined
    if (this.asked.size > 10_000) this.asked.clear()
    this.asked.set(key, now)
    return await this.ask(peer)
  }

  async ask (peer: PeerId): Promise<BookSyncResult> {
    const limit = deadline(BOOK_SYNC_TIMEOUT_MS)
    const signal = limit.signal
    const result: BookSyncResult = { received: 0, accepted: 0, rejected: 0 }
    let stream: Stream
    try {
      stream = await this.c.libp2p.dialProtocol(peer, BOOK_SYNC_PROTOCOL, { signal })
    } catch (err) {
      limit.clear()
      throw err
    }
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_OFFER_BYTES })
      while (result.received < MAX_SNAPSHOT_OFFERS) {
        let bytes
        try {
          bytes = await lp.read({ signal })
        } catch (err: any) {
          if (err?.name === 'UnexpectedEOFError') break
          throw err
        }
        result.received++
        const r = this.c.book.ingest(bytes.subarray(), this.c.net, this.c.now())
        if (r.status === 'rejected') result.rejected++
        else if (r.status === 'accepted' || r.status === 'withdrawn') result.accepted++
      }
      await stream.close({ signal }).catch(() => {})
    } catch (err: any) {
      stream.abort(err)
      throw err
    } finally {
      limit.clear()
    }
    this.c.log('book from %p: %d offers, %d new, %d rejected', peer, result.received, result.accepted, result.rejected)
    return result
  }
}

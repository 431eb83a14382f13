/** /tally/auction/1.0.0 constants and frame codec (protocols/auction.md § Deadlines and limits). */
import '../../wire/protons-uint64-fix.js'
import { AuctionFrame } from '../../wire/pb/auction.js'
import { MalformedMessageError } from '../../wire/errors.js'

export const AUCTION_PROTOCOL = '/tally/auction/1.0.0'
/** one frame: a BidQuote envelope (≤ 4096 bytes) and its framing, with room */
export const MAX_AUCTION_FRAME_BYTES = 8 * 1024
/** the whole exchange, either side */
export const AUCTION_TIMEOUT_MS = 5_000
export const MAX_INBOUND_AUCTION_STREAMS_PER_CONNECTION = 4
export const MAX_INBOUND_AUCTION_STREAMS = 64
/** accepted quotes one bid holds at most */
export const MAX_QUOTES_PER_BID = 64
/** an Ack's message is cut to this */
export const MAX_ACK_MESSAGE_CHARS = 256
/** sellers answer within the window; a short one still reaches a few hops of gossip */
export const DEFAULT_AUCTION_WINDOW_MS = 5_000
/** below the bid's lifetime (a bid lives 60 s by default, 120 s at most): the window ends while the bid is live */
export const MAX_AUCTION_WINDOW_MS = 55_000
export const MIN_AUCTION_WINDOW_MS = 100

export type DecodedFrame = { kind: 'bid_quote', bytes: Uint8Array } | { kind: 'ack', accepted: boolean, code: string, message: string }

/** exactly one field set, or MalformedMessageError */
export function decodeAuctionFrame (bytes: Uint8Array): DecodedFrame {
  let f: AuctionFrame
  try {
    f = AuctionFrame.decode(bytes)
  } catch (err: any) {
    throw new MalformedMessageError(`auction frame does not decode: ${err?.message ?? err}`)
  }
  const set = (f.bidQuote != null ? 1 : 0) + (f.ack != null ? 1 : 0)
  if (set !== 1) throw new MalformedMessageError(`an auction frame holds exactly one field, got ${set}`)
  if (f.bidQuote != null) return { kind: 'bid_quote', bytes: f.bidQuote }
  const ack = f.ack as NonNullable<AuctionFrame['ack']>
  return { kind: 'ack', accepted: ack.accepted, code: ack.code.slice(0, 64), message: ack.message.slice(0, MAX_ACK_MESSAGE_CHARS) }
}

export function encodeBidQuoteFrame (envelope: Uint8Array): Uint8Array {
  return AuctionFrame.encode({ bidQuote: envelope as Uint8Array<ArrayBuffer> })
}

export function encodeAckFrame (accepted: boolean, code = '', message = ''): Uint8Array {
  return AuctionFrame.encode({ ack: { accepted, code, message: message.slice(0, MAX_ACK_MESSAGE_CHARS) } })
}

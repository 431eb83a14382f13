/**
 * /tally/negotiate/1.0.0 (spec: protocols/negotiate.md). Seller side: answers QuoteRequests
 * with firm signed Quotes (capacity reserved until the quote expires or a session ends) and
 * countersigns Accepts into Contracts. Buyer side: `negotiate(peer, request)` returns the
 * verified two-signed Contract. Nothing is stored by either side before the contract exists.
 */
import { randomBytes } from 'node:crypto'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { ComponentLogger, Connection, Libp2p, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { NegotiateFrame, RefusalReason, type QuoteRequest } from '../wire/pb/negotiate.js'
import { MalformedMessageError, WireError } from '../wire/errors.js'
import type { Ed25519Signer } from '../identity/ed25519.js'
import { checkRange, checkString } from '../wire/fields.js'
import { deadline } from '../wire/deadline.js'
import { MAX_EXPECTED_TOKENS, MAX_MODEL_ID_CHARS, MAX_PRICE_PER_MTOK_UC } from '../wire/limits.js'
import {
  MAX_QUOTE_TTL_MS, NONCE_LENGTH, QUOTE_ID_LENGTH, openAccept, openQuote, signAccept, signContract, signQuote,
  verifyContract, type Accept, type Contract, type Quote
} from './messages.js'
import { ReservationLapses, type LapseRules } from './lapses.js'
import { ContractMismatchError, NegotiationProtocolError as ProtocolViolationError, NegotiationRefusedError, QuoteExpiredError, QuoteTermsUnmetError, TooManyNegotiationsError } from './errors.js'

export const NEGOTIATE_PROTOCOL = '/tally/negotiate/1.0.0'
/** a whole negotiation (request to contract) must finish in this long, per stream */
export const DEFAULT_NEGOTIATE_TIMEOUT_MS = 5_000
/** largest frame: a contract carries accept and quote, about 1 KiB; leave room, no more */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024
/** a quote is firm this long (the protocol allows at most 10 s) */
export const DEFAULT_QUOTE_TTL_MS = MAX_QUOTE_TTL_MS
/** streams one connection may hold open on this protocol */
export const DEFAULT_MAX_INBOUND_STREAMS = 8
/** negotiations in progress across all peers */
export const DEFAULT_MAX_CONCURRENT_NEGOTIATIONS = 128
/** negotiations one peer may have in progress across all its connections: a buyer needs 1–2 at a time */
export const DEFAULT_MAX_NEGOTIATIONS_PER_PEER = 4
/** a peer that hits a cap (or lets a stream time out) this many times within the window is disconnected */
export const DEFAULT_STRIKES_TO_DISCONNECT = 8
/** the window strikes are counted in */
export const DEFAULT_STRIKE_WINDOW_MS = 10_000
/** a disconnected peer's negotiate streams are reset (and the peer hung up on) this long */
export const DEFAULT_PEER_COOL_DOWN_MS = 60_000
/** a session the seller commits capacity to cannot outlast this; longer requests are clamped in the quote */
export const DEFAULT_MAX_SESSION_MS = 10 * 60_000
/** quote term: the buyer's open must reach the seller this long after the contract (a reservation, not a session) */
export const DEFAULT_OPEN_WITHIN_MS = 5_000
/** the buyer refuses a quote giving it less than this to publish its open */
export const DEFAULT_MIN_OPEN_WITHIN_MS = 1_000
/** one buyer's unpaid allowance is split over this many concurrent sessions (each gets at most this share) */
export const UNPAID_SHARES_PER_BUYER = 8n
/** peers remembered in cool-down at once (oldest forgotten first) */
const MAX_COOLING_PEERS = 10_000
/** open quotes one buyer may hold at once, so one buyer cannot reserve a seller's whole capacity */
export const DEFAULT_MAX_OPEN_QUOTES_PER_BUYER = 2
/** with slotsOnOpen: contracts one buyer may hold here without its open (each a reservation until open_within_ms) */
export const DEFAULT_MAX_UNOPENED_PER_BUYER = 2
/** with slotsOnOpen: reservations (open quotes + unopened contracts) per slot of max_sessions */
export const DEFAULT_RESERVATIONS_PER_SLOT = 2
/** accepted quote ids remembered (until their validity ends) to refuse a second accept */
const MAX_REMEMBERED_QUOTES = 100_000

/** What the seller serves a model at (from its own offer). */
export interface SellerTerms {
  modelId: string
  fingerprint: string
  fingerprintVerified: boolean
  params: bigint
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  /** requests run at once (the offer's max_sessions; negotiate.md § Capacity) */
  maxSessions: number
  /**
   * sessions held open at once, idle or running (negotiate.md § Capacity): what quotes and
   * contracts are counted against; absent = maxSessions (every open session is a slot)
   */
  maxOpenSessions?: number
  /** quote term: locks above this (µc) are served only once a second peer holds the open; 0/absent = none */
  secondPeerAboveUc?: bigint
}

export type PolicyVerdict = { ok: true } | { ok: false, reason: RefusalReason, message?: string }

/** what the seller's buyer policy is asked about: a quote request (before anything is reserved) or an accept */
export interface BuyerRequest {
  stage: 'quote' | 'accept'
  modelId: string
  /** the lock the buyer asks for; 0 = not said (a request from an older buyer) */
  maxSpendUc: bigint
}

/**
 * The seller's risk policy for one buyer: refuse (INSUFFICIENT_CREDIT, BUYER_NOT_TRUSTED,
 * BUYER_FLAGGED), or serve under terms it shapes. On an accept only the refusal counts (the
 * quote's terms are firm).
 */
export type BuyerVerdict = { ok: false, reason: RefusalReason, message?: string } | {
  ok: true
  /** the most served ahead of this buyer's voucher, across its sessions here (µc); absent = not stated */
  maxUnpaidUc?: bigint
  /** the spendable balance this buyer must keep (µc); absent = none */
  minBuyerSpendableUc?: bigint
  /** quote term trusted_grantors: lines from other grantors carry none of the lock; absent/empty = any grantor */
  trustedGrantors?: Uint8Array[]
}

export interface NegotiateInit {
  timeoutMs?: number
  maxFrameBytes?: number
  quoteTtlMs?: number
  maxInboundStreams?: number
  maxConcurrentNegotiations?: number
  maxNegotiationsPerPeer?: number
  strikesToDisconnect?: number
  strikeWindowMs?: number
  peerCoolDownMs?: number
  /** the longest session this seller contracts; a buyer asking longer gets it clamped in the quote */
  maxSessionMs?: number
  /** quote term open_within_ms */
  openWithinMs?: number
  /** the most served ahead of vouchers across all sessions of this seller (µc); absent = no cap */
  maxUnpaidTotalUc?: bigint
  maxOpenQuotesPerBuyer?: number
  /**
   * A slot of max_sessions is held only by a contract whose open the seller's desk reported
   * (markOpened); open quotes and unopened contracts are reservations, capped per buyer and in
   * total, and onCapacity is told the slots. Default false: every quote and contract holds a slot.
   */
  slotsOnOpen?: boolean
  maxUnopenedPerBuyer?: number
  reservationsPerSlot?: number
  /**
   * With slotsOnOpen: contracts released as lapsed (their open never came) count against the
   * buyer and its peer; past the allowance their quotes are refused RESERVATIONS_LAPSED with a
   * retry-after (negotiate.md § Lapsed reservations). `false` turns the rule off.
   */
  lapses?: LapseRules | false
  /** as buyer: negotiations run at once with one seller (more wait their turn); default the seller's open-quote cap, 2 */
  maxOutboundPerPeer?: number
  /** the buyer named in a request must be the authenticated remote peer (default true) */
  bindBuyerToPeer?: boolean
  now?: () => number
  /** the source of quote ids and contract nonces; default node:crypto (the simulator passes a seeded one so one seed gives one run) */
  randomBytes?: (n: number) => Uint8Array<ArrayBuffer>
}

/**
 * A BidQuote (auction.proto) as negotiation reads it: opened under this net by the node (the
 * auction code owns the codec and its range rules); `seller` is the envelope's signer.
 */
export interface BidQuoteView {
  seller: Uint8Array
  quoteId: Uint8Array
  buyer: Uint8Array
  modelId: string
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  validUntilMs: bigint
}

/** the seller's held bid quotes (negotiate.md § Auction price), given by the node */
export interface BidQuoteDesk {
  /** open a BidQuote envelope; throws a WireError when it does not decode, verify or meet the range rules */
  open: (envelope: Uint8Array) => BidQuoteView
  /** output tokens still held for this quote; undefined = not held (never sent by this seller, refused by the bidder, or forgotten) */
  volumeLeft: (quoteId: Uint8Array) => bigint | undefined
  /** take tokens from the quote's held volume; false (and nothing taken) when fewer are left */
  consume: (quoteId: Uint8Array, outputTokens: bigint) => boolean
}

/** what one contract at an auction price takes from its bid quote's volume */
interface BidDebit { quoteId: Uint8Array, outputTokens: bigint }

/**
 * The output tokens a contract at an auction price takes from its bid quote's volume: the most
 * its lock can buy at the quote's output price, at least the request's expected output
 * (negotiate.md § Auction price). Exported for the buyer, which sizes its lock to the volume left.
 */
export function bidVolumeOf (maxSpendUc: bigint, priceOutPerMTokUc: bigint, expectedOutputTokens = 0n): bigint {
  const byLock = priceOutPerMTokUc > 0n ? (maxSpendUc * 1_000_000n + priceOutPerMTokUc - 1n) / priceOutPerMTokUc : 0n
  return byLock > expectedOutputTokens ? byLock : expectedOutputTokens
}

export interface NegotiateComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dial' | 'hangUp'>
  signer: Ed25519Signer
  net: Uint8Array
  logger: ComponentLogger
  /** the terms this node sells a model at; absent or undefined = UNKNOWN_MODEL */
  sellerTerms?: (modelId: string) => SellerTerms | undefined
  /** seller policy hook (credit, flags): called on request (maxSpend 0) and on accept */
  canServe?: (buyer: Uint8Array, maxSpendUc: bigint) => PolicyVerdict | Promise<PolicyVerdict>
  /** the seller's risk policy (negotiate.md § Seller risk policy): evaluated before any capacity is reserved, and on accept */
  buyerPolicy?: (buyer: Uint8Array, request: BuyerRequest) => BuyerVerdict | Promise<BuyerVerdict>
  /** told whenever reserved capacity of a model changes (e.g. to withdraw the offer when full) */
  onCapacity?: (modelId: string, reserved: number, maxSessions: number) => void
  /** the bid quotes this seller sent and holds (negotiate.md § Auction price); absent = a QuoteRequest with bid_quote is refused BID_QUOTE_INVALID */
  bidQuotes?: BidQuoteDesk
}

export interface NegotiateRequest {
  modelId: string
  expectedInputTokens?: bigint
  expectedOutputTokens?: bigint
  /** the prices the buyer saw in the offer: a higher quote is refused as PRICE_CHANGED */
  maxPriceInPerMTokUc?: bigint
  maxPriceOutPerMTokUc?: bigint
  maxSpendUc: bigint
  /** the session end wanted; the seller may clamp it shorter in its quote */
  sessionExpiresAtMs: bigint
  /** what this buyer can meet: a quote asking more is refused with QuoteTermsUnmetError */
  accepts?: BuyerTermsPolicy
  /** the seller's own BidQuote envelope: negotiate at its prices (negotiate.md § Auction price) */
  bidQuote?: Uint8Array
  signal?: AbortSignal
}

/** the buyer's side of the quote terms */
export interface BuyerTermsPolicy {
  /** the buyer's spendable balance: a quote requiring more (min_buyer_spendable_uc) is refused */
  spendableUc?: bigint
  /** least time to publish the open (default DEFAULT_MIN_OPEN_WITHIN_MS) */
  minOpenWithinMs?: number
  /** whether a peer other than the seller will hold the buyer's open; false: a lock above second_peer_above_uc is refused */
  secondPeer?: boolean
  /** the shortest session worth its lock (ms from now); a quote clamping below it is refused */
  minSessionMs?: number
  /** what this buyer can spend counting only lines from these grantors: a quote naming trusted_grantors that leave less than the lock is refused */
  spendableTrusting?: (grantors: Uint8Array[]) => bigint
}

interface PendingQuote {
  quote: Quote
  timer: ReturnType<typeof setTimeout>
  /** a quote at an auction price: the volume its contract takes from the bid quote at countersign */
  bid?: BidDebit
}

/** a countersigned contract holding capacity until the seller's session machine releases it */
interface Session {
  contract: Contract
  /** the buyer's open is in (markOpened) */
  opened?: boolean
  /** the peer that negotiated it (its lapses count against that peer too) */
  peer?: string
}

class Refusal extends Error {
  constructor (readonly reason: RefusalReason, message: string, readonly retryAfterMs = 0) {
    super(message)
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const eq = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0

function decodeFrame (buf: Uint8Array): NegotiateFrame {
  let f: NegotiateFrame
  try {
    f = NegotiateFrame.decode(buf)
  } catch (err: any) {
    throw new MalformedMessageError(`negotiate frame does not decode: ${err?.message ?? err}`)
  }
  const set = [f.quoteRequest, f.quote, f.accept, f.contract, f.refusal].filter(x => x != null).length
  if (set !== 1) throw new ProtocolViolationError(`a negotiate frame carries exactly one message, got ${set}`)
  return f
}

async function readFrame (lp: LengthPrefixedStream<Stream>, signal: AbortSignal): Promise<NegotiateFrame> {
  const buf = await lp.read({ signal })
  return decodeFrame(buf.subarray())
}

export interface NegotiateStats {
  quotesIssued: number
  contractsSigned: number
  /** contracts this node holds as buyer (verified) */
  contractsBought: number
  refusals: number
  streamsAborted: number
  /** peers disconnected for hitting the negotiation caps */
  peersDisconnected: number
  /** contracts released because the buyer's open never came (with slotsOnOpen) */
  lapsedReservations: number
  /** refusals sent, by reason (the keys are RefusalReason's names: bounded) */
  refusedByReason: Partial<Record<RefusalReason, number>>
}

/** what a buyer's negotiation took, from its own side: dial, quote, accept, contract */
export interface Negotiated { contract: Contract, durationMs: number }

/**
 * Events: 'contract' (CustomEvent<Contract>) when this node, as seller, signed and delivered one;
 * 'negotiated' (CustomEvent<Negotiated>) when this node, as buyer, holds a verified contract.
 */
export class Negotiator extends EventTarget implements Startable {
  readonly stats: NegotiateStats = { quotesIssued: 0, contractsSigned: 0, contractsBought: 0, refusals: 0, streamsAborted: 0, peersDisconnected: 0, lapsedReservations: 0, refusedByReason: {} }
  private readonly c: NegotiateComponents
  private readonly log: Logger
  private readonly timeoutMs: number
  private readonly maxFrameBytes: number
  private readonly quoteTtlMs: number
  private readonly maxInboundStreams: number
  private readonly maxConcurrent: number
  private readonly maxPerPeer: number
  private readonly strikesToDisconnect: number
  private readonly strikeWindowMs: number
  private readonly coolDownMs: number
  private readonly maxSessionMs: number
  private readonly openWithinMs: number
  private readonly maxUnpaidTotalUc?: bigint
  private readonly maxOpenQuotesPerBuyer: number
  private readonly slotsOnOpen: boolean
  private readonly lapses?: ReservationLapses
  private readonly maxUnopenedPerBuyer: number
  private readonly reservationsPerSlot: number
  private readonly bindBuyerToPeer: boolean
  private readonly now: () => number
  private readonly randomBytes: (n: number) => Uint8Array<ArrayBuffer>
  private readonly pending = new Map<string, PendingQuote>()
  /** accepted quote id → its validUntil: a second accept is refused */
  private readonly accepted = new Map<string, bigint>()
  private readonly sessions = new Map<string, Session>()
  private readonly inFlight = new Set<Stream>()
  /** negotiations in progress per remote peer (all its connections) */
  private readonly inFlightByPeer = new Map<string, number>()
  /** recent strikes per peer (times), within strikeWindowMs */
  private readonly strikes = new Map<string, number[]>()
  /** disconnected peers → end of their cool-down */
  private readonly coolingUntil = new Map<string, number>()
  /** this node's negotiations as buyer, per seller: those running and those queued */
  private readonly outbound = new Map<string, { active: number, waiting: Array<() => void> }>()
  private readonly maxOutboundPerPeer: number
  private started = false

  constructor (components: NegotiateComponents, init: NegotiateInit = {}) {
    super()
    this.c = components
    this.log = components.logger.forComponent('tally:negotiate')
    this.timeoutMs = init.timeoutMs ?? DEFAULT_NEGOTIATE_TIMEOUT_MS
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.quoteTtlMs = Math.min(init.quoteTtlMs ?? DEFAULT_QUOTE_TTL_MS, MAX_QUOTE_TTL_MS)
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
    this.maxConcurrent = init.maxConcurrentNegotiations ?? DEFAULT_MAX_CONCURRENT_NEGOTIATIONS
    this.maxPerPeer = init.maxNegotiationsPerPeer ?? DEFAULT_MAX_NEGOTIATIONS_PER_PEER
    this.strikesToDisconnect = init.strikesToDisconnect ?? DEFAULT_STRIKES_TO_DISCONNECT
    this.strikeWindowMs = init.strikeWindowMs ?? DEFAULT_STRIKE_WINDOW_MS
    this.coolDownMs = init.peerCoolDownMs ?? DEFAULT_PEER_COOL_DOWN_MS
    this.maxSessionMs = init.maxSessionMs ?? DEFAULT_MAX_SESSION_MS
    this.openWithinMs = init.openWithinMs ?? DEFAULT_OPEN_WITHIN_MS
    this.maxUnpaidTotalUc = init.maxUnpaidTotalUc
    this.maxOpenQuotesPerBuyer = init.maxOpenQuotesPerBuyer ?? DEFAULT_MAX_OPEN_QUOTES_PER_BUYER
    this.slotsOnOpen = init.slotsOnOpen ?? false
    this.maxUnopenedPerBuyer = init.maxUnopenedPerBuyer ?? DEFAULT_MAX_UNOPENED_PER_BUYER
    if (this.slotsOnOpen && init.lapses !== false) this.lapses = new ReservationLapses(init.lapses ?? {})
    this.reservationsPerSlot = init.reservationsPerSlot ?? DEFAULT_RESERVATIONS_PER_SLOT
    this.maxOutboundPerPeer = init.maxOutboundPerPeer ?? DEFAULT_MAX_OPEN_QUOTES_PER_BUYER
    this.bindBuyerToPeer = init.bindBuyerToPeer ?? true
    this.now = init.now ?? Date.now
    this.randomBytes = init.randomBytes ?? ((n) => new Uint8Array(randomBytes(n)))
  }

  readonly [Symbol.toStringTag] = 'tally:negotiate'

  async start (): Promise<void> {
    if (this.started) return
    await this.c.libp2p.handle(NEGOTIATE_PROTOCOL, (stream, connection) => { void this.onStream(stream, connection) }, {
      maxInboundStreams: this.maxInboundStreams,
      // a seller behind NAT is reached over a circuit relay (docs/network.md)
      runOnLimitedConnection: true
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.c.libp2p.unhandle(NEGOTIATE_PROTOCOL)
    for (const s of this.inFlight) s.abort(new Error('negotiate service stopped'))
    for (const p of this.pending.values()) clearTimeout(p.timer)
    this.pending.clear()
    this.sessions.clear()
    this.accepted.clear()
    this.inFlightByPeer.clear()
    this.strikes.clear()
    this.coolingUntil.clear()
  }

  /** whether a peer is disconnected for hitting the caps, until its cool-down ends */
  isCooling (peer: PeerId | string): boolean {
    const until = this.coolingUntil.get(peer.toString())
    return until != null && until > this.now()
  }

  /** slots held for a model: open quotes plus live sessions (with slotsOnOpen: opened sessions only) */
  reserved (modelId: string): number {
    let n = 0
    if (!this.slotsOnOpen) for (const p of this.pending.values()) if (p.quote.modelId === modelId) n++
    for (const s of this.sessions.values()) if (s.contract.modelId === modelId && (s.opened === true || !this.slotsOnOpen)) n++
    return n
  }

  /** reservations of a model: open quotes and contracts whose open has not arrived, of one buyer or of all */
  reservations (modelId: string, buyer?: Uint8Array): { quotes: number, unopened: number } {
    let quotes = 0
    let unopened = 0
    for (const p of this.pending.values()) if (p.quote.modelId === modelId && (buyer == null || eq(p.quote.buyer, buyer))) quotes++
    for (const s of this.sessions.values()) if (s.contract.modelId === modelId && s.opened !== true && (buyer == null || eq(s.contract.buyer, buyer))) unopened++
    return { quotes, unopened }
  }

  /** the seller's desk holds the buyer's open for this contract: its reservation becomes a slot */
  markOpened (contractId: Uint8Array): boolean {
    const s = this.sessions.get(hex(contractId))
    if (s == null || s.opened === true) return false
    s.opened = true
    this.capacityChanged(s.contract.modelId)
    return true
  }

  /** live sessions this node sells, by contract id (hex) */
  activeSessions (): Contract[] {
    return [...this.sessions.values()].map(s => s.contract)
  }

  /**
   * The session under this contract ended: its capacity is free again. A contract's capacity is
   * held until this is called: when is the seller session machine's decision (its contract,
   * expiry and close deadlines; exec/session/seller-machine.ts), not a timer here.
   */
  releaseSession (contractId: Uint8Array, opts: { lapsed?: boolean } = {}): boolean {
    const key = hex(contractId)
    const s = this.sessions.get(key)
    if (s == null) return false
    this.sessions.delete(key)
    // a reservation held for nothing: it costs its buyer (and its peer) the next quotes past the allowance
    if (opts.lapsed === true && s.opened !== true && this.lapses != null) {
      const now = this.now()
      this.lapses.record(`buyer:${hex(s.contract.buyer)}`, now)
      if (s.peer != null) this.lapses.record(`peer:${s.peer}`, now)
      this.stats.lapsedReservations++
    }
    this.capacityChanged(s.contract.modelId)
    return true
  }

  // ---- seller side ----

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (this.isCooling(peer)) {
      this.stats.streamsAborted++
      stream.abort(new TooManyNegotiationsError('this peer is cooling down after hitting the negotiation caps'))
      this.disconnect(connection.remotePeer)
      return
    }
    const mine = this.inFlightByPeer.get(peer) ?? 0
    if (this.inFlight.size >= this.maxConcurrent || mine >= this.maxPerPeer) {
      this.stats.streamsAborted++
      stream.abort(new TooManyNegotiationsError(mine >= this.maxPerPeer
        ? `this peer already has ${mine} negotiations in progress (at most ${this.maxPerPeer})`
        : `more than ${this.maxConcurrent} negotiations in progress`))
      this.strike(connection.remotePeer)
      return
    }
    this.inFlight.add(stream)
    this.inFlightByPeer.set(peer, mine + 1)
    const limit = deadline(this.timeoutMs)
    const signal = limit.signal
    const lp = lpStream(stream, { maxDataLength: this.maxFrameBytes })
    let quote: Quote | undefined
    try {
      let frame = await readFrame(lp, signal)
      if (frame.quoteRequest != null) {
        quote = await this.answerRequest(lp, frame.quoteRequest, connection, signal)
        if (quote == null) return
        frame = await readFrame(lp, signal)
      }
      if (frame.accept == null) {
        await this.refuse(lp, RefusalReason.BAD_REQUEST, 'expected a QuoteRequest or an Accept', signal)
        return
      }
      await this.answerAccept(lp, frame.accept, connection, signal, quote)
    } catch (err: any) {
      this.stats.streamsAborted++
      this.log('negotiation with %p aborted: %s', connection.remotePeer, err?.message ?? err)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      // a stream left silent until the deadline holds a slot for nothing: it counts like a cap hit
      if (signal.aborted) this.strike(connection.remotePeer)
    } finally {
      limit.clear()
      this.inFlight.delete(stream)
      const left = (this.inFlightByPeer.get(peer) ?? 1) - 1
      if (left > 0) this.inFlightByPeer.set(peer, left)
      else this.inFlightByPeer.delete(peer)
      // a quote is firm only on the stream that carried it: once that stream ends without a
      // contract, its capacity is free again
      if (quote != null) this.releaseQuote(quote.quoteId)
    }
  }

  /** a peer hit a cap or timed out: enough of these within the window and it is disconnected and cooled down */
  private strike (peerId: PeerId): void {
    const peer = peerId.toString()
    const now = this.now()
    const recent = (this.strikes.get(peer) ?? []).filter(t => t > now - this.strikeWindowMs)
    recent.push(now)
    if (recent.length < this.strikesToDisconnect) {
      this.strikes.set(peer, recent)
      return
    }
    this.strikes.delete(peer)
    if (this.coolingUntil.size >= MAX_COOLING_PEERS) {
      for (const [k, until] of this.coolingUntil) if (until <= now) this.coolingUntil.delete(k)
      while (this.coolingUntil.size >= MAX_COOLING_PEERS) this.coolingUntil.delete(this.coolingUntil.keys().next().value as string)
    }
    this.coolingUntil.set(peer, now + this.coolDownMs)
    this.stats.peersDisconnected++
    this.log('peer %p hit the negotiation caps %d times in %d ms: disconnected for %d ms', peerId, recent.length, this.strikeWindowMs, this.coolDownMs)
    this.disconnect(peerId)
  }

  private disconnect (peerId: PeerId): void {
    this.c.libp2p.hangUp(peerId).catch((err: any) => { this.log('hanging up on %p: %s', peerId, err?.message ?? err) })
  }

  private releaseQuote (quoteId: Uint8Array): void {
    const key = hex(quoteId)
    const p = this.pending.get(key)
    if (p == null) return
    clearTimeout(p.timer)
    this.pending.delete(key)
    this.capacityChanged(p.quote.modelId)
  }

  private capacityChanged (modelId: string): void {
    if (this.c.onCapacity == null || !this.started) return
    const terms = this.c.sellerTerms?.(modelId)
    try {
      this.c.onCapacity(modelId, this.reserved(modelId), terms != null ? openCap(terms) : 0)
    } catch (err: any) {
      this.log.error('onCapacity hook failed: %s', err?.message ?? err)
    }
  }

  private async refuse (lp: LengthPrefixedStream<Stream>, reason: RefusalReason, message: string, signal: AbortSignal, retryAfterMs = 0): Promise<void> {
    this.stats.refusals++
    this.stats.refusedByReason[reason] = (this.stats.refusedByReason[reason] ?? 0) + 1
    await lp.write(NegotiateFrame.encode({ refusal: { reason, message: message.slice(0, 256), retryAfterMs: BigInt(Math.max(0, Math.ceil(retryAfterMs))) } }), { signal })
    await lp.unwrap().close({ signal })
  }

  private remoteKey (connection: Connection): Uint8Array | undefined {
    const pk = connection.remotePeer.publicKey
    return pk?.type === 'Ed25519' ? pk.raw : undefined
  }

  /** the seller's policy for this buyer; throws a Refusal, or returns the terms it shapes */
  private async policy (buyer: Uint8Array, request: BuyerRequest): Promise<{ maxUnpaidUc?: bigint, minBuyerSpendableUc?: bigint, trustedGrantors?: Uint8Array[] }> {
    if (this.c.canServe != null) {
      const v = await this.c.canServe(buyer, request.maxSpendUc)
      if (!v.ok) throw new Refusal(v.reason, v.message ?? 'refused by seller policy')
    }
    if (this.c.buyerPolicy == null) return {}
    const v = await this.c.buyerPolicy(buyer, request)
    if (!v.ok) throw new Refusal(v.reason, v.message ?? 'refused by seller policy')
    return v
  }

  /** unpaid exposure (quote term max_unpaid_uc) held by open quotes and live sessions, of one buyer or of all */
  private unpaidHeld (buyer?: Uint8Array): bigint {
    let n = 0n
    for (const p of this.pending.values()) if (buyer == null || eq(p.quote.buyer, buyer)) n += p.quote.maxUnpaidUc ?? 0n
    for (const x of this.sessions.values()) if (buyer == null || eq(x.contract.buyer, buyer)) n += x.contract.maxUnpaidUc
    return n
  }

  /** the max_unpaid_uc term for a new quote: the policy's per-buyer allowance less what this buyer holds, within the node's total */
  private unpaidTerm (buyer: Uint8Array, perBuyer: bigint | undefined): bigint {
    if (perBuyer == null && this.maxUnpaidTotalUc == null) return 0n
    let room = perBuyer != null ? perBuyer - this.unpaidHeld(buyer) : undefined
    if (this.maxUnpaidTotalUc != null) {
      const total = this.maxUnpaidTotalUc - this.unpaidHeld()
      room = room == null || total < room ? total : room
    }
    if (room == null || room <= 0n) throw new Refusal(RefusalReason.NO_CAPACITY, 'the seller\'s unpaid exposure (for this buyer or in total) is at its limit')
    // one session takes a share of the buyer's allowance, so the buyer can run several at once
    const share = perBuyer != null ? perBuyer / UNPAID_SHARES_PER_BUYER : undefined
    return share != null && share > 0n && share < room ? share : room
  }

  /**
   * With slotsOnOpen: a buyer's own open quotes and unopened contracts count as slots for its next
   * quote (a burst from one buyer spreads over sellers), other buyers' do not (a squatter blocks no
   * one); unopened contracts are capped per buyer and, with open quotes, per model.
   */
  private checkReservations (buyer: Uint8Array, modelId: string, maxSessions: number, maxOpen: number): void {
    const own = this.reservations(modelId, buyer)
    if (this.reserved(modelId) + own.quotes + own.unopened >= maxOpen) throw new Refusal(RefusalReason.NO_CAPACITY, `all ${maxOpen} sessions of ${modelId} are taken, counting this buyer's own quotes and unopened contracts`)
    // a buyer's own pending reservations count as slots for its next quote: a burst spreads over sellers
    if (own.quotes + own.unopened >= maxSessions) throw new Refusal(RefusalReason.NO_CAPACITY, `this buyer's ${own.quotes + own.unopened} quotes and unopened contracts take all ${maxSessions} slots of ${modelId}`)
    const mine = own.unopened
    if (mine >= this.maxUnopenedPerBuyer) throw new Refusal(RefusalReason.NO_CAPACITY, `this buyer holds ${mine} contracts whose open has not arrived`)
    const all = this.reservations(modelId)
    const cap = this.reservationsPerSlot * maxSessions
    if (all.quotes + all.unopened >= cap) throw new Refusal(RefusalReason.NO_CAPACITY, `${all.quotes + all.unopened} quotes and contracts of ${modelId} await their open (at most ${cap})`)
  }

  /** a buyer or peer whose reservations lapsed past the allowance gets no quote until its cool-down ends */
  private checkLapses (buyer: Uint8Array, peer: string): void {
    if (this.lapses == null) return
    const now = this.now()
    const wait = Math.max(this.lapses.retryAfterMs(`buyer:${hex(buyer)}`, now), this.lapses.retryAfterMs(`peer:${peer}`, now))
    if (wait === 0) return
    const n = Math.max(this.lapses.count(`buyer:${hex(buyer)}`, now), this.lapses.count(`peer:${peer}`, now))
    throw new Refusal(RefusalReason.RESERVATIONS_LAPSED, `${n} contracts of this buyer lapsed without their open lately: no quote for ${wait} ms`, wait)
  }

  /**
   * A QuoteRequest carrying a bid quote (negotiate.md § Auction price): the seller's own, for this
   * buyer and model, still valid and held with volume left for what the contract would take.
   */
  private checkBidQuote (req: QuoteRequest): { priceInPerMTokUc: bigint, priceOutPerMTokUc: bigint, debit: BidDebit } {
    const desk = this.c.bidQuotes
    if (desk == null) throw new Refusal(RefusalReason.BID_QUOTE_INVALID, 'this seller negotiates at posted prices only')
    let b: BidQuoteView
    try {
      b = desk.open(req.bidQuote)
    } catch (err: any) {
      if (err instanceof WireError) throw new Refusal(RefusalReason.BID_QUOTE_INVALID, `the bid quote does not open: ${err.message}`)
      throw err
    }
    if (!eq(b.seller, this.c.signer.publicKey)) throw new Refusal(RefusalReason.BID_QUOTE_INVALID, 'the bid quote was signed by another seller')
    if (!eq(b.buyer, req.buyer)) throw new Refusal(RefusalReason.BID_QUOTE_INVALID, 'the bid quote names another buyer')
    if (b.modelId !== req.modelId) throw new Refusal(RefusalReason.BID_QUOTE_INVALID, `the bid quote is for ${b.modelId}, not ${req.modelId}`)
    if (BigInt(Math.floor(this.now())) > b.validUntilMs) throw new Refusal(RefusalReason.BID_QUOTE_EXPIRED, `the bid quote was valid until ${b.validUntilMs}`)
    const left = desk.volumeLeft(b.quoteId)
    if (left == null) throw new Refusal(RefusalReason.BID_QUOTE_INVALID, 'this seller holds no such bid quote (never accepted by the bidder, or forgotten)')
    if (req.maxSpendUc === 0n) throw new Refusal(RefusalReason.BAD_REQUEST, 'a request at an auction price must state its lock (max_spend_uc)')
    const outputTokens = bidVolumeOf(req.maxSpendUc, b.priceOutPerMTokUc, req.expectedOutputTokens)
    if (outputTokens > left) throw new Refusal(RefusalReason.BID_VOLUME_EXHAUSTED, `this contract would take ${outputTokens} output tokens of the bid quote, ${left} are left`)
    return { priceInPerMTokUc: b.priceInPerMTokUc, priceOutPerMTokUc: b.priceOutPerMTokUc, debit: { quoteId: b.quoteId, outputTokens } }
  }

  /** returns the quote sent, or undefined when the request was refused */
  private async answerRequest (lp: LengthPrefixedStream<Stream>, req: QuoteRequest, connection: Connection, signal: AbortSignal): Promise<Quote | undefined> {
    let quote: Quote
    try {
      quote = await this.makeQuote(req, connection)
    } catch (err: any) {
      if (err instanceof Refusal) {
        await this.refuse(lp, err.reason, err.message, signal, err.retryAfterMs)
        return undefined
      }
      if (err instanceof WireError) {
        await this.refuse(lp, RefusalReason.BAD_REQUEST, err.message, signal)
        return undefined
      }
      throw err
    }
    await lp.write(NegotiateFrame.encode({ quote: quote.bytes as Uint8Array<ArrayBuffer> }), { signal })
    return quote
  }

  private async makeQuote (req: QuoteRequest, connection: Connection): Promise<Quote> {
    checkString('modelId', req.modelId, MAX_MODEL_ID_CHARS, true)
    if (req.buyer.length !== 32) throw new Refusal(RefusalReason.BAD_REQUEST, `buyer must be a 32-byte ed25519 key, got ${req.buyer.length} bytes`)
    if (req.nonce.length !== NONCE_LENGTH) throw new Refusal(RefusalReason.BAD_REQUEST, `nonce must be ${NONCE_LENGTH} bytes, got ${req.nonce.length}`)
    checkRange('expectedInputTokens', req.expectedInputTokens, 0n, MAX_EXPECTED_TOKENS)
    checkRange('expectedOutputTokens', req.expectedOutputTokens, 0n, MAX_EXPECTED_TOKENS)
    checkRange('maxPriceInPerMTokUc', req.maxPriceInPerMtokUc, 0n, MAX_PRICE_PER_MTOK_UC)
    checkRange('maxPriceOutPerMTokUc', req.maxPriceOutPerMtokUc, 0n, MAX_PRICE_PER_MTOK_UC)
    checkRange('maxSpendUc', req.maxSpendUc, 0n, 2n ** 63n - 1n)
    checkRange('sessionExpiresAtMs', req.sessionExpiresAtMs, 0n, 2n ** 63n - 1n)
    if (this.bindBuyerToPeer) {
      const remote = this.remoteKey(connection)
      if (remote == null || !eq(remote, req.buyer)) throw new Refusal(RefusalReason.BAD_REQUEST, 'buyer key is not the remote peer')
    }
    const terms = this.c.sellerTerms?.(req.modelId)
    if (terms == null) throw new Refusal(RefusalReason.UNKNOWN_MODEL, `model ${req.modelId} is not served here`)
    this.checkLapses(req.buyer, connection.remotePeer.toString())
    // at an auction price: the seller's own bid quote sets the prices and the contract takes its volume
    const bid = req.bidQuote.length > 0 ? this.checkBidQuote(req) : undefined
    const priceIn = bid?.priceInPerMTokUc ?? terms.priceInPerMTokUc
    const priceOut = bid?.priceOutPerMTokUc ?? terms.priceOutPerMTokUc
    if ((req.maxPriceInPerMtokUc > 0n && priceIn > req.maxPriceInPerMtokUc) ||
        (req.maxPriceOutPerMtokUc > 0n && priceOut > req.maxPriceOutPerMtokUc)) {
      throw new Refusal(RefusalReason.PRICE_CHANGED, `price is now ${priceIn}/${priceOut} µc per 1M tokens in/out`)
    }
    // the credit and trust policy runs before anything is reserved: a broke buyer holds no slot
    const shaped = await this.policy(req.buyer, { stage: 'quote', modelId: req.modelId, maxSpendUc: req.maxSpendUc })
    let open = 0
    for (const p of this.pending.values()) if (eq(p.quote.buyer, req.buyer)) open++
    if (open >= this.maxOpenQuotesPerBuyer) throw new Refusal(RefusalReason.NO_CAPACITY, `this buyer already holds ${open} open quotes`)
    const maxOpen = openCap(terms)
    if (this.reserved(req.modelId) >= maxOpen) throw new Refusal(RefusalReason.NO_CAPACITY, `all ${maxOpen} sessions of ${req.modelId} are taken`)
    if (this.slotsOnOpen) this.checkReservations(req.buyer, req.modelId, terms.maxSessions, maxOpen)
    const maxUnpaidUc = this.unpaidTerm(req.buyer, shaped.maxUnpaidUc)
    const now = this.now()
    const latestEnd = BigInt(Math.floor(now + this.maxSessionMs))
    if (req.sessionExpiresAtMs !== 0n && req.sessionExpiresAtMs <= BigInt(Math.floor(now))) throw new Refusal(RefusalReason.BAD_REQUEST, 'sessionExpiresAtMs is in the past')
    // a longer session than this seller contracts is clamped, not refused: the quote states the end
    const sessionEnd = req.sessionExpiresAtMs === 0n || req.sessionExpiresAtMs > latestEnd ? latestEnd : req.sessionExpiresAtMs
    const quote = signQuote(this.c.signer, this.c.net, {
      quoteId: this.randomBytes(QUOTE_ID_LENGTH),
      buyer: req.buyer,
      requestNonce: req.nonce,
      modelId: terms.modelId,
      fingerprint: terms.fingerprint,
      fingerprintVerified: terms.fingerprintVerified,
      params: terms.params,
      priceInPerMTokUc: priceIn,
      priceOutPerMTokUc: priceOut,
      validUntilMs: BigInt(Math.floor(now + this.quoteTtlMs)),
      secondPeerAboveUc: terms.secondPeerAboveUc ?? 0n,
      maxSpendUc: req.maxSpendUc,
      sessionExpiresAtMs: sessionEnd,
      openWithinMs: BigInt(this.openWithinMs),
      minBuyerSpendableUc: shaped.minBuyerSpendableUc ?? 0n,
      maxUnpaidUc,
      trustedGrantors: shaped.trustedGrantors ?? []
    })
    const key = hex(quote.quoteId)
    const timer = setTimeout(() => { this.releaseQuote(quote.quoteId) }, this.quoteTtlMs)
    timer.unref?.()
    this.pending.set(key, { quote, timer, ...(bid != null ? { bid: bid.debit } : {}) })
    this.stats.quotesIssued++
    this.capacityChanged(quote.modelId)
    return quote
  }

  /** `issued`: the quote this stream carried, already signed here (its signature is not re-checked) */
  private async answerAccept (lp: LengthPrefixedStream<Stream>, acceptBytes: Uint8Array, connection: Connection, signal: AbortSignal, issued?: Quote): Promise<void> {
    let accept: Accept
    try {
      accept = openAccept(acceptBytes, this.c.net, issued)
      await this.checkAccept(accept, connection)
    } catch (err: any) {
      if (err instanceof Refusal) return this.refuse(lp, err.reason, err.message, signal)
      if (err instanceof WireError) return this.refuse(lp, RefusalReason.BAD_REQUEST, err.message, signal)
      throw err
    }
    // the quote is consumed: from here on a second accept of it is refused
    const key = hex(accept.quote.quoteId)
    const pending = this.pending.get(key)
    // at an auction price the contract takes its volume from the bid quote now, or is not signed
    if (pending?.bid != null && this.c.bidQuotes?.consume(pending.bid.quoteId, pending.bid.outputTokens) !== true) {
      return this.refuse(lp, RefusalReason.BID_VOLUME_EXHAUSTED, `the bid quote has fewer than the ${pending.bid.outputTokens} output tokens this contract takes left`, signal)
    }
    if (pending != null) clearTimeout(pending.timer)
    this.pending.delete(key)
    this.rememberAccepted(key, accept.quote.validUntilMs)
    const contract = signContract(this.c.signer, this.c.net, accept)
    this.sessions.set(hex(contract.contractId), { contract, peer: connection.remotePeer.toString() })
    try {
      await lp.write(NegotiateFrame.encode({ contract: contract.bytes as Uint8Array<ArrayBuffer> }), { signal })
      await lp.unwrap().close({ signal })
    } catch (err) {
      // the buyer never got it: nothing was promised, release the capacity
      this.releaseSession(contract.contractId)
      throw err
    }
    this.stats.contractsSigned++
    this.dispatchEvent(new CustomEvent<Contract>('contract', { detail: contract }))
  }

  private rememberAccepted (key: string, validUntilMs: bigint): void {
    const now = BigInt(Math.floor(this.now()))
    if (this.accepted.size >= MAX_REMEMBERED_QUOTES) {
      for (const [k, until] of this.accepted) if (until < now) this.accepted.delete(k)
      while (this.accepted.size >= MAX_REMEMBERED_QUOTES) this.accepted.delete(this.accepted.keys().next().value as string)
    }
    this.accepted.set(key, validUntilMs)
  }

  private async checkAccept (accept: Accept, connection: Connection): Promise<void> {
    const q = accept.quote
    if (!eq(q.seller, this.c.signer.publicKey)) throw new Refusal(RefusalReason.BAD_REQUEST, 'the quote was not issued by this seller')
    if (this.bindBuyerToPeer) {
      const remote = this.remoteKey(connection)
      if (remote == null || !eq(remote, accept.buyer)) throw new Refusal(RefusalReason.BAD_REQUEST, 'the quote was issued to another buyer')
    }
    const key = hex(q.quoteId)
    const now = this.now()
    if (this.accepted.has(key)) throw new Refusal(RefusalReason.BAD_REQUEST, 'this quote was already accepted')
    if (BigInt(Math.floor(now)) > q.validUntilMs || !this.pending.has(key)) throw new Refusal(RefusalReason.QUOTE_EXPIRED, 'the quote is no longer valid; ask for a new one')
    // a quote of this seller states the session end (openAccept checked the accept carries it)
    const latestEnd = (q.sessionExpiresAtMs ?? 0n) > 0n ? q.sessionExpiresAtMs! : BigInt(Math.floor(now + this.maxSessionMs))
    if (accept.sessionExpiresAtMs <= BigInt(Math.floor(now)) || accept.sessionExpiresAtMs > latestEnd) {
      throw new Refusal(RefusalReason.BAD_REQUEST, `sessionExpiresAtMs must be in the future and at most ${this.maxSessionMs} ms ahead`)
    }
    await this.policy(accept.buyer, { stage: 'accept', modelId: q.modelId, maxSpendUc: accept.maxSpendUc })
  }

  // ---- buyer side ----

  /**
   * Negotiate a contract with the seller at `peer`. Resolves with the verified two-signed
   * contract; rejects with NegotiationRefusedError (the seller's reason code), QuoteExpiredError,
   * ContractMismatchError, a wire error for a bad reply, or the abort/timeout error.
   */
  async negotiate (peer: PeerId | Multiaddr | Multiaddr[], req: NegotiateRequest): Promise<Contract> {
    // a duration, not a time of day: the monotonic clock (the simulator's virtual one in a run)
    const t0 = performance.now()
    const limit = deadline(this.timeoutMs, req.signal)
    const signal = limit.signal
    try {
      const connection = await this.c.libp2p.dial(peer, { signal })
      // at most as many negotiations with one seller as it lets one buyer hold quotes: an honest
      // buyer's burst queues here instead of hitting the seller's per-peer caps (and strikes)
      const release = await this.outboundSlot(connection.remotePeer.toString(), signal)
      try {
        return await this.exchange(connection, req, signal, t0)
      } finally {
        release()
      }
    } finally {
      limit.clear()
    }
  }

  private async outboundSlot (peer: string, signal: AbortSignal): Promise<() => void> {
    let q = this.outbound.get(peer)
    if (q == null) this.outbound.set(peer, q = { active: 0, waiting: [] })
    const slots = q
    if (slots.active < this.maxOutboundPerPeer) {
      slots.active++
    } else {
      // a waiter is handed the slot of the negotiation that ends (active stays counted)
      await new Promise<void>((resolve, reject) => {
        const go = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
        const onAbort = (): void => { slots.waiting = slots.waiting.filter(x => x !== go); reject(signal.reason) }
        if (signal.aborted) { onAbort(); return }
        signal.addEventListener('abort', onAbort, { once: true })
        slots.waiting.push(go)
      })
    }
    return () => {
      const next = slots.waiting.shift()
      if (next != null) { next(); return }
      slots.active--
      if (slots.active === 0 && this.outbound.get(peer) === slots) this.outbound.delete(peer)
    }
  }

  private async exchange (connection: Connection, req: NegotiateRequest, signal: AbortSignal, t0: number): Promise<Contract> {
    const sellerKey = this.remoteKey(connection)
    // optimistic select: the protocol id travels with the QuoteRequest, saving a round trip
    const stream = await connection.newStream(NEGOTIATE_PROTOCOL, { signal, negotiateFully: false, runOnLimitedConnection: true })
    const lp = lpStream(stream, { maxDataLength: this.maxFrameBytes })
    try {
      const nonce = this.randomBytes(NONCE_LENGTH)
      await lp.write(NegotiateFrame.encode({
        quoteRequest: {
          modelId: req.modelId,
          expectedInputTokens: req.expectedInputTokens ?? 0n,
          expectedOutputTokens: req.expectedOutputTokens ?? 0n,
          buyer: this.c.signer.publicKey as Uint8Array<ArrayBuffer>,
          nonce,
          maxPriceInPerMtokUc: req.maxPriceInPerMTokUc ?? 0n,
          maxPriceOutPerMtokUc: req.maxPriceOutPerMTokUc ?? 0n,
          maxSpendUc: req.maxSpendUc,
          sessionExpiresAtMs: req.sessionExpiresAtMs,
          bidQuote: (req.bidQuote ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>
        }
      }), { signal })
      const f1 = await readFrame(lp, signal)
      if (f1.refusal != null) throw new NegotiationRefusedError(f1.refusal.reason, f1.refusal.message, Number(f1.refusal.retryAfterMs ?? 0n))
      if (f1.quote == null) throw new ProtocolViolationError('expected a Quote or a Refusal')
      const quote = openQuote(f1.quote, this.c.net)
      this.checkQuote(quote, req, nonce, sellerKey)
      // the seller may clamp the session end; the accept carries the quote's
      const end = (quote.sessionExpiresAtMs ?? 0n) > 0n ? quote.sessionExpiresAtMs! : req.sessionExpiresAtMs
      const accept = signAccept(this.c.signer, this.c.net, quote, req.maxSpendUc, end)
      await lp.write(NegotiateFrame.encode({ accept: accept.bytes as Uint8Array<ArrayBuffer> }), { signal })
      const f2 = await readFrame(lp, signal)
      if (f2.refusal != null) throw new NegotiationRefusedError(f2.refusal.reason, f2.refusal.message)
      if (f2.contract == null) throw new ProtocolViolationError('expected a Contract or a Refusal')
      const contract = verifyContract(f2.contract, this.c.net, accept)
      if (!eq(contract.acceptId, accept.id)) throw new ContractMismatchError('the contract countersigns another accept')
      // the contract is ours: closing our end need not delay the caller
      lp.unwrap().close({ signal }).catch((err: any) => { stream.abort(err instanceof Error ? err : new Error(String(err))) })
      this.stats.contractsBought++
      this.dispatchEvent(new CustomEvent<Negotiated>('negotiated', { detail: { contract, durationMs: performance.now() - t0 } }))
      return contract
    } catch (err: any) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  private checkQuote (quote: Quote, req: NegotiateRequest, nonce: Uint8Array, sellerKey: Uint8Array | undefined): void {
    if (sellerKey != null && !eq(quote.seller, sellerKey)) throw new ContractMismatchError('the quote is not signed by the peer we asked')
    if (!eq(quote.buyer, this.c.signer.publicKey)) throw new ContractMismatchError('the quote names another buyer')
    if (!eq(quote.requestNonce, nonce)) throw new ContractMismatchError('the quote answers another request')
    if (quote.modelId !== req.modelId) throw new ContractMismatchError(`the quote is for ${quote.modelId}, asked for ${req.modelId}`)
    if ((req.maxPriceInPerMTokUc != null && quote.priceInPerMTokUc > req.maxPriceInPerMTokUc) ||
        (req.maxPriceOutPerMTokUc != null && quote.priceOutPerMTokUc > req.maxPriceOutPerMTokUc)) {
      throw new NegotiationRefusedError(RefusalReason.PRICE_CHANGED, 'the quote is above the price asked for')
    }
    const now = BigInt(Math.floor(this.now()))
    if (quote.validUntilMs <= now) throw new QuoteExpiredError(`the quote expired at ${quote.validUntilMs}, now ${now}`)
    if (quote.validUntilMs > now + BigInt(MAX_QUOTE_TTL_MS + 5_000)) throw new ContractMismatchError('the quote claims to be firm for more than 10 s')
    this.checkTerms(quote, req, now)
  }

  /** the quote's terms against what was asked and what this buyer can meet (negotiate.md § Quote terms) */
  private checkTerms (quote: Quote, req: NegotiateRequest, now: bigint): void {
    const lock = quote.maxSpendUc ?? 0n
    if (lock !== 0n && lock !== req.maxSpendUc) throw new ContractMismatchError(`the quote's lock is ${lock} µc, asked for ${req.maxSpendUc}`)
    const end = quote.sessionExpiresAtMs ?? 0n
    if (end !== 0n && (end > req.sessionExpiresAtMs || end <= now)) throw new ContractMismatchError(`the quote's session end ${end} is not in (now, ${req.sessionExpiresAtMs}]`)
    const p = req.accepts ?? {}
    if (p.minSessionMs != null && end !== 0n && end < now + BigInt(p.minSessionMs)) throw new QuoteTermsUnmetError(`the seller clamps the session to ${end - now} ms, this buyer needs ${p.minSessionMs} ms`)
    const openWithin = quote.openWithinMs ?? 0n
    const minOpen = p.minOpenWithinMs ?? DEFAULT_MIN_OPEN_WITHIN_MS
    if (openWithin !== 0n && openWithin < BigInt(minOpen)) throw new QuoteTermsUnmetError(`the seller wants the open within ${openWithin} ms, this buyer needs ${minOpen} ms`)
    const minSpendable = quote.minBuyerSpendableUc ?? 0n
    if (p.spendableUc != null && minSpendable > p.spendableUc) throw new QuoteTermsUnmetError(`the seller requires ${minSpendable} µc spendable, this buyer has ${p.spendableUc} µc`)
    const secondPeer = quote.secondPeerAboveUc ?? 0n
    if (p.secondPeer === false && secondPeer !== 0n && req.maxSpendUc > secondPeer) throw new QuoteTermsUnmetError(`a lock above ${secondPeer} µc needs a second peer holding the open, which this buyer has not`)
    const grantors = quote.trustedGrantors ?? []
    if (grantors.length > 0 && p.spendableTrusting != null) {
      const covered = p.spendableTrusting(grantors)
      if (covered < req.maxSpendUc) throw new QuoteTermsUnmetError(`the seller takes credit only from ${grantors.length} grantor(s): this buyer can spend ${covered} µc on them, the lock is ${req.maxSpendUc} µc`)
    }
  }
}

export function negotiate (init: NegotiateInit = {}): (components: NegotiateComponents) => Negotiator {
  return (components) => new Negotiator(components, init)
}

/** the sessions a seller holds open at once for a model: its open-session cap, or one per slot */
function openCap (terms: SellerTerms): number {
  return terms.maxOpenSessions ?? terms.maxSessions
}

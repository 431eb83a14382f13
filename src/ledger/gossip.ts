/**
 * Records gossip: the ledger's side of the records topic. Validates every gossiped record by
 * adding it to the ledger once (Accept / Ignore / Reject, so scoring punishes liars), holds the
 * verdict of a record whose ancestors are missing until they arrive, forwards at most a budget of
 * records per window from authors with no balance of their own, judges future-dated records once
 * the clock reaches them, publishes the node's own records, and re-gossips records learned by pull
 * within a rate bound. It is also the sink of /tally/sync: every record from the network enters
 * the ledger here.
 * js-libp2p service shape: `recordGossip(init)(components)`.
 */
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { ComponentLogger, Logger, PeerId, Startable } from '@libp2p/interface'
import { recordsTopic } from '../wire/topics.js'
import { gossipVerdict, type AddResult } from './ledger.js'
import { createHash } from 'node:crypto'
import { recordIdOf, type ParsedRecord } from './record.js'
import type { LedgerService, ReceivedResult } from './service.js'
import { AuthorBudget, DEFAULT_ACK_DEFER_MS, DEFAULT_MAX_DEFERRED_ACKS, DEFAULT_UNFUNDED_RECORDS_PER_WINDOW, DEFAULT_UNFUNDED_WINDOW_MS } from './admission.js'

/**
 * The gossip message id of data on the records topic: the record id, so a record republished by
 * anyone dedupes. Data that is not a record envelope gets the SHA-256 of its bytes instead of a
 * throw: gossipsub drops a message whose id function throws without scoring the sender, whereas
 * this way the topic validator sees it and Rejects it, so the sender's score pays for it.
 */
export function recordMessageId (data: Uint8Array, net: Uint8Array): Uint8Array {
  try {
    return recordIdOf(data, net)
  } catch {
    return new Uint8Array(createHash('sha256').update(data).digest())
  }
}

/** how long a gossiped record whose ancestors are missing waits for them before it is Ignored */
export const DEFAULT_PENDING_VERDICT_MS = 3_000
/** most gossiped records waiting for their ancestors at once (the rest are Ignored at once) */
export const DEFAULT_MAX_PENDING_VERDICTS = 1_000
/**
 * Records learned by pull (not gossip) are re-gossiped, so the rest of a healed partition hears
 * them at gossip speed instead of at each node's next pull; bounded so a late joiner's bulk
 * catch-up does not flood the topic.
 */
export const DEFAULT_REGOSSIP_MAX_PER_WINDOW = 1_000
export const DEFAULT_REGOSSIP_WINDOW_MS = 10_000
/**
 * a pulled record younger than this (by its author's clock) is most likely still on its way by
 * gossip: every node that happened to pull it first re-gossiping it would multiply its deliveries
 */
export const DEFAULT_REGOSSIP_MIN_AGE_MS = 5_000
/** how often held future-dated records are checked against the clock */
export const DEFAULT_FUTURE_CHECK_MS = 1_000

export interface RecordGossipInit {
  pendingVerdictMs?: number
  maxPendingVerdicts?: number
  regossipMaxPerWindow?: number
  regossipWindowMs?: number
  regossipMinAgeMs?: number
  /** records per window forwarded from an author with no balance of its own (admission.ts) */
  unfundedRecordsPerWindow?: number
  unfundedWindowMs?: number
  /** how long this node's own records leave unacked a record it kept but did not forward (default 60 s) */
  ackDeferMs?: number
  futureCheckMs?: number
  /** clock for the re-gossip window, a pulled record's age and the authors' budget; default the system clock */
  now?: () => number
}

export interface RecordGossipComponents {
  pubsub: GossipSub
  ledger: LedgerService
  net: Uint8Array
  logger: ComponentLogger
}

export function recordGossip (init: RecordGossipInit = {}) {
  return (components: RecordGossipComponents) => new RecordGossip(components, init)
}

export class RecordGossip implements Startable {
  readonly topic: string
  /** verdicts of gossiped records since start, for metrics */
  readonly verdicts = { accept: 0, ignore: 0, reject: 0 }
  private readonly pubsub: GossipSub
  private readonly ledger: LedgerService
  private readonly log: Logger
  private readonly now: () => number
  private readonly pendingVerdictMs: number
  private readonly maxPendingVerdicts: number
  private readonly regossipMaxPerWindow: number
  private readonly regossipWindowMs: number
  private readonly regossipMinAgeMs: number
  /** resolvers of verdicts waiting for a record to become valid, by record id */
  private readonly validWaiters = new Map<string, Array<(ok: boolean) => void>>()
  private readonly acceptedListeners = new Set<(records: ParsedRecord[]) => void>()
  private readonly overdueListeners = new Set<(peer: PeerId) => void>()
  private readonly budget: AuthorBudget
  /** records kept but not forwarded (over budget) → when: this node's own records do not ack them yet */
  private readonly throttled = new Map<string, number>()
  private readonly ackDeferMs: number
  private readonly futureCheckMs: number
  private futureTimer?: ReturnType<typeof setInterval>
  private regossip = { windowStartMs: 0, count: 0 }
  private offOwnRecords?: () => void
  private started = false

  constructor (components: RecordGossipComponents, init: RecordGossipInit = {}) {
    this.pubsub = components.pubsub
    this.ledger = components.ledger
    this.log = components.logger.forComponent('tally:ledger:gossip')
    this.topic = recordsTopic(components.net)
    this.now = init.now ?? (() => Date.now())
    this.pendingVerdictMs = init.pendingVerdictMs ?? DEFAULT_PENDING_VERDICT_MS
    this.maxPendingVerdicts = init.maxPendingVerdicts ?? DEFAULT_MAX_PENDING_VERDICTS
    this.regossipMaxPerWindow = init.regossipMaxPerWindow ?? DEFAULT_REGOSSIP_MAX_PER_WINDOW
    this.regossipWindowMs = init.regossipWindowMs ?? DEFAULT_REGOSSIP_WINDOW_MS
    this.regossipMinAgeMs = init.regossipMinAgeMs ?? DEFAULT_REGOSSIP_MIN_AGE_MS
    this.budget = new AuthorBudget(init.unfundedRecordsPerWindow ?? DEFAULT_UNFUNDED_RECORDS_PER_WINDOW, init.unfundedWindowMs ?? DEFAULT_UNFUNDED_WINDOW_MS)
    this.futureCheckMs = init.futureCheckMs ?? DEFAULT_FUTURE_CHECK_MS
    this.ackDeferMs = init.ackDeferMs ?? DEFAULT_ACK_DEFER_MS
  }

  readonly [Symbol.toStringTag] = 'tally:ledger:gossip'

  isStarted (): boolean {
    return this.started
  }

  start (): void {
    if (this.started) return
    this.pubsub.topicValidators.set(this.topic, this.validate)
    this.offOwnRecords = this.ledger.onRecord((bytes) => { this.publish(bytes) })
    this.ledger.ledger.setAckDeferral((id) => this.ackDeferred(id))
    this.futureTimer = setInterval(() => { this.releaseDue() }, this.futureCheckMs)
    this.futureTimer.unref?.()
    this.started = true
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    clearInterval(this.futureTimer)
    this.offOwnRecords?.()
    if (this.pubsub.topicValidators.get(this.topic) === this.validate) this.pubsub.topicValidators.delete(this.topic)
    for (const waiting of this.validWaiters.values()) for (const w of waiting) w(false)
    this.validWaiters.clear()
  }

  /** called with the records that became valid here, by whatever path they came */
  onAccepted (listener: (records: ParsedRecord[]) => void): () => void {
    this.acceptedListeners.add(listener)
    return () => { this.acceptedListeners.delete(listener) }
  }

  /** called with the forwarding peer when a gossiped record's ancestors did not come in time (fetch them) */
  onAncestorsOverdue (listener: (peer: PeerId) => void): () => void {
    this.overdueListeners.add(listener)
    return () => { this.overdueListeners.delete(listener) }
  }

  /** the records topic validator, counted by verdict for metrics */
  private readonly validate = async (from: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    const verdict = await this.judge(from, msg)
    this.verdicts[verdict === TopicValidatorResult.Accept ? 'accept' : verdict === TopicValidatorResult.Reject ? 'reject' : 'ignore']++
    return verdict
  }

  /** ledger.add once, mapped to Accept / Ignore / Reject */
  private async judge (from: PeerId, msg: Message): Promise<TopicValidatorResult> {
    // a peer may deliver before the ledger has loaded: not its fault, so no penalty
    if (!this.ledger.isStarted()) return TopicValidatorResult.Ignore
    const r = this.ingest(msg.data)
    // invalid is Rejected (scored) whoever the author; a valid record is never penalised
    if (r.status === 'rejected') return TopicValidatorResult.Reject
    // dated ahead of our clock: held and judged later; a clock's fault, not necessarily the sender's
    if (r.future === true || r.status === 'duplicate') return TopicValidatorResult.Ignore
    // kept (it reaches the rest by pull) but not forwarded beyond the author's budget
    if (!this.withinBudget(r)) {
      this.throttle(r.id)
      return TopicValidatorResult.Ignore
    }
    // a record that came before its ancestors: hold its verdict until they arrive (then it is
    // Accepted and forwarded like any other) or pendingVerdictMs passes (Ignored, and the
    // ancestors are fetched from the peer that forwarded it, which judged it valid)
    if (r.status === 'pending') {
      if (await this.becomesValid(r.id, this.pendingVerdictMs)) return TopicValidatorResult.Accept
      if (this.started) for (const listener of this.overdueListeners) listener(from)
      return TopicValidatorResult.Ignore
    }
    const verdict = gossipVerdict(r)
    return verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'ignore' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
  }

  private throttle (id: string | undefined): void {
    if (id == null) return
    if (this.throttled.size >= DEFAULT_MAX_DEFERRED_ACKS) this.throttled.delete(this.throttled.keys().next().value as string)
    this.throttled.set(id, this.now())
  }

  /** whether the local signer should leave `id` unacked for now (it was kept but not forwarded, recently) */
  private ackDeferred (id: string): boolean {
    const at = this.throttled.get(id)
    if (at == null) return false
    if (this.now() - at < this.ackDeferMs) return true
    this.throttled.delete(id)
    return false
  }

  /** whether a new record may be forwarded: always for a funded author or an issuer, else within the author's budget */
  private withinBudget (r: ReceivedResult): boolean {
    const author = r.author
    if (author == null || this.ledger.isIssuer(author)) return true
    if (this.ledger.balance(author).balanceUc > 0n) return true
    return this.budget.take(author, this.now())
  }

  /** resolves true when record `id` becomes valid here, false after `ms` (or when too many wait) */
  async becomesValid (id: string, ms: number): Promise<boolean> {
    if (this.ledger.ledger.has(id)) return true
    if (this.validWaiters.size >= this.maxPendingVerdicts && !this.validWaiters.has(id)) return false
    return await new Promise<boolean>(resolve => {
      const list = this.validWaiters.get(id) ?? []
      this.validWaiters.set(id, list)
      const timer = setTimeout(() => {
        const l = this.validWaiters.get(id)
        if (l == null) return
        l.splice(l.indexOf(done), 1)
        if (l.length === 0) this.validWaiters.delete(id)
        resolve(false)
      }, ms)
      timer.unref?.()
      const done = (ok: boolean): void => { clearTimeout(timer); resolve(ok) }
      list.push(done)
    })
  }

  /** a record from the network (gossip, sync, a seller's pull): into the ledger, waiters and listeners told */
  ingest (bytes: Uint8Array): ReceivedResult {
    this.releaseDue()
    const r = this.ledger.add(bytes)
    this.told(r.accepted)
    return r
  }

  /** judge the held future-dated records the clock has reached, and re-gossip them (nobody forwarded them) */
  releaseDue (): ParsedRecord[] {
    if (!this.ledger.isStarted()) return []
    const { released, accepted } = this.ledger.releaseDue()
    if (released.length === 0) return []
    this.told(accepted)
    const valid = new Set(accepted.map(a => a.id))
    for (const r of released) if (valid.has(r.id)) this.regossipBounded(r.bytes)
    return accepted
  }

  /** waiters and listeners of records that just became valid */
  private told (accepted: ParsedRecord[]): void {
    for (const rec of accepted) {
      const waiting = this.validWaiters.get(rec.id)
      if (waiting == null) continue
      this.validWaiters.delete(rec.id)
      for (const w of waiting) w(true)
    }
    if (accepted.length > 0) for (const listener of this.acceptedListeners) listener(accepted)
  }

  /** the /tally/sync sink: a record that arrived by pull is ingested and re-gossiped within the bound */
  async add (bytes: Uint8Array): Promise<AddResult> {
    return this.ingestPulled(bytes)
  }

  /**
   * a record that arrived by pull: ingest, and re-gossip what became valid by it unless fresh
   * (still travelling by gossip). A pulled record that is still pending is not re-gossiped: peers
   * could not validate it either; it goes out when its ancestors arrive and it becomes valid.
   */
  ingestPulled (bytes: Uint8Array): AddResult {
    const r = this.ingest(bytes)
    const oldEnough = this.now() - this.regossipMinAgeMs
    for (const x of r.accepted) if (Number(x.time) <= oldEnough) this.regossipBounded(x.bytes)
    return r
  }

  /** publish a record this node did not author, within the re-gossip rate bound */
  regossipBounded (bytes: Uint8Array): void {
    const now = this.now()
    if (now - this.regossip.windowStartMs > this.regossipWindowMs) this.regossip = { windowStartMs: now, count: 0 }
    if (this.regossip.count >= this.regossipMaxPerWindow) return
    this.regossip.count++
    this.publish(bytes)
  }

  /** publish on the records topic; peers that miss it pull it later */
  publish (bytes: Uint8Array): void {
    // while the node stops, services (e.g. the seller's final settles) still publish: this
    // service stops with libp2p, last
    if (!this.started) return
    this.pubsub.publish(this.topic, bytes).catch((err: Error) => {
      this.log('publishing a record failed: %s (peers will pull it)', err.message)
    })
  }
}

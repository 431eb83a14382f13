/**
 * Records gossip: the ledger's side of the records topic. Validates every gossiped record by
 * adding it to the ledger once (Accept / Ignore / Reject, so scoring punishes liars), holds the
 * verdict of a record whose ancestors are missing until they arrive, publishes the node's own
 * records, and re-gossips records learned by pull within a rate bound. It is also the sink of
 * /tally/sync: every record from the network enters the ledger here.
 * js-libp2p service shape: `recordGossip(init)(components)`.
 */
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { ComponentLogger, Logger, PeerId, Startable } from '@libp2p/interface'
import { recordsTopic } from '../wire/topics.js'
import { gossipVerdict, type AddResult } from './ledger.js'
import { createHash } from 'node:crypto'
import { recordIdOf, type ParsedRecord } from './record.js'
import type { LedgerService } from './service.js'

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

export interface RecordGossipInit {
  pendingVerdictMs?: number
  maxPendingVerdicts?: number
  regossipMaxPerWindow?: number
  regossipWindowMs?: number
  regossipMinAgeMs?: number
  /** clock for the re-gossip window and a pulled record's age; default the system clock */
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
  }

  readonly [Symbol.toStringTag] = 'tally:ledger:gossip'

  isStarted (): boolean {
    return this.started
  }

  start (): void {
    if (this.started) return
    this.pubsub.topicValidators.set(this.topic, this.validate)
    this.offOwnRecords = this.ledger.onRecord((bytes) => { this.publish(bytes) })
    this.started = true
  }

  stop (): void {
    if (!this.started) return
    this.started = false
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

  /** the records topic validator: ledger.add once, mapped to Accept / Ignore / Reject */
  private readonly validate = async (_from: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    // a peer may deliver before the ledger has loaded: not its fault, so no penalty
    if (!this.ledger.isStarted()) return TopicValidatorResult.Ignore
    const r = this.ingest(msg.data)
    // a record that came before its ancestors: hold its verdict until they arrive (then it is
    // Accepted and forwarded like any other) or pendingVerdictMs passes (Ignored)
    if (r.status === 'pending' && await this.becomesValid(r.id, this.pendingVerdictMs)) return TopicValidatorResult.Accept
    const verdict = gossipVerdict(r)
    return verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'ignore' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
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
  ingest (bytes: Uint8Array): AddResult {
    const r = this.ledger.add(bytes)
    for (const rec of r.accepted) {
      const waiting = this.validWaiters.get(rec.id)
      if (waiting == null) continue
      this.validWaiters.delete(rec.id)
      for (const w of waiting) w(true)
    }
    if (r.accepted.length > 0) for (const listener of this.acceptedListeners) listener(r.accepted)
    return r
  }

  /** the /tally/sync sink: a record that arrived by pull is ingested and re-gossiped within the bound */
  async add (bytes: Uint8Array): Promise<AddResult> {
    return this.ingestPulled(bytes)
  }

  /** a record that arrived by pull: ingest, and re-gossip it unless it is fresh (still travelling by gossip) */
  ingestPulled (bytes: Uint8Array): AddResult {
    const r = this.ingest(bytes)
    const fresh = r.status === 'accepted' && r.accepted.some(x => x.id === r.id && Number(x.time) > this.now() - this.regossipMinAgeMs)
    if ((r.status === 'accepted' && !fresh) || r.status === 'pending') this.regossipBounded(bytes)
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

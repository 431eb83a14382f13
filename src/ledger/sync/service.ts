/**
 * LedgerSync: the pull side of ledger replication. Serves and runs `/tally/sync/1.0.0`
 * (Negentropy rounds over length-prefixed frames) and `/tally/fetch/1.0.0` (records by id or by
 * account chain), and pulls periodically from a random connected peer. It knows records only as
 * opaque bytes with (timestamp, id) through the RecordSource / RecordSink seam.
 */
import { FetchRequest } from '../../wire/pb/sync.js'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  FrameTooLargeError, MalformedFetchError, NegentropyMalformedError, NoSyncPeerError, SyncError,
  SyncTimeoutError, TooManyIdsError, TooManyRoundsError
} from './errors.js'
import { ID_SIZE, MAX_TIMESTAMP, MIN_FRAME_SIZE_LIMIT, Negentropy, NegentropyStorageVector } from './negentropy.js'
import type { AbortOptions, ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { deadline, endStream, type Deadline } from '../../wire/deadline.js'

export const SYNC_PROTOCOL = '/tally/sync/1.0.0'
export const FETCH_PROTOCOL = '/tally/fetch/1.0.0'

/** one Negentropy frame: 512 KiB carries ~16k ids, so a late joiner needs ~64 rounds per million records */
export const DEFAULT_MAX_FRAME_BYTES = 512 * 1024
/** a peer that stays silent this long on one frame is given up */
export const DEFAULT_TIMEOUT_MS = 20_000
/** a million-record late joiner needs ~64 rounds at the default frame size; more means a looping peer */
export const DEFAULT_MAX_ROUNDS = 256
/** ids per /tally/fetch request: bounds the responder's work per stream */
export const DEFAULT_MAX_IDS_PER_FETCH = 4096
/** largest record accepted from /tally/fetch (a signed ledger record is a few hundred bytes) */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024
/** fetch requests in flight per sync */
export const DEFAULT_FETCH_CONCURRENCY = 4
/** periodic pull: heals partitions without flooding */
export const DEFAULT_INTERVAL_MS = 30_000
/**
 * how often the ids pending records wait for are fetched over /tally/fetch: a record that came
 * without its ancestors becomes valid in seconds instead of at the next periodic pull
 */
export const DEFAULT_MISSING_INTERVAL_MS = 5_000
/** missing ids asked for in one fetch round: bounds a round's work whatever the pending set holds */
export const DEFAULT_MAX_MISSING_PER_ROUND = 256
/** rounds per fetchMissing call: each round's records may wait for older ones (a chain gap) */
export const DEFAULT_MISSING_ROUNDS = 8
/** concurrent inbound sync / fetch streams per connection */
export const DEFAULT_MAX_INBOUND_STREAMS = 4
/**
 * a sealed view of a million records costs ~1-2 s of CPU to rebuild; under steady gossip the
 * revision changes constantly, so a view this young is reused (what it misses, gossip carries)
 */
export const DEFAULT_MAX_STORAGE_AGE_MS = 5_000
/**
 * ...but only while it misses at most this share of the source (needs `RecordSource.size`): a
 * young view of a small or fast-growing ledger (a network's first seconds, a burst of payments)
 * would answer a late joiner with most of the history missing, and gossip does not replay it
 */
export const DEFAULT_MAX_STALE_FRACTION = 0.01
/** longest account id accepted in a chain request */
const MAX_ACCOUNT_CHARS = 128
/** request frame slack beyond the ids (protobuf tags, account, seq, limit) */
const FETCH_REQUEST_OVERHEAD = 256

/** what the ledger exposes to sync; ids are 32 bytes */
export interface RecordSource {
  /** every record as (timestamp, id), in any order */
  items(): Iterable<{ timestamp: bigint | number, id: Uint8Array }>
  /** raw bytes of one record */
  get(id: Uint8Array): Uint8Array | undefined
  /** raw records of one account's chain from `fromSeq`, at most `limit` */
  chain?(account: string, fromSeq: bigint, limit: number): Uint8Array[]
  /** changes whenever the set changes; when present the sealed Negentropy storage is cached per revision */
  revision?(): number | bigint | string
  /** how many items the source holds now; bounds how stale a reused view may be (maxStaleFraction) */
  size?(): number
  /** ids that records waiting here depend on and that the source holds nowhere: what to fetch */
  missing?(): Uint8Array[]
}

/** where fetched records go (the ledger validates and stores them) */
export interface RecordSink {
  add(bytes: Uint8Array): Promise<unknown>
}

export interface LedgerSyncInit {
  /** periodic pull interval; 0 disables it */
  intervalMs?: number
  /** periodic fetch of the source's missing ids; 0 disables it */
  missingIntervalMs?: number
  maxMissingPerRound?: number
  missingRounds?: number
  maxFrameBytes?: number
  timeoutMs?: number
  maxRounds?: number
  maxIdsPerFetch?: number
  maxRecordBytes?: number
  fetchConcurrency?: number
  maxInboundStreams?: number
  /** id of a raw record; when set, fetched records that were not asked for are refused */
  recordId?(bytes: Uint8Array): Uint8Array
  /** ids we hold that the peer lacks (deduplicated), e.g. to republish them over gossip */
  onPeerLacks?(peer: PeerId, ids: Uint8Array[]): void
  /** reuse the sealed Negentropy view this long after the source changed; 0 = always fresh */
  maxStorageAgeMs?: number
  /** ...and only while the source grew by at most this fraction of the view's items since */
  maxStaleFraction?: number
  /** randomness for the periodic peer choice, in [0, 1) */
  random?(): number
  /** clock for the storage age, in ms */
  now?(): number
}

/** structural subset of libp2p's registrar */
export interface SyncRegistrar {
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number }): Promise<void>
  unhandle(protocol: string): Promise<void>
}

/** structural subset of libp2p's connection manager */
export interface SyncConnectionManager {
  getConnections(peerId?: PeerId): Connection[]
  openStream(peer: PeerId, protocol: string, options?: AbortOptions): Promise<Stream>
}

export interface LedgerSyncComponents {
  registrar: SyncRegistrar
  connectionManager: SyncConnectionManager
  logger: ComponentLogger
  source: RecordSource
  sink: RecordSink
}

export interface SyncResult {
  rounds: number
  bytesSent: number
  bytesReceived: number
  /** ids the peer had that we lacked */
  needed: number
  /** records fetched and accepted by the sink */
  fetched: number
  /** ids we hold that the peer lacks, handed to onPeerLacks */
  pushedIdsPeerLacks: number
}

export function ledgerSync (init: LedgerSyncInit = {}) {
  return (components: LedgerSyncComponents) => new LedgerSync(components, init)
}

export class LedgerSync implements Startable {
  /** reconciliations since start, as initiator and as responder, for metrics */
  readonly stats = {
    initiated: { sessions: 0, rounds: 0, bytesSent: 0, bytesReceived: 0 },
    served: { sessions: 0, rounds: 0, bytesSent: 0, bytesReceived: 0 }
  }

  private readonly log: Logger
  private readonly maxFrameBytes: number
  private readonly timeoutMs: number
  private readonly maxRounds: number
  private readonly maxIdsPerFetch: number
  private readonly maxRecordBytes: number
  private readonly fetchConcurrency: number
  private readonly intervalMs: number
  private readonly maxInboundStreams: number
  private readonly random: () => number
  private readonly now: () => number
  private readonly maxStorageAgeMs: number
  private readonly maxStaleFraction: number
  private shutdown = new AbortController()
  private timer?: ReturnType<typeof setTimeout>
  private missingTimer?: ReturnType<typeof setTimeout>
  private started = false
  private periodicInFlight = false
  private missingInFlight = false
  private cached?: { revision: number | bigint | string, builtAtMs: number, items: number, storage: NegentropyStorageVector }

  constructor (private readonly components: LedgerSyncComponents, private readonly init: LedgerSyncInit = {}) {
    this.log = components.logger.forComponent('tally:ledger:sync')
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    if (this.maxFrameBytes < MIN_FRAME_SIZE_LIMIT) throw new RangeError(`maxFrameBytes must be ≥ ${MIN_FRAME_SIZE_LIMIT}`)
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.maxRounds = init.maxRounds ?? DEFAULT_MAX_ROUNDS
    this.maxIdsPerFetch = init.maxIdsPerFetch ?? DEFAULT_MAX_IDS_PER_FETCH
    this.maxRecordBytes = init.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
    this.fetchConcurrency = init.fetchConcurrency ?? DEFAULT_FETCH_CONCURRENCY
    this.intervalMs = init.intervalMs ?? DEFAULT_INTERVAL_MS
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
    this.random = init.random ?? Math.random
    this.now = init.now ?? Date.now
    this.maxStorageAgeMs = init.maxStorageAgeMs ?? DEFAULT_MAX_STORAGE_AGE_MS
    this.maxStaleFraction = init.maxStaleFraction ?? DEFAULT_MAX_STALE_FRACTION
  }

  readonly [Symbol.toStringTag] = 'tally/ledger-sync'

  async start (): Promise<void> {
    if (this.started) return
    this.shutdown = new AbortController()
    const opts = { maxInboundStreams: this.maxInboundStreams }
    await this.components.registrar.handle(SYNC_PROTOCOL, (s, c) => this.serveSync(s, c), opts)
    await this.components.registrar.handle(FETCH_PROTOCOL, (s, c) => this.serveFetch(s, c), opts)
    this.started = true
    this.schedule()
    this.scheduleMissing()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearTimeout(this.timer)
    clearTimeout(this.missingTimer)
    this.shutdown.abort(new SyncError('ledger sync stopped'))
    await this.components.registrar.unhandle(SYNC_PROTOCOL)
    await this.components.registrar.unhandle(FETCH_PROTOCOL)
  }

  private schedule (): void {
    if (this.intervalMs <= 0 || !this.started) return
    this.timer = setTimeout(() => {
      void this.pullOnce().finally(() => this.schedule())
    }, this.intervalMs)
  }

  private scheduleMissing (): void {
    const ms = this.init.missingIntervalMs ?? DEFAULT_MISSING_INTERVAL_MS
    if (ms <= 0 || !this.started) return
    this.missingTimer = setTimeout(() => {
      void this.fetchMissing().finally(() => this.scheduleMissing())
    }, ms)
  }

  /**
   * Fetch the source's missing ids (what pending records wait for) from `peer`, or from a random
   * connected peer, over /tally/fetch into the sink: at most maxMissingPerRound ids a round, and
   * another round while one brought records and more are missing (a parent's parent). Returns
   * the records handed to the sink; failures are logged, never thrown; one call at a time.
   */
  async fetchMissing (peer?: PeerId, options: AbortOptions = {}): Promise<number> {
    const missing = this.components.source.missing
    if (missing == null || this.missingInFlight || !this.started) return 0
    this.missingInFlight = true
    let total = 0
    try {
      const maxIds = Math.min(this.init.maxMissingPerRound ?? DEFAULT_MAX_MISSING_PER_ROUND, this.maxIdsPerFetch)
      const rounds = this.init.missingRounds ?? DEFAULT_MISSING_ROUNDS
      const asked = new Set<string>()
      for (let round = 0; round < rounds; round++) {
        // an id asked for once in this call and still missing is not asked again (the peer lacks it)
        const ids = missing.call(this.components.source).filter(id => !asked.has(hex(id))).slice(0, maxIds)
        if (ids.length === 0) break
        for (const id of ids) asked.add(hex(id))
        const from = peer ?? this.randomPeer()
        if (from == null) throw new NoSyncPeerError('no connected peer to fetch missing records from')
        const records = await this.fetchIds(from, ids, options)
        for (const r of records) {
          try {
            await this.components.sink.add(r)
            total++
          } catch (err) {
            this.log('sink refused a record from %p: %s', from, (err as Error).message)
          }
        }
        if (records.length === 0) break
      }
    } catch (err) {
      this.log('fetching missing records failed: %s', (err as Error).message)
    } finally {
      this.missingInFlight = false
    }
    return total
  }

  private randomPeer (): PeerId | undefined {
    const peers = [...new Map(this.components.connectionManager.getConnections().map(c => [c.remotePeer.toString(), c.remotePeer])).values()]
    if (peers.length === 0) return undefined
    return peers[Math.floor(this.random() * peers.length) % peers.length]
  }

  /** one periodic pull with a random connected peer; failures are logged, never thrown */
  async pullOnce (): Promise<SyncResult | undefined> {
    if (this.periodicInFlight) return undefined
    this.periodicInFlight = true
    try {
      const peers = [...new Map(this.components.connectionManager.getConnections().map(c => [c.remotePeer.toString(), c.remotePeer])).values()]
      if (peers.length === 0) throw new NoSyncPeerError('no connected peer to pull from')
      const peer = peers[Math.floor(this.random() * peers.length) % peers.length]
      return await this.syncWith(peer)
    } catch (err) {
      this.log('periodic pull failed: %s', (err as Error).message)
      return undefined
    } finally {
      this.periodicInFlight = false
    }
  }

  // -------------------------------------------------------------------------------------------
  // initiator

  /** reconcile with `peer`, fetch what we lack into the sink, report what the peer lacks */
  async syncWith (peer: PeerId, options: AbortOptions = {}): Promise<SyncResult> {
    const ne = new Negentropy(this.storage(), this.maxFrameBytes)
    const need = new Map<string, Uint8Array>()
    const have = new Map<string, Uint8Array>()
    let rounds = 0
    let bytesSent = 0
    let bytesReceived = 0

    const opening = this.deadline(options)
    let stream: Stream
    try {
      stream = await this.open(peer, SYNC_PROTOCOL, opening)
    } finally {
      opening.clear()
    }
    try {
      const lp = lpStream(stream, { maxDataLength: this.maxFrameBytes })
      let msg: Uint8Array | null = ne.initiate()
      while (msg != null) {
        if (rounds >= this.maxRounds) throw new TooManyRoundsError(`reconciliation with ${peer} not finished after ${this.maxRounds} rounds`)
        rounds++
        await this.write(lp, msg, options)
        bytesSent += msg.length
        const reply = await this.read(lp, options)
        if (reply == null) throw new NegentropyMalformedError('peer closed the sync stream mid-reconciliation')
        bytesReceived += reply.length
        const r = ne.reconcile(reply)
        for (const id of r.needIds) need.set(hex(id), id)
        for (const id of r.haveIds) have.set(hex(id), id)
        msg = r.output
      }
      const closing = this.deadline(options)
      try {
        await stream.close(closing)
      } finally {
        closing.clear()
      }
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }

    const lacks = [...have.values()]
    if (lacks.length > 0) this.init.onPeerLacks?.(peer, lacks)
    const fetched = await this.fetchIntoSink(peer, [...need.values()], options)
    // the sealed view misses exactly what was just fetched: a young cached view would make the
    // next session (e.g. a late joiner's second pull) ask for all of it again
    if (fetched > 0) this.cached = undefined
    const st = this.stats.initiated
    st.sessions++
    st.rounds += rounds
    st.bytesSent += bytesSent
    st.bytesReceived += bytesReceived
    return { rounds, bytesSent, bytesReceived, needed: need.size, fetched, pushedIdsPeerLacks: lacks.length }
  }

  private async fetchIntoSink (peer: PeerId, ids: Uint8Array[], options: AbortOptions): Promise<number> {
    const batches: Uint8Array[][] = []
    for (let i = 0; i < ids.length; i += this.maxIdsPerFetch) batches.push(ids.slice(i, i + this.maxIdsPerFetch))
    let fetched = 0
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < batches.length) {
        const batch = batches[next++]
        const records = await this.fetchIds(peer, batch, options)
        for (const r of records) {
          try {
            await this.components.sink.add(r)
            fetched++
          } catch (err) {
            this.log('sink refused a record from %p: %s', peer, (err as Error).message)
          }
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.fetchConcurrency, batches.length) }, worker))
    return fetched
  }

  /** raw records for `ids` from `peer` (unknown ids are simply absent from the answer) */
  async fetchIds (peer: PeerId, ids: Uint8Array[], options: AbortOptions = {}): Promise<Uint8Array[]> {
    if (ids.length > this.maxIdsPerFetch) throw new TooManyIdsError(`asked for ${ids.length} ids, at most ${this.maxIdsPerFetch} per request`)
    for (const id of ids) if (id.length !== ID_SIZE) throw new RangeError(`record id must be ${ID_SIZE} bytes`)
    const records = await this.fetch(peer, { ids: ids.map(id => new Uint8Array(id)), account: '', fromSeq: 0n, limit: 0 }, ids.length, options)
    if (this.init.recordId != null) {
      const wanted = new Set(ids.map(hex))
      for (const r of records) {
        if (!wanted.has(hex(this.init.recordId(r)))) throw new MalformedFetchError(`peer ${peer} answered with a record that was not asked for`)
      }
    }
    return records
  }

  /** raw records of `account`'s chain from `fromSeq` (at most `limit`, capped at maxIdsPerFetch) */
  async fetchChain (peer: PeerId, account: string, fromSeq: bigint, limit: number, options: AbortOptions = {}): Promise<Uint8Array[]> {
    if (account.length === 0 || account.length > MAX_ACCOUNT_CHARS) throw new RangeError(`account id must be 1..${MAX_ACCOUNT_CHARS} characters`)
    const capped = Math.max(1, Math.min(limit, this.maxIdsPerFetch))
    return this.fetch(peer, { ids: [], account, fromSeq, limit: capped }, capped, options)
  }

  private async fetch (peer: PeerId, req: FetchRequest, maxRecords: number, options: AbortOptions): Promise<Uint8Array[]> {
    // one deadline for the whole request: a batch of records, not a frame at a time
    const once = this.deadline(options)
    let stream: Stream
    try {
      stream = await this.open(peer, FETCH_PROTOCOL, once)
    } catch (err) {
      once.clear()
      throw err
    }
    try {
      const lp = lpStream(stream, { maxDataLength: Math.max(this.maxRecordBytes, this.fetchRequestMaxBytes()) })
      await this.write(lp, FetchRequest.encode(req), once, false)
      const head = await this.read(lp, once, false)
      if (head == null) throw new MalformedFetchError('fetch stream closed before the record count')
      const count = decodeCount(head)
      if (count > maxRecords) throw new MalformedFetchError(`peer announced ${count} records, at most ${maxRecords} were asked for`)
      const out: Uint8Array[] = []
      for (let i = 0; i < count; i++) {
        const rec = await this.read(lp, once, false)
        if (rec == null) throw new MalformedFetchError(`fetch stream closed after ${i} of ${count} records`)
        if (rec.length > this.maxRecordBytes) throw new FrameTooLargeError(`record of ${rec.length} bytes exceeds ${this.maxRecordBytes}`)
        out.push(rec)
      }
      await stream.close(once)
      return out
    } catch (err) {
      stream.abort(err as Error)
      throw err
    } finally {
      once.clear()
    }
  }

  // -------------------------------------------------------------------------------------------
  // responder

  private async serveSync (stream: Stream, connection: Connection): Promise<void> {
    try {
      const lp = lpStream(stream, { maxDataLength: this.maxFrameBytes })
      const ne = new Negentropy(this.storage(), this.maxFrameBytes)
      let rounds = 0
      const st = this.stats.served
      st.sessions++
      while (true) {
        const query = await this.read(lp, {})
        if (query == null) break // initiator is satisfied and closed its side
        if (++rounds > this.maxRounds) throw new TooManyRoundsError(`peer ${connection.remotePeer} exceeded ${this.maxRounds} rounds`)
        st.rounds++
        st.bytesReceived += query.length
        const r = ne.reconcile(query)
        if (r.output == null) throw new NegentropyMalformedError('responder produced no reply')
        await this.write(lp, r.output, {})
        st.bytesSent += r.output.length
      }
      await endStream(stream, this.timeoutMs, this.shutdown.signal, syncTimedOut)
    } catch (err) {
      this.log('sync from %p refused: %s: %s', connection.remotePeer, (err as Error).name, (err as Error).message)
      stream.abort(err as Error)
    }
  }

  private async serveFetch (stream: Stream, connection: Connection): Promise<void> {
    try {
      const lp = lpStream(stream, { maxDataLength: Math.max(this.maxRecordBytes, this.fetchRequestMaxBytes()) })
      const frame = await this.read(lp, {})
      if (frame == null) throw new MalformedFetchError('fetch stream closed before the request')
      if (frame.length > this.fetchRequestMaxBytes()) throw new FrameTooLargeError(`fetch request of ${frame.length} bytes exceeds ${this.fetchRequestMaxBytes()}`)
      const req = decodeFetchRequest(frame)
      const records = this.answer(req)
      const once = this.deadline({})
      try {
        await lp.writeV([encodeCount(records.length), ...records], once)
      } catch (err) {
        throw mapStreamError(err)
      } finally {
        once.clear()
      }
      // the initiator closes once it has read the records: one that stays silent is reset
      await endStream(stream, this.timeoutMs, this.shutdown.signal, syncTimedOut)
    } catch (err) {
      this.log('fetch from %p refused: %s: %s', connection.remotePeer, (err as Error).name, (err as Error).message)
      stream.abort(err as Error)
    }
  }

  private answer (req: FetchRequest): Uint8Array[] {
    const hasIds = req.ids.length > 0
    const hasChain = req.account.length > 0
    if (hasIds === hasChain) throw new MalformedFetchError('fetch request must name either ids or an account chain')
    if (hasIds) {
      if (req.ids.length > this.maxIdsPerFetch) throw new TooManyIdsError(`request for ${req.ids.length} ids exceeds ${this.maxIdsPerFetch}`)
      const out: Uint8Array[] = []
      for (const id of req.ids) {
        if (id.length !== ID_SIZE) throw new MalformedFetchError(`record id of ${id.length} bytes, expected ${ID_SIZE}`)
        const rec = this.components.source.get(id)
        if (rec != null && rec.length <= this.maxRecordBytes) out.push(rec)
      }
      return out
    }
    if (req.account.length > MAX_ACCOUNT_CHARS) throw new MalformedFetchError(`account id longer than ${MAX_ACCOUNT_CHARS} characters`)
    if (req.limit === 0 || req.limit > this.maxIdsPerFetch) throw new TooManyIdsError(`chain limit ${req.limit} outside 1..${this.maxIdsPerFetch}`)
    const chain = this.components.source.chain?.(req.account, req.fromSeq, req.limit) ?? []
    return chain.slice(0, req.limit).filter(r => r.length <= this.maxRecordBytes)
  }

  // -------------------------------------------------------------------------------------------
  // plumbing

  /** the sealed Negentropy view of the source, rebuilt when the revision changed and the view is older than maxStorageAgeMs */
  private storage (): NegentropyStorageVector {
    const revision = this.components.source.revision?.()
    if (revision != null && this.cached != null) {
      if (this.cached.revision === revision) return this.cached.storage
      if (this.now() - this.cached.builtAtMs < this.maxStorageAgeMs && this.fewMissing(this.cached.items)) return this.cached.storage
    }
    const s = new NegentropyStorageVector()
    let skipped = 0
    let items = 0
    for (const it of this.components.source.items()) {
      const ts = BigInt(it.timestamp)
      // a record the ledger accepted with an unsyncable key must not stop sync for everything else
      if (ts < 0n || ts >= MAX_TIMESTAMP || it.id.length !== ID_SIZE) { skipped++; continue }
      s.insert(ts, it.id)
      items++
    }
    if (skipped > 0) this.log('%d items with a timestamp of 2^64-1 or an id not 32 bytes left out of sync', skipped)
    s.seal()
    if (revision != null) this.cached = { revision, builtAtMs: this.now(), items, storage: s }
    return s
  }

  /** whether a view of `viewItems` items misses few enough of the source's current items to reuse */
  private fewMissing (viewItems: number): boolean {
    const size = this.components.source.size?.()
    if (size == null) return true
    return size - viewItems <= viewItems * this.maxStaleFraction
  }

  private fetchRequestMaxBytes (): number {
    // room for one id more than allowed, so an oversized request is answered TooManyIds, not a framing error
    return (this.maxIdsPerFetch + 1) * (ID_SIZE + 2) + FETCH_REQUEST_OVERHEAD
  }

  /** timeoutMs from now, ended early by stop() or the caller; a timer this service owns (src/wire/deadline.ts) */
  private deadline (options: AbortOptions): Deadline {
    return deadline(this.timeoutMs, [this.shutdown.signal, options.signal], syncTimedOut)
  }

  /** `options` must already carry a deadline (see deadline()) */
  private async open (peer: PeerId, protocol: string, options: AbortOptions): Promise<Stream> {
    try {
      return await this.components.connectionManager.openStream(peer, protocol, options)
    } catch (err) {
      throw mapStreamError(err)
    }
  }

  /** `fresh`: bound this write by its own timeout, else use options.signal as given */
  private async write (lp: LengthPrefixedStream, data: Uint8Array, options: AbortOptions, fresh = true): Promise<void> {
    const own = fresh ? this.deadline(options) : undefined
    try {
      await lp.write(data, own ?? options)
    } catch (err) {
      throw mapStreamError(err)
    } finally {
      own?.clear()
    }
  }

  /** next frame, or null when the peer closed cleanly between frames */
  private async read (lp: LengthPrefixedStream, options: AbortOptions, fresh = true): Promise<Uint8Array | null> {
    const own = fresh ? this.deadline(options) : undefined
    try {
      const buf: Uint8ArrayList = await lp.read(own ?? options)
      return buf.subarray()
    } catch (err) {
      if ((err as Error).name === 'UnexpectedEOFError') return null
      throw mapStreamError(err)
    } finally {
      own?.clear()
    }
  }
}

function syncTimedOut (ms: number): SyncTimeoutError {
  return new SyncTimeoutError(`peer did not answer within ${ms} ms`)
}

function mapStreamError (err: unknown): Error {
  const e = err as Error
  if (e instanceof SyncError) return e
  if (e?.name === 'InvalidDataLengthError' || e?.name === 'InvalidDataLengthLengthError') return new FrameTooLargeError(e.message)
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return new SyncTimeoutError(`peer did not answer in time: ${e.message}`)
  return e instanceof Error ? e : new SyncError(String(err))
}

function decodeFetchRequest (frame: Uint8Array): FetchRequest {
  try {
    return FetchRequest.decode(frame)
  } catch (err) {
    throw new MalformedFetchError(`fetch request does not decode: ${(err as Error).message}`)
  }
}

/** the record count that opens a fetch response: a 4-byte big-endian u32 */
function encodeCount (n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

function decodeCount (b: Uint8Array): number {
  if (b.length !== 4) throw new MalformedFetchError(`fetch response count must be 4 bytes, got ${b.length}`)
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0)
}

function hex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

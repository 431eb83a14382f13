/**
 * `/tally/genesis/1.0.0` (protocols/genesis.md): every node serves the exact Genesis bytes its
 * `net` was computed from; a joiner that knows only the 32-byte `net` fetches them from a peer
 * and accepts them only if their SHA-256 is that `net`. Holds the service, the dialer's read
 * and check, and a short-lived client for a node that cannot be built before it has a genesis.
 */
import { createHash } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { byteStream, lpStream } from '@libp2p/utils'
import { equals } from 'uint8arrays/equals'
import { tcp } from '@libp2p/tcp'
import { memory } from '@libp2p/memory'
import { noise } from '@chainsafe/libp2p-noise'
import { plaintext } from '@libp2p/plaintext'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { AbortOptions, ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { Genesis as GenesisPb } from '../wire/pb/genesis.js'
import { CodedError, ErrorCode, TallyError } from '../errors/index.js'
import { deadline, endStream } from '../wire/deadline.js'
import { encodeGenesis, genesisCreditProblem, MAX_GENESIS_ISSUERS, MAX_GENESIS_NAME_CHARS, NET_HEX_PATTERN, type Genesis } from './genesis.js'

export const GENESIS_PROTOCOL = '/tally/genesis/1.0.0'

/** a genesis of 256 issuers is ~12 KiB; anything past 64 KiB is not one */
export const MAX_GENESIS_BYTES = 64 * 1024
/** a responder only has to write bytes it holds already: silence this long means it will not */
export const DEFAULT_FIRST_BYTE_TIMEOUT_MS = 5_000
/** the whole exchange (dial, protocol selection, the frame): 64 KiB takes well under a second on a live link */
export const DEFAULT_TIMEOUT_MS = 10_000
/** one fetch per connection is all a joiner needs; a few allow retries without queueing */
export const DEFAULT_MAX_INBOUND_STREAMS = 2
const PUBLIC_KEY_BYTES = 32
/** a varint length of at most MAX_GENESIS_BYTES (2^16) takes 3 bytes */
const MAX_LENGTH_PREFIX_BYTES = 3

/** the peer's genesis does not hash to the network id we were told to join */
export class GenesisMismatchError extends TallyError {
  override name = 'GenesisMismatchError'
  override readonly code: ErrorCode = ErrorCode.genesisMismatch
}

/** the peer announced a genesis frame over MAX_GENESIS_BYTES */
export class GenesisTooLargeError extends TallyError {
  override name = 'GenesisTooLargeError'
  override readonly code: ErrorCode = ErrorCode.messageTooLarge
}

/** the stream did not carry one well-formed frame, or the bytes are not a canonical, in-range Genesis */
export class GenesisMalformedError extends TallyError {
  override name = 'GenesisMalformedError'
  override readonly code: ErrorCode = ErrorCode.malformedMessage
}

/** the peer sent no first byte, or not the whole frame, within its deadline */
export class GenesisTimeoutError extends TallyError {
  override name = 'GenesisTimeoutError'
  override readonly code: ErrorCode = ErrorCode.genesisTimeout
}

/** the peer does not speak /tally/genesis/1.0.0 */
export class GenesisUnsupportedError extends TallyError {
  override name = 'GenesisUnsupportedError'
  override readonly code: ErrorCode = ErrorCode.genesisUnsupported
}

export interface GenesisExchangeInit {
  firstByteTimeoutMs?: number
  timeoutMs?: number
  maxGenesisBytes?: number
  maxInboundStreams?: number
}

/** structural subsets of libp2p's registrar and connection manager */
export interface GenesisRegistrar {
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number }): Promise<void>
  unhandle(protocol: string): Promise<void>
}
export interface GenesisConnectionManager {
  openStream(peer: PeerId, protocol: string, options?: AbortOptions): Promise<Stream>
}

export interface GenesisExchangeComponents {
  registrar: GenesisRegistrar
  connectionManager: GenesisConnectionManager
  logger: ComponentLogger
  /** the genesis this node runs on: what it serves */
  genesis: Genesis
  /** the network id the node was told to join (64 hex); when given, the genesis must hash to it */
  net?: string
}

export function genesisExchange (init: GenesisExchangeInit = {}) {
  return (components: GenesisExchangeComponents) => new GenesisExchange(components, init)
}

export class GenesisExchange implements Startable {
  private readonly log: Logger
  private readonly bytes: Uint8Array
  private readonly limits: ReadLimits
  private readonly maxInboundStreams: number
  private shutdown = new AbortController()
  private started = false

  constructor (private readonly components: GenesisExchangeComponents, init: GenesisExchangeInit = {}) {
    this.log = components.logger.forComponent('tally:genesis')
    this.bytes = encodeGenesis(components.genesis)
    const own = sha256Hex(this.bytes)
    // a node whose config names a net it has no genesis for must fetch it first, never run on another one
    if (components.net != null && components.net !== own) {
      throw new GenesisMismatchError(`the node was told to join net ${components.net} but its genesis "${components.genesis.name}" is net ${own}: fetch the genesis first (fetchGenesisFrom)`)
    }
    this.limits = readLimits(init)
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
  }

  readonly [Symbol.toStringTag] = 'tally/genesis-exchange'

  /** the exact bytes served, the ones `net` is the SHA-256 of */
  get genesisBytes (): Uint8Array { return this.bytes }

  async start (): Promise<void> {
    if (this.started) return
    this.shutdown = new AbortController()
    await this.components.registrar.handle(GENESIS_PROTOCOL, (s, c) => this.serve(s, c), { maxInboundStreams: this.maxInboundStreams })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort(new GenesisTimeoutError('genesis exchange stopped'))
    await this.components.registrar.unhandle(GENESIS_PROTOCOL)
  }

  /** the genesis of `peer`, accepted only if it hashes to `expectedNet` */
  async fetchGenesis (peer: PeerId, expectedNet: Uint8Array | string, options: AbortOptions = {}): Promise<Genesis> {
    const net = netHex(expectedNet)
    return await requestGenesis(async (o) => await this.components.connectionManager.openStream(peer, GENESIS_PROTOCOL, o), net, this.limits, options.signal, this.shutdown.signal)
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    // the dialer sends nothing; its bytes, if any, are never read
    const total = deadline(this.limits.timeoutMs, this.shutdown.signal, timedOut('sending the genesis'))
    try {
      await lpStream(stream).write(this.bytes, { signal: total.signal })
    } catch (err) {
      this.log('genesis to %p not sent: %s', connection.remotePeer, (err as Error).message)
      stream.abort(err as Error)
      return
    } finally {
      total.clear()
    }
    // a dialer that does not close once it has the frame is reset: it holds no stream for longer
    await endStream(stream, this.limits.timeoutMs, this.shutdown.signal, timedOut('the dialer closing its side'))
  }
}

// ---------------------------------------------------------------------------------------------
// the dialer's side, shared by the service and the standalone client

interface ReadLimits { firstByteTimeoutMs: number, timeoutMs: number, maxGenesisBytes: number }

function readLimits (init: GenesisExchangeInit): ReadLimits {
  const maxGenesisBytes = init.maxGenesisBytes ?? MAX_GENESIS_BYTES
  if (maxGenesisBytes < 1 || maxGenesisBytes > MAX_GENESIS_BYTES) throw new RangeError(`maxGenesisBytes must be 1..${MAX_GENESIS_BYTES}`)
  return {
    firstByteTimeoutMs: init.firstByteTimeoutMs ?? DEFAULT_FIRST_BYTE_TIMEOUT_MS,
    timeoutMs: init.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxGenesisBytes
  }
}

/** opens the stream (within the total deadline), reads one frame, checks and decodes it */
async function requestGenesis (open: (o: AbortOptions) => Promise<Stream>, net: string, limits: ReadLimits, caller?: AbortSignal, shutdown?: AbortSignal): Promise<Genesis> {
  const total = deadline(limits.timeoutMs, [caller, shutdown], timedOut('the genesis exchange'))
  let stream: Stream | undefined
  try {
    stream = await open({ signal: total.signal })
    // nothing to send: close our side at once, so the responder sees a plain request
    await stream.close({ signal: total.signal })
    const bytes = await readFrame(stream, limits, total.signal)
    // the reply is read: a responder that has not closed its side by now is not waited for
    if (stream.remoteWriteStatus !== 'closed') stream.abort(new GenesisMalformedError('genesis read; the responder did not close'))
    return checkGenesis(bytes, net)
  } catch (err) {
    const mapped = mapError(err, caller)
    stream?.abort(mapped)
    throw mapped
  } finally {
    total.clear()
  }
}

/** one varint length-prefixed frame; the first byte within firstByteTimeoutMs, all of it within `total` */
async function readFrame (stream: Stream, limits: ReadLimits, total: AbortSignal): Promise<Uint8Array> {
  // a responder that keeps writing past one frame overflows this buffer and the stream is reset
  const bytes = byteStream(stream, { maxBufferSize: limits.maxGenesisBytes + MAX_LENGTH_PREFIX_BYTES })
  const first = deadline(limits.firstByteTimeoutMs, total, timedOut('the first byte of the genesis'))
  let b: number
  try {
    b = (await bytes.read({ bytes: 1, signal: first.signal })).get(0)
  } finally {
    first.clear()
  }
  let length = 0
  for (let i = 0; ; i++) {
    if (i === MAX_LENGTH_PREFIX_BYTES) throw new GenesisTooLargeError(`genesis length prefix longer than ${MAX_LENGTH_PREFIX_BYTES} bytes (frames are at most ${limits.maxGenesisBytes} bytes)`)
    if (i > 0) b = (await bytes.read({ bytes: 1, signal: total })).get(0)
    length += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new GenesisMalformedError('genesis length prefix is not a minimal varint')
      break
    }
  }
  if (length > limits.maxGenesisBytes) throw new GenesisTooLargeError(`genesis frame of ${length} bytes, at most ${limits.maxGenesisBytes}`)
  if (length === 0) throw new GenesisMalformedError('empty genesis frame')
  return (await bytes.read({ bytes: length, signal: total })).subarray()
}

/** hash first (cheap, and nothing of an unknown network is decoded), then decode and range-check */
export function checkGenesis (bytes: Uint8Array, expectedNet: Uint8Array | string): Genesis {
  const net = netHex(expectedNet)
  const got = sha256Hex(bytes)
  if (got !== net) throw new GenesisMismatchError(`the peer's genesis is net ${got}, expected ${net}`)
  return decodeGenesis(bytes)
}

/**
 * Genesis bytes into a Genesis, refusing what no node could have hashed into its net: bytes
 * that do not decode, fields out of range, and any encoding other than the canonical one
 * (a node computes net from encodeGenesis, so another encoding would put it on another net).
 */
export function decodeGenesis (bytes: Uint8Array): Genesis {
  let pb: GenesisPb
  try {
    pb = GenesisPb.decode(bytes, { limits: { issuers: MAX_GENESIS_ISSUERS } })
  } catch (err) {
    throw new GenesisMalformedError(`genesis does not decode: ${(err as Error).message}`)
  }
  if (pb.name.length === 0 || pb.name.length > MAX_GENESIS_NAME_CHARS) throw new GenesisMalformedError(`genesis name must be 1..${MAX_GENESIS_NAME_CHARS} characters, got ${pb.name.length}`)
  if (pb.maxSessionLockUc === 0n) throw new GenesisMalformedError('genesis maxSessionLockUc must be greater than 0')
  pb.issuers.forEach((it, i) => {
    if (it.publicKey.length !== PUBLIC_KEY_BYTES) throw new GenesisMalformedError(`genesis issuers[${i}]: public key of ${it.publicKey.length} bytes, expected ${PUBLIC_KEY_BYTES}`)
  })
  const g: Genesis = {
    name: pb.name,
    issuers: pb.issuers.map(it => ({ publicKey: new Uint8Array(it.publicKey), capUc: it.capUc })),
    defaultCreditLimitUc: pb.defaultCreditLimitUc,
    maxSessionLockUc: pb.maxSessionLockUc,
    development: pb.development,
    minTransferUc: pb.minTransferUc
  }
  const credit = genesisCreditProblem(g)
  if (credit != null) throw new GenesisMalformedError(`genesis: ${credit}`)
  if (!equals(encodeGenesis(g), bytes)) throw new GenesisMalformedError('genesis is not in canonical encoding (issuers sorted by key, no unknown or repeated fields)')
  return g
}

// ---------------------------------------------------------------------------------------------
// before a node exists

export interface FetchGenesisFromOptions extends GenesisExchangeInit {
  /** how to reach the addresses; default tcp */
  transport?: 'tcp' | 'memory'
  /** default noise; plaintext only where the peers speak it (simulations) */
  encryption?: 'noise' | 'plaintext'
  signal?: AbortSignal
  logger?: ComponentLogger
}

/**
 * A node needs its genesis before it can be built (net names its topics and enters every
 * signature), so a joiner that knows only `net` runs this first: a throwaway libp2p client
 * (random peer id, no listener, no gossip) asks each address in turn and returns the first
 * genesis that hashes to `expectedNet`. When every address fails it throws a mismatch if any
 * peer answered one (the operator's net or peer is wrong), else the last failure.
 */
export async function fetchGenesisFrom (addrs: string[], expectedNet: Uint8Array | string, options: FetchGenesisFromOptions = {}): Promise<Genesis> {
  const net = netHex(expectedNet)
  if (addrs.length === 0) throw new RangeError('no address to fetch the genesis from')
  const limits = readLimits(options)
  const client = await createLibp2p({
    transports: [options.transport === 'memory' ? memory() : tcp()],
    connectionEncrypters: [options.encryption === 'plaintext' ? plaintext() : noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    ...(options.logger != null ? { logger: options.logger } : {})
  })
  const log = client.logger.forComponent('tally:genesis:client')
  const failures: Error[] = []
  try {
    for (const addr of addrs) {
      try {
        return await requestGenesis(async (o) => await client.dialProtocol(multiaddr(addr), GENESIS_PROTOCOL, o), net, limits, options.signal)
      } catch (err) {
        log('genesis from %s refused: %s: %s', addr, (err as Error).name, (err as Error).message)
        failures.push(err as Error)
        if (options.signal?.aborted === true) break
      }
    }
  } finally {
    await client.stop()
  }
  throw failures.find(e => e instanceof GenesisMismatchError) ?? failures[failures.length - 1]
}

// ---------------------------------------------------------------------------------------------
// plumbing

/** the reason of a genesis deadline (src/wire/deadline.ts: a timer the node owns, safe from the collector) */
function timedOut (what: string): (ms: number) => GenesisTimeoutError {
  return (ms) => new GenesisTimeoutError(`${what} took longer than ${ms} ms`)
}

function mapError (err: unknown, caller?: AbortSignal): Error {
  const e = err as Error
  if (e instanceof TallyError) return e
  if (caller?.aborted === true) return new CodedError(ErrorCode.aborted, `genesis fetch aborted: ${e?.message ?? String(err)}`)
  if (e?.name === 'UnsupportedProtocolError') return new GenesisUnsupportedError(`the peer does not serve ${GENESIS_PROTOCOL}: ${e.message}`)
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return new GenesisTimeoutError(`no genesis from the peer in time: ${e.message}`)
  if (e?.name === 'UnexpectedEOFError') return new GenesisMalformedError(`the peer closed the stream before a whole genesis frame: ${e.message}`)
  if (e?.name === 'StreamBufferError') return new GenesisTooLargeError(`the peer sent more than one genesis frame: ${e.message}`)
  return e instanceof Error ? e : new CodedError(ErrorCode.internal, String(err))
}

function netHex (net: Uint8Array | string): string {
  if (typeof net === 'string') {
    if (!NET_HEX_PATTERN.test(net)) throw new RangeError('a network id is 64 lowercase hex characters')
    return net
  }
  if (net.length !== 32) throw new RangeError('a network id is 32 bytes')
  return Buffer.from(net).toString('hex')
}

function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}


/**
 * createBaseNode: one Tally node = one identity + one libp2p host (tcp|memory, noise|plaintext,
 * yamux, identify, gossipsub on the network's topics) + a registry of domain services that start
 * after libp2p and stop before it. It owns lifecycle and wiring, not any protocol's logic.
 */
import '../polyfill.js'
import { EventEmitter } from 'node:events'
import { createLibp2p, type Libp2p, type Libp2pOptions, type ServiceFactoryMap } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { memory } from '@libp2p/memory'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { plaintext } from '@libp2p/plaintext'
import { identify, type Identify } from '@libp2p/identify'
import { gossipsub, type GossipSub, type GossipsubOpts, type TopicValidatorFn } from '@libp2p/gossipsub'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { Registry } from 'prom-client'
import type { ComponentLogger, ConnectionGater, PeerId } from '@libp2p/interface'
import type { TallyConfig } from './config.js'
import { loadOrCreateIdentity, type Identity } from '../identity/keystore.js'
import { netId, type Genesis } from '../ledger/genesis.js'
import type { Ed25519Signer } from '../identity/ed25519.js'
import { BootstrapDialer, type BootstrapInit } from './bootstrap.js'
import { PeerStoreBound, type PeerStoreBoundInit } from './peer-store-bound.js'
import { ServiceRegistry, type TallyService } from './services.js'
import { TOPIC_KINDS, topicName, type TopicKind } from '../wire/topics.js'
import { CLOSED_NETWORK } from './network/config.js'
import { isOpen, networkServiceFactories, planNetwork, relayTransport, RELAY_LISTEN, tcpTransport, type NetworkPlan } from './network/services.js'
import { reachabilityOf, type Reachability } from './network/reachability.js'
import type { ConnectionTarget } from './network/connection-target.js'

export { TOPIC_KINDS, topicName, type TopicKind }

/** a libp2p transport factory, as libp2p's `transports` option takes it */
export type TransportFactory = NonNullable<Libp2pOptions['transports']>[number]

/** the libp2p services every node runs; a node adds its own (e.g. ledger sync) as `S` */
export type TallyLibp2pServices = {
  identify: Identify
  pubsub: GossipSub
}

/** libp2p services beyond identify and pubsub, by name */
export type ExtraServices = Record<string, unknown>

export interface TopicHandler {
  /** gossipsub validator: Accept / Ignore / Reject, so scoring punishes liars */
  validate?: TopicValidatorFn
}

export interface BaseNodeEvents {
  /** a remote peer subscribed to one of this network's topics */
  'gossip-peer': [{ peerId: string, topic: string }]
  /** a remote peer left one of this network's topics */
  'gossip-peer-left': [{ peerId: string, topic: string }]
}

/** internal wiring options: for the integrator, the simulator and tests, not the config file */
export interface BaseNodeInit<S extends ExtraServices = ExtraServices> {
  /** use this identity instead of the keystore in config.dataDir (simulation, tests) */
  identity?: Identity
  /**
   * extra libp2p services (the factories libp2p calls with its components), created after
   * identify and pubsub, so a factory may take `components.pubsub` and the services before it
   */
  libp2pServices?: ServiceFactoryMap<S>
  /** gossipsub options on top of Tally's defaults (e.g. msgIdFn for record ids) */
  gossipsub?: Partial<GossipsubOpts>
  /** validators per topic kind, installed when the node starts (domain services may install their own instead) */
  topicHandlers?: Partial<Record<TopicKind, TopicHandler>>
  /** domain services, started in insertion order after libp2p and stopped in reverse before it */
  services?: Record<string, (node: BaseNode<S>) => TallyService>
  /** libp2p logger, e.g. a per-node prefixed one in simulations */
  logger?: ComponentLogger
  bootstrap?: BootstrapInit
  /** how many disconnected peers the libp2p peer store keeps, and how long (src/node/peer-store-bound.ts) */
  peerStore?: PeerStoreBoundInit
  /** simulation: latency in ms added to every buffer on the memory transport (default 0) */
  memoryLatencyMs?: number
  /**
   * the transport instead of the configured one, e.g. the simulator's `simTransport(network)`
   * (latency, loss); the node does not know the simulator, the simulator passes its transport in
   */
  transport?: TransportFactory
  /** simulation: refuse dials and inbound connections, e.g. to partition the network */
  connectionGater?: ConnectionGater
  /**
   * libp2p connection manager limits on top of its defaults. A simulation raises
   * maxIncomingPendingConnections: libp2p refuses an 11th inbound connection still being upgraded,
   * and a cheap seller in a market of hundreds is dialled by many buyers at once.
   */
  connectionManager?: { maxConnections?: number, maxIncomingPendingConnections?: number }
  /**
   * collect libp2p's own metrics (@libp2p/prometheus-metrics) into a registry of this node's;
   * default: yes, except in simulations (hundreds of nodes in one process, every stream counted)
   */
  libp2pMetrics?: boolean
}

export interface BaseNode<S extends ExtraServices = ExtraServices> extends EventEmitter<BaseNodeEvents> {
  readonly libp2p: Libp2p<TallyLibp2pServices & S>
  readonly account: string
  readonly publicKey: Uint8Array
  readonly signer: Ed25519Signer
  readonly net: Uint8Array
  readonly genesis: Genesis
  readonly topics: Readonly<Record<TopicKind, string>>
  readonly config: TallyConfig
  readonly services: ServiceRegistry
  /** libp2p's own metrics (connections, streams, bytes by protocol, dials), when collected */
  readonly libp2pMetrics?: Registry
  readonly started: boolean
  /** multiaddrs others can dial, each ending in /p2p/<peer id> */
  addrs(): string[]
  /** remote peers subscribed to this network's topic of one kind */
  gossipPeers(kind?: TopicKind): string[]
  /** what the node runs of the open network (config.network with `auto` resolved) */
  readonly network: NetworkPlan
  /** AutoNAT verdict, public/private/relay addresses, relay slots served, DHT mode, connections (docs/network.md) */
  reachability(): Reachability
  start(): Promise<void>
  stop(): Promise<void>
}

class Node<S extends ExtraServices> extends EventEmitter<BaseNodeEvents> implements BaseNode<S> {
  readonly libp2p: Libp2p<TallyLibp2pServices & S>
  readonly account: string
  readonly publicKey: Uint8Array
  readonly signer: Ed25519Signer
  readonly net: Uint8Array
  readonly genesis: Genesis
  readonly topics: Readonly<Record<TopicKind, string>>
  readonly config: TallyConfig
  readonly services: ServiceRegistry
  readonly libp2pMetrics?: Registry
  readonly network: NetworkPlan
  private readonly handlers: Partial<Record<TopicKind, TopicHandler>>
  private readonly bootstrapDialer: BootstrapDialer
  /** forgets disconnected peers: a dial from a fresh key leaves no entry for hours */
  readonly peerStoreBound: PeerStoreBound
  private readonly kindOfTopic: Map<string, TopicKind>
  private running = false

  constructor (libp2p: Libp2p<TallyLibp2pServices & S>, identity: Identity, config: TallyConfig, init: BaseNodeInit<S>, network: NetworkPlan, libp2pMetrics?: Registry) {
    super()
    this.network = network
    this.libp2p = libp2p
    this.libp2pMetrics = libp2pMetrics
    this.account = identity.account
    this.publicKey = identity.publicKey
    this.signer = identity.signer
    this.genesis = config.genesis
    this.net = netId(config.genesis)
    this.topics = Object.freeze({ offers: topicName(this.net, 'offers'), bids: topicName(this.net, 'bids'), records: topicName(this.net, 'records') })
    this.kindOfTopic = new Map(TOPIC_KINDS.map(k => [this.topics[k], k]))
    this.config = config
    this.handlers = init.topicHandlers ?? {}
    this.services = new ServiceRegistry()
    // a joiner redials its bootstrap peers only while it has too few others (no hub)
    const target = (libp2p.services as Record<string, unknown>).network as ConnectionTarget | undefined
    this.bootstrapDialer = new BootstrapDialer(libp2p, config.bootstrap, { needed: () => target?.needsBootstrap() ?? true, ...init.bootstrap })
    this.peerStoreBound = new PeerStoreBound(libp2p, init.peerStore)
    for (const [name, factory] of Object.entries(init.services ?? {})) this.services.add(name, factory(this))
  }

  get started (): boolean {
    return this.running
  }

  private readonly onSubscriptionChange = (evt: CustomEvent<{ peerId: PeerId, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    for (const s of evt.detail.subscriptions) {
      if (!this.kindOfTopic.has(s.topic)) continue
      this.emit(s.subscribe ? 'gossip-peer' : 'gossip-peer-left', { peerId: evt.detail.peerId.toString(), topic: s.topic })
    }
  }

  async start (): Promise<void> {
    if (this.running) return
    await this.libp2p.start()
    const pubsub = this.libp2p.services.pubsub
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    for (const kind of TOPIC_KINDS) {
      const validate = this.handlers[kind]?.validate
      if (validate != null) pubsub.topicValidators.set(this.topics[kind], validate)
      pubsub.subscribe(this.topics[kind])
    }
    try {
      await this.services.start()
    } catch (err) {
      await this.libp2p.stop()
      throw err
    }
    this.bootstrapDialer.start()
    this.peerStoreBound.start()
    this.running = true
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.bootstrapDialer.stop()
    this.peerStoreBound.stop()
    try {
      await this.services.stop()
    } finally {
      const pubsub = this.libp2p.services.pubsub
      pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
      const lingering = upstreamTimers(this.libp2p)
      await this.libp2p.stop()
      lingering.clear()
    }
  }

  addrs (): string[] {
    const id = this.libp2p.peerId.toString()
    return this.libp2p.getMultiaddrs().map(a => {
      const s = a.toString()
      return a.getComponents().some(c => c.name === 'p2p') ? s : `${s}/p2p/${id}`
    })
  }

  reachability (): Reachability {
    return reachabilityOf(this.libp2p, this.network)
  }

  gossipPeers (kind: TopicKind = 'records'): string[] {
    if (!this.running) return []
    return this.libp2p.services.pubsub.getSubscribers(this.topics[kind]).map(p => p.toString())
  }
}

/**
 * Two libp2p 3 timers outlive stop() by up to a second and keep the process alive: gossipsub
 * 17.1.1 never clears its pending heartbeat timeout, and the address manager's debounced peer
 * store update is armed by the listeners closing. Both would run once on a stopped node and do
 * nothing useful, so stop() cancels them. Optional chaining keeps this a no-op if internals change.
 */
function upstreamTimers (libp2p: Libp2p<TallyLibp2pServices>): { clear: () => void } {
  // internals, typed as far as this reads them: every step may be missing
  const heartbeat = (libp2p.services.pubsub as unknown as { status?: { heartbeatTimeout?: ReturnType<typeof setTimeout> } }).status?.heartbeatTimeout
  const internals = libp2p as unknown as { components?: { addressManager?: { _updatePeerStoreAddresses?: { stop?: () => void } } } }
  return {
    clear: () => {
      if (heartbeat != null) clearTimeout(heartbeat)
      internals.components?.addressManager?._updatePeerStoreAddresses?.stop?.()
    }
  }
}

let metricsModules = 0
/**
 * @libp2p/prometheus-metrics keeps one map of metric names per module instance and hands out an
 * existing entry by name, so the nodes of one process (tests, the demo) would share, and report
 * into, whichever node registered a name first; each node loads its own instance of the module
 * (an import URL with its own query is a new ES module instance).
 */
async function ownPrometheusMetrics (): Promise<typeof prometheusMetrics> {
  const url = `${import.meta.resolve('@libp2p/prometheus-metrics')}?node=${++metricsModules}`
  return (await import(url) as { prometheusMetrics: typeof prometheusMetrics }).prometheusMetrics
}

/** Builds (does not start) a node: identity from the keystore unless given, libp2p from the config. */
export async function createBaseNode<S extends ExtraServices = ExtraServices> (config: TallyConfig, init: BaseNodeInit<S> = {}): Promise<BaseNode<S>> {
  const identity = init.identity ?? await loadOrCreateIdentity(config.dataDir, { passphrase: config.passphrase })
  const privateKey = await generateKeyPairFromSeed('Ed25519', identity.seed)
  const direct = config.listen.length > 0 || config.transport === 'tcp'
    ? config.listen
    : [`/memory/${identity.account}`]
  const networkConfig = config.network ?? CLOSED_NETWORK
  const plan = planNetwork(networkConfig, direct, config.transport)
  const open = isOpen(networkConfig) && !config.simulation
  // listening on /p2p-circuit reserves a slot on a relay and advertises it
  const listen = open && plan.relayClient ? [...direct, RELAY_LISTEN] : direct
  const transport = init.transport ?? (config.transport === 'memory' ? memory({ latency: init.memoryLatencyMs ?? 0 }) : open ? tcpTransport(plan) : tcp())
  const services = {
    identify: identify(),
    pubsub: gossipsub({
      allowPublishToZeroTopicPeers: true,
      emitSelf: false,
      ...(init.gossipsub ?? {})
    }),
    ...(open ? networkServiceFactories(plan, Buffer.from(netId(config.genesis)).toString('hex'), config.bootstrap) : {}),
    ...init.libp2pServices
  } as ServiceFactoryMap<TallyLibp2pServices & S>
  const options: Libp2pOptions<TallyLibp2pServices & S> = {
    privateKey,
    start: false,
    addresses: { listen },
    transports: open ? [transport, relayTransport()] : [transport],
    connectionEncrypters: [config.encryption === 'plaintext' && config.simulation ? plaintext() : noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: !config.simulation },
    ...(init.connectionManager != null || (open && networkConfig.maxConnections > 0)
      ? { connectionManager: { ...(open && networkConfig.maxConnections > 0 ? { maxConnections: networkConfig.maxConnections } : {}), ...init.connectionManager } }
      : {}),
    services
  }
  if (init.logger != null) options.logger = init.logger
  if (init.connectionGater != null) options.connectionGater = init.connectionGater
  // a registry per node, never prom-client's global one (several nodes share a test process);
  // process metrics are the API's (api/metrics.ts), not libp2p's copy of them
  const libp2pMetrics = (init.libp2pMetrics ?? !config.simulation) ? new Registry() : undefined
  if (libp2pMetrics != null) options.metrics = (await ownPrometheusMetrics())({ registry: libp2pMetrics, collectDefaultMetrics: false, preserveExistingMetrics: true })
  const libp2p = await createLibp2p(options)
  return new Node<S>(libp2p, identity, config, init, open ? plan : { ...plan, relayServer: false, relayClient: false, mdns: false, dht: 'off', dialPort: undefined }, libp2pMetrics)
}

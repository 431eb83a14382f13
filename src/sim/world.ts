/**
 * One simulation's world: its seeded streams, the simulated links and partition, the peers and
 * their nodes, and everything the run records about them (events, samples, figures). The phases
 * (src/sim/phases.ts) act on it; nothing here decides when.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createHash } from 'node:crypto'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { createTallyNode, type TallyNode, type TallyNodeInit } from '../node/tally.js'
import { parseConfig, type TallyConfig } from '../node/config.js'
import { identityFromSeed } from '../identity/keystore.js'
import { parseRecord } from '../ledger/record.js'
import { LedgerService } from '../ledger/service.js'
import { MemoryLedgerStore } from '../ledger/store.js'
import type { Genesis } from '../ledger/genesis.js'
import { DEV_GENESIS } from '../node/defaults.js'
import { SimulatedBackend } from '../exec/backends/simulated.js'
import type { Backend } from '../exec/backend.js'
import { DEFAULT_DIAL_TIMEOUT_MS as DEFAULT_INFER_DIAL_TIMEOUT_MS } from '../exec/infer/buyer.js'
import { DEFAULT_NEGOTIATE_TIMEOUT_MS, type Negotiated } from '../contract/negotiate.js'
import { createEmbeddedBackend } from '../exec/backends/embedded/index.js'
import { ensureTinyModel, TINY_MODEL_ID } from '../exec/model/tiny.js'
import { createRng, peerSeed, type Rng } from './rng.js'
import { SimNetwork, simTransport, DEFAULT_JITTER, DEFAULT_RTO_MS } from './net/index.js'
import { wallNowMs } from './clock.js'
import { SlotMeter } from './slots.js'
import type { AddPeerOptions, PeerRole, RequestView, SimPeer } from './scenario.js'
import {
  ANNOUNCE_MS_PER_PEER, FIRST_TOKEN_TIMEOUT_TTFTS, LOAD_MS_PER_PEER, MAX_ANNOUNCE_INTERVAL_MS, SIM_ANNOUNCE_INTERVAL_MS, SIM_BOOTSTRAP_PEERS,
  SIM_FIRST_TOKEN_TIMEOUT_MS, SIM_IDLE_CLOSE_MS, SIM_SELLER_SLOTS, SIM_ISSUER_CAP_UC, SIM_MODEL, SIM_MODEL_PARAMS, SIM_STARTING_BALANCE_UC, SIM_SYNC_INTERVAL_MS, SIM_VOUCHER_TIMEOUT_MS, SimulationError, SYNC_MS_PER_PEER,
  type SimClock, type SimParams, type SimProgress, type SimulationOptions
} from './options.js'

export interface RequestSample extends RequestView { ttftMs?: number, totalMs: number, model?: string }

/** the partition state every node's connection gater reads */
export class Cut {
  groups = new Map<string, number>()
  denies (a: string, b: string): boolean {
    const ga = this.groups.get(a); const gb = this.groups.get(b)
    return ga != null && gb != null && ga !== gb
  }

  gater (self: () => string): ConnectionGater {
    return {
      denyDialPeer: async (peer: PeerId) => this.denies(self(), peer.toString()),
      denyInboundEncryptedConnection: async (peer: PeerId) => this.denies(self(), peer.toString()),
      denyOutboundEncryptedConnection: async (peer: PeerId) => this.denies(self(), peer.toString())
    }
  }
}

export function balanceView (n: TallyNode): string {
  return n.balances().map(b => `${b.account}:${b.balanceUc}:${b.lockedUc}`).join('|')
}

/** the simulated links of a run, or the SimulationError that says why they cannot be built */
export function simLinks (p: SimParams, jitter: number | undefined): SimNetwork {
  try {
    return new SimNetwork({ latencyMs: p.latencyMs, jitter: jitter ?? DEFAULT_JITTER, lossRate: p.lossRate, rtoMs: DEFAULT_RTO_MS, seed: `${p.seed}/links`, random: createRng(`${p.seed}/loss`).next })
  } catch (err: any) {
    throw new SimulationError(`links: ${err?.message ?? err}`)
  }
}

/** the issuer of an 'issued' genesis: its key is the run's seed's, so one seed gives one net */
export function simIssuerSeed (seed: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`tally-sim-issuer:${seed}`).digest())
}

/** the genesis of a run: tally-dev, or no credit line and one issuer (options.ts SimGenesis) */
export function simGenesis (p: SimParams): Genesis {
  if (p.genesis !== 'issued') return { ...DEV_GENESIS, issuers: [] }
  return {
    name: 'tally-sim-issued',
    issuers: [{ publicKey: identityFromSeed(simIssuerSeed(p.seed)).publicKey, capUc: SIM_ISSUER_CAP_UC }],
    defaultCreditLimitUc: 0n,
    maxSessionLockUc: DEV_GENESIS.maxSessionLockUc,
    development: false
  }
}

/**
 * The issuer of an 'issued' run: it credits each honest buyer its starting balance once, and every
 * node gets the issuer's whole chain the moment it starts (as if synced), so a seller's ledger
 * knows a buyer's funds before the buyer asks it for anything.
 */
export class SimIssuer {
  private readonly ledger: LedgerService
  /** the issuer's records, in chain order */
  private readonly records: Uint8Array[] = []
  private readonly fed = new Set<TallyNode>()
  private readonly funded = new Set<string>()
  private queue: Promise<unknown> = Promise.resolve()
  issuedUc = 0n

  constructor (genesis: Genesis, seed: string) {
    this.ledger = new LedgerService({ genesis, signer: identityFromSeed(simIssuerSeed(seed)).signer, store: new MemoryLedgerStore() })
  }

  get account (): string { return this.ledger.account }

  /** give a started node every record issued so far, and the later ones as they are made */
  feed (node: TallyNode): void {
    for (const r of this.records) node.ledger.add(r)
    this.fed.add(node)
  }

  /** credit `account` its starting balance (once per account), delivered to every fed node */
  async fund (account: string, amountUc = SIM_STARTING_BALANCE_UC): Promise<void> {
    if (this.funded.has(account)) return
    this.funded.add(account)
    const run = this.queue.then(async () => {
      await this.ledger.start()
      const r = await this.ledger.credit(account, amountUc)
      this.issuedUc += amountUc
      this.records.push(r.bytes)
      for (const n of this.fed) {
        if (n.ledger.isStarted()) n.ledger.add(r.bytes)
        else this.fed.delete(n)
      }
    })
    this.queue = run.catch(() => {})
    await run
  }

  async stop (): Promise<void> { await this.ledger.stop() }
}

export class SimWorld {
  readonly tinyModelPath: string
  // one seeded stream per concern, so timing in one (e.g. which peer a sync picks) never shifts
  // another (which buyer asks what): one seed, one plan
  readonly rng: Rng
  readonly trafficRng: Rng
  readonly scenarioRng: Rng
  readonly syncRng: Rng
  private readonly plan = createHash('sha256')
  readonly progress: (p: SimProgress) => void
  readonly dataDir: string
  readonly config: TallyConfig
  readonly cut = new Cut()
  /** what the run started with: its resource figures are measured from here */
  readonly wallStart: number
  readonly simStart: number
  readonly cpuStart: NodeJS.CpuUsage
  readonly rssBefore: number

  readonly peers: SimPeer[] = []
  readonly events: Array<{ tMs: number, what: string }> = []
  readonly custom = new Map<string, number[]>()
  readonly figures: Record<string, number | string | boolean> = {}
  readonly requests: RequestSample[] = []
  readonly negotiationMs: number[] = []
  /** offer propagation: (seller account:price) → published at; seen per peer index */
  readonly offerPublished = new Map<string, { atMs: number, seller: number, seen: Map<number, number> }>()
  /** settlement convergence: record id → created at; seen per peer index */
  readonly recordMade = new Map<string, { atMs: number, maker: number, seen: Map<number, number> }>()
  readonly divergence: Array<{ tMs: number, views: number }> = []
  doubleSpend: { account: string, atMs: number, flagged: Map<number, number> } | undefined
  tradingStart = 0
  /** peers that take part in the request traffic */
  readonly traders = new Set<number>()
  /** peers whose seller runs the embedded engine */
  readonly embedded = new Set<number>()
  /** the genesis issuer of an 'issued' run */
  readonly issuer?: SimIssuer
  /** simulated sellers' slot meters, by peer index (scenarios that ask: ScenarioDefaults.meterSlots) */
  readonly meters = new Map<number, SlotMeter>()

  constructor (readonly opts: SimulationOptions, readonly p: SimParams, readonly clockKind: SimClock, readonly net: SimNetwork, tinyModelPath: string) {
    this.tinyModelPath = tinyModelPath
    this.rng = createRng(`${p.seed}/network`)
    this.trafficRng = createRng(`${p.seed}/traffic`)
    this.scenarioRng = createRng(`${p.seed}/scenario`)
    this.syncRng = createRng(`${p.seed}/sync`)
    this.progress = opts.onProgress ?? (() => {})
    this.dataDir = mkdtempSync(join(tmpdir(), 'tally-sim-'))
    const genesis = simGenesis(p)
    this.config = { ...parseConfig({ dataDir: this.dataDir, transport: 'memory', simulation: true, encryption: 'plaintext' }), genesis }
    if (p.genesis === 'issued') this.issuer = new SimIssuer(genesis, p.seed)
    this.wallStart = wallNowMs()
    this.simStart = performance.now()
    this.cpuStart = process.cpuUsage()
    this.rssBefore = process.memoryUsage().rss
  }

  /** the plan so far: roles, prices, topology, traffic ticks */
  planned (what: string): void { this.plan.update(what).update('\n') }
  planDigest (): string { return this.plan.digest('hex') }

  /** ms since the run began */
  nowMs (): number { return performance.now() - this.simStart }

  /** a timeline entry, at ms since trading began */
  event (what: string): void { this.events.push({ tMs: Math.round(this.nowMs() - this.tradingStart), what }) }

  /** on wall time one event loop carries every node and lags with N; on virtual time it does not */
  loadScaledMs (ms: number): number { return this.clockKind === 'real' ? ms + this.p.peers * LOAD_MS_PER_PEER : ms }

  marketPrice (): bigint { return BigInt(this.rng.int(3_000, 12_000)) * 1_000n }

  running (): SimPeer[] { return this.peers.filter(p => p.running) }

  async buildNode (index: number, role: PeerRole, generation: number, priceOutUc: bigint, extra: Partial<TallyNodeInit> = {}): Promise<TallyNode> {
    const { p, rng } = this
    const identity = identityFromSeed(peerSeed(p.seed, index, generation))
    const live = this.peers.filter(q => q.running && q.index !== index)
    const bootPeers = p.bootstrapNodes != null ? live.filter(q => q.index < p.bootstrapNodes!) : rng.sample(live, SIM_BOOTSTRAP_PEERS)
    const nodeRng = createRng(`${p.seed}/node/${index}/${generation}`)
    this.planned(`node ${index}.${generation} ${role} ${priceOutUc} boot ${bootPeers.map(q => q.index).join(',')}`)
    const boot = bootPeers.flatMap(q => q.node.addrs().slice(0, 1))
    const cfg = { ...this.config, bootstrap: boot }
    const sim = this.opts.scenario.defaults
    // a scenario's own seller (extra.sell, e.g. an adversary's backend) is neither drawn nor metered
    const simSeller = role === 'seller' && !this.embedded.has(index) && extra.sell == null
    const slots = simSeller && sim.sellerSlots != null ? createRng(`${p.seed}/slots/${index}`).int(sim.sellerSlots[0], sim.sellerSlots[1]) : SIM_SELLER_SLOTS
    if (simSeller && sim.sellerSlots != null) this.planned(`slots ${index} ${slots}`)
    let simBackend: Backend | undefined
    if (simSeller) {
      simBackend = new SimulatedBackend({ modelId: SIM_MODEL, params: SIM_MODEL_PARAMS, tokensPerChunk: 4, tokensPerSec: p.tokensPerSec, ttftMs: p.ttftMs, maxConcurrency: slots })
      if (sim.meterSlots === true) {
        const meter = new SlotMeter(simBackend)
        this.meters.set(index, meter)
        simBackend = meter
      }
    }
    const init: TallyNodeInit = {
      identity,
      memoryLedger: true,
      transport: simTransport(this.net),
      // a cheap seller is dialled by many buyers at once: more than libp2p's 10 pending upgrades
      connectionManager: { maxIncomingPendingConnections: 256, maxConnections: Math.max(300, p.peers + 50) },
      connectionGater: this.cut.gater(() => identity.account),
      // every re-announce is verified by every node: O(sellers × N) signatures per interval, so both scale with N
      market: { announceIntervalMs: Math.min(MAX_ANNOUNCE_INTERVAL_MS, Math.max(SIM_ANNOUNCE_INTERVAL_MS, p.peers * ANNOUNCE_MS_PER_PEER)) },
      sync: { intervalMs: Math.max(SIM_SYNC_INTERVAL_MS, p.peers * SYNC_MS_PER_PEER), random: () => this.syncRng.next() },
      // an idle warm session holds a seller's slot: short runs close them after a few seconds
      buy: { firstTokenTimeoutMs: this.loadScaledMs(Math.max(SIM_FIRST_TOKEN_TIMEOUT_MS, FIRST_TOKEN_TIMEOUT_TTFTS * p.ttftMs)), maxAttempts: 4, idleCloseMs: SIM_IDLE_CLOSE_MS },
      inferSeller: { voucherTimeoutMs: this.loadScaledMs(SIM_VOUCHER_TIMEOUT_MS) },
      inferBuyer: { dialTimeoutMs: this.loadScaledMs(DEFAULT_INFER_DIAL_TIMEOUT_MS) },
      // quote ids and nonces name contracts and opens, whose ids order the ledger's sync ranges: seeded, so one seed gives one run
      negotiate: { timeoutMs: this.loadScaledMs(DEFAULT_NEGOTIATE_TIMEOUT_MS), randomBytes: (n) => nodeRng.bytes(n) },
      ...(role === 'seller'
        ? {
            sell: this.embedded.has(index)
              // the real engine on the tiny model (toy weights): one child process, one session at a time
              ? { backend: await createEmbeddedBackend({ modelPath: this.tinyModelPath, threads: 1, maxConcurrency: 1 }), priceInPerMTokUc: priceOutUc / 4n, priceOutPerMTokUc: priceOutUc, maxSessions: 1 }
              // its speed, for the volume it commits to a bid (protocols/auction.md § Seller policy)
              : { backend: simBackend ?? new SimulatedBackend({ modelId: SIM_MODEL, params: SIM_MODEL_PARAMS, tokensPerChunk: 4, tokensPerSec: p.tokensPerSec, ttftMs: p.ttftMs, maxConcurrency: SIM_SELLER_SLOTS }), priceInPerMTokUc: priceOutUc / 4n, priceOutPerMTokUc: priceOutUc, auction: { tokensPerSecPerSlot: p.tokensPerSec } }
          }
        : {}),
      ...(role === 'seller' ? sim.sellerInit : {}),
      ...extra
    }
    if (extra.sell != null) init.sell = extra.sell
    const node = await createTallyNode(cfg, init)
    this.observe(node, index)
    await node.start()
    if (this.issuer != null) {
      this.issuer.feed(node)
      // an honest buyer starts with its starting balance, as the dev network's credit line gave it
      if (role === 'buyer' && this.peers[index]?.adversary == null) await this.issuer.fund(node.account)
    }
    // every path an offer takes into the book counts: gossip, or a neighbour's book on join
    node.book.onAdd((offer, status) => {
      if (status !== 'accepted') return
      const pub = this.offerPublished.get(`${offer.sellerId}:${offer.priceOutPerMTokUc}`)
      if (pub != null && !pub.seen.has(index)) pub.seen.set(index, this.nowMs())
    })
    this.timeNegotiations(node)
    return node
  }

  /** settlement convergence: when a settle or transfer is made, and when each node holds it */
  private observe (node: TallyNode, index: number): void {
    node.ledger.onRecord((bytes, id) => {
      const type = parseRecord(bytes, { net: node.net, trusted: true }).kind.type
      if (type === 'settle' || type === 'transfer') this.recordMade.set(id, { atMs: this.nowMs(), maker: index, seen: new Map() })
    })
    node.on('record', (r) => {
      if (r.type !== 'settle' && r.type !== 'transfer') return
      const m = this.recordMade.get(r.id)
      if (m != null && !m.seen.has(index)) m.seen.set(index, this.nowMs())
    })
  }

  /** how long a buyer's negotiations take, from its own side (the negotiator's 'negotiated' event) */
  private timeNegotiations (node: TallyNode): void {
    node.negotiator.addEventListener('negotiated', (e) => {
      this.negotiationMs.push((e as CustomEvent<Negotiated>).detail.durationMs)
    })
  }

  /** a seller republishes its offer at a new price (the propagation figure times it) */
  async publishPrice (peer: SimPeer, priceOutUc: bigint): Promise<void> {
    const model = this.embedded.has(peer.index) ? TINY_MODEL_ID : SIM_MODEL
    const terms = peer.node.market.ownTerms(model)
    if (terms == null) throw new SimulationError(`peer ${peer.index} sells no ${model}`)
    this.offerPublished.set(`${peer.node.account}:${priceOutUc}`, { atMs: this.nowMs(), seller: peer.index, seen: new Map() })
    peer.priceOutUc = priceOutUc
    await peer.node.market.setOffer({ ...terms, priceOutPerMTokUc: priceOutUc, priceInPerMTokUc: priceOutUc / 4n })
  }

  /** one more peer, started now (a scenario's, or the first of the network) */
  async addPeer (role: PeerRole, o: Partial<AddPeerOptions> = {}): Promise<SimPeer> {
    const index = this.peers.length
    const price = o.priceOutUc ?? (role === 'seller' ? this.marketPrice() : 0n)
    const peer: SimPeer = { index, role, adversary: o.adversary, node: undefined as unknown as TallyNode, running: false, startedAtMs: 0, priceOutUc: price, generation: 0 }
    this.peers.push(peer)
    peer.node = await this.buildNode(index, role, 0, price, o.init)
    peer.running = true
    peer.startedAtMs = this.nowMs()
    if (o.trades === true || (o.trades == null && o.adversary == null && role === 'buyer')) this.traders.add(index)
    return peer
  }
}

/** the tiny model's path when embedded sellers run, else '' */
export function tinyModelFor (p: SimParams): string {
  return p.embeddedSellers > 0 ? ensureTinyModel() : ''
}

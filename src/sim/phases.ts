/**
 * The phases of a simulation, in the order runSimulation calls them: build the network, warm it
 * up (every book full), measure offer propagation, trade (the scenario and the request traffic),
 * settle. Each acts on the SimWorld and returns what the later ones need.
 */
import { rmSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { multiaddr } from '@multiformats/multiaddr'
import type { TallyNode } from '../node/tally.js'
import { TINY_MODEL_ID } from '../exec/model/tiny.js'
import type { PeerRole, SimContext, SimPeer } from './scenario.js'
import { balanceView, type SimWorld } from './world.js'
import { EMBEDDED_TRAFFIC_SHARE, MAX_FAILURE_EVENTS, OPEN_SESSION_GRACE_MS, PROPAGATION_SAMPLES, REPRICE_GAP_MS, REPRICE_GAP_MS_PER_PEER, SETTLE_WAIT_MS, SIM_MODEL, START_BATCH } from './options.js'

/** the gossipsub views the simulator reads (its figures, not the protocol) */
interface GossipView { getScore: (peer: string) => number, getPeers: () => Array<{ toString: () => string }>, getMeshPeers: (topic: string) => unknown[] }
const pubsubOf = (n: TallyNode): GossipView => n.libp2p.services.pubsub as unknown as GossipView

/** Start every peer: seeded roles, the first a seller, then batches that bootstrap to the peers before them. */
export async function buildNetwork (w: SimWorld): Promise<void> {
  const { p, rng, peers } = w
  const nSellers = Math.max(1, Math.min(p.peers - 1, Math.round(p.peers * p.sellersShare)))
  const roles: PeerRole[] = rng.shuffle(Array.from({ length: p.peers }, (_, i) => i < nSellers ? 'seller' as const : 'buyer' as const))
  // the first peer is a seller so early buyers see an offer soon
  const first = roles.indexOf('seller'); roles[first] = roles[0]; roles[0] = 'seller'
  // the last sellers to start run the real engine (the first one stays simulated)
  for (let i = roles.length - 1; i > 0 && w.embedded.size < Math.min(p.embeddedSellers, nSellers - 1); i--) if (roles[i] === 'seller') w.embedded.add(i)
  w.progress({ phase: 'starting', done: 0, total: p.peers })
  await w.addPeer(roles[0])
  for (let i = 1; i < roles.length;) {
    // peers in a batch bootstrap to peers started before the batch; a batch is never larger than
    // the network before it, so the first peers do not all hang on peer 0 (a star)
    const batch = roles.slice(i, i + Math.min(START_BATCH, peers.length))
    i += batch.length
    const base = peers.length
    const made = await Promise.all(batch.map(async (role, k) => {
      const index = base + k
      const price = role === 'seller' ? w.marketPrice() : 0n
      const peer: SimPeer = { index, role, node: undefined as unknown as TallyNode, running: false, startedAtMs: 0, priceOutUc: price, generation: 0 }
      return peer
    }))
    peers.push(...made)
    await Promise.all(made.map(async (peer) => {
      peer.node = await w.buildNode(peer.index, peer.role, 0, peer.priceOutUc)
      peer.running = true
      peer.startedAtMs = w.nowMs()
      if (peer.role === 'buyer') w.traders.add(peer.index)
    }))
    w.progress({ phase: 'starting', done: peers.length, total: p.peers })
    if (w.opts.signal?.aborted === true) break
  }
}

export interface WarmedUp {
  /** ms from the run's start until every peer was up */
  startMs: number
  rssAfterStart: number
  heapAfterStart: number
}

/** Let the offers reach every book before trading (progress: peers whose book is full). */
export async function warmUp (w: SimWorld): Promise<WarmedUp> {
  const { peers } = w
  const startMs = w.nowMs()
  const sellerCount = peers.filter(p => p.role === 'seller' && !w.embedded.has(p.index)).length
  const warmDeadline = performance.now() + Math.max(10_000, w.p.peers * 40)
  const simSeller = (p: SimPeer): number => p.role === 'seller' && !w.embedded.has(p.index) ? 1 : 0
  const bookFull = (p: SimPeer): boolean => p.node.offerList(SIM_MODEL).length >= sellerCount - simSeller(p)
  for (;;) {
    const full = peers.filter(bookFull).length
    w.progress({ phase: 'warming', done: full, total: peers.length })
    if (full === peers.length || performance.now() >= warmDeadline) break
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  // memory once the network is up and every book is full
  const rssAfterStart = process.memoryUsage().rss
  const heapAfterStart = process.memoryUsage().heapUsed
  w.figures.offersEverywhereAtStart = peers.every(bookFull)
  return { startMs, rssAfterStart, heapAfterStart }
}

/**
 * Sellers republish once at a new price on the full network, one at a time: the offer
 * propagation samples (before trading, so no buyer is caught between two prices by this). Once
 * they have spread (or at a deadline) `next` starts in the same turn as the last check: an await
 * between the two would let the nodes' queued work run first and shift the run's order of events,
 * so one seed would no longer give the figures it gave.
 */
export async function measurePropagation<T> (w: SimWorld, next: () => Promise<T>): Promise<T> {
  const { peers, rng } = w
  const repricers = rng.sample(peers.filter(p => p.role === 'seller' && !w.embedded.has(p.index)), PROPAGATION_SAMPLES)
  // on the virtual clock the measurement's own load costs wall time only: the gap stays short
  const gapMs = REPRICE_GAP_MS + (w.clockKind === 'real' ? w.p.peers * REPRICE_GAP_MS_PER_PEER : 0)
  for (const [i, s] of repricers.entries()) {
    w.progress({ phase: 'measuring', done: i, total: repricers.length })
    const bump = BigInt(rng.int(1, 99))
    w.planned(`reprice ${s.index} +${bump}`)
    await w.publishPrice(s, s.priceOutUc + bump)
    await new Promise(resolve => setTimeout(resolve, rng.int(gapMs / 2, gapMs * 3 / 2)))
  }
  const propDeadline = performance.now() + Math.max(5_000, w.p.peers * 20)
  while (performance.now() < propDeadline && [...w.offerPublished.values()].some(o => o.seen.size < peers.filter(p => p.running).length - 1)) {
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return await next()
}

/** one tick of the planned request traffic */
interface Tick { k: number, draw: number, maxTokens: number, n: number, tiny: boolean }

export interface Traded {
  ctx: SimContext
  /** traffic ticks planned, and those the event loop never reached */
  ticks: number
  late: number
  skippedBusy: number
  cpuTrading: NodeJS.CpuUsage
  tradedMs: number
  /** the double-spend detector runs on through settling */
  stopFlagPoll: () => void
}

/**
 * Trade for durationMs: the scenario runs against the context while the planned traffic asks
 * traders for completions; then `next` (settling) starts in the same turn, as after reprices.
 */
export async function trade<T> (w: SimWorld, next: (t: Traded) => Promise<T>): Promise<T> {
  const { peers, p } = w
  const runCtrl = new AbortController()
  const timers = new Set<NodeJS.Timeout>()
  const pending = new Set<Promise<unknown>>()
  const track = (pr: Promise<unknown>): void => { pending.add(pr); void pr.finally(() => pending.delete(pr)) }
  const safe = (what: string, fn: () => void | Promise<void>): void => {
    track((async () => { await fn() })().catch((err: any) => { w.event(`${what} failed: ${err?.name ?? 'Error'}: ${String(err?.message ?? err).slice(0, 160)}`) }))
  }
  w.tradingStart = w.nowMs()
  const cpuTradingStart = process.cpuUsage()
  const ctx = scenarioContext(w, runCtrl.signal, timers, safe)

  // divergence sampler: distinct balance views among running nodes, every second
  ctx.every(1_000, () => {
    const views = new Set(peers.filter(q => q.running).map(q => balanceView(q.node)))
    w.divergence.push({ tMs: Math.round(ctx.elapsedMs()), views: views.size })
  })
  // double-spend detector
  const flagPoll = setInterval(() => {
    const ds = w.doubleSpend
    if (ds == null) return
    for (const q of peers) {
      if (q.running && q.adversary == null && !ds.flagged.has(q.index) && q.node.ledger.isFlagged(ds.account)) ds.flagged.set(q.index, w.nowMs() - ds.atMs)
    }
  }, 20)
  // request traffic, planned before it starts: tick k at k × intervalMs asks a trader (drawn from
  // the traffic stream) one request, whatever happened so far; a tick whose buyer is busy or
  // stopped is skipped, one the event loop could not reach before the end is counted late
  const intervalMs = Math.max(5, Math.round(1_000 / p.requestsPerSec))
  const ticks: Tick[] = Array.from({ length: Math.floor(p.durationMs / intervalMs) }, (_, k) => {
    const tick = { k, draw: w.trafficRng.next(), maxTokens: w.trafficRng.int(8, 48), n: w.trafficRng.int(1, 1_000_000), tiny: w.trafficRng.next() < EMBEDDED_TRAFFIC_SHARE }
    w.planned(`tick ${k} ${tick.draw} max ${tick.maxTokens} n ${tick.n} ${tick.tiny ? 'tiny' : ''}`)
    return tick
  })
  const busy = new Set<number>()
  let nextTick = 0
  let skippedBusy = 0
  const sendOne = async (tick: Tick): Promise<void> => {
    // the candidates when the tick runs: traders a scenario added later join the draw
    const candidates = [...w.traders].sort((x, y) => x - y)
    if (candidates.length === 0) return
    const bi = candidates[Math.floor(tick.draw * candidates.length)]
    const b = peers[bi]
    if (!b.running || busy.has(bi)) { skippedBusy++; return }
    busy.add(bi)
    const { maxTokens, n } = tick
    const model = tick.tiny && w.embedded.size > 0 ? TINY_MODEL_ID : SIM_MODEL
    const t0 = performance.now()
    const startMs = ctx.elapsedMs()
    try {
      const r = await b.node.infer(model, { messages: [{ role: 'user', content: `question ${n} from peer ${b.index}` }], maxTokens, seed: n }, { tag: 'sim' })
      w.requests.push({ buyer: b.index, startMs, endMs: ctx.elapsedMs(), ok: true, seller: r.seller, attempts: r.attempts, ttftMs: r.ttftMs, totalMs: performance.now() - t0, model })
    } catch (err: any) {
      w.requests.push({ buyer: b.index, startMs, endMs: ctx.elapsedMs(), ok: false, attempts: 0, totalMs: performance.now() - t0, error: String(err?.name ?? 'Error'), model })
      if (w.requests.filter(r => !r.ok).length <= MAX_FAILURE_EVENTS) w.event(`request by peer ${b.index} failed: ${String(err?.name ?? 'Error')}: ${String(err?.message ?? err).slice(0, 200)}`)
    } finally {
      busy.delete(bi)
    }
  }
  const traffic = setInterval(() => {
    // run every tick that is due (a lagging event loop catches up instead of dropping ticks)
    while (!runCtrl.signal.aborted && nextTick < ticks.length && ticks[nextTick].k * intervalMs <= ctx.elapsedMs()) track(sendOne(ticks[nextTick++]))
  }, Math.max(5, Math.floor(intervalMs / 2)))
  const progressTimer = setInterval(() => { w.progress({ phase: 'trading', done: Math.min(p.durationMs, Math.round(ctx.elapsedMs())), total: p.durationMs }) }, 250)

  try {
    await w.opts.scenario.run(ctx)
  } catch (err: any) {
    w.event(`scenario failed: ${err?.name ?? 'Error'}: ${String(err?.message ?? err).slice(0, 200)}`)
  }
  const left = p.durationMs - ctx.elapsedMs()
  if (left > 0) {
    await new Promise<void>(resolve => {
      const t = setTimeout(resolve, left)
      w.opts.signal?.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
    })
  }
  runCtrl.abort()
  const cpuTrading = process.cpuUsage(cpuTradingStart)
  const tradedMs = Math.max(1, w.nowMs() - w.tradingStart)
  clearInterval(traffic)
  clearInterval(progressTimer)
  for (const t of timers) { clearTimeout(t); clearInterval(t) }
  timers.clear()
  w.progress({ phase: 'settling', done: 0, total: 1 })
  let drainTimer: NodeJS.Timeout | undefined
  await Promise.race([Promise.allSettled([...pending]), new Promise(resolve => { drainTimer = setTimeout(resolve, 15_000) })])
  clearTimeout(drainTimer)
  return await next({ ctx, ticks: ticks.length, late: ticks.length - nextTick, skippedBusy, cpuTrading, tradedMs, stopFlagPoll: () => { clearInterval(flagPoll) } })
}

/** what a scenario drives the running network through */
function scenarioContext (w: SimWorld, signal: AbortSignal, timers: Set<NodeJS.Timeout>, safe: (what: string, fn: () => void | Promise<void>) => void): SimContext {
  const { peers, cut, scenarioRng } = w
  const ctx: SimContext = {
    rng: scenarioRng,
    peers,
    model: SIM_MODEL,
    tokensPerSec: w.p.tokensPerSec,
    links: w.net,
    net: peers[0].node.net,
    durationMs: w.p.durationMs,
    signal,
    running: () => peers.filter(p => p.running),
    sellers: () => peers.filter(p => p.running && p.role === 'seller'),
    buyers: () => peers.filter(p => p.running && p.role === 'buyer'),
    elapsedMs: () => w.nowMs() - w.tradingStart,
    at: (ms, fn) => {
      const t = setTimeout(() => { timers.delete(t); if (!signal.aborted) safe('scheduled step', fn) }, Math.max(0, ms - ctx.elapsedMs()))
      timers.add(t)
    },
    every: (ms, fn) => {
      const t = setInterval(() => { if (!signal.aborted) safe('periodic step', fn) }, ms)
      timers.add(t)
    },
    sleep: async (ms) => { await new Promise(resolve => setTimeout(resolve, ms)) },
    partition: async (a, b) => {
      cut.groups.clear()
      for (const p of a) cut.groups.set(p.node.libp2p.peerId.toString(), 1)
      for (const p of b) cut.groups.set(p.node.libp2p.peerId.toString(), 2)
      w.event(`partition ${a.length} | ${b.length}`)
      await Promise.all(peers.filter(p => p.running).map(async p => {
        const me = p.node.libp2p.peerId.toString()
        await Promise.all(p.node.libp2p.getConnections().filter(c => cut.denies(me, c.remotePeer.toString())).map(async c => { await c.close().catch(() => {}) }))
      }))
    },
    heal: async () => {
      const groups = new Map(cut.groups)
      cut.groups.clear()
      w.event('heal')
      const live = peers.filter(p => p.running)
      const a = live.filter(p => groups.get(p.node.libp2p.peerId.toString()) === 1)
      const b = live.filter(p => groups.get(p.node.libp2p.peerId.toString()) === 2)
      if (a.length === 0 || b.length === 0) return
      await Promise.all(a.map(async p => {
        const q = scenarioRng.pick(b)
        await p.node.libp2p.dial(multiaddr(q.node.addrs()[0]), { signal: AbortSignal.timeout(5_000) }).catch(() => {})
      }))
    },
    stopPeer: async (p) => {
      if (!p.running) return
      p.running = false
      w.event(`stop peer ${p.index} (${p.role})`)
      await p.node.stop()
      ;(p.pastLives ??= []).push({ account: p.node.account, buyerSessions: p.node.buyerSessions, sellerSessions: p.node.sellerSessions })
    },
    startPeer: async (p, o = {}) => {
      if (p.running) return
      if (o.newIdentity === true) p.generation++
      p.node = await w.buildNode(p.index, p.role, p.generation, p.priceOutUc)
      p.running = true
      p.startedAtMs = w.nowMs()
      w.event(`start peer ${p.index} (${p.role}${o.newIdentity === true ? ', new identity' : ''})`)
    },
    setPrice: async (p, price) => {
      w.event(`peer ${p.index} price ${p.priceOutUc} → ${price}`)
      await w.publishPrice(p, price)
    },
    addPeer: async (o) => {
      const p = await w.addPeer(o.role, o)
      w.event(`add ${o.adversary ?? 'honest'} ${o.role} peer ${p.index}`)
      return p
    },
    event: (what) => { w.event(what) },
    sample: (metric, value) => {
      const xs = w.custom.get(metric) ?? []
      xs.push(value)
      w.custom.set(metric, xs)
    },
    figure: (name, value) => { w.figures[name] = value },
    requests: () => w.requests,
    balanceViews: () => new Set(peers.filter(p => p.running && p.adversary == null).map(p => balanceView(p.node))).size,
    markDoubleSpend: (account) => { w.doubleSpend = { account, atMs: w.nowMs(), flagged: new Map() } },
    slotMeter: (peer) => w.meters.get(peer.index)
  }
  return ctx
}

/**
 * Buyers close their sessions, then wait (at most SETTLE_WAIT_MS) until every honest node holds
 * the same balances and the sellers' sessions are settled; record the gossip's health. `next`
 * (the figures) reads the end state in the same turn.
 */
export async function settle<T> (w: SimWorld, t: Traded, next: () => T): Promise<T> {
  const { peers } = w
  const honestRunning = (): SimPeer[] => peers.filter(p => p.running && p.adversary == null)
  await Promise.all(peers.filter(p => p.running && p.role === 'buyer').map(async p => await p.node.closeSessions(AbortSignal.timeout(5_000)).catch(() => 0)))
  const settleDeadline = performance.now() + SETTLE_WAIT_MS
  const viewsNow = (): number => new Set(honestRunning().map(p => balanceView(p.node))).size
  let agreedSince: number | undefined
  while (performance.now() < settleDeadline) {
    const open = peers.filter(p => p.running && p.node.selling).reduce((n, p) => n + p.node.negotiator.activeSessions().length, 0)
    const views = viewsNow()
    if (views !== 1) agreedSince = undefined
    else agreedSince ??= performance.now()
    // sessions whose buyer cannot close them (gone, or never used) settle at expiry, not here
    if (agreedSince != null && (open === 0 || performance.now() - agreedSince > OPEN_SESSION_GRACE_MS)) break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  // gossip health: honest neighbours that score each other below zero (they stop gossiping together)
  let negativeLinks = 0; let meshless = 0
  const honestNow = honestRunning()
  const honestIds = new Set(honestNow.map(q => q.node.libp2p.peerId.toString()))
  for (const p of honestNow) {
    const ps = pubsubOf(p.node)
    negativeLinks += ps.getPeers().filter(id => honestIds.has(id.toString()) && ps.getScore(id.toString()) < 0).length
    if (ps.getMeshPeers(p.node.base.topics.offers).length === 0) meshless++
  }
  w.figures.honestLinksScoredNegative = negativeLinks
  w.figures.honestNodesWithoutOffersMesh = meshless
  w.figures.sellerSessionsOpenAtEnd = peers.filter(p => p.running && p.node.selling).reduce((n, p) => n + p.node.negotiator.activeSessions().length, 0)
  // one more sample so the timeline ends at the settled state
  w.divergence.push({ tMs: Math.round(t.ctx.elapsedMs()), views: viewsNow() })
  t.stopFlagPoll()
  if (w.opts.scenario.finish != null) {
    try { await w.opts.scenario.finish(t.ctx) } catch (err: any) { w.event(`scenario finish failed: ${err?.name ?? 'Error'}: ${String(err?.message ?? err).slice(0, 200)}`) }
  }
  return next()
}

/** Stop every node, close the links, remove the data folder. */
export async function teardown (w: SimWorld): Promise<void> {
  w.progress({ phase: 'stopping', done: 0, total: 1 })
  await Promise.all(w.peers.filter(p => p.running).map(async p => { p.running = false; await p.node.stop().catch(() => {}) }))
  await w.issuer?.stop().catch(() => {})
  w.net.close()
  rmSync(w.dataDir, { recursive: true, force: true })
  w.progress({ phase: 'done', done: 1, total: 1 })
}

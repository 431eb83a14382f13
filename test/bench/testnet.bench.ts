/**
 * The open network on real processes (issue 16.6): N real `tally start` processes in network
 * namespaces on this machine (src/cli/testnet), one bootstrap address, some sellers behind
 * nftables masquerade NATs; then the same scenario through the simulator, side by side.
 *
 * Measured passively from the harness over each node's HTTP API while buyers trade:
 * - offer propagation: sellers re-announce every 30 s; an announce is signed at
 *   expiresAtMs − 120 s (the offer TTL) on the shared host clock; a node's sample is the first
 *   poll round its /tally/offers shows that expiresAtMs; p50/p95 of the last node's time per
 *   announce (announces seen on every node), with the poll round period as the resolution;
 * - settlement convergence: each open and settle record in buyer 0's /tally/history (its record
 *   time is its author's signing time) until it is on every node, p50/p95 (the ledger is read every
 *   4th round; a buyer keeps its sessions open, so opens outnumber settles in a short window);
 * - NATed sellers with ≥ 1 sale (their /tally/receipts as seller), relayed peers upgraded to
 *   direct (the NATed sellers' /tally/network upgrades: DCUtR or a direct dial), connections per
 *   node (min/median/max of /tally/network connections.total), RSS per node process (and the
 *   sellers' engine children apart), from /proc.
 * Sizes from TALLY_BENCH_TESTNET_N (default "20,50"), observation TALLY_BENCH_TESTNET_OBSERVE_MS
 * (default 75 s). Without root, ip or nft it reports why and measures nothing. Never fails on time.
 */
import '../../src/polyfill.js'
import { readFileSync, readdirSync } from 'node:fs'
import { runSimulation } from '../../src/sim/simulation.js'
import { SCENARIOS } from '../../src/sim/scenarios/index.js'
import { startTestnet, stopTestnet, testnetSkipReason, type Testnet, type TestnetNodeSpec } from '../helpers/testnet.js'

const SIZES = (process.env.TALLY_BENCH_TESTNET_N ?? '20,50').split(',').filter(s => s !== '').map(Number)
const OBSERVE_MS = Number(process.env.TALLY_BENCH_TESTNET_OBSERVE_MS ?? 75_000)
const MODEL = 'tiny-char-v1'
const OFFER_TTL_MS = 120_000
const BUYERS = 3
/**
 * TALLY_BENCH_TESTNET_DHT_SERVER=1: public nodes run the DHT as servers (--dht server, as
 * docs/network.md advises on a testnet, where AutoNAT may not confirm an address for a while);
 * default: the flags' defaults, what an operator gets
 */
const DHT_SERVER = process.env.TALLY_BENCH_TESTNET_DHT_SERVER === '1'

function pct (xs: number[], p: number): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]
}

const note = (line: string): void => { process.stderr.write(`testnet bench: ${line}\n`) }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** node 0 bootstrap + relay; sellers (the first half behind cone NATs, cheapest first so buyers reach for them); buyers; plain nodes */
function layout (n: number): { specs: TestnetNodeSpec[], sellers: number[], natSellers: number[], buyers: number[] } {
  const sellerCount = Math.max(4, Math.round(n / 5))
  const natCount = Math.floor(sellerCount / 2)
  const specs: TestnetNodeSpec[] = [{ args: ['--relay', 'on'] }]
  const sellers: number[] = []
  const natSellers: number[] = []
  for (let k = 0; k < sellerCount; k++) {
    const nat = k < natCount
    // distinct prices: the NATed sellers are the cheapest, so a buyer picks them first when it can reach them
    const price = String(1_000 + k * 100)
    specs.push({ sell: true, ...(nat ? { nat: 'cone' as const } : {}), args: ['--price-out', price, '--price-in', price, '--max-sessions', '1', ...(nat ? ['--relay-client', 'on'] : [])] })
    sellers.push(specs.length - 1)
    if (nat) natSellers.push(specs.length - 1)
  }
  const buyers: number[] = []
  while (specs.length < n) {
    // the last buyer sits behind its own NAT: its sessions with NATed sellers cross two NATs
    const natBuyer = buyers.length === BUYERS - 1
    specs.push(buyers.length < BUYERS && natBuyer ? { nat: 'cone', args: ['--relay-client', 'on'] } : {})
    if (buyers.length < BUYERS) buyers.push(specs.length - 1)
  }
  if (DHT_SERVER) for (const s of specs) if (s.nat == null) s.args = [...(s.args ?? []), '--dht', 'server']
  return { specs, sellers, natSellers, buyers }
}

/** resident set of a process, and of its descendants, in MB (from /proc) */
function rssMb (pid: number): { own: number, children: number } {
  const read = (p: number): number => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))
      return m != null ? Number(m[1]) / 1024 : 0
    } catch { return 0 }
  }
  const children = (p: number): number[] => {
    const out: number[] = []
    try {
      for (const t of readdirSync(`/proc/${p}/task`)) {
        const c = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim()
        if (c !== '') out.push(...c.split(/\s+/).map(Number))
      }
    } catch {}
    return out
  }
  let kids = 0
  const stack = children(pid)
  while (stack.length > 0) {
    const c = stack.pop() as number
    kids += read(c)
    stack.push(...children(c))
  }
  return { own: read(pid), children: kids }
}

interface Round { atMs: number, durationMs: number, ledger: boolean }

async function runTestnet (n: number): Promise<Record<string, unknown>> {
  const { specs, sellers, natSellers, buyers } = layout(n)
  const t0 = Date.now()
  let t: Testnet | undefined
  try {
    t = await startTestnet({ nodes: specs, startTimeoutMs: 120_000, log: note })
  } catch (err: any) {
    return { nodes: n, error: `testnet up failed: ${String(err?.message ?? err).slice(0, 400)}` }
  }
  const startMs = Date.now() - t0
  const net = t
  try {
    const all = net.nodes.map(x => x.index)
    const buyer0 = net.nodes[buyers[0]].account ?? ''
    // first seen per node: offers by seller:expiresAt, settles by record id
    const offerSeen = new Map<string, Map<number, number>>()
    const settleSeen = new Map<string, { time: number, at: Map<number, number> }>()
    const rounds: Round[] = []
    const requests = { ok: 0, failed: 0, errors: new Map<string, number>() }
    let trading = true
    const buyerLoops = buyers.map(async (b) => {
      while (trading) {
        try {
          await net.post(b, '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, seed: 1 })
          requests.ok++
        } catch (err: any) {
          requests.failed++
          const key = String(err?.message ?? err).replace(/12D3Koo\w+/g, '<peer>').replace(/[0-9.]+:\d+/g, '<addr>').slice(0, 160)
          requests.errors.set(key, (requests.errors.get(key) ?? 0) + 1)
          await sleep(500)
        }
      }
    })
    const until = Date.now() + OBSERVE_MS
    for (let round = 0; Date.now() < until; round++) {
      const started = Date.now()
      // offers every round (the finer figure), the ledger every 4th (to keep rounds short on 2 cores)
      const withLedger = round % 4 === 0
      await Promise.all(all.map(async (i) => {
        const [offers, history] = await Promise.all([
          net.api(i, `/tally/offers?model=${MODEL}`).catch(() => undefined),
          withLedger ? net.api(i, `/tally/history?account=${buyer0}`).catch(() => undefined) : undefined
        ])
        const at = Date.now()
        for (const o of (offers?.offers ?? []) as Array<{ seller: string, expiresAtMs: number }>) {
          const key = `${o.seller}:${o.expiresAtMs}`
          let m = offerSeen.get(key)
          if (m == null) { m = new Map(); offerSeen.set(key, m) }
          if (!m.has(i)) m.set(i, at)
        }
        for (const e of (history?.entries ?? []) as Array<{ id: string, type: string, time: number }>) {
          if (e.type !== 'settle' && e.type !== 'open') continue
          let s = settleSeen.get(e.id)
          if (s == null) { s = { time: Number(e.time), at: new Map() }; settleSeen.set(e.id, s) }
          if (!s.at.has(i)) s.at.set(i, at)
        }
      }))
      rounds.push({ atMs: started, durationMs: Date.now() - started, ledger: withLedger })
      await sleep(Math.max(0, 250 - (Date.now() - started)))
    }
    trading = false
    await Promise.all(buyerLoops)

    // offers: announces signed after the observation began (every node up), seen by every node
    const firstRound = rounds[0]?.atMs ?? 0
    const propagation: number[] = []
    let offersPartial = 0
    // the share of nodes each announce reached (those signed in the first 2/3 of the window, so it had time)
    const coverage: number[] = []
    const lastSigned = firstRound + OBSERVE_MS * 2 / 3
    for (const [key, m] of offerSeen) {
      const expiresAt = Number(key.split(':')[1])
      const signedAt = expiresAt - OFFER_TTL_MS
      if (signedAt < firstRound) continue
      if (signedAt <= lastSigned) coverage.push(m.size / all.length)
      if (m.size < all.length) { offersPartial++; continue }
      propagation.push(Math.max(...m.values()) - signedAt)
    }
    const settlement: number[] = []
    let settlesPartial = 0
    for (const s of settleSeen.values()) {
      if (s.at.size < all.length) { settlesPartial++; continue }
      settlement.push(Math.max(...s.at.values()) - s.time)
    }
    // sales per seller, upgrades, connections
    const net2 = await Promise.all(all.map(async i => await net.api(i, '/tally/network').catch(() => undefined)))
    const receipts = await Promise.all(sellers.map(async i => await net.api(i, '/tally/receipts?limit=1000').catch(() => [])))
    const salesBy = new Map(sellers.map((i, k) => [i, (receipts[k] as Array<{ role: string }>).filter(r => r.role === 'seller').length]))
    const conns = net2.filter(x => x != null).map(x => x.connections.total as number).sort((a, b) => a - b)
    const relayedPeers = natSellers.reduce((s, i) => s + (net2[i]?.upgrades.relayedPeers ?? 0), 0)
    const upgraded = natSellers.reduce((s, i) => s + (net2[i]?.upgrades.upgradedToDirect ?? 0), 0)
    // per NATed seller and peer: first reached over the relay, and later directly; split by whether the peer is NATed too
    const natPeer = new Set(net.nodes.filter(x => x.nat != null).map(x => x.peerId))
    const pairs = { publicPeer: { relayed: 0, direct: 0 }, natPeer: { relayed: 0, direct: 0 } }
    for (const i of natSellers) {
      const opens = ((net2[i]?.history ?? []) as Array<{ event: string, peer: string, relayed: boolean }>).filter(e => e.event === 'open')
      for (const peer of new Set(opens.filter(e => e.relayed).map(e => e.peer))) {
        const k = natPeer.has(peer) ? 'natPeer' : 'publicPeer'
        pairs[k].relayed++
        const first = opens.findIndex(e => e.peer === peer && e.relayed)
        if (opens.slice(first).some(e => e.peer === peer && !e.relayed)) pairs[k].direct++
      }
    }
    const rss = net.nodes.map(x => x.pid != null ? rssMb(x.pid) : { own: 0, children: 0 })
    const own = rss.map(r => r.own).filter(v => v > 0)
    const engines = sellers.map(i => rss[i].children).filter(v => v > 0)
    const roundMs = rounds.map(r => r.durationMs)
    const ledgerRoundGapMs = rounds.filter(r => r.ledger).map((r, k, xs) => k === 0 ? 0 : r.atMs - xs[k - 1].atMs).slice(1)
    const r1 = (v: number | null): number | null => v == null ? null : Math.round(v)
    const out = {
      nodes: n,
      dhtServerOnPublicNodes: DHT_SERVER,
      sellers: sellers.length,
      natSellers: natSellers.length,
      buyers: buyers.length,
      startMs,
      observeMs: OBSERVE_MS,
      pollRoundP50Ms: r1(pct(roundMs, 50)),
      ledgerPollEveryP50Ms: r1(pct(ledgerRoundGapMs, 50)),
      offerPropagationP50Ms: r1(pct(propagation, 50)),
      offerPropagationP95Ms: r1(pct(propagation, 95)),
      offerAnnouncesMeasured: propagation.length,
      offerAnnouncesNotOnEveryNode: offersPartial,
      offerAnnounceReachP50: pct(coverage, 50),
      offerAnnounceReachP05: pct(coverage, 5),
      recordConvergenceP50Ms: r1(pct(settlement, 50)),
      recordConvergenceP95Ms: r1(pct(settlement, 95)),
      recordsMeasured: settlement.length,
      recordsNotOnEveryNode: settlesPartial,
      requestsOk: requests.ok,
      requestsFailed: requests.failed,
      requestErrors: Object.fromEntries([...requests.errors.entries()].slice(0, 5)),
      salesPerSeller: Object.fromEntries([...salesBy.entries()].map(([i, c]) => [`n${i}${natSellers.includes(i) ? '-nat' : ''}`, c])),
      natSellersWithSaleFraction: natSellers.length === 0 ? null : natSellers.filter(i => (salesBy.get(i) ?? 0) > 0).length / natSellers.length,
      relayedPeersAtNatSellers: relayedPeers,
      upgradedToDirectAtNatSellers: upgraded,
      relayedUpgradedFraction: relayedPeers === 0 ? null : upgraded / relayedPeers,
      relayedToDirectByPeer: pairs,
      natReachability: Object.fromEntries(natSellers.map(i => [`n${i}`, { status: net2[i]?.reachability.status, relayAddrs: net2[i]?.addrs.relay.length }])),
      connectionsPerNode: { min: conns[0], median: conns[Math.floor((conns.length - 1) / 2)], max: conns[conns.length - 1] },
      bootstrapConnections: net2[0]?.connections.total,
      nodesWithoutConnections: conns.filter(c => c === 0).length,
      rssPerNodeMb: { min: r1(Math.min(...own)), median: r1(pct(own, 50)), max: r1(Math.max(...own)), total: r1(own.reduce((s, v) => s + v, 0)) },
      rssPerSellerEngineChildMb: engines.length > 0 ? r1(pct(engines, 50)) : null
    }
    note(JSON.stringify(out))
    return out
  } finally {
    await stopTestnet(t)
  }
}

async function runSim (n: number): Promise<Record<string, unknown>> {
  const sellers = Math.max(4, Math.round(n / 5))
  // the testnet's links add no latency (no netem here): the simulator's minimum
  const r = await runSimulation({ peers: n, scenario: SCENARIOS.steady, seed: 'testnet-bench', durationMs: 30_000, bootstrapNodes: 1, sellersShare: sellers / n, latencyMs: 1, clock: 'virtual' })
  const out = {
    peers: r.peers,
    offerPropagationP50Ms: r.offerPropagationMs.p50,
    offerPropagationP95Ms: r.offerPropagationMs.p95,
    offerPropagationUnfinished: r.offerPropagationMs.unfinished,
    settlementConvergenceP50Ms: r.settlementConvergenceMs.p50,
    settlementConvergenceP95Ms: r.settlementConvergenceMs.p95,
    settlementUnfinished: r.settlementConvergenceMs.unfinished,
    requestsCompleted: r.requests.completed,
    linkLatencyMs: r.links.latencyMs,
    connections: r.links.connections,
    rssPerPeerMb: r.resources.rssPerPeerMb
  }
  note(`sim ${n}: ${JSON.stringify(out)}`)
  return out
}

export default async function (): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  const skip = testnetSkipReason()
  for (const n of SIZES) {
    out[`testnet_${n}`] = skip != null ? { skipped: skip } : await runTestnet(n)
    out[`sim_${n}`] = await runSim(n)
  }
  return out
}

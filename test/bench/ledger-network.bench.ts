/**
 * Ledger convergence at network scale: 50 whole Tally nodes in one process (memory transport,
 * plaintext, default gossipsub timers). Figures: time from a payment until all 50 nodes count it
 * (the payer at signing, the 49 others at their 'record' event), p50/p95 over 30 payments; then
 * partition/heal cycles (25 | 25, both sides paying while split) and the same time for a payment
 * made by a partition-era payer right after the heal, plus the time until all 50 balance sheets
 * are identical. Two overlays, since a node connects only to its bootstrap peers and whom they
 * dial (no discovery): `hub` (every node bootstraps to node 0 and one random earlier node) and
 * `random` (three random earlier nodes each). LEDGER_NET_BENCH_NODES, _PAYMENTS, _CYCLES,
 * _SYNC_MS and _TOPOLOGY (hub | random | both) override the defaults.
 */
import '../../src/polyfill.js'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createTallyNode, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { identityFromSeed } from '../../src/identity/keystore.js'

const NODES = Number(process.env.LEDGER_NET_BENCH_NODES ?? 50)
const PAYMENTS = Number(process.env.LEDGER_NET_BENCH_PAYMENTS ?? 30)
const CYCLES = Number(process.env.LEDGER_NET_BENCH_CYCLES ?? 8)
/** periodic pull interval: what heals a partition; the default node uses 30 s */
const SYNC_MS = Number(process.env.LEDGER_NET_BENCH_SYNC_MS ?? 1_000)
const TOPOLOGIES = (process.env.LEDGER_NET_BENCH_TOPOLOGY ?? 'both') === 'both' ? ['random', 'hub'] as const : [process.env.LEDGER_NET_BENCH_TOPOLOGY as Topology]
type Topology = 'hub' | 'random'
/** bootstrap peers per node in the random overlay */
const RANDOM_DEGREE = 3
/** payments each side makes while split, per cycle */
const SPLIT_PAYMENTS = 6
/** one payment must reach every node within this, or the bench reports it as lost */
const CONVERGE_TIMEOUT_MS = 60_000

/** deterministic randomness (mulberry32) */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6
const round2 = (x: number): number => Math.round(x * 100) / 100

function quantile (xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return round2(s[Math.max(0, Math.min(s.length - 1, Math.ceil(q * s.length) - 1))])
}

function summary (xs: number[]): Record<string, number> {
  return { n: xs.length, p50Ms: quantile(xs, 0.5), p95Ms: quantile(xs, 0.95), maxMs: quantile(xs, 1), minMs: quantile(xs, 0) }
}

async function sleep (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

async function waitFor (cond: () => boolean, what: string, timeoutMs = CONVERGE_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

async function startNode (label: string, bootstrap: string[]): Promise<TallyNode> {
  const seed = new Uint8Array(createHash('sha256').update(`ledger-network-bench/${label}`).digest())
  const n = await createTallyNode(parseConfig({ dataDir: join(tmpdir(), `tally-lnb-${label}`), transport: 'memory', bootstrap, simulation: true, encryption: 'plaintext' }), {
    identity: identityFromSeed(seed),
    memoryLedger: true,
    sync: { intervalMs: SYNC_MS }
  })
  await n.start()
  return n
}

/**
 * Times one payment: from just before `pay()` until the last of `nodes` counts it. Resolves with
 * per-node arrival times (ms after the start) once every node has it.
 */
async function timePayment (nodes: TallyNode[], from: TallyNode, to: TallyNode, amountUc: bigint): Promise<{ allMs: number, arrivalsMs: number[] }> {
  const arrivals = new Map<TallyNode, number>()
  let id: string | undefined
  const early = new Map<string, Map<TallyNode, number>>()
  const done = Promise.withResolvers<void>()
  const listeners = nodes.filter(n => n !== from).map(n => {
    const fn = (e: { id: string }): void => {
      const t = nowMs()
      if (id == null) {
        // the record event can beat pay()'s return: keep it until the id is known
        let m = early.get(e.id)
        if (m == null) early.set(e.id, (m = new Map()))
        m.set(n, t)
        return
      }
      if (e.id !== id || arrivals.has(n)) return
      arrivals.set(n, t)
      if (arrivals.size === nodes.length) done.resolve()
    }
    n.on('record', fn)
    return () => n.off('record', fn)
  })
  const t0 = nowMs()
  try {
    const paid = await from.pay(to.account, amountUc)
    arrivals.set(from, nowMs())
    id = paid.id
    for (const [n, t] of early.get(id) ?? []) arrivals.set(n, t)
    if (arrivals.size < nodes.length) {
      const timer = setTimeout(() => done.reject(new Error(`payment ${id} reached ${arrivals.size} of ${nodes.length} nodes in ${CONVERGE_TIMEOUT_MS} ms`)), CONVERGE_TIMEOUT_MS)
      try { await done.promise } finally { clearTimeout(timer) }
    }
  } finally {
    listeners.forEach(off => off())
  }
  const arrivalsMs = [...arrivals.values()].map(t => t - t0)
  return { allMs: Math.max(...arrivalsMs), arrivalsMs }
}

function balancesKey (n: TallyNode): string {
  return JSON.stringify(n.balances().map(b => [b.account, b.balanceUc.toString(), b.lockedUc.toString()]))
}

/** closes any connection crossing the cut as soon as it opens; returns the switch that lifts it */
function firewall (sides: TallyNode[][]): () => void {
  const sideOf = new Map<string, number>()
  sides.forEach((s, i) => s.forEach(n => sideOf.set(n.libp2p.peerId.toString(), i)))
  const lifts = sides.flat().map(n => {
    const mine = sideOf.get(n.libp2p.peerId.toString())
    const onOpen = (evt: CustomEvent<Connection>): void => {
      const theirs = sideOf.get(evt.detail.remotePeer.toString())
      if (theirs != null && theirs !== mine) void evt.detail.close().catch(() => evt.detail.abort(new Error('partitioned')))
    }
    n.libp2p.addEventListener('connection:open', onOpen)
    return () => n.libp2p.removeEventListener('connection:open', onOpen)
  })
  return () => lifts.forEach(l => l())
}

function crossLinks (a: TallyNode[], b: TallyNode[]): number {
  const other = new Set(b.map(n => n.libp2p.peerId.toString()))
  return a.reduce((s, n) => s + n.libp2p.getConnections().filter(c => other.has(c.remotePeer.toString())).length, 0)
}

/** bootstrap peers of node i (all earlier): the overlay gossipsub builds its mesh on */
function bootstrapOf (topology: Topology, i: number, nodes: TallyNode[], rnd: () => number): string[] {
  if (i === 0) return []
  const peers = new Set<TallyNode>()
  if (topology === 'hub') {
    peers.add(nodes[0])
    peers.add(nodes[Math.floor(rnd() * i)])
  } else {
    while (peers.size < Math.min(RANDOM_DEGREE, i)) peers.add(nodes[Math.floor(rnd() * i)])
  }
  return [...peers].flatMap(n => n.addrs())
}

export default async function (): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { nodes: NODES, syncIntervalMs: SYNC_MS, gossipHeartbeatMs: 1_000, transport: 'memory+plaintext', note: 'one process, all nodes share the CPU' }
  for (const t of TOPOLOGIES) out[t] = await run(t)
  return out
}

async function run (topology: Topology): Promise<Record<string, unknown>> {
  const rnd = prng(6)
  const nodes: TallyNode[] = []
  const out: Record<string, unknown> = {}
  const tStart = nowMs()
  try {
    for (let i = 0; i < NODES; i++) nodes.push(await startNode(`${topology}-${i}`, bootstrapOf(topology, i, nodes, rnd)))
    await waitFor(() => nodes.every(n => n.base.gossipPeers('records').length > 0), 'every node on the records topic')
    // let the mesh settle for a few heartbeats (grafting beyond the bootstrap links)
    await sleep(3_000)
    out.startupMs = round2(nowMs() - tStart)
    out.meanConnectionsPerNode = round2(nodes.reduce((s, n) => s + n.libp2p.getConnections().length, 0) / NODES)
    const mesh = nodes.map(n => (n.libp2p.services.pubsub as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(n.base.topics.records).length)
    out.meanMeshPeersPerNode = round2(mesh.reduce((s, x) => s + x, 0) / NODES)
    out.nodesWithoutMeshPeer = mesh.filter(x => x === 0).length

    // steady state: one payment at a time, random payer and payee
    const all: number[] = []
    const perNode: number[] = []
    for (let k = 0; k < PAYMENTS; k++) {
      const from = nodes[Math.floor(rnd() * NODES)]
      let to = nodes[Math.floor(rnd() * NODES)]
      if (to === from) to = nodes[(nodes.indexOf(from) + 1) % NODES]
      const r = await timePayment(nodes, from, to, BigInt(1_000 + Math.floor(rnd() * 100_000)))
      all.push(r.allMs)
      perNode.push(...r.arrivalsMs)
      await sleep(50 + Math.floor(rnd() * 100))
    }
    out.steady = { allNodesCount: summary(all), perNodeArrival: summary(perNode) }

    // partition / heal cycles
    const half = Math.floor(NODES / 2)
    const sideA = nodes.slice(0, half)
    const sideB = nodes.slice(half)
    const healPayment: number[] = []
    const healPerNode: number[] = []
    const identical: number[] = []
    for (let c = 0; c < CYCLES; c++) {
      const lift = firewall([sideA, sideB])
      for (const n of sideA) for (const m of sideB) await n.libp2p.hangUp(m.libp2p.peerId).catch(() => {})
      await waitFor(() => crossLinks(sideA, sideB) === 0 && crossLinks(sideB, sideA) === 0, 'the cut')
      const payers: TallyNode[] = []
      for (const side of [sideA, sideB]) {
        for (let k = 0; k < SPLIT_PAYMENTS; k++) {
          const from = side[Math.floor(rnd() * side.length)]
          let to = nodes[Math.floor(rnd() * NODES)]
          if (to === from) to = side[(side.indexOf(from) + 1) % side.length]
          await from.pay(to.account, BigInt(1_000 + Math.floor(rnd() * 50_000)))
          payers.push(from)
        }
      }
      // let each side finish gossiping its own payments
      await sleep(500)
      lift()
      // heal: three cross links; the bootstrap links (to node 0) come back by themselves
      for (let k = 0; k < 3; k++) {
        const a = sideA[Math.floor(rnd() * sideA.length)]
        const b = sideB[Math.floor(rnd() * sideB.length)]
        await a.libp2p.dial(multiaddr(b.addrs()[0]), { signal: AbortSignal.timeout(5_000) }).catch(() => {})
      }
      const tHeal = nowMs()
      // a payer from the split: the other side needs its partition-era records before counting this one
      const from = payers[Math.floor(rnd() * payers.length)]
      let to = nodes[Math.floor(rnd() * NODES)]
      if (to === from) to = nodes[(nodes.indexOf(from) + 1) % NODES]
      const r = await timePayment(nodes, from, to, 1_000n)
      healPayment.push(r.allMs)
      healPerNode.push(...r.arrivalsMs)
      await waitFor(() => { const k = balancesKey(nodes[0]); return nodes.every(n => balancesKey(n) === k) }, 'identical balances after the heal')
      identical.push(nowMs() - tHeal)
      const sum = nodes[0].balances().reduce((s, b) => s + b.balanceUc, 0n)
      if (sum !== 0n) throw new Error(`balances sum to ${sum} after heal ${c}`)
    }
    out.afterHeal = {
      cycles: CYCLES,
      splitPaymentsPerSide: SPLIT_PAYMENTS,
      paymentAllNodesCount: summary(healPayment),
      paymentPerNodeArrival: summary(healPerNode),
      identicalBalancesAfterHeal: summary(identical)
    }
    out.records = nodes[0].ledger.ledger.size
    out.totalMs = round2(nowMs() - tStart)
    return out
  } finally {
    await Promise.all(nodes.map(async n => await n.stop().catch(() => {})))
  }
}

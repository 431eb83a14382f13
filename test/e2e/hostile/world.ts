/**
 * The victim of the hostile-peer suite and the attack bench: a real seller node (memory
 * transport, simulated backend, in-memory ledger) with a real HTTP gateway, and an honest buyer
 * node bootstrapped to it. Short deadlines so a test sees them pass; caps as the node ships them
 * unless named here. No vitest import: the bench (plain tsx) uses it too.
 */
import '../../../src/polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTallyNode, type TallyNode, type TallyNodeInit } from '../../../src/node/tally.js'
import { parseConfig } from '../../../src/node/config.js'
import { startGateway, type Gateway } from '../../../src/api/gateway.js'
import { SimulatedBackend } from '../../../src/exec/backends/simulated.js'
import type { Ledger } from '../../../src/ledger/ledger.js'
import { http } from './http.js'

export const MODEL = 'sim-7b'
/** the seller's stream deadlines (infer, sync, negotiate) and quote term open_within_ms */
export const DEADLINE_MS = 2_000
export const OPEN_WITHIN_MS = 2_000
/** the buyer's order book: small, so an offer flood fills it with a few hundred offers */
export const BOOK = 40
/** forwarding budget of an author with no balance of its own, per (long) window */
export const UNFUNDED_BUDGET = 5
export const GATEWAY = { maxConnections: 64, maxConnectionsPerAddress: 32, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 }

export interface World {
  seller: TallyNode
  buyer: TallyNode
  gateway: Gateway
  /** extra nodes an attack started (squatters); stopped with the world */
  track: (n: TallyNode) => TallyNode
  node: (init?: TallyNodeInit, bootstrap?: string[]) => Promise<TallyNode>
  stop: () => Promise<void>
}

export async function startWorld (): Promise<World> {
  const nodes: TallyNode[] = []
  const dirs: string[] = []
  // periodic pulls off: what reaches the buyer by gossip is what the seller forwarded
  const quiet: TallyNodeInit = {
    sync: { intervalMs: 600_000, timeoutMs: DEADLINE_MS },
    recordGossip: { unfundedRecordsPerWindow: UNFUNDED_BUDGET, unfundedWindowMs: 600_000 }
  }
  const node = async (init: TallyNodeInit = {}, bootstrap: string[] = []): Promise<TallyNode> => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tally-hostile-'))
    dirs.push(dataDir)
    const n = await createTallyNode(parseConfig({ dataDir, transport: 'memory', bootstrap }), { memoryLedger: true, ...quiet, ...init })
    nodes.push(n)
    await n.start()
    return n
  }
  const seller = await node({
    sell: { backend: new SimulatedBackend({ modelId: MODEL, params: 7_000_000_000, tokensPerChunk: 4, maxConcurrency: 4 }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n, maxSessions: 4 },
    negotiate: { openWithinMs: OPEN_WITHIN_MS, timeoutMs: DEADLINE_MS },
    inferSeller: { requestTimeoutMs: DEADLINE_MS }
  })
  const buyer = await node({ market: { book: { maxOffers: BOOK, standingRefreshMs: 0 } } }, seller.addrs())
  const gateway = await startGateway(seller, { port: 0, ...GATEWAY })
  const started = Date.now()
  while (buyer.offerList(MODEL).length !== 1) {
    if (Date.now() - started > 20_000) throw new Error('the seller\'s offer never reached the buyer')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return {
    seller,
    buyer,
    gateway,
    node,
    track: (n) => { nodes.push(n); return n },
    stop: async () => {
      await gateway.close().catch(() => {})
      await Promise.all(nodes.map(async n => await n.stop().catch(() => {})))
      await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
    }
  }
}

export interface HonestTimes { inferMs: number, httpMs: number }

/**
 * One honest request of each kind: the buyer settles its open sessions (so the next call
 * negotiates anew, through whatever the attack does to /tally/negotiate), then buys a completion
 * from the seller; and an HTTP client asks the seller's gateway for /v1/models. Throws if either
 * fails; returns how long each took.
 */
export async function honestRequest (w: World): Promise<HonestTimes> {
  await w.buyer.closeSessions()
  const t0 = performance.now()
  const r = await w.buyer.infer(MODEL, { messages: [{ role: 'user', content: 'hello' }], maxTokens: 8 })
  const inferMs = performance.now() - t0
  if (r.seller !== w.seller.account) throw new Error(`served by ${r.seller}, not the seller`)
  if (!(r.outputTokens > 0)) throw new Error('no output')
  const t1 = performance.now()
  // The client, the gateway and the attack share this process. A 408 to this GET is the gateway's
  // header deadline (GATEWAY.headersTimeoutMs) firing before the server read headers the client had
  // already written: that happens only when the event loop stalled that long between the accept and
  // the read (the deadline check runs first on the turn after the stall). Such a stall is the
  // machine's load (other test processes starving this one), not the gateway: that try is repeated,
  // at most twice. A 408 with no such stall, or any other status, fails.
  let m: Awaited<ReturnType<typeof http>> | undefined
  for (let attempt = 0; ; attempt++) {
    const watch = stallWatch()
    try { m = await http(w.gateway, 'GET', '/v1/models') } finally { watch.stop() }
    if (m.status === 408 && watch.longestMs() >= 0.9 * GATEWAY.headersTimeoutMs && attempt < 2) continue
    if (m.status !== 200) throw new Error(`/v1/models answered ${m.status} (longest event-loop stall meanwhile ${Math.round(watch.longestMs())} ms, header deadline ${GATEWAY.headersTimeoutMs} ms)`)
    break
  }
  const httpMs = performance.now() - t1
  return { inferMs, httpMs }
}

/** the longest gap between turns of this process's event loop (ms) while it runs: its own starvation */
export function stallWatch (): { stop: () => void, longestMs: () => number } {
  let last = performance.now()
  let longest = 0
  const tick = (): void => {
    const now = performance.now()
    if (now - last > longest) longest = now - last
    last = now
  }
  const timer = setInterval(tick, 5)
  return { stop: () => { tick(); clearInterval(timer) }, longestMs: () => longest }
}

/**
 * What "nothing invalid was accepted" means for one node's ledger: Σ balances is 0, and no
 * unflagged account is below its credit bound (available, and its own chain's view) or has a
 * negative lock. Returns the violations (empty when sound).
 */
export function ledgerViolations (l: Ledger): string[] {
  const bad: string[] = []
  if (l.totalUc() !== 0n) bad.push(`Σ balances = ${l.totalUc()}`)
  for (const b of l.balances()) {
    if (b.flagged) continue
    const k = l.keyOf(b.account)
    if (b.availableUc < -b.creditLimitUc) bad.push(`${b.account}: available ${b.availableUc} below -${b.creditLimitUc}`)
    if (b.lockedUc < 0n) bad.push(`${b.account}: locked ${b.lockedUc}`)
    const s = l.headState(k)
    if (s.acked - s.debits - s.locked < -b.creditLimitUc) bad.push(`${b.account}: chain headroom below -${b.creditLimitUc}`)
  }
  return bad
}

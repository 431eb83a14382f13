/**
 * Hole punching between NATs on real hosts (issue 16.2 target: ≥ 80 % of relayed buyer–seller
 * connections direct where both NATs are cone-like, 0 % where one side is symmetric;
 * docs/network.md § Hole punching). `npx tsx test/bench/run.ts --only testnet-holepunch`.
 *
 * Per variant one testnet: n0 the public bootstrap and relay; S sellers (tiny embedded model,
 * one thread) each behind its own cone-like NAT; B buyers each behind its own NAT, cone-like or
 * symmetric by variant. NATed nodes make no connection of their own beyond n0 (--dht off,
 * --min-connections 0), so a buyer's first connection to a seller is the relayed one. Each
 * buyer buys one 8-token chat from each seller (the others excluded with `tally.exclude`): S × B
 * pairs. Then, after DCUtR's attempts have run out (3 × 5 s), each seller's /tally/network
 * history says per buyer whether the relayed connection was followed by a direct one, and how
 * long after. Requires root, ip, nft and dist/ (`npm run build`); otherwise reports why not.
 *
 * Env: TALLY_BENCH_HOLEPUNCH_SELLERS (4), TALLY_BENCH_HOLEPUNCH_BUYERS (3),
 * TALLY_BENCH_HOLEPUNCH_VARIANTS (cone,symmetric: the buyers' NAT kind).
 */
import { startTestnet, stopTestnet, testnetSkipReason, type Testnet } from '../helpers/testnet.js'

const SELLERS = Number(process.env.TALLY_BENCH_HOLEPUNCH_SELLERS ?? 4)
const BUYERS = Number(process.env.TALLY_BENCH_HOLEPUNCH_BUYERS ?? 3)
const VARIANTS = (process.env.TALLY_BENCH_HOLEPUNCH_VARIANTS ?? 'cone,symmetric').split(',').filter(v => v === 'cone' || v === 'symmetric') as Array<'cone' | 'symmetric'>
const QUIET = ['--relay-client', 'on', '--dht', 'off', '--min-connections', '0']
/** DCUtR tries 3 times with a 5 s deadline each; a little more for a loaded machine */
const SETTLE_MS = 25_000
const STEP_TIMEOUT_MS = 90_000

const note = (line: string): void => { process.stderr.write(`testnet-holepunch bench: ${line}\n`) }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function poll (what: string, f: () => Promise<boolean>, ms = STEP_TIMEOUT_MS): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    if (await f().catch(() => false)) return
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await sleep(300)
  }
}

interface Pair { seller: string, buyer: string, bought: boolean, relayedFirst: boolean, direct: boolean, directAfterMs?: number, directAddr?: string }

async function runVariant (buyerNat: 'cone' | 'symmetric'): Promise<Record<string, unknown>> {
  const started = Date.now()
  let t: Testnet | undefined
  try {
    t = await startTestnet({
      nodes: [
        { args: ['--relay', 'on'] },
        ...Array.from({ length: SELLERS }, () => ({ nat: 'cone' as const, sell: true, args: QUIET })),
        ...Array.from({ length: BUYERS }, () => ({ nat: buyerNat, args: QUIET }))
      ],
      log: note
    })
    const net = t
    const sellers = net.nodes.slice(1, 1 + SELLERS)
    const buyers = net.nodes.slice(1 + SELLERS)
    const startMs = Date.now() - started
    await Promise.all(sellers.map(async s => { await poll(`${s.name}'s relay slot`, async () => (await net.api(s.index, '/tally/network')).addrs.relay.length > 0) }))
    await Promise.all(buyers.map(async b => {
      await poll(`every offer at ${b.name}`, async () => {
        const have = new Set(((await net.api(b.index, '/tally/offers')).offers as any[]).map(o => o.seller))
        return sellers.every(s => have.has(s.account))
      })
    }))
    const pairs: Pair[] = []
    // one purchase per pair; buyers in parallel, each buyer's sellers in turn
    await Promise.all(buyers.map(async b => {
      for (const s of sellers) {
        const exclude = sellers.filter(x => x !== s).map(x => x.account!)
        let bought = false
        const end = Date.now() + STEP_TIMEOUT_MS
        while (!bought && Date.now() < end) {
          const r = await net.post(b.index, '/v1/chat/completions', { model: 'tiny-char-v1', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, seed: 1, tally: { exclude } }).catch(() => undefined)
          bought = r?.choices?.[0]?.message?.content != null
          if (!bought) await sleep(500)
        }
        pairs.push({ seller: s.name, buyer: b.name, bought, relayedFirst: false, direct: false })
      }
    }))
    await sleep(SETTLE_MS)
    for (const p of pairs) {
      const s = net.nodes.find(n => n.name === p.seller)!
      const b = net.nodes.find(n => n.name === p.buyer)!
      const opens = ((await net.api(s.index, '/tally/network')).history as any[]).filter(e => e.peer === b.peerId && e.event === 'open')
      const first = opens.findIndex(e => e.relayed === true)
      p.relayedFirst = first === 0
      const direct = first >= 0 ? opens.slice(first).find(e => e.relayed === false) : undefined
      p.direct = direct != null
      if (direct != null) {
        p.directAfterMs = direct.atMs - opens[first].atMs
        p.directAddr = direct.remoteAddr.replace(/\/p2p\/.*$/, '')
      }
    }
    const observed = Object.fromEntries(await Promise.all(buyers.map(async b => [b.name, (await net.api(b.index, '/tally/network')).services?.holePunch?.observedAddrs ?? []])))
    const relayed = pairs.filter(p => p.relayedFirst)
    const direct = relayed.filter(p => p.direct)
    const after = direct.map(p => p.directAfterMs!).sort((a, b) => a - b)
    return {
      sellersNat: 'cone',
      buyersNat: buyerNat,
      pairs: pairs.length,
      bought: pairs.filter(p => p.bought).length,
      relayedFirst: relayed.length,
      relayedToDirect: direct.length,
      fraction: relayed.length === 0 ? null : direct.length / relayed.length,
      directAfterMs: after.length === 0 ? null : { min: after[0], median: after[Math.floor(after.length / 2)], max: after[after.length - 1] },
      buyersObservedAddrs: observed,
      startMs,
      pairsDetail: pairs
    }
  } finally {
    await stopTestnet(t)
  }
}

export default async function (): Promise<Record<string, unknown>> {
  const skip = testnetSkipReason()
  if (skip != null) return { skipped: skip }
  const out: Record<string, unknown> = {
    setup: `n0 public relay; ${SELLERS} sellers each behind a cone-like NAT; ${BUYERS} buyers each behind their own NAT (kind per variant); one purchase per buyer-seller pair; no added latency (no netem); loaded 2-core machine`
  }
  for (const v of VARIANTS) {
    note(`variant: buyers behind ${v} NATs`)
    try {
      out[v] = await runVariant(v)
    } catch (err: any) {
      out[v] = { error: String(err?.message ?? err) }
    }
  }
  return out
}

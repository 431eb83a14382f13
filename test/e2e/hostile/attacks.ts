/**
 * The attacks of issue 15, each against the World of ./world.ts, for the hostile-node suite
 * (test/e2e/hostile-node.test.ts asserts on their facts) and the attack bench (which measures the
 * node while they run). `start` begins the attack and returns while it is still going on (floods
 * keep flooding, squatters keep squatting) so honest requests can be made during it; `stop` ends
 * it and returns what it observed. No vitest import.
 */
import { randomBytes } from 'node:crypto'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Connection, Stream } from '@libp2p/interface'
import { stopAll, type TestPeer } from '../market-helpers.js'
import { floodTerms, hostilePeer, hostileSyncPeer, junk, oversizedRecord, silentStreams } from './peer.js'
import { LYING_POST, http, stalledSocket, type StalledSocket } from './http.js'
import { MODEL, UNFUNDED_BUDGET, type World } from './world.js'
import { createSigner, generateSeed, type Ed25519Signer } from '../../../src/identity/ed25519.js'
import { Ledger } from '../../../src/ledger/ledger.js'
import { LedgerService } from '../../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { fromHex, signRecord } from '../../../src/ledger/record.js'
import { signOffer } from '../../../src/market/offer.js'
import { NEGOTIATE_PROTOCOL } from '../../../src/contract/negotiate.js'
import type { TallyNode } from '../../../src/node/tally.js'

export type Facts = Record<string, number | boolean | string>

export interface Running {
  stop: () => Promise<Facts>
  /** true once the attack's effect can be judged (the suite waits for it before stopping) */
  observed?: () => boolean
}

export interface Attack {
  name: string
  /** the point(s) */
  point: string
  start: (w: World) => Promise<Running>
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** a background loop run until stopped; errors are the attacker's problem */
function loop (body: () => Promise<void>, pauseMs = 0): { stop: () => Promise<void> } {
  let on = true
  const done = (async () => {
    while (on) {
      try { await body() } catch {}
      await sleep(pauseMs)
    }
  })()
  return { stop: async () => { on = false; await done } }
}

type PubSubView = { getScore: (p: string) => number, getSubscribers: (t: string) => unknown[], score: { peerStats: Map<string, { topics: Record<string, { invalidMessageDeliveries: number }> }> } }
const pubsubOf = (n: TallyNode): PubSubView => n.libp2p.services.pubsub as unknown as PubSubView

/** a hostile raw peer connected to `victim` and on its `topic`'s subscriber list */
async function onTopic (victim: TallyNode, topic: string): Promise<TestPeer> {
  const p = await hostilePeer()
  p.libp2p.services.pubsub.subscribe(topic)
  await p.libp2p.dial(victim.libp2p.getMultiaddrs()[0])
  const id = p.libp2p.peerId.toString()
  const started = Date.now()
  while (!(pubsubOf(victim).getSubscribers(topic) as Array<{ toString: () => string }>).some(s => s.toString() === id)) {
    if (Date.now() - started > 10_000) throw new Error('hostile peer never subscribed')
    await sleep(20)
  }
  return p
}

/**
 * 15.1 forked release: buyer B' opens a 5-credit lock with seller S' (a sacrificed key); S' forks
 * into three branches, each settling the same open for 0; B' acks every settle (one record each)
 * and then transfers twice its credit limit. Delivered by gossip from a raw peer (records in
 * reverse order, so the node judges them out of order), or by pull: the seller syncs with a raw
 * peer that serves them.
 */
function forkedReleaseBy (delivery: 'gossip' | 'pull'): Attack {
  return {
    name: `forked-release-${delivery}`,
    point: '15.1',
    start: async (w) => {
      const genesis = w.seller.base.genesis
      const net = w.seller.ledger.ledger.net
      const limit = genesis.defaultCreditLimitUc
      const b = createSigner(generateSeed())
      const s = createSigner(generateSeed())
      const sink = createSigner(generateSeed())
      const branch = (signer: Ed25519Signer): Ledger => new Ledger({ genesis, signer, store: new MemoryLedgerStore(), now: () => Date.now() })
      const buyer = branch(b)
      const open = await buyer.createRecord({ type: 'open', seller: s.publicKey, contractId: randomBytes(32), maxSpendUc: genesis.maxSessionLockUc })
      const settles: Array<{ id: string, bytes: Uint8Array }> = []
      for (let i = 0; i < 3; i++) {
        const l = branch(s)
        l.add(open.bytes)
        settles.push(await l.createRecord({ type: 'settle', openId: fromHex(open.id), amountUc: 0n }, { memo: `branch ${i}` }))
      }
      // the buyer's chain by hand: seq 2..4 ack one settle each, seq 5 spends twice its limit
      const chain: Array<{ id: string, bytes: Uint8Array }> = [open]
      for (const st of settles) chain.push(signRecord(b, { net, seq: BigInt(chain.length + 1), prev: fromHex(chain[chain.length - 1].id), acks: [fromHex(st.id)], kind: { type: 'ack' }, time: BigInt(Date.now()) }))
      const spend = signRecord(b, { net, seq: BigInt(chain.length + 1), prev: fromHex(chain[chain.length - 1].id), kind: { type: 'transfer', to: sink.publicKey, amountUc: 2n * limit }, time: BigInt(Date.now()) })
      const all = [open, ...settles, ...chain.slice(1), spend]
      const l = w.seller.ledger.ledger
      let hangUp: () => Promise<void>
      let pulled = 0
      if (delivery === 'gossip') {
        const peer = await onTopic(w.seller, w.seller.base.topics.records)
        for (const r of [...all].reverse()) await peer.libp2p.services.pubsub.publish(w.seller.base.topics.records, r.bytes).catch(() => {})
        hangUp = async () => { await stopAll([peer]) }
      } else {
        const peer = await hostileSyncPeer(net, all.map(r => ({ bytes: r.bytes, time: BigInt(Date.now()) })))
        await w.seller.libp2p.dial(peer.getMultiaddrs()[0])
        pulled = (await w.seller.libp2p.services.sync.syncWith(peer.peerId)).fetched
        hangUp = async () => { await peer.stop() }
      }
      const sAccount = l.accountId(Buffer.from(s.publicKey).toString('hex'))
      const started = Date.now()
      // judged: the open and first settle are valid; the seller's fork is flagged
      while (!(l.has(open.id) && l.isFlagged(sAccount)) && Date.now() - started < 15_000) await sleep(20)
      return {
        stop: async () => {
          await hangUp()
          const bal = l.balance(l.accountId(Buffer.from(b.publicKey).toString('hex')))
          return {
            records: all.length,
            pulled,
            openAccepted: l.has(open.id),
            acksAccepted: chain.slice(1).filter(r => l.has(r.id)).length,
            spendAccepted: l.has(spend.id),
            spendAcceptedByBuyerNode: w.buyer.ledger.ledger.has(spend.id),
            sellerFlagged: l.isFlagged(sAccount),
            buyerFlagged: bal.flagged,
            buyerAvailableUc: bal.availableUc.toString(),
            creditLimitUc: limit.toString()
          }
        }
      }
    }
  }
}

export const forkedRelease = forkedReleaseBy('gossip')
export const forkedReleaseByPull = forkedReleaseBy('pull')

/** every protocol a Tally node serves that a silent stream could hold */
export const SILENT_PROTOCOLS = ['/tally/infer/1.0.0', '/tally/sync/1.0.0', '/tally/fetch/1.0.0', '/tally/negotiate/1.0.0', '/tally/offers/1.0.0', '/tally/genesis/1.0.0']

let gcFn: (() => void) | undefined
/** a real gc() in a process not started with --expose-gc (vitest workers, tsx) */
export function forceGc (): void {
  if (gcFn == null) {
    v8.setFlagsFromString('--expose_gc')
    gcFn = runInNewContext('gc') as () => void
  }
  gcFn()
}

/**
 * 15.2 deadlines vs gc: a raw peer opens two silent streams of every protocol; once the seller
 * holds them the peer forces collections (with 64 MiB of churn) before the first deadline. The
 * facts say how many streams the seller still holds when the attack stops (the suite waits for
 * 0 first) and the most it held.
 */
export const silentStreamsGc: Attack = {
  name: 'silent-streams-gc',
  point: '15.2',
  start: async (w) => {
    const peer = await hostilePeer()
    const conn = await peer.libp2p.dial(w.seller.libp2p.getMultiaddrs()[0])
    const streams: Stream[] = []
    for (const p of SILENT_PROTOCOLS) streams.push(...await silentStreams(conn, 2, p))
    const held = (): number => w.seller.libp2p.getConnections(peer.libp2p.peerId).flatMap(c => c.streams).filter(s => SILENT_PROTOCOLS.includes(s.protocol ?? '')).length
    const openedAt = Date.now()
    let most = 0
    while (held() < streams.length && Date.now() - openedAt < 2_000) { most = Math.max(most, held()); await sleep(10) }
    most = Math.max(most, held())
    for (let i = 0; i < 3; i++) {
      let churn: Uint8Array[] = []
      for (let j = 0; j < 64; j++) churn.push(new Uint8Array(1024 * 1024))
      churn = []
      forceGc()
      await sleep(0)
    }
    const gcDoneAfterMs = Date.now() - openedAt
    const keepCollecting = loop(async () => { forceGc() }, 250)
    return {
      observed: () => held() === 0,
      stop: async () => {
        await keepCollecting.stop()
        const stillHeld = held()
        for (const s of streams) s.abort(new Error('done'))
        await stopAll([peer])
        return { opened: streams.length, mostHeld: most, stillHeld, gcDoneAfterMs, heldForMs: Date.now() - openedAt }
      }
    }
  }
}

/**
 * 15.3 negotiation exhaustion: a raw peer dials the seller six times and opens 32 silent
 * /tally/negotiate streams on each, then keeps re-dialling and opening more.
 */
export const negotiateExhaustion: Attack = {
  name: 'negotiate-exhaustion',
  point: '15.3',
  start: async (w) => {
    const peer = await hostilePeer()
    const to = w.seller.libp2p.getMultiaddrs()
    const id = peer.libp2p.peerId.toString()
    const neg = w.seller.negotiator as unknown as { inFlightByPeer: Map<string, number> }
    const disconnected0 = w.seller.negotiator.stats.peersDisconnected
    // every change of the peer's count of negotiations in progress (a sampler misses most: the
    // hang-up frees them within milliseconds)
    let most = 0
    const set = neg.inFlightByPeer.set
    neg.inFlightByPeer.set = function (k: string, v: number) {
      if (k === id) most = Math.max(most, v)
      return set.call(this, k, v)
    }
    const conns: Connection[] = []
    for (let i = 0; i < 6; i++) conns.push(await peer.libp2p.dial(to, { force: true }))
    await Promise.all(conns.map(async c => await silentStreams(c, 32, NEGOTIATE_PROTOCOL)))
    let attempts = 6
    const again = loop(async () => {
      attempts++
      const c = await peer.libp2p.dial(to, { force: true })
      await silentStreams(c, 8, NEGOTIATE_PROTOCOL)
    }, 100)
    return {
      stop: async () => {
        await again.stop()
        neg.inFlightByPeer.set = set
        const cooling = w.seller.negotiator.isCooling(peer.libp2p.peerId)
        await stopAll([peer])
        return { mostInFlight: most, cooling, disconnects: w.seller.negotiator.stats.peersDisconnected - disconnected0, connectionsTried: attempts }
      }
    }
  }
}

/**
 * 15.3 squatting: a buyer node takes contracts and never opens them, taking new ones as soon as
 * the seller lets it (its reservations end at open_within_ms).
 */
export const squat: Attack = {
  name: 'squat',
  point: '15.3 / 14.3',
  start: async (w) => {
    const squatter = await w.node({}, w.seller.addrs())
    const to = w.seller.libp2p.getMultiaddrs()
    let contracts = 0
    let refused = 0
    let mostUnopened = 0
    const take = async (): Promise<void> => {
      try {
        await squatter.negotiator.negotiate(to, { modelId: MODEL, maxSpendUc: 10_000n, sessionExpiresAtMs: BigInt(Date.now() + 3_600_000) })
        contracts++
      } catch { refused++ }
      mostUnopened = Math.max(mostUnopened, w.seller.negotiator.reservations(MODEL, fromHex(w.seller.ledger.ledger.keyOf(squatter.account))).unopened)
    }
    await take()
    await take()
    await take()
    const again = loop(take, 200)
    return {
      stop: async () => {
        await again.stop()
        const facts = { contracts, refused, mostUnopened }
        await squatter.stop()
        return facts
      }
    }
  }
}

/**
 * 15.4 offer flood: a raw peer publishes valid offers for made-up models from 50 fresh keys on
 * the buyer's offers topic, 200 at once, then keeps re-announcing them with higher seqs.
 */
export const offerFlood: Attack = {
  name: 'offer-flood',
  point: '15.4',
  start: async (w) => {
    const topic = w.buyer.base.topics.offers
    const peer = await onTopic(w.buyer, topic)
    const net = w.buyer.ledger.ledger.net
    const keys = Array.from({ length: 50 }, () => createSigner(generateSeed()))
    let seq = 0n
    let sent = 0
    const wave = async (): Promise<void> => {
      seq++
      for (let i = 0; i < 200; i++) {
        const o = signOffer(keys[i % keys.length], net, floodTerms(`flood-${i}`), { seq: seq * 10n + BigInt(Math.floor(i / keys.length)), expiresAtMs: BigInt(Date.now() + 110_000) })
        await peer.libp2p.services.pubsub.publish(topic, o.bytes).catch(() => {})
        sent++
      }
    }
    const accepted0 = w.buyer.market.stats.offersAccepted
    await wave()
    const again = loop(wave, 500)
    return {
      stop: async () => {
        await again.stop()
        await stopAll([peer])
        return {
          sent,
          accepted: w.buyer.market.stats.offersAccepted - accepted0,
          bookSize: w.buyer.book.size,
          freshSize: w.buyer.book.freshSize,
          modelsListed: w.buyer.models().length,
          sellerStillListed: w.buyer.offerList(MODEL).some(o => o.seller === w.seller.account)
        }
      }
    }
  }
}

/**
 * 15.5 ledger spam: two fresh keys (no balance of their own) publish valid 1 µc transfers to the
 * seller as fast as the raw peer can, and a second raw peer publishes junk and oversized record
 * envelopes on the records topic.
 */
export const ledgerSpam: Attack = {
  name: 'ledger-spam',
  point: '15.5',
  start: async (w) => {
    const topic = w.seller.base.topics.records
    const spammer = await onTopic(w.seller, topic)
    const junker = await onTopic(w.seller, topic)
    const junkerId = junker.libp2p.peerId.toString()
    const net = w.seller.ledger.ledger.net
    const payers = await Promise.all([0, 1].map(async () => {
      const p = new LedgerService({ genesis: w.seller.base.genesis, signer: createSigner(generateSeed()), store: new MemoryLedgerStore() })
      await p.start()
      return p
    }))
    const spamIds: string[] = []
    const spamming = loop(async () => {
      for (const p of payers) {
        const r = await p.pay(w.seller.account, 1n)
        spamIds.push(r.id)
        await spammer.libp2p.services.pubsub.publish(topic, r.bytes).catch(() => {})
      }
    }, 5)
    const signer = createSigner(generateSeed())
    let i = 0
    const junking = loop(async () => {
      await junker.libp2p.services.pubsub.publish(topic, i % 2 === 0 ? junk(i) : oversizedRecord(signer, net, i)).catch(() => {})
      i++
    }, 20)
    const ps = pubsubOf(w.seller)
    const rejected = (): number => ps.score.peerStats.get(junkerId)?.topics[topic]?.invalidMessageDeliveries ?? 0
    return {
      observed: () => rejected() >= 3 && ps.getScore(junkerId) < 0 && spamIds.length > 4 * UNFUNDED_BUDGET,
      stop: async () => {
        await spamming.stop()
        await junking.stop()
        const facts = {
          spamSent: spamIds.length,
          spamKeptBySeller: spamIds.filter(id => w.seller.ledger.ledger.has(id)).length,
          spamForwardedToBuyer: spamIds.filter(id => w.buyer.ledger.ledger.has(id)).length,
          junkSent: i,
          junkRejected: rejected(),
          junkerScore: ps.getScore(junkerId)
        }
        await stopAll([spammer, junker])
        await Promise.all(payers.map(async p => await p.stop()))
        return facts
      }
    }
  }
}

/**
 * 15.6 slowloris: 100 sockets to the gateway announce a 1000-byte body and never send it; the
 * attacker reopens any the gateway closes.
 */
export const slowloris: Attack = {
  name: 'http-slowloris',
  point: '15.6',
  start: async (w) => {
    const port = new URL(w.gateway.url).port
    const sockets: StalledSocket[] = []
    for (let i = 0; i < 100; i++) sockets.push(await stalledSocket(w.gateway, LYING_POST(port)))
    // what the gateway holds, counted on its side (a client sees a close a little later)
    const server = w.gateway.app.server
    const serverHolds = async (): Promise<number> => await new Promise(resolve => { server.getConnections((_err, n) => { resolve(n) }) })
    let mostHeld = await serverHolds()
    let reopened = 0
    let got408 = 0
    const sample = loop(async () => { mostHeld = Math.max(mostHeld, await serverHolds()) }, 5)
    // each reopened socket evicts the gateway's oldest stalled one: ten a second leaves the
    // survivors long enough to meet the request deadline
    const again = loop(async () => {
      const closed = sockets.findIndex(s => s.closed())
      if (closed >= 0) {
        if (/^HTTP\/1\.1 408/.test(sockets[closed].received())) got408++
        sockets[closed] = await stalledSocket(w.gateway, LYING_POST(port))
        reopened++
      }
    }, 100)
    return {
      // the request deadline has closed at least one socket that announced a body
      observed: () => got408 > 0,
      stop: async () => {
        await again.stop()
        await sample.stop()
        const facts = { sockets: 100, mostHeldByGateway: mostHeld, reopened, got408 }
        for (const s of sockets) s.socket.destroy()
        return facts
      }
    }
  }
}

/**
 * 15.7 DNS rebinding and cross-origin pages: a client that keeps trying to pay from the
 * seller's gateway with a foreign Host, then with a foreign Origin.
 */
export const rebinding: Attack = {
  name: 'dns-rebinding',
  point: '15.7',
  start: async (w) => {
    const port = new URL(w.gateway.url).port
    const to = w.buyer.account
    const body = JSON.stringify({ to, amount_uc: '1' })
    const statuses = new Map<number, number>()
    let n = 0
    const note = (s: number): void => { statuses.set(s, (statuses.get(s) ?? 0) + 1) }
    const l = w.seller.ledger.ledger
    const own = l.keyOf(w.seller.account)
    const transfers = (): number => l.history(w.seller.account).filter(r => r.from === own && r.kind.type === 'transfer').length
    const paid0 = transfers()
    const again = loop(async () => {
      note((await http(w.gateway, 'POST', '/tally/pay', { host: `evil.example:${port}` }, body)).status)
      note((await http(w.gateway, 'POST', '/tally/pay', { host: `127.0.0.1.evil.example:${port}` }, body)).status)
      note((await http(w.gateway, 'POST', '/tally/pay', { origin: 'http://evil.example' }, body)).status)
      note((await http(w.gateway, 'OPTIONS', '/tally/pay', { origin: 'http://evil.example', 'access-control-request-method': 'POST' })).status)
      n += 4
    }, 10)
    return {
      observed: () => n >= 40,
      stop: async () => {
        await again.stop()
        const paid = transfers() - paid0
        return { requests: n, refused421: statuses.get(421) ?? 0, refused403: statuses.get(403) ?? 0, other: n - (statuses.get(421) ?? 0) - (statuses.get(403) ?? 0), transfersMade: paid }
      }
    }
  }
}

export const ATTACKS: Attack[] = [forkedRelease, forkedReleaseByPull, silentStreamsGc, negotiateExhaustion, squat, offerFlood, ledgerSpam, slowloris, rebinding]

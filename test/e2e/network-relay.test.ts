/**
 * Reaching a node through a circuit relay (docs/network.md), real nodes on loopback TCP. A seller
 * that the buyer may not reach directly (each side's gater refuses a direct connection with the
 * other) reserves a slot on a relay, its offer carries only the relay address, and the buyer
 * negotiates and buys one inference of the embedded tiny model over the relayed connection.
 * Relay abuse is bounded: reservations beyond the cap are refused, a relayed connection is cut
 * at its duration limit and at its data limit, and the relay stays up through all of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Connection, ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createBaseNode, type BaseNode } from '../../src/node/node.js'
import { createTallyNode, type TallyNode, type TallyNodeInit } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { identityFromSeed } from '../../src/identity/keystore.js'
import { createEmbeddedBackend, type EmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'
import { isRelayAddr } from '../../src/node/network/addresses.js'
import { waitFor } from '../helpers/wait.js'

const stops: Array<() => Promise<void>> = []
const dirs: string[] = []
let backend: EmbeddedBackend | undefined

async function config (network: Record<string, unknown>, bootstrap: string[] = []): Promise<ReturnType<typeof parseConfig>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-relay-'))
  dirs.push(dataDir)
  return parseConfig({ dataDir, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, network })
}

async function tally (network: Record<string, unknown>, bootstrap: string[] = [], init: TallyNodeInit = {}): Promise<TallyNode> {
  const n = await createTallyNode(await config(network, bootstrap), { memoryLedger: true, libp2pMetrics: false, identity: identityFromSeed(randomBytes(32)), ...init })
  stops.push(async () => { await n.stop() })
  await n.start()
  return n
}

async function base (network: Record<string, unknown>, bootstrap: string[] = []): Promise<BaseNode> {
  const n = await createBaseNode(await config(network, bootstrap), { libp2pMetrics: false, identity: identityFromSeed(randomBytes(32)) })
  stops.push(async () => { await n.stop() })
  await n.start()
  return n
}

/** refuses every direct (not relayed) connection with the peers in `others`: only a relay joins them */
function onlyRelayedWith (others: Set<string>): ConnectionGater {
  const direct = (peer: PeerId, conn: MultiaddrConnection): boolean => others.has(peer.toString()) && !isRelayAddr(conn.remoteAddr)
  return {
    denyInboundEncryptedConnection: async (peer, conn) => direct(peer, conn),
    denyOutboundEncryptedConnection: async (peer, conn) => direct(peer, conn)
  }
}

const relayed = (c: Connection): boolean => c.limits != null || isRelayAddr(c.remoteAddr)

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {})
  await backend?.close()
  await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
})

describe('a seller reached only through a relay', () => {
  let relay: TallyNode
  let seller: TallyNode
  let buyer: TallyNode

  beforeAll(async () => {
    backend = await createEmbeddedBackend({ modelPath: ensureTinyModel(), maxConcurrency: 1 })
    relay = await tally({ relay: 'on' })
    // the two know each other's ids only once both exist: the gaters read this set
    const pair = new Set<string>()
    seller = await tally({ relayClient: 'on', dht: 'auto' }, relay.addrs(), {
      connectionGater: onlyRelayedWith(pair),
      sell: { backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n }
    })
    buyer = await tally({ relayClient: 'on' }, relay.addrs(), { connectionGater: onlyRelayedWith(pair) })
    pair.add(seller.account)
    pair.add(buyer.account)
  }, 120_000)

  it('the seller reserves a slot and its offer carries only its relay address', async () => {
    await waitFor(() => seller.reachability().relayAddrs.length > 0, 'the seller holds a relay reservation')
    expect(seller.reachability()).toMatchObject({ relayClient: true, status: 'private' })
    // reached only through a relay: a DHT client (peers could not dial its direct addresses)
    await waitFor(() => seller.reachability().dht.mode === 'client', 'the seller became a DHT client')
    expect(relay.reachability().relay).toMatchObject({ server: true })
    expect(relay.reachability().relay.reservations).toBeGreaterThanOrEqual(1)
    const sellerOffer = (): string[] | undefined => buyer.market.book.query({}, Date.now()).find(r => r.offer.sellerId === seller.account)?.offer.multiaddrs
    await waitFor(() => (sellerOffer() ?? []).some(a => isRelayAddr(a)), 'the buyer holds the seller\'s offer with its relay address')
    expect(sellerOffer()!.every(a => isRelayAddr(a))).toBe(true)
  }, 60_000)

  it('negotiates and buys one inference over the relayed connection', async () => {
    const model = backend!.model.id
    const r = await buyer.infer(model, { messages: [{ role: 'user', content: 'Who is Alice?' }], maxTokens: 12, seed: 1 }, {})
    expect(r.seller).toBe(seller.account)
    expect(r.outputTokens).toBeGreaterThan(0)
    expect(r.costUc).toBeGreaterThan(0n)
    const conns = buyer.libp2p.getConnections(seller.libp2p.peerId)
    expect(conns.length).toBeGreaterThan(0)
    expect(conns.every(relayed)).toBe(true)
    expect(buyer.reachability().connections.relayed).toBeGreaterThan(0)
    await waitFor(() => seller.meterRecords.length === 1, 'the seller metered the request')
  }, 60_000)
})

describe('relay abuse is bounded', () => {
  const SINK = '/tally-test/sink/1.0.0'
  let relay: BaseNode

  beforeAll(async () => {
    relay = await base({ relay: 'on', relayMaxReservations: 2, relayDataLimitBytes: 64 * 1024, relayDurationLimitMs: 3_000 })
  }, 60_000)

  it('reservations beyond the cap are refused and the relay keeps serving', async () => {
    const clients = [] as BaseNode[]
    for (let i = 0; i < 4; i++) clients.push(await base({ relayClient: 'on' }, relay.addrs()))
    await waitFor(() => clients.filter(c => c.reachability().relayAddrs.length > 0).length === 2, 'two clients hold a reservation')
    // the others keep asking; the relay keeps refusing
    await waitFor(() => relay.reachability().relay.reservations === 2, 'the relay holds two')
    expect(clients.filter(c => c.reachability().relayAddrs.length > 0)).toHaveLength(2)
    expect(relay.reachability().relay).toMatchObject({ server: true, maxReservations: 2 })
    // still up: a newcomer connects and pings it
    const newcomer = await base({ relayClient: 'off', dcutr: true })
    await newcomer.libp2p.dial(multiaddr(relay.addrs()[0]))
    expect(relay.started).toBe(true)
  }, 90_000)

  it('a relayed connection held open is cut at the duration limit; one carrying more than the data limit is cut', async () => {
    // a relay of its own: the first's slots are taken until they expire
    const relay = await base({ relay: 'on', relayMaxReservations: 2, relayDataLimitBytes: 64 * 1024, relayDurationLimitMs: 3_000 })
    const target = await base({ relayClient: 'on' }, relay.addrs())
    await waitFor(() => target.reachability().relayAddrs.length > 0, 'the target holds a reservation')
    const received: number[] = []
    await target.libp2p.handle(SINK, async (stream) => {
      const lp = lpStream(stream)
      let n = 0
      try {
        for (;;) n += (await lp.read()).byteLength
      } catch {}
      received.push(n)
    }, { runOnLimitedConnection: true })
    const circuit = multiaddr(target.reachability().relayAddrs[0])
    const dialer = await base({ relayClient: 'off', dcutr: true })

    // held open, idle: the relay closes it when its time is up
    const idle = await dialer.libp2p.dial(circuit)
    expect(relayed(idle)).toBe(true)
    await waitFor(() => idle.status !== 'open', 'the relay cut the idle relayed connection at its duration limit')

    // more than the data limit: the stream breaks before the last byte arrives
    const conn = await dialer.libp2p.dial(circuit)
    const stream = await conn.newStream(SINK, { runOnLimitedConnection: true })
    const lp = lpStream(stream)
    const chunk = new Uint8Array(16 * 1024)
    const total = 32 * chunk.byteLength
    let wrote = 0
    const writing = (async () => {
      for (let i = 0; i < 32; i++) {
        await lp.write(chunk, { signal: AbortSignal.timeout(20_000) })
        wrote += chunk.byteLength
      }
      await stream.close()
    })()
    await writing.catch(() => {})
    await waitFor(() => conn.status !== 'open', 'the relay cut the connection past its data limit')
    await waitFor(() => received.length > 0, 'the sink saw its stream end')
    expect(received[0]).toBeLessThan(total)
    expect(received[0]).toBeLessThanOrEqual(64 * 1024)
    expect(relay.started).toBe(true)
    void wrote
  }, 90_000)
})

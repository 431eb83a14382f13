import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { ConnectionFailedError } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { createBaseNode, parseConfig, type BaseNode, type BaseNodeInit } from '../../src/node/index.js'
import { identityFromSeed } from '../../src/identity/keystore.js'
import { SimNetwork, simTransport } from '../../src/sim/net/index.js'
import { defaultLogger } from '@libp2p/logger'
import { waitFor } from '../helpers/wait.js'

const ECHO = '/tally-test/echo/1'
const dirs: string[] = []
const nodes: BaseNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => await n.stop()))
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

async function simNode (net: SimNetwork, index: number, bootstrap: string[], init: BaseNodeInit = {}): Promise<BaseNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-simnet-'))
  dirs.push(dataDir)
  const seed = createHash('sha256').update(`sim-net-test:${index}`).digest()
  const node = await createBaseNode(parseConfig({ dataDir, transport: 'memory', simulation: true, encryption: 'plaintext', bootstrap }), {
    identity: identityFromSeed(new Uint8Array(seed)),
    transport: simTransport(net),
    ...init
  })
  nodes.push(node)
  await node.start()
  return node
}

/** n nodes, each bootstrapping to up to 3 earlier ones: a connected random graph */
async function swarm (net: SimNetwork, n: number, onMessage: (index: number, data: Uint8Array) => void): Promise<BaseNode[]> {
  const out: BaseNode[] = []
  for (let i = 0; i < n; i++) {
    const boot = [out[i - 1], out[Math.floor(i / 2)], out[Math.floor(i / 3)]].filter((x, k, a) => x != null && a.indexOf(x) === k)
    const node = await simNode(net, i, boot.map(b => b.addrs()[0]))
    node.libp2p.services.pubsub.addEventListener('message', (evt) => { if (evt.detail.topic === node.topics.offers) onMessage(i, evt.detail.data) })
    out.push(node)
  }
  return out
}

describe('simTransport: real Tally nodes over a SimNetwork', () => {
  it('two nodes: connect, gossip crosses, a round trip takes ≥ 2 × link latency, close propagates, bad dials fail', async () => {
    const net = new SimNetwork({ latencyMs: 20, jitter: 0, seed: 'two' })
    const got: string[] = []
    const a = await simNode(net, 0, [])
    const b = await simNode(net, 1, a.addrs())
    b.libp2p.services.pubsub.addEventListener('message', (evt) => { if (evt.detail.topic === b.topics.offers) got.push(new TextDecoder().decode(evt.detail.data)) })
    expect(net.linkLatencyMs(a.account, b.account)).toBe(20)
    await waitFor(() => a.gossipPeers('offers').includes(b.account) && b.gossipPeers('offers').includes(a.account), 'gossip peers')
    await waitFor(() => {
      void a.libp2p.services.pubsub.publish(a.topics.offers, new TextEncoder().encode('hello')).catch(() => {})
      return got.length > 0
    }, 'a gossip message')
    expect(got[0]).toBe('hello')

    await a.libp2p.handle(ECHO, async (stream) => {
      const lp = lpStream(stream, { maxDataLength: 1024 })
      const msg = await lp.read({ signal: AbortSignal.timeout(5000) })
      await lp.write(msg, { signal: AbortSignal.timeout(5000) })
      await stream.close()
    })
    const stream = await b.libp2p.dialProtocol(a.libp2p.peerId, ECHO, { signal: AbortSignal.timeout(5000), negotiateFully: true })
    const lp = lpStream(stream, { maxDataLength: 1024 })
    const t0 = performance.now()
    await lp.write(new Uint8Array([1, 2, 3]), { signal: AbortSignal.timeout(5000) })
    const echoed = await lp.read({ signal: AbortSignal.timeout(5000) })
    const rttMs = performance.now() - t0
    expect([...echoed.subarray()]).toEqual([1, 2, 3])
    expect(rttMs).toBeGreaterThanOrEqual(2 * 20)
    await stream.close()

    const s = net.stats()
    expect(s.connections).toBeGreaterThanOrEqual(1)
    expect(s.openConnections).toBeGreaterThanOrEqual(1)
    expect(s.buffers).toBeGreaterThan(0)
    expect(s.bytes).toBeGreaterThan(0)
    expect(s.retransmits).toBe(0)

    // a dial to an address nobody listens on, and a dial whose signal is already aborted
    const stranger = identityFromSeed(new Uint8Array(createHash('sha256').update('stranger').digest())).account
    const failed = await b.libp2p.dial(multiaddr(`/memory/nobody/p2p/${stranger}`), { signal: AbortSignal.timeout(5000) }).then(() => 'connected', (e: Error) => e.name)
    expect(failed).not.toBe('connected')
    const transport = simTransport(net)({ peerId: b.libp2p.peerId, logger: defaultLogger() })
    const upgrader = {} as any
    const err = await transport.dial(multiaddr('/memory/nobody'), { signal: AbortSignal.timeout(5000), upgrader }).then(() => undefined, (e: Error) => e)
    expect(err).toBeInstanceOf(ConnectionFailedError)
    const aborted = AbortSignal.abort(new Error('gave up'))
    await expect(transport.dial(multiaddr(a.addrs()[0]), { signal: aborted, upgrader })).rejects.toThrow('gave up')
    // aborted mid-handshake (before the SYN-ACK comes back after 2 × 20 ms)
    const ctl = new AbortController()
    const dialing = transport.dial(multiaddr(a.addrs()[0]), { signal: ctl.signal, upgrader })
    ctl.abort(new Error('mid-dial'))
    await expect(dialing).rejects.toThrow('mid-dial')

    // stopping a closes its connections; b sees that one link latency later, through the network
    expect(b.libp2p.getConnections(a.libp2p.peerId).length).toBeGreaterThan(0)
    await a.stop()
    await waitFor(() => b.libp2p.getConnections(a.libp2p.peerId).length === 0, 'b to notice a left')
    await waitFor(() => net.stats().openConnections === 0, 'no open connections')
  })

  it('30 nodes, 20 ms links, 20 % loss: every gossip message reaches every node and buffers were retransmitted', async () => {
    const net = new SimNetwork({ latencyMs: 20, lossRate: 0.2, seed: 'thirty' })
    const N = 30
    const seen = Array.from({ length: N }, () => new Set<string>())
    const peers = await swarm(net, N, (i, data) => { seen[i].add(new TextDecoder().decode(data)) })
    await waitFor(() => peers.every(p => p.gossipPeers('offers').length > 0), 'every node has a gossip peer')
    for (let m = 0; m < 5; m++) {
      const from = peers[(m * 7) % N]
      const text = `m${m}`
      // the mesh forms on heartbeats: republish until everyone (but the publisher) has it
      await waitFor(() => {
        void from.libp2p.services.pubsub.publish(from.topics.offers, new TextEncoder().encode(text)).catch(() => {})
        return seen.every((s, i) => peers[i] === from || s.has(text))
      }, `message ${text} everywhere`)
    }
    const s = net.stats()
    expect(s.retransmits).toBeGreaterThan(0)
    expect(s.retransmits).toBeLessThan(s.buffers)
    expect(s.connections).toBeGreaterThanOrEqual(N - 1)
    expect(net.deliveryErrors).toEqual([])
  })

  /** a burst of FLOOD messages from one node through 30 nodes; counts 10 ms interval ticks between its first and last delivery */
  async function flood (maxPerTick?: number): Promise<{ ticksDuringFlood: number, received: number }> {
    const net = new SimNetwork({ latencyMs: 0, seed: 'flood', ...(maxPerTick != null ? { maxPerTick } : {}) })
    const N = 30
    const FLOOD = 200
    let received = 0
    let firstAt = -1
    let lastAt = -1
    const tickTimes: number[] = []
    const peers = await swarm(net, N, () => {
      received++
      const t = performance.now()
      if (firstAt < 0) firstAt = t
      lastAt = t
    })
    const from = peers[0]
    await waitFor(() => peers.every(p => p.gossipPeers('offers').length > 0), 'gossip peers')
    // warm-up: the mesh is formed once a message reaches everyone
    await waitFor(() => {
      void from.libp2p.services.pubsub.publish(from.topics.offers, new TextEncoder().encode('warm')).catch(() => {})
      return received >= N - 1
    }, 'warm-up message everywhere')
    received = 0; firstAt = -1; lastAt = -1
    const interval = setInterval(() => { tickTimes.push(performance.now()) }, 10)
    try {
      for (let m = 0; m < FLOOD; m++) {
        void from.libp2p.services.pubsub.publish(from.topics.offers, new TextEncoder().encode(`flood-${m}`)).catch(() => {})
      }
      await waitFor(() => received >= FLOOD * (N - 1) * 0.9, 'most of the flood delivered', 60_000)
    } finally {
      clearInterval(interval)
    }
    expect(net.deliveryErrors).toEqual([])
    await Promise.all(nodes.splice(0).map(async n => await n.stop()))
    return { ticksDuringFlood: tickTimes.filter(t => t > firstAt && t < lastAt).length, received }
  }

  it('timers tick during a gossip flood through 30 nodes: deliveries are macrotasks, not one microtask drain', async () => {
    // @libp2p/memory at latency 0 delivers such a flood in one microtask drain: 0 ticks in ~8 s here
    const uncapped = await flood()
    expect(uncapped.received).toBeGreaterThan(0)
    expect(uncapped.ticksDuringFlood).toBeGreaterThan(0)
    // a per-tick cap interleaves timers more finely still
    const capped = await flood(64)
    expect(capped.ticksDuringFlood).toBeGreaterThan(1)
  })
})

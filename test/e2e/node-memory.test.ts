import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { createBaseNode, parseConfig, topicName, type BaseNode, type TallyService } from '../../src/node/index.js'
import { netId } from '../../src/ledger/genesis.js'
import { DEV_GENESIS } from '../../src/node/defaults.js'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { waitFor } from '../helpers/wait.js'

const dirs: string[] = []
const nodes: BaseNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => await n.stop()))
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

async function tmp (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tally-node-'))
  dirs.push(d)
  return d
}

describe('createBaseNode on the memory transport', () => {
  it('two nodes: identity from the keystore, bootstrap, gossip peers both ways, a message crosses, stop < 2 s', async () => {
    const dirA = await tmp()
    const a = await createBaseNode(parseConfig({ dataDir: dirA, transport: 'memory' }))
    nodes.push(a)
    await a.start()
    expect((await stat(join(dirA, 'identity.json'))).mode & 0o777).toBe(0o600)
    expect(a.libp2p.peerId.toString()).toBe(a.account)
    expect(a.topics.offers).toBe(topicName(netId(DEV_GENESIS), 'offers'))
    expect(a.topics.records).toMatch(/^tally\/[0-9a-f]{8}\/records\/1$/)
    expect(a.addrs()[0]).toBe(`/memory/${a.account}/p2p/${a.account}`)

    const received: Uint8Array[] = []
    const events: string[] = []
    const b = await createBaseNode(parseConfig({ dataDir: await tmp(), transport: 'memory', bootstrap: a.addrs() }))
    nodes.push(b)
    b.libp2p.services.pubsub.addEventListener('message', (evt) => { if (evt.detail.topic === b.topics.offers) received.push(evt.detail.data) })
    b.on('gossip-peer', ({ peerId, topic }) => { events.push(`${peerId} ${topic}`) })
    await b.start()
    await waitFor(() => a.gossipPeers('offers').includes(b.account) && b.gossipPeers('offers').includes(a.account), 'gossip peers')
    for (const kind of ['offers', 'bids', 'records'] as const) {
      await waitFor(() => a.gossipPeers(kind).includes(b.account) && b.gossipPeers(kind).includes(a.account), `${kind} peers`)
    }
    expect(events).toContain(`${a.account} ${a.topics.offers}`)

    // mesh forms on the heartbeat; publish until it lands
    await waitFor(() => {
      void a.libp2p.services.pubsub.publish(a.topics.offers, new TextEncoder().encode('hello')).catch(() => {})
      return received.length > 0
    }, 'a gossip message')
    expect(new TextDecoder().decode(received[0])).toBe('hello')

    const t0 = performance.now()
    await b.stop()
    await a.stop()
    expect(performance.now() - t0).toBeLessThan(2000)
    expect(a.libp2p.status).toBe('stopped')
    expect(b.started).toBe(false)
  })

  it('services start after libp2p in order and stop before it in reverse; validators reject', async () => {
    const log: string[] = []
    const svc = (name: string) => (node: BaseNode): TallyService => ({
      start: () => { log.push(`start ${name} libp2p=${node.libp2p.status}`) },
      stop: () => { log.push(`stop ${name} libp2p=${node.libp2p.status}`) }
    })
    const dataDir = await tmp()
    const a = await createBaseNode(parseConfig({ dataDir, transport: 'memory', simulation: true, encryption: 'plaintext' }), {
      services: { market: svc('market'), ledger: svc('ledger') }
    })
    nodes.push(a)
    const rejected: string[] = []
    let validated = 0
    const b = await createBaseNode(parseConfig({ dataDir: await tmp(), transport: 'memory', simulation: true, encryption: 'plaintext' }), {
      topicHandlers: { bids: { validate: () => { validated++; return TopicValidatorResult.Reject } } }
    })
    nodes.push(b)
    b.libp2p.services.pubsub.addEventListener('message', (evt) => { if (evt.detail.topic === b.topics.bids) rejected.push(String(evt.detail.data)) })
    await a.start()
    await b.start()
    expect(a.services.names()).toEqual(['market', 'ledger'])
    expect(log).toEqual(['start market libp2p=started', 'start ledger libp2p=started'])
    await b.libp2p.dial(a.libp2p.getMultiaddrs()[0])
    await waitFor(() => b.gossipPeers('bids').includes(a.account), 'bids peer')
    await waitFor(() => {
      void a.libp2p.services.pubsub.publish(a.topics.bids, new Uint8Array([1])).catch(() => {})
      return validated > 0
    }, 'a validated bid')
    expect(rejected).toEqual([])
    await a.stop()
    expect(log.slice(2)).toEqual(['stop ledger libp2p=started', 'stop market libp2p=started'])
  })

  it('a bootstrap peer that starts later is found by redialing with backoff', async () => {
    const dataDir = await tmp()
    const a = await createBaseNode(parseConfig({ dataDir, transport: 'memory', listen: ['/memory/late-a'] }))
    nodes.push(a)
    const b = await createBaseNode(parseConfig({ dataDir: await tmp(), transport: 'memory', bootstrap: [`/memory/late-a/p2p/${a.account}`] }), {
      bootstrap: { initialBackoffMs: 50, maxBackoffMs: 200 }
    })
    nodes.push(b)
    // count b's failed dials: a is started only once b has failed and retried at least once
    let failedDials = 0
    const dial = b.libp2p.dial.bind(b.libp2p)
    b.libp2p.dial = (async (...args: Parameters<typeof dial>) => {
      try { return await dial(...args) } catch (err) { failedDials++; throw err }
    }) as typeof dial
    await b.start()
    await waitFor(() => failedDials >= 2, 'b to fail to dial the absent bootstrap peer twice')
    await a.start()
    const joined = once(b, 'gossip-peer')
    await joined
    await waitFor(() => b.gossipPeers('records').includes(a.account), 'records peer')
  })
})

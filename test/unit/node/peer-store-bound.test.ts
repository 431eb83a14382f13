/** PeerStoreBound: fresh keys that dial a node and leave do not stay in its libp2p peer store. */
import { afterAll, describe, expect, it } from 'vitest'
import { createLibp2p, type Libp2p } from 'libp2p'
import { memory } from '@libp2p/memory'
import { plaintext } from '@libp2p/plaintext'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { PeerStoreBound } from '../../../src/node/peer-store-bound.js'
import { waitFor } from '../../helpers/wait.js'

let n = 0
const started: Libp2p[] = []
async function host (): Promise<Libp2p> {
  const h = await createLibp2p({
    addresses: { listen: [`/memory/peer-store-bound-${process.pid}-${n++}`] },
    transports: [memory()],
    connectionEncrypters: [plaintext()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: { identify: identify() }
  })
  started.push(h)
  return h
}
afterAll(async () => { await Promise.all(started.map(async h => { await h.stop() })) })

/** entries in `h`'s peer store other than itself */
async function stored (h: Libp2p): Promise<string[]> {
  return (await h.peerStore.all()).map(p => p.id.toString()).filter(id => id !== h.peerId.toString())
}

/** `keys` fresh hosts each dial `target`, get identified, and stop */
async function dialAndLeave (target: Libp2p, keys: number): Promise<void> {
  for (let i = 0; i < keys; i++) {
    const k = await host()
    await k.dial(target.getMultiaddrs()[0])
    await waitFor(async () => (await stored(target)).includes(k.peerId.toString()), 'the key in the target\'s peer store')
    await k.stop()
  }
}

describe('peer store bound', () => {
  it('keeps at most maxDisconnected peers that left, oldest forgotten first; tagged and reconnected peers stay', async () => {
    const target = await host()
    const bound = new PeerStoreBound(target, { maxDisconnected: 5 })
    bound.start()
    // a peer someone tagged (bootstrap, DHT routing table) is kept whatever the bound
    const friend = await host()
    await friend.dial(target.getMultiaddrs()[0])
    await waitFor(async () => (await stored(target)).includes(friend.peerId.toString()))
    await target.peerStore.merge(friend.peerId, { tags: { bootstrap: { value: 50 } } })
    // one that stays connected is never forgotten
    const stayer = await host()
    await stayer.dial(target.getMultiaddrs()[0])
    await friend.stop()
    await dialAndLeave(target, 20)
    await waitFor(async () => (await stored(target)).length <= 5 + 2, 'at most 5 disconnected peers besides the tagged and the connected one')
    const left = await stored(target)
    expect(left).toContain(friend.peerId.toString())
    expect(left).toContain(stayer.peerId.toString())
    // the most recent leavers are the ones remembered
    expect(left).toContain(started[started.length - 1].peerId.toString())
    expect(bound.forgotten).toBeGreaterThanOrEqual(15)
    bound.stop()
  })

  it('forgets every disconnected peer after maxAgeMs; without the bound all of them stay', async () => {
    const bounded = await host()
    const bound = new PeerStoreBound(bounded, { maxAgeMs: 200 })
    bound.start()
    const unbounded = await host()
    await dialAndLeave(bounded, 8)
    await dialAndLeave(unbounded, 8)
    await waitFor(async () => (await stored(bounded)).length === 0, 'every leaver forgotten')
    expect(bound.waiting).toBe(0)
    expect(await stored(unbounded)).toHaveLength(8)
    bound.stop()
  })
})

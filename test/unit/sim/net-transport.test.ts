import { describe, it, expect } from 'vitest'
import { createHash } from 'node:crypto'
import { ConnectionFailedError, type MultiaddrConnection } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { identityFromSeed } from '../../../src/identity/keystore.js'
import { SimNetwork, simTransport } from '../../../src/sim/net/index.js'

const peer = (name: string) => peerIdFromString(identityFromSeed(new Uint8Array(createHash('sha256').update(name).digest())).account)

/** an upgrader that hands the raw connections out, so the transport is seen without libp2p on top */
function rawUpgrader () {
  const inbound: MultiaddrConnection[] = []
  const upgrader = {
    upgradeInbound: async (c: MultiaddrConnection) => { inbound.push(c) },
    upgradeOutbound: async (c: MultiaddrConnection) => c
  }
  return { inbound, upgrader: upgrader as any }
}

const nextMessage = async (c: MultiaddrConnection): Promise<{ data: Uint8Array, at: number }> => await new Promise(resolve => {
  c.addEventListener('message', (evt) => { resolve({ data: evt.data.subarray(), at: performance.now() }) }, { once: true })
})
const closed = async (c: MultiaddrConnection): Promise<{ error?: Error, at: number }> => await new Promise(resolve => {
  c.addEventListener('close', (evt) => { resolve({ error: evt.error, at: performance.now() }) }, { once: true })
})

async function setup () {
  const net = new SimNetwork({ latencyMs: 10, jitter: 0 })
  const a = peer('a'); const b = peer('b')
  const ta = simTransport(net)({ peerId: a, logger: defaultLogger() })
  const tb = simTransport(net)({ peerId: b, logger: defaultLogger() })
  const { inbound, upgrader } = rawUpgrader()
  const listener = ta.createListener({ upgrader })
  await listener.listen(multiaddr(`/memory/${a.toString()}`))
  return { net, a, b, ta, tb, listener, inbound, upgrader }
}

describe('simTransport', () => {
  it('dial takes a round trip; bytes cross each way after the link latency; close reaches the other end', async () => {
    const { net, a, tb, inbound, upgrader, listener } = await setup()
    expect(listener.getAddrs().map(x => x.toString())).toEqual([`/memory/${a.toString()}`])
    const t0 = performance.now()
    const out = await tb.dial(multiaddr(`/memory/${a.toString()}/p2p/${a.toString()}`), { signal: AbortSignal.timeout(5000), upgrader }) as unknown as MultiaddrConnection
    expect(performance.now() - t0).toBeGreaterThanOrEqual(20)
    expect(inbound).toHaveLength(1)
    expect(out.remoteAddr.toString()).toBe(`/memory/${a.toString()}/p2p/${a.toString()}`)
    const inb = inbound[0]
    expect(inb.direction).toBe('inbound')

    const got = nextMessage(inb)
    const t1 = performance.now()
    out.send(new Uint8Array([7, 8]))
    const m = await got
    expect([...m.data]).toEqual([7, 8])
    expect(m.at - t1).toBeGreaterThanOrEqual(10)
    const back = nextMessage(out)
    inb.send(new Uint8Array([9]))
    expect([...(await back).data]).toEqual([9])

    const inbClosed = closed(inb)
    const t2 = performance.now()
    await out.close()
    const c = await inbClosed
    expect(c.error).toBeUndefined()
    expect(c.at - t2).toBeGreaterThanOrEqual(10)
    expect(inb.status).toBe('closed')
    await expect.poll(() => net.stats()).toMatchObject({ connections: 1, openConnections: 0, pending: 0 })
    await listener.close()
  })

  it('abort resets the other end; a listener close resets its connections and refuses new dials', async () => {
    const { net, a, tb, inbound, upgrader, listener } = await setup()
    const addr = multiaddr(`/memory/${a.toString()}`)
    const out1 = await tb.dial(addr, { signal: AbortSignal.timeout(5000), upgrader }) as unknown as MultiaddrConnection
    const reset1 = closed(inbound[0])
    out1.abort(new Error('boom'))
    expect((await reset1).error?.name).toBe('StreamResetError')
    expect(inbound[0].status).toBe('reset')

    const out2 = await tb.dial(addr, { signal: AbortSignal.timeout(5000), upgrader }) as unknown as MultiaddrConnection
    const reset2 = closed(out2)
    await listener.close()
    expect((await reset2).error?.name).toBe('StreamResetError')
    expect(listener.getAddrs()).toEqual([])
    const err = await tb.dial(addr, { signal: AbortSignal.timeout(5000), upgrader }).then(() => undefined, (e: Error) => e)
    expect(err).toBeInstanceOf(ConnectionFailedError)
    await expect.poll(() => net.stats().openConnections).toBe(0)
  })

  it('a listener that closes while a SYN is in flight refuses it; the address is free again', async () => {
    const { a, tb, upgrader, listener, ta } = await setup()
    const addr = multiaddr(`/memory/${a.toString()}`)
    const dialing = tb.dial(addr, { signal: AbortSignal.timeout(5000), upgrader }).then(() => undefined, (e: Error) => e)
    await listener.close()
    expect(await dialing).toBeInstanceOf(ConnectionFailedError)
    const again = ta.createListener({ upgrader })
    await again.listen(addr)
    const dup = ta.createListener({ upgrader })
    await expect(dup.listen(addr)).rejects.toMatchObject({ name: 'ListenError' })
    await again.close()
  })

  it('filters keep /memory addresses only', () => {
    const t = simTransport(new SimNetwork())({ peerId: peer('x'), logger: defaultLogger() })
    const id = peer('x').toString()
    const addrs = ['/memory/a', `/memory/a/p2p/${id}`, '/ip4/127.0.0.1/tcp/1', `/ip4/127.0.0.1/tcp/1/p2p/${id}`].map(s => multiaddr(s))
    expect(t.listenFilter(addrs).map(x => x.toString())).toEqual(['/memory/a', `/memory/a/p2p/${id}`])
    expect(t.dialFilter(addrs)).toHaveLength(2)
  })
})

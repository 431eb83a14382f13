/**
 * SimNetwork figures: buffers per second through the one delivery scheduler (due-now and with
 * 20 ms ± 50 % links, with and without 20 % loss), and raw bytes/s over one simulated connection.
 * Never fails on time.
 */
import '../../src/polyfill.js'
import { createHash } from 'node:crypto'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection } from '@libp2p/interface'
import { identityFromSeed } from '../../src/identity/keystore.js'
import { SimNetwork, simTransport, type SimNetworkInit } from '../../src/sim/net/index.js'

const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d

/** `links` directions, `perLink` buffers each, all sent at once; buffers/s until the last arrives */
async function scheduler (init: SimNetworkInit, links: number, perLink: number): Promise<{ buffersPerSec: number, ms: number, retransmits: number }> {
  const net = new SimNetwork({ seed: 'bench', ...init })
  const dirs = Array.from({ length: links }, (_, i) => net.direction(`p${i}`, `p${(i + 1) % links}`))
  let left = links * perLink
  const { promise, resolve } = Promise.withResolvers<void>()
  const t0 = performance.now()
  for (let k = 0; k < perLink; k++) {
    for (const d of dirs) net.sendData(d, 100, () => { if (--left === 0) resolve() })
  }
  await promise
  const ms = performance.now() - t0
  return { buffersPerSec: round(links * perLink / (ms / 1000)), ms: round(ms, 1), retransmits: net.stats().retransmits }
}

async function connectionBytes (totalMb: number, chunkKb: number): Promise<number> {
  const net = new SimNetwork({ latencyMs: 1, jitter: 0 })
  const id = (n: string) => peerIdFromString(identityFromSeed(new Uint8Array(createHash('sha256').update(n).digest())).account)
  const a = id('a'); const b = id('b')
  const inbound: MultiaddrConnection[] = []
  const upgrader = { upgradeInbound: async (c: MultiaddrConnection) => { inbound.push(c) }, upgradeOutbound: async (c: MultiaddrConnection) => c } as any
  const listener = simTransport(net)({ peerId: a, logger: defaultLogger() }).createListener({ upgrader })
  await listener.listen(multiaddr('/memory/bench'))
  const out = await simTransport(net)({ peerId: b, logger: defaultLogger() }).dial(multiaddr('/memory/bench'), { signal: AbortSignal.timeout(10_000), upgrader }) as unknown as MultiaddrConnection
  const total = totalMb * 1024 * 1024
  let got = 0
  const { promise, resolve } = Promise.withResolvers<void>()
  inbound[0].addEventListener('message', (evt) => { got += evt.data.byteLength; if (got >= total) resolve() })
  const chunk = new Uint8Array(chunkKb * 1024)
  const t0 = performance.now()
  for (let sent = 0; sent < total; sent += chunk.byteLength) out.send(chunk)
  await promise
  const ms = performance.now() - t0
  await out.close()
  await listener.close()
  return round(total / (1024 * 1024) / (ms / 1000), 1)
}

export default async function (): Promise<Record<string, unknown>> {
  const dueNow = await scheduler({ latencyMs: 0 }, 100, 2_000)
  const delayed = await scheduler({ latencyMs: 20 }, 1_000, 200)
  const lossy = await scheduler({ latencyMs: 20, lossRate: 0.2 }, 1_000, 200)
  const mbPerSec = await connectionBytes(64, 16)
  return {
    dueNowBuffersPerSec: dueNow.buffersPerSec,
    dueNowMs: dueNow.ms,
    links20msBuffersPerSec: delayed.buffersPerSec,
    links20msMs: delayed.ms,
    links20msLoss20BuffersPerSec: lossy.buffersPerSec,
    links20msLoss20Ms: lossy.ms,
    links20msLoss20Retransmits: lossy.retransmits,
    oneConnectionMbPerSec16KiBChunks: mbPerSec
  }
}

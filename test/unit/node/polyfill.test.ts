import { describe, it, expect } from 'vitest'
import { createLibp2p } from 'libp2p'
import { memory } from '@libp2p/memory'
import { plaintext } from '@libp2p/plaintext'
import { yamux } from '@chainsafe/libp2p-yamux'
import '../../../src/polyfill.js'

describe('polyfill', () => {
  it('Promise.withResolvers exists and works', async () => {
    const { promise, resolve } = Promise.withResolvers<number>()
    resolve(42)
    expect(await promise).toBe(42)
  })

  it(`libp2p 3 starts and stops on this Node (${process.version})`, async () => {
    const node = await createLibp2p({
      addresses: { listen: ['/memory/polyfill-check'] },
      transports: [memory()],
      connectionEncrypters: [plaintext()],
      streamMuxers: [yamux()]
    })
    expect(node.status).toBe('started')
    expect(node.getMultiaddrs().map(String)[0]).toContain('/memory/polyfill-check')
    await node.stop()
    expect(node.status).toBe('stopped')
  })
})

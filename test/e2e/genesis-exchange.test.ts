/**
 * /tally/genesis/1.0.0 (protocols/genesis.md) between real nodes: a node serves the genesis its
 * net was computed from; a joiner that knows only the net gets it, checked; hostile responders
 * (oversized, malformed, non-canonical, truncated, silent, never-ending) get typed errors and
 * leave both sides running; `tally start --net --bootstrap` joins a non-default network.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { startNode, useTallyCleanup } from './tally-helpers.js'
import { createPeer, stopAll, type TestPeer } from './market-helpers.js'
import { createTallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { encodeGenesis, netId, type Genesis } from '../../src/ledger/genesis.js'
import {
  GENESIS_PROTOCOL, GenesisMalformedError, GenesisMismatchError, GenesisTimeoutError, GenesisTooLargeError,
  GenesisUnsupportedError, fetchGenesisFrom
} from '../../src/ledger/genesis-exchange.js'
import { Genesis as GenesisPb } from '../../src/wire/pb/genesis.js'
import { createSigner } from '../../src/identity/ed25519.js'
import { accountIdFromPublicKey } from '../../src/identity/account.js'
import { main } from '../../src/cli/main.js'
import type { CliIO } from '../../src/cli/io.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

const issuerA = createSigner(new Uint8Array(32).fill(7)).publicKey
const issuerB = createSigner(new Uint8Array(32).fill(9)).publicKey
const CUSTOM = {
  name: 'genesis-e2e',
  issuers: [{ account: accountIdFromPublicKey(issuerA), capUc: '1000000000' }, { account: accountIdFromPublicKey(issuerB), capUc: '5' }],
  defaultCreditLimitUc: '0',
  maxSessionLockUc: '123456'
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

const peers: TestPeer[] = []
afterEach(async () => { await stopAll(peers.splice(0)) })

/** a raw libp2p peer (noise, as Tally nodes speak) answering /tally/genesis with `handler` */
async function hostile (handler?: (stream: Stream) => void | Promise<void>): Promise<{ addr: string, peer: TestPeer }> {
  const peer = await createPeer({ encryption: 'noise', marketScoring: false })
  peers.push(peer)
  if (handler != null) await peer.libp2p.handle(GENESIS_PROTOCOL, async (stream) => { try { await handler(stream) } catch {} })
  return { addr: peer.libp2p.getMultiaddrs()[0].toString(), peer }
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts))
const fast = { transport: 'memory' as const, firstByteTimeoutMs: 300, timeoutMs: 1_500 }

/** what fetchGenesisFrom throws, with the net the peer's bytes would need */
async function refusal (addr: string, net: string): Promise<unknown> {
  return await fetchGenesisFrom([addr], net, fast).then(() => 'accepted', (err: unknown) => err)
}

describe('/tally/genesis/1.0.0', () => {
  it('a node serves its genesis: a joiner with the right net gets the identical genesis, with a wrong net a GenesisMismatchError', async () => {
    const a = await startNode({ genesis: CUSTOM })
    const net = hex(a.net)
    const got = await fetchGenesisFrom(a.addrs(), net, { transport: 'memory' })
    expect(got).toEqual(a.base.genesis)
    expect(hex(netId(got))).toBe(net)
    expect(encodeGenesis(got)).toEqual(a.libp2p.services.genesis.genesisBytes)

    const wrong = hex(netId({ ...got, name: 'another' }))
    const err = await fetchGenesisFrom(a.addrs(), wrong, { transport: 'memory' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GenesisMismatchError)
    expect((err as GenesisMismatchError).code).toBe('genesis-mismatch')
    expect((err as Error).message).toContain(net)

    // the service on a running node: a dev-net node asks the custom-net node over a connection
    const b = await startNode()
    await b.libp2p.dial(a.libp2p.getMultiaddrs()[0])
    expect(await b.libp2p.services.genesis.fetchGenesis(a.libp2p.peerId, a.net)).toEqual(a.base.genesis)
    await expect(b.libp2p.services.genesis.fetchGenesis(a.libp2p.peerId, b.net)).rejects.toBeInstanceOf(GenesisMismatchError)
  })

  it('hostile responders get typed errors; the joiner and the honest node keep working', async () => {
    const a = await startNode({ genesis: CUSTOM })
    const good = a.libp2p.services.genesis.genesisBytes

    // a length prefix over 64 KiB, and a longer prefix than 64 KiB can need
    const big = await hostile(async (s) => { s.send(concat(varint(64 * 1024 + 1), new Uint8Array(100))); await s.close() })
    expect(await refusal(big.addr, sha256(good))).toBeInstanceOf(GenesisTooLargeError)
    const longPrefix = await hostile(async (s) => { s.send(Uint8Array.from([0x80, 0x80, 0x80, 0x01])); await s.close() })
    expect(await refusal(longPrefix.addr, sha256(good))).toBeInstanceOf(GenesisTooLargeError)

    // bytes whose hash is the asked net, but not a genesis: garbage, out of range, non-canonical
    const garbage = Uint8Array.from([0xff, 0xff, 0xff, 0x01, 0x02])
    const zeroLock = GenesisPb.encode({ name: 'x', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 0n })
    const shortKey = GenesisPb.encode({ name: 'x', issuers: [{ publicKey: new Uint8Array(31), capUc: 1n }], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
    const pk = (k: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(k)
    const sorted = [issuerA, issuerB].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    const unsorted = GenesisPb.encode({ name: 'x', issuers: [{ publicKey: pk(sorted[1]), capUc: 1n }, { publicKey: pk(sorted[0]), capUc: 1n }], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
    const unknownField = concat(good, Uint8Array.from([0x48, 0x01]))
    // a default credit line on a network that is not a development one
    const freeCredit = GenesisPb.encode({ name: 'x', issuers: [], defaultCreditLimitUc: 5n, maxSessionLockUc: 1n })
    for (const [what, body] of Object.entries({ garbage, zeroLock, shortKey, unsorted, unknownField, freeCredit })) {
      const bad = await hostile(async (s) => { s.send(concat(varint(body.length), body)); await s.close() })
      const err = await refusal(bad.addr, sha256(body))
      expect(err, what).toBeInstanceOf(GenesisMalformedError)
      expect((err as GenesisMalformedError).code, what).toBe('malformed-message')
    }

    // closed mid-frame, and closed without a frame
    const truncated = await hostile(async (s) => { s.send(concat(varint(good.length), good.subarray(0, 10))); await s.close() })
    expect(await refusal(truncated.addr, sha256(good))).toBeInstanceOf(GenesisMalformedError)
    const empty = await hostile(async (s) => { await s.close() })
    expect(await refusal(empty.addr, sha256(good))).toBeInstanceOf(GenesisMalformedError)

    // silent: no first byte; never-ending: a byte at a time, never the whole frame
    const silent = await hostile(() => {})
    const t0 = Date.now()
    expect(await refusal(silent.addr, sha256(good))).toBeInstanceOf(GenesisTimeoutError)
    expect(Date.now() - t0).toBeLessThan(1_400) // the first-byte deadline, not the total one
    const dribble = await hostile(async (s) => {
      s.send(varint(good.length))
      for (let i = 0; i < good.length - 1 && s.status === 'open'; i++) { s.send(good.subarray(i, i + 1)); await new Promise(resolve => setTimeout(resolve, 50)) }
    })
    expect(await refusal(dribble.addr, sha256(good))).toBeInstanceOf(GenesisTimeoutError)

    // the right genesis, then bytes without end: accepted, and the stream is reset under the flood
    let flooded = 0
    const flood = await hostile(async (s) => {
      s.send(concat(varint(good.length), good))
      while (s.status === 'open' && flooded < 64 * 1024 * 1024) {
        flooded += 1024
        if (!s.send(new Uint8Array(1024))) await s.onDrain()
      }
    })
    expect(await fetchGenesisFrom([flood.addr], sha256(good), fast)).toEqual(a.base.genesis)
    await waitFor(() => flood.peer.libp2p.getConnections().every(c => c.streams.length === 0), 'the flooding stream reset')
    expect(flooded).toBeLessThan(64 * 1024 * 1024)

    // a peer that does not speak the protocol at all
    const none = await hostile()
    const unsupported = await refusal(none.addr, sha256(good))
    expect(unsupported).toBeInstanceOf(GenesisUnsupportedError)
    expect((unsupported as GenesisUnsupportedError).code).toBe('genesis-unsupported')

    // several addresses: the first good answer wins; all bad: a mismatch is the one reported
    expect(await fetchGenesisFrom([silent.addr, big.addr, ...a.addrs()], hex(a.net), fast)).toEqual(a.base.genesis)
    const wrongNet = hex(netId({ ...a.base.genesis, name: 'elsewhere' }))
    expect(await fetchGenesisFrom([...a.addrs(), none.addr], wrongNet, fast).catch((e: unknown) => e)).toBeInstanceOf(GenesisMismatchError)

    // the node's own service against a hostile peer, on a live connection: typed, and the node lives on
    await a.libp2p.dial(big.peer.libp2p.getMultiaddrs()[0])
    await expect(a.libp2p.services.genesis.fetchGenesis(big.peer.libp2p.peerId, sha256(good))).rejects.toBeInstanceOf(GenesisTooLargeError)
    expect(await fetchGenesisFrom(a.addrs(), hex(a.net), fast)).toEqual(a.base.genesis)
  })

  it('a node configured with a net its genesis does not hash to is refused at creation', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tally-genesis-'))
    try {
      const custom = parseConfig({ dataDir, transport: 'memory', genesis: CUSTOM })
      const net = hex(netId(custom.genesis))
      // net without a genesis: the config holds only the dev placeholder
      const config = parseConfig({ dataDir, transport: 'memory', net })
      await expect(createTallyNode(config, { memoryLedger: true })).rejects.toBeInstanceOf(GenesisMismatchError)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

describe('tally start --net --bootstrap', () => {
  function io (): CliIO & { stdout: string[], stderr: string[] } {
    const stdout: string[] = []
    const stderr: string[] = []
    return { stdout, stderr, env: {}, out: (l) => { stdout.push(l) }, err: (l) => { stderr.push(l) } }
  }

  it('fetches the genesis of a non-default network from the bootstrap peer and joins it', async () => {
    const a = await startNode({ genesis: CUSTOM })
    const net = hex(a.net)
    const dirs = [await mkdtemp(join(tmpdir(), 'tally-cli-genesis-')), await mkdtemp(join(tmpdir(), 'tally-cli-genesis-'))]
    try {
      const o = io()
      const controller = new AbortController()
      const running = main(['node', 'tally', 'start', '--json', '--transport', 'memory', '--data-dir', dirs[0], '--net', net, '--bootstrap', a.addrs()[0]], { io: o, signal: controller.signal })
      await waitFor(() => o.stdout.length > 0 || o.stderr.length > 0, 'the start line')
      expect(o.stderr).toEqual([])
      const info = JSON.parse(o.stdout[0])
      expect(info.net).toBe(net)
      await waitFor(() => a.libp2p.getConnections(peerIdFromString(info.peerId)).length > 0, 'the CLI node connected to its bootstrap peer')
      controller.abort()
      expect(await running).toBe(0)

      // a wrong net: refused by the fetched genesis's hash, exit 1, nothing started
      const wrong = io()
      const other = hex(netId({ ...a.base.genesis, name: 'elsewhere' }))
      const code = await main(['node', 'tally', 'start', '--json', '--transport', 'memory', '--data-dir', dirs[1], '--net', other, '--bootstrap', a.addrs()[0]], { io: wrong, signal: new AbortController().signal })
      expect(code).toBe(1)
      expect(wrong.stdout).toEqual([])
      expect(wrong.stderr.join('\n')).toMatch(/GenesisMismatchError|genesis-mismatch/)

      // a net and no bootstrap to fetch it from: a config error, exit 2
      const alone = io()
      expect(await main(['node', 'tally', 'start', '--transport', 'memory', '--data-dir', dirs[1], '--net', net], { io: alone, signal: new AbortController().signal })).toBe(2)
      expect(alone.stderr[0]).toMatch(/^tally: net: no genesis for net/)
    } finally {
      await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
    }
  })
})

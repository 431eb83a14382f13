/**
 * Discovery from one address on real hosts (issue 16.1, 16.5): 6 real `tally start` processes,
 * each in its own network namespace on the testnet's bridge, every one but the bootstrap given
 * only the bootstrap's address. Every node's book holds every seller's offer, and every node
 * knows its address is publicly reachable (its own interface address, provisionally, then AutoNAT).
 * The nodes form a mesh: every node holds at least 2 connections (before, a star around the
 * bootstrap: each other node 1 connection after 60 s, the DHT's routing tables empty).
 * Needs root, ip and nft (skipped with the reason printed otherwise) and dist/ (`npm run build`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../helpers/wait.js'
import { connectedPeers, everyNode, offerSellers, selfReachability, skipTestnet, startTestnet, stopTestnet, type Testnet } from '../helpers/testnet.js'
import { defaultBin, readTestnetState, testnetDown } from '../../src/cli/testnet/testnet.js'
import { listNamespaces, rootLinkExists } from '../../src/cli/testnet/net.js'

const SKIP = skipTestnet('testnet-mesh')
const NODES = 6
/** two sellers (the tiny embedded model each): offers to spread, without starving 2 cores */
const SELLERS = 2
/** processes start, connect and exchange offers on a loaded 2-core machine */
const MESH_TIMEOUT_MS = 60_000

describe.skipIf(SKIP)('testnet: a market from one bootstrap address', () => {
  let t: Testnet | undefined
  beforeAll(async () => {
    t = await startTestnet({ nodes: NODES, sellers: SELLERS })
  }, 240_000)
  afterAll(async () => { await stopTestnet(t) }, 60_000)

  it('every node sees every seller\'s offer and knows it is publicly reachable', async () => {
    const net = t!
    const sellers = net.nodes.filter(n => n.seller).map(n => n.account)
    expect(sellers).toHaveLength(SELLERS)
    await waitFor(async () => {
      const seen = await everyNode(net, offerSellers)
      return seen.every(s => s != null && sellers.every(a => s.has(a!)))
    }, 'every node\'s book to hold every seller\'s offer', MESH_TIMEOUT_MS)
    await waitFor(async () => (await everyNode(net, selfReachability)).every(r => r === 'public'), 'every node to know it is publicly reachable', MESH_TIMEOUT_MS)
  }, 150_000)

  it('a young public seller announces its own address from the start, so its first offer is dialable', () => {
    // the start line's addresses are node.addrs() right after start, the set the first offer is
    // signed with (protocols/market.md § Addresses); before, a public address waited for AutoNAT
    // dial-backs from peers the node had not met yet, and the first offer carried none
    for (const n of t!.nodes) expect(n.addrs?.some(a => a.startsWith(`/ip4/${n.ip}/tcp/`)), `${n.name}'s addresses at start: ${JSON.stringify(n.addrs)}`).toBe(true)
  })

  it('a mesh: every node holds at least 2 connections, so no node hangs on the bootstrap alone', async () => {
    const net = t!
    // one bootstrap: 2 distinct peers means a peer other than the bootstrap. Before identify
    // push, a node that turned DHT server after meeting the bootstrap never entered its routing
    // table, lookups found nobody, and every other node held 1 connection (the bootstrap) for good
    await waitFor(async () => (await everyNode(net, connectedPeers)).every(c => c != null && c >= 2), 'every node to hold at least 2 connections', MESH_TIMEOUT_MS)
  }, 90_000)
})

describe.skipIf(SKIP)('testnet down after a crash', () => {
  it('the CLI killed mid-up: down removes its namespaces, link and processes, and again is a no-op', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-testnet-crash-'))
    try {
      const up = spawn(process.execPath, [defaultBin(), 'testnet', 'up', '--nodes', '3', '--sellers', '0', '--dir', dir], { stdio: 'ignore' })
      // killed once the bootstrap node runs: the other nodes are starting, nothing is recorded as up
      await waitFor(() => readTestnetState(dir)?.nodes[0].peerId != null || readTestnetState(dir)?.nodes.some(n => n.pid != null) === true, 'the first node to start', 120_000)
      up.kill('SIGKILL')
      const state = readTestnetState(dir)!
      expect((await listNamespaces()).filter(n => n.startsWith(`${state.prefix}-`)).length).toBeGreaterThan(0)
      const pids = state.nodes.map(n => n.pid).filter((p): p is number => p != null)

      const report = await testnetDown(dir)
      expect(report.prefix).toBe(state.prefix)
      expect((await listNamespaces()).filter(n => n.startsWith(`${state.prefix}-`))).toEqual([])
      expect(await rootLinkExists(state.hostLink)).toBe(false)
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow()
      expect(await testnetDown(dir)).toEqual({ processes: 0, namespaces: [], links: [] })
    } finally {
      await testnetDown(dir).catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  }, 180_000)
})

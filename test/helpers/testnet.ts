/**
 * Testnets for e2e tests and benches: one testnet per test file (startTestnet in beforeAll,
 * stopTestnet in afterAll), the reason to skip when this machine cannot run one, and reads of
 * what the nodes see through their APIs. The nodes run dist/ (bin/tally.js): build first.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { miniupnpdPath, testnetMissing } from '../../src/cli/testnet/net.js'
import { defaultBin, testnetUp, type Testnet, type TestnetInit } from '../../src/cli/testnet/testnet.js'

export type { Testnet, TestnetInit, TestnetNodeSpec, TestnetNodeState } from '../../src/cli/testnet/testnet.js'

/** why a testnet cannot run here (not root, no ip/nft, no dist/), or undefined when it can */
export function testnetSkipReason (): string | undefined {
  const missing = testnetMissing()
  if (missing.length > 0) return `testnet needs ${missing.join(', ')}`
  if (!existsSync(join(defaultBin(), '../../dist/cli/main.js'))) return 'testnet nodes run dist/: `npm run build` first'
  return undefined
}

/** prints why a testnet file is skipped (vitest's skip alone says nothing) and returns whether to skip */
export function skipTestnet (file: string): boolean {
  const reason = testnetSkipReason()
  if (reason != null) console.log(`${file}: skipped: ${reason}`)
  return reason != null
}

/** why a testnet with UPnP routers cannot run here (also miniupnpd missing), or undefined when it can */
export function upnpSkipReason (): string | undefined {
  return testnetSkipReason() ?? (miniupnpdPath() == null ? 'UPnP routers run miniupnpd: Debian package miniupnpd-nftables (.ci/run installs it)' : undefined)
}

const made = new Map<Testnet, string>()

/** a testnet in a fresh temp folder */
export async function startTestnet (init: Omit<TestnetInit, 'dir'> & { dir?: string }): Promise<Testnet> {
  const dir = init.dir ?? await mkdtemp(join(tmpdir(), 'tally-testnet-'))
  const t = await testnetUp({ ...init, dir })
  made.set(t, dir)
  return t
}

/** stops every node, removes the namespaces, and (unless `keep`) the folder with the logs */
export async function stopTestnet (t: Testnet | undefined, opts: { keep?: boolean } = {}): Promise<void> {
  if (t == null) return
  await t.down()
  const dir = made.get(t)
  made.delete(t)
  if (dir != null && opts.keep !== true) await rm(dir, { recursive: true, force: true })
}

/** node i's connected peers */
export async function connectedPeers (t: Testnet, i: number): Promise<number> {
  return (await t.api(i, '/tally/status')).peers.connected
}

/** the accounts whose offers node i's book holds */
export async function offerSellers (t: Testnet, i: number): Promise<Set<string>> {
  const r = await t.api(i, '/tally/offers')
  return new Set((r.offers as Array<{ seller: string }>).map(o => o.seller))
}

/** every account's balance as node i's ledger has it, as comparable JSON */
export async function ledgerBalances (t: Testnet, i: number): Promise<string> {
  const r = await t.api(i, '/tally/balance?all=1')
  return JSON.stringify({ balances: r.balances, sumUc: r.sumUc })
}

/** a paid chat completion through node i's OpenAI-compatible gateway */
export async function buyChat (t: Testnet, i: number, prompt = 'Hello', maxTokens = 8): Promise<any> {
  return await t.post(i, '/v1/chat/completions', { model: 'tiny-char-v1', messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, seed: 1 })
}

/** reads a value of every node (in parallel); a node whose API fails reads as undefined */
export async function everyNode<T> (t: Testnet, read: (t: Testnet, i: number) => Promise<T>): Promise<Array<T | undefined>> {
  return await Promise.all(t.nodes.map(async n => await read(t, n.index).catch(() => undefined)))
}

/**
 * What node i knows of its own reachability (/tally/network: 'public', 'private', 'unknown'):
 * a public host announces its own interface addresses from the start, then AutoNAT re-tests
 * them (docs/network.md § Reachability). 'n/a' where the
 * node has no /tally/network.
 */
export async function selfReachability (t: Testnet, i: number): Promise<string> {
  try {
    return (await t.api(i, '/tally/network')).reachability?.status ?? 'n/a'
  } catch (err: any) {
    if (/HTTP 404/.test(String(err?.message))) return 'n/a'
    throw err
  }
}

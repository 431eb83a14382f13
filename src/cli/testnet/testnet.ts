/**
 * A multi-host testnet on one machine: N real `tally start` processes, each in its own network
 * namespace, on one "internet" bridge; some behind a NAT router namespace (nftables masquerade).
 * `testnetUp` builds it, `testnetDown` removes everything it made (also after a crash: the state
 * file is written before anything is made, and every name carries the testnet's prefix), and a
 * `Testnet` reads each node's HTTP API and cuts or heals the network. The CLI (`tally testnet`),
 * the testnet e2e tests and the testnet benches all go through this module.
 *
 * Layout of testnet `tt<k>` (k = 1..250, claimed under CLAIM_DIR so parallel testnets never collide):
 * - `tt<k>-inet`: the internet, a bridge `br0`; addresses in 11.k.0.0/16 (outside the ranges
 *   libp2p treats as private, so nodes on it are public hosts as far as libp2p can tell).
 * - the root namespace (the harness) has a leg on the bridge, `tt<k>h`, at 11.k.0.1.
 * - public node i: namespace `tt<k>-n<i>`, `eth0` at 11.k.0.(10+i) on the bridge.
 * - NATed node i: namespace `tt<k>-n<i>` at 10.k.i.2 behind router `tt<k>-r<i>` (wan 11.k.0.(10+i),
 *   lan 10.k.i.1); nftables masquerades lan→wan (cone-like: Linux keeps the source port when it
 *   can) or, for `symmetric`, with `random,fully-random` ports; the router forwards no new
 *   connection from the internet, except from the harness's 11.k.0.1 (the API reads).
 * - every node listens on /ip4/<its address>/tcp/4001 (namespaces have their own ports) and serves its
 *   API on <its address>:8080 with a bearer token (the state file's, mode 600); the root
 *   namespace reaches NATed nodes' APIs through a route via their router.
 * - node 0 is public and the bootstrap (and, where the node offers it, the relay); every other
 *   node is given its one address.
 */
import { spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { assertTestnetAvailable, hasNetem, ip, listNamespaces, miniupnpdPath, namespacePids, nft, rootLinkExists, sh, TestnetUnavailableError } from './net.js'
import { ensureTinyModel } from '../../exec/model/tiny.js'
import { MAX_TESTNET_NODES } from './options.js'

/** the state file in the testnet's folder */
export const TESTNET_STATE_FILE = 'testnet.json'
/** one folder per testnet index in use, so two testnets (parallel test files) pick different ones */
export const CLAIM_DIR = '/run/tally-testnet'
/** indices of testnets: the second octet of their addresses */
const MAX_INDEX = 250
/** each node's libp2p port, the same in every namespace */
export const LIBP2P_PORT = 4001
/** each node's HTTP API port */
export const API_PORT = 8080
/** how long one node may take to print its start line (a loaded 2-core machine starts many at once) */
const DEFAULT_START_TIMEOUT_MS = 180_000
/** how long `down` waits for nodes to stop on SIGTERM before SIGKILL */
const STOP_GRACE_MS = 10_000
/** one API read from the harness */
const API_TIMEOUT_MS = 10_000

export type NatKind = 'cone' | 'symmetric'

export interface TestnetNodeSpec {
  /** behind a NAT router of this kind; public when absent */
  nat?: NatKind
  /** sells the tiny embedded model (threads 1) */
  sell?: boolean
  /** more `tally start` flags */
  args?: string[]
  /**
   * behind a NAT only: its router runs miniupnpd (UPnP IGD and NAT-PMP, Debian package
   * miniupnpd-nftables) and the node starts with `--upnp`
   */
  upnp?: boolean
}

export interface TestnetInit {
  /** the folder holding the state file, node data dirs and logs */
  dir: string
  /** a count (with nat and sellers) or one spec per node; node 0 is the public bootstrap either way */
  nodes: number | TestnetNodeSpec[]
  /** with a count: the last k nodes are behind cone-like NATs */
  nat?: number
  /** with a count: the last s nodes sell (so NATed nodes sell first) */
  sellers?: number
  /** with a count: the NATed nodes' routers run miniupnpd and the nodes ask them for a port mapping (--upnp) */
  upnp?: boolean
  /** one-way latency added to every node's link where the kernel has netem (these machines do not) */
  latencyMs?: number
  /** more `tally start` flags for every node */
  args?: string[]
  /** the CLI entry (default: this package's bin/tally.js, which runs dist/) */
  bin?: string
  startTimeoutMs?: number
  /** progress lines */
  log?: (line: string) => void
}

export interface TestnetNodeState {
  index: number
  /** n<i> */
  name: string
  ns: string
  router?: string
  nat?: NatKind
  /** its router runs miniupnpd; the node runs with --upnp */
  upnp?: boolean
  seller: boolean
  bootstrap: boolean
  /** the node's own address (private behind a NAT) */
  ip: string
  /** its address as the internet sees it: its own, or its router's */
  wanIp: string
  apiUrl: string
  dataDir: string
  /** the node's stdout (JSON lines) and stderr */
  outLog: string
  errLog: string
  args: string[]
  pid?: number
  peerId?: string
  account?: string
  addrs?: string[]
}

export interface TestnetState {
  version: 1
  prefix: string
  index: number
  dir: string
  createdAtMs: number
  internet: string
  hostLink: string
  hostIp: string
  /** the bearer token of every node's API */
  token: string
  netem: boolean
  latencyMs: number
  /** said when something asked for could not be had (netem) */
  notes: string[]
  /** every namespace this testnet makes, routers and nodes before the internet */
  namespaces: string[]
  nodes: TestnetNodeState[]
}

/** a testnet that is up: its state, its nodes' APIs, and the network's knife */
export class Testnet {
  constructor (readonly state: TestnetState) {}

  get nodes (): TestnetNodeState[] { return this.state.nodes }
  get prefix (): string { return this.state.prefix }

  /** node 0's address, the one every other node was given */
  get bootstrapAddr (): string {
    const b = this.state.nodes[0]
    return `/ip4/${b.wanIp}/tcp/${LIBP2P_PORT}/p2p/${b.peerId ?? ''}`
  }

  /** GET (or `init`) a path of node i's API as JSON; a non-2xx answer throws with its body */
  async api<T = any>(i: number, path: string, init: RequestInit = {}): Promise<T> {
    const n = this.node(i)
    const res = await fetch(`${n.apiUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${this.state.token}`, ...(init.body != null ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> ?? {}) },
      signal: init.signal ?? AbortSignal.timeout(API_TIMEOUT_MS)
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${n.name} ${init.method ?? 'GET'} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`)
    return JSON.parse(text) as T
  }

  /** POST a JSON body to node i's API */
  async post<T = any>(i: number, path: string, body: unknown): Promise<T> {
    return await this.api<T>(i, path, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) })
  }

  /** whether node i's process is running */
  alive (i: number): boolean {
    const pid = this.node(i).pid
    return pid != null && pidAlive(pid)
  }

  /**
   * Cuts the internet in two: no packet between a node of `a` and one of `b` (by their internet
   * addresses, so a NATed node goes with its router) crosses the bridge; the harness still reads
   * every API. Replaces an earlier partition.
   */
  async partition (a: number[], b: number[]): Promise<void> {
    const set = (xs: number[]): string => xs.map(i => this.node(i).wanIp).join(', ')
    await this.heal()
    await nft(inetNs(this.prefix), `table bridge tally_partition {
  set a { type ipv4_addr; elements = { ${set(a)} } }
  set b { type ipv4_addr; elements = { ${set(b)} } }
  chain forward {
    type filter hook forward priority filter;
    ip saddr @a ip daddr @b drop
    ip saddr @b ip daddr @a drop
  }
}
`)
  }

  /** removes the partition, if any */
  async heal (): Promise<void> {
    await sh('ip', ['netns', 'exec', inetNs(this.prefix), 'nft', 'delete', 'table', 'bridge', 'tally_partition']).catch(() => {})
  }

  /** sends node i's processes a signal (SIGKILL: a crash) */
  async signal (i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    for (const pid of await namespacePids(this.node(i).ns)) {
      try { process.kill(pid, signal) } catch {}
    }
  }

  async down (): Promise<DownReport> {
    return await testnetDown(this.state.dir)
  }

  private node (i: number): TestnetNodeState {
    const n = this.state.nodes[i]
    if (n == null) throw new RangeError(`no node ${i} in testnet ${this.prefix} (${this.state.nodes.length} nodes)`)
    return n
  }
}

const inetNs = (prefix: string): string => `${prefix}-inet`

function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err?.code === 'EPERM'
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function writeState (state: TestnetState): void {
  const file = join(state.dir, TESTNET_STATE_FILE)
  const tmp = `${file}.${process.pid}.tmp`
  // holds the APIs' bearer token
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, file)
}

/** the state of the testnet in `dir`, or undefined when none was made there (or it is down) */
export function readTestnetState (dir: string): TestnetState | undefined {
  const file = join(resolve(dir), TESTNET_STATE_FILE)
  if (!existsSync(file)) return undefined
  return JSON.parse(readFileSync(file, 'utf8')) as TestnetState
}

/** the testnet up in `dir` */
export function openTestnet (dir: string): Testnet {
  const state = readTestnetState(dir)
  if (state == null) throw new Error(`no testnet in ${resolve(dir)} (no ${TESTNET_STATE_FILE})`)
  return new Testnet(state)
}

/** the node specs a count, nat and sellers stand for */
export function nodeSpecs (init: Pick<TestnetInit, 'nodes' | 'nat' | 'sellers' | 'upnp'>): TestnetNodeSpec[] {
  if (Array.isArray(init.nodes)) {
    if (init.nodes[0]?.nat != null) throw new RangeError('node 0 is the public bootstrap: it cannot be behind a NAT')
    const i = init.nodes.findIndex(s => s.upnp === true && s.nat == null)
    if (i >= 0) throw new RangeError(`node ${i}: upnp needs a NAT router to run on (give it nat)`)
    return init.nodes
  }
  const n = init.nodes
  const nat = init.nat ?? 0
  const sellers = init.sellers ?? 0
  if (!Number.isInteger(n) || n < 1 || n > MAX_TESTNET_NODES) throw new RangeError(`nodes must be 1..${MAX_TESTNET_NODES}, got ${n}`)
  if (!Number.isInteger(nat) || nat < 0 || nat > n - 1) throw new RangeError(`nat must be 0..${n - 1} (node 0, the bootstrap, is public), got ${nat}`)
  if (!Number.isInteger(sellers) || sellers < 0 || sellers > n - 1) throw new RangeError(`sellers must be 0..${n - 1} (node 0, the bootstrap, does not sell), got ${sellers}`)
  return Array.from({ length: n }, (_, i) => ({
    nat: i >= n - nat ? 'cone' as const : undefined,
    sell: i >= n - sellers,
    upnp: init.upnp === true && i >= n - nat ? true : undefined
  }))
}

/** claims a free testnet index: an atomic mkdir under CLAIM_DIR naming the testnet's folder */
async function claimIndex (dir: string): Promise<number> {
  mkdirSync(CLAIM_DIR, { recursive: true })
  const existing = new Set((await listNamespaces()).map(n => /^tt(\d+)-/.exec(n)?.[1]).filter(x => x != null).map(Number))
  const start = randomInt(MAX_INDEX)
  for (let j = 0; j < MAX_INDEX; j++) {
    const k = 1 + (start + j) % MAX_INDEX
    if (existing.has(k) || await rootLinkExists(`tt${k}h`)) continue
    try {
      mkdirSync(join(CLAIM_DIR, String(k)))
    } catch {
      continue
    }
    writeFileSync(join(CLAIM_DIR, String(k), 'dir'), dir + '\n')
    return k
  }
  throw new Error(`no free testnet index (all ${MAX_INDEX} claimed under ${CLAIM_DIR}; \`tally testnet down --dir D\` the old ones)`)
}

/** the BIN that runs dist/ (src/cli/testnet and dist/cli/testnet both sit three levels below the root) */
export function defaultBin (): string {
  return resolve(new URL('../../../bin/tally.js', import.meta.url).pathname)
}

/**
 * Builds and starts a testnet. On any failure everything made so far is removed before the
 * error is thrown.
 */
export async function testnetUp (init: TestnetInit): Promise<Testnet> {
  assertTestnetAvailable()
  const dir = resolve(init.dir)
  const specs = nodeSpecs(init)
  if (specs.some(s => s.upnp === true) && miniupnpdPath() == null) throw new TestnetUnavailableError('miniupnpd (Debian package miniupnpd-nftables) for the UPnP routers')
  const log = init.log ?? (() => {})
  mkdirSync(dir, { recursive: true })
  const old = readTestnetState(dir)
  if (old != null) {
    const live = (await listNamespaces()).filter(n => n.startsWith(`${old.prefix}-`))
    if (live.length > 0) throw new Error(`a testnet (${old.prefix}) is up in ${dir}: \`tally testnet down --dir ${dir}\` first`)
    await testnetDown(dir)
  }
  rmSync(join(dir, 'nodes'), { recursive: true, force: true })
  const k = await claimIndex(dir)
  const prefix = `tt${k}`
  const state: TestnetState = {
    version: 1,
    prefix,
    index: k,
    dir,
    createdAtMs: Date.now(),
    internet: `11.${k}.0.0/16`,
    hostLink: `${prefix}h`,
    hostIp: `11.${k}.0.1`,
    token: randomBytes(24).toString('hex'),
    netem: false,
    latencyMs: 0,
    notes: [],
    namespaces: [],
    nodes: specs.map((s, i) => {
      const ownIp = s.nat != null ? `10.${k}.${i}.2` : `11.${k}.0.${10 + i}`
      const dataDir = join(dir, 'nodes', `n${i}`)
      return {
        index: i,
        name: `n${i}`,
        ns: `${prefix}-n${i}`,
        router: s.nat != null ? `${prefix}-r${i}` : undefined,
        nat: s.nat,
        upnp: s.upnp === true ? true : undefined,
        seller: s.sell === true,
        bootstrap: i === 0,
        ip: ownIp,
        wanIp: `11.${k}.0.${10 + i}`,
        apiUrl: `http://${ownIp}:${API_PORT}`,
        dataDir,
        outLog: join(dataDir, 'out.log'),
        errLog: join(dataDir, 'err.log'),
        args: [...(init.args ?? []), ...(s.args ?? [])]
      }
    })
  }
  state.namespaces = [...state.nodes.flatMap(n => n.router != null ? [n.router, n.ns] : [n.ns]), inetNs(prefix)]
  // before anything is made: `down` finds every name here even if this process dies next
  writeState(state)
  try {
    await buildNetwork(state, init.latencyMs ?? 0, log)
    writeState(state)
    await startNodes(state, init, log)
    writeState(state)
    return new Testnet(state)
  } catch (err) {
    await testnetDown(dir).catch(() => {})
    throw err
  }
}

async function buildNetwork (state: TestnetState, latencyMs: number, log: (line: string) => void): Promise<void> {
  const inet = inetNs(state.prefix)
  log(`testnet ${state.prefix}: internet ${state.internet} in namespace ${inet}`)
  await ip(undefined, 'netns', 'add', inet)
  await ip(inet, 'link', 'set', 'lo', 'up')
  await ip(inet, 'link', 'add', 'br0', 'type', 'bridge')
  await ip(inet, 'link', 'set', 'br0', 'up')
  // the harness's leg: the root namespace reads every node's API through it
  await ip(undefined, 'link', 'add', state.hostLink, 'type', 'veth', 'peer', 'name', 'harness', 'netns', inet)
  await ip(inet, 'link', 'set', 'harness', 'master', 'br0')
  await ip(inet, 'link', 'set', 'harness', 'up')
  await ip(undefined, 'addr', 'add', `${state.hostIp}/16`, 'dev', state.hostLink)
  await ip(undefined, 'link', 'set', state.hostLink, 'up')
  if (latencyMs > 0) {
    state.netem = await hasNetem(inet)
    if (state.netem) state.latencyMs = latencyMs
    else state.notes.push(`no netem on this kernel (tc: unknown qdisc): links run without the ${latencyMs} ms latency asked for`)
  } else {
    state.notes.push('links run without added latency (no --latency)')
  }
  for (const n of state.nodes) {
    const port = `p${n.index}`
    await ip(undefined, 'netns', 'add', n.ns)
    await ip(n.ns, 'link', 'set', 'lo', 'up')
    // the namespace on the bridge: the node itself, or its router
    const wanNs = n.router ?? n.ns
    const wanDev = n.router != null ? 'wan' : 'eth0'
    if (n.router != null) {
      await ip(undefined, 'netns', 'add', n.router)
      await ip(n.router, 'link', 'set', 'lo', 'up')
    }
    await ip(wanNs, 'link', 'add', wanDev, 'type', 'veth', 'peer', 'name', port, 'netns', inet)
    await ip(inet, 'link', 'set', port, 'master', 'br0')
    await ip(inet, 'link', 'set', port, 'up')
    await ip(wanNs, 'addr', 'add', `${n.wanIp}/16`, 'dev', wanDev)
    await ip(wanNs, 'link', 'set', wanDev, 'up')
    if (state.netem) await sh('ip', ['netns', 'exec', wanNs, 'tc', 'qdisc', 'add', 'dev', wanDev, 'root', 'netem', 'delay', `${state.latencyMs}ms`])
    if (n.router != null) {
      const lanNet = `10.${state.index}.${n.index}`
      await ip(n.router, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns)
      await ip(n.router, 'addr', 'add', `${lanNet}.1/24`, 'dev', 'lan')
      await ip(n.router, 'link', 'set', 'lan', 'up')
      await ip(n.ns, 'addr', 'add', `${n.ip}/24`, 'dev', 'eth0')
      await ip(n.ns, 'link', 'set', 'eth0', 'up')
      await ip(n.ns, 'route', 'add', 'default', 'via', `${lanNet}.1`)
      await sh('ip', ['netns', 'exec', n.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
      await nft(n.router, natRuleset(n.nat ?? 'cone', state.hostIp, n.upnp === true))
      if (n.upnp === true) await startMiniupnpd(state, n)
      await ip(undefined, 'route', 'add', `${lanNet}.0/24`, 'via', n.wanIp, 'dev', state.hostLink)
    }
  }
  log(`testnet ${state.prefix}: ${state.nodes.length} namespaces (${state.nodes.filter(n => n.router != null).length} behind NAT routers); ${state.notes.join('; ')}`)
}

/**
 * A home router: masquerade out of `wan`; no new connection in from the internet but the
 * harness's (its API reads). Plain masquerade keeps a flow's source port when free, which is
 * what hole punching needs (cone-like); `symmetric` picks a random port per flow. An unsolicited
 * packet to the router itself from the internet is dropped, as home routers do: otherwise its
 * kernel answers a hole punch's early SYN (one that arrives before the node's own SYN made the
 * mapping) with a RST, which ends the other side's attempt (docs/network.md § Hole punching).
 */
export function natRuleset (kind: NatKind, harnessIp: string, upnp = false): string {
  return `table ip tally_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "wan" masquerade${kind === 'symmetric' ? ' random,fully-random' : ''}
  }
  chain input {
    type filter hook input priority filter;
    iifname "wan" ct state new drop
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept${upnp ? '\n    ct status dnat accept' : ''}
    iifname "lan" accept
    iifname "wan" ip saddr ${harnessIp} accept
  }
}
`
}

/**
 * The chains miniupnpd (nftables build) adds its rules to, in their own table: a forward accept
 * and a DNAT per mapping. Our forward chain (policy drop) accepts what was DNATed (`ct status
 * dnat`), so only mapped ports get in.
 */
export function miniupnpdRuleset (): string {
  return `table inet miniupnpd {
  chain forward {
    type filter hook forward priority filter - 5;
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority dstnat;
    jump prerouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting {
    type nat hook postrouting priority srcnat - 5;
    jump postrouting_miniupnpd
  }
  chain postrouting_miniupnpd {
  }
}
`
}

/** miniupnpd's config for node n's router: UPnP IGD and NAT-PMP on `lan`, mappings only for the node's own address */
export function miniupnpdConfig (n: Pick<TestnetNodeState, 'ip'>, uuid: string): string {
  return [
    'ext_ifname=wan',
    'listening_ip=lan',
    'port=5000',
    'enable_upnp=yes',
    'enable_natpmp=yes',
    // a client may map ports to its own address only
    'secure_mode=yes',
    'system_uptime=yes',
    'upnp_table_name=miniupnpd',
    'upnp_nat_table_name=miniupnpd',
    'upnp_forward_chain=miniupnpd',
    'upnp_nat_chain=prerouting_miniupnpd',
    'upnp_nat_postrouting_chain=postrouting_miniupnpd',
    `uuid=${uuid}`,
    `allow 1024-65535 ${n.ip}/32 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    ''
  ].join('\n')
}

/** starts miniupnpd in node n's router namespace (stopped with the namespace's processes by `down`) */
async function startMiniupnpd (state: TestnetState, n: TestnetNodeState): Promise<void> {
  const bin = miniupnpdPath()
  if (bin == null || n.router == null) throw new TestnetUnavailableError('miniupnpd (Debian package miniupnpd-nftables) for the UPnP routers')
  await nft(n.router, miniupnpdRuleset())
  const dir = join(state.dir, 'routers')
  mkdirSync(dir, { recursive: true })
  const conf = join(dir, `${n.name}-miniupnpd.conf`)
  const h = randomBytes(16).toString('hex')
  writeFileSync(conf, miniupnpdConfig(n, `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`))
  const log = openSync(join(dir, `${n.name}-miniupnpd.log`), 'a')
  // -d: in the foreground (its log on stderr), so the namespace's process list holds it for `down`
  const child = spawn('ip', ['netns', 'exec', n.router, bin, '-f', conf, '-d', '-P', join(dir, `${n.name}-miniupnpd.pid`)], { detached: true, stdio: ['ignore', log, log] })
  closeSync(log)
  child.unref()
}

function childEnv (token: string): Record<string, string | undefined> {
  return {
    ...process.env,
    TALLY_CONFIG: '',
    TALLY_PASSPHRASE: '',
    TALLY_API: '',
    TALLY_DATA_DIR: '',
    TALLY_LISTEN: '',
    TALLY_BOOTSTRAP: '',
    TALLY_TRANSPORT: '',
    TALLY_NET: '',
    TALLY_GATEWAY: '',
    TALLY_API_LISTEN: '',
    TALLY_GATEWAY_TOKEN: token
  }
}

/** starts node 0, then every other node with node 0's address; waits for each start line */
async function startNodes (state: TestnetState, init: TestnetInit, log: (line: string) => void): Promise<void> {
  const bin = init.bin ?? defaultBin()
  if (!existsSync(bin)) throw new Error(`${bin} is missing`)
  if (state.nodes.some(n => n.seller)) ensureTinyModel()
  const timeoutMs = init.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS
  const [boot, ...rest] = state.nodes
  await startNode(state, boot, bin, [], timeoutMs)
  log(`n0 (bootstrap) ${boot.peerId ?? ''} at ${boot.wanIp}`)
  const bootstrap = `/ip4/${boot.wanIp}/tcp/${LIBP2P_PORT}/p2p/${boot.peerId ?? ''}`
  await Promise.all(rest.map(async n => {
    await startNode(state, n, bin, ['--bootstrap', bootstrap], timeoutMs)
    log(`${n.name}${n.seller ? ' seller' : ''}${n.nat != null ? ` behind ${n.nat} NAT ${n.wanIp}` : ''} ${n.peerId ?? ''} at ${n.ip}`)
  }))
}

async function startNode (state: TestnetState, n: TestnetNodeState, bin: string, extra: string[], timeoutMs: number): Promise<void> {
  mkdirSync(n.dataDir, { recursive: true })
  const args = [
    'netns', 'exec', n.ns, process.execPath, bin, 'start', '--json',
    '--data-dir', n.dataDir,
    // its own address, not 0.0.0.0: a wildcard listener also announces 127.0.0.1, which another
    // namespace's node dials into itself
    '--listen', `/ip4/${n.ip}/tcp/${LIBP2P_PORT}`,
    '--api', `${n.ip}:${API_PORT}`,
    ...extra,
    ...(n.seller ? ['--serve', 'tiny', '--threads', '1'] : []),
    ...(n.upnp === true ? ['--upnp'] : []),
    ...n.args
  ]
  const out = openSync(n.outLog, 'a')
  const err = openSync(n.errLog, 'a')
  // `ip netns exec` execs node in place: the child's pid is the node's
  const child = spawn('ip', args, { detached: true, stdio: ['ignore', out, err], env: childEnv(state.token) })
  closeSync(out)
  closeSync(err)
  let exited: number | null | undefined
  child.on('exit', (code) => { exited = code })
  child.unref()
  n.pid = child.pid
  writeState(state)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const start = readStartLine(n.outLog)
    if (start != null) {
      n.peerId = start.peerId
      n.account = start.account
      n.addrs = start.addrs
      return
    }
    if (exited !== undefined) throw new Error(`${n.name} exited (${String(exited)}) before it started: ${tail(n.errLog)}`)
    if (Date.now() > deadline) throw new Error(`${n.name} printed no start line in ${timeoutMs} ms: ${tail(n.errLog)}`)
    await sleep(100)
  }
}

function readStartLine (file: string): { peerId: string, account: string, addrs: string[] } | undefined {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch { return undefined }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const j = JSON.parse(line)
      if (typeof j.account === 'string' && typeof j.peerId === 'string') return { peerId: j.peerId, account: j.account, addrs: j.addrs ?? [] }
    } catch {}
  }
  return undefined
}

function tail (file: string, chars = 2000): string {
  try { return readFileSync(file, 'utf8').slice(-chars).trim() } catch { return '(no log)' }
}

export interface DownReport {
  prefix?: string
  /** processes signalled, namespaces and links removed */
  processes: number
  namespaces: string[]
  links: string[]
}

/**
 * Removes the testnet of `dir`: every process in its namespaces (SIGTERM, then SIGKILL after
 * STOP_GRACE_MS), every namespace and link whose name carries its prefix (whether or not this
 * state lists it), and its index claim. Idempotent; node data dirs and logs stay.
 */
export async function testnetDown (dir: string): Promise<DownReport> {
  const state = readTestnetState(dir)
  if (state == null) return { processes: 0, namespaces: [], links: [] }
  const report = await removeByPrefix(state.prefix, state.nodes.map(n => n.pid).filter((p): p is number => p != null))
  rmSync(join(CLAIM_DIR, String(state.index)), { recursive: true, force: true })
  rmSync(join(resolve(dir), TESTNET_STATE_FILE), { force: true })
  return report
}

/** removes every namespace, process and root link named `<prefix>-*` / `<prefix>h` */
export async function removeByPrefix (prefix: string, nodePids: number[] = []): Promise<DownReport> {
  if (!/^tt\d+$/.test(prefix)) throw new RangeError(`not a testnet prefix: ${prefix}`)
  const namespaces = (await listNamespaces()).filter(n => n.startsWith(`${prefix}-`))
  const pids = new Set<number>(nodePids.filter(pidAlive))
  for (const ns of namespaces) for (const pid of await namespacePids(ns)) pids.add(pid)
  // the nodes first, so each stops cleanly (its engine child goes with it)
  for (const pid of pids) { try { process.kill(pid, 'SIGTERM') } catch {} }
  const deadline = Date.now() + STOP_GRACE_MS
  while ([...pids].some(pidAlive) && Date.now() < deadline) await sleep(100)
  for (const ns of namespaces) for (const pid of await namespacePids(ns)) { try { process.kill(pid, 'SIGKILL') } catch {} }
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
  // routers and nodes before the internet; deleting a namespace deletes its ends of the veths
  const ordered = [...namespaces.filter(n => n !== inetNs(prefix)), ...namespaces.filter(n => n === inetNs(prefix))]
  for (const ns of ordered) await ip(undefined, 'netns', 'del', ns).catch(() => {})
  const links: string[] = []
  if (await rootLinkExists(`${prefix}h`)) {
    await ip(undefined, 'link', 'del', `${prefix}h`).catch(() => {})
    links.push(`${prefix}h`)
  }
  return { prefix, processes: pids.size, namespaces: ordered, links }
}

export interface TestnetNodeStatus {
  name: string
  role: string
  ip: string
  wanIp: string
  apiUrl: string
  peerId?: string
  alive: boolean
  /** connected peers, from /tally/status (undefined when the API did not answer) */
  peers?: number
  /** offers in its book, from /tally/offers */
  offers?: number
  error?: string
}

export interface TestnetStatus {
  prefix: string
  dir: string
  internet: string
  netem: boolean
  notes: string[]
  nodes: TestnetNodeStatus[]
}

/** each node's process and, through its API, its peers and offers */
export async function testnetStatus (dir: string): Promise<TestnetStatus | undefined> {
  const state = readTestnetState(dir)
  if (state == null) return undefined
  const t = new Testnet(state)
  const nodes = await Promise.all(state.nodes.map(async (n): Promise<TestnetNodeStatus> => {
    const role = [n.bootstrap ? 'bootstrap' : undefined, n.seller ? 'seller' : undefined, n.nat != null ? `nat:${n.nat}` : 'public'].filter(x => x != null).join(',')
    const s: TestnetNodeStatus = { name: n.name, role, ip: n.ip, wanIp: n.wanIp, apiUrl: n.apiUrl, peerId: n.peerId, alive: t.alive(n.index) }
    if (!s.alive) return s
    try {
      const [st, offers] = await Promise.all([t.api(n.index, '/tally/status'), t.api(n.index, '/tally/offers')])
      s.peers = st?.peers?.connected
      s.offers = Array.isArray(offers?.offers) ? offers.offers.length : undefined
    } catch (err: any) {
      s.error = String(err?.message ?? err)
    }
    return s
  }))
  return { prefix: state.prefix, dir: state.dir, internet: state.internet, netem: state.netem, notes: state.notes, nodes }
}

/** Flags of `tally testnet up|down|status`, parsed and range-checked (bad values → UsageError, exit 2). */
import type { Command } from 'commander'
import { UsageError } from '../io.js'

/** where a testnet lives unless --dir says otherwise */
export const DEFAULT_TESTNET_DIR = '.testnet'
/** node i's internet address ends in 10+i (and its home subnet is 10.k.i.0/24) */
export const MAX_TESTNET_NODES = 200
/** most latency asked of netem */
const MAX_LATENCY_MS = 10_000

export interface TestnetUpFlags { nodes?: string, nat?: string, sellers?: string, dir?: string, latency?: string, upnp?: boolean, json?: boolean }
export interface TestnetDirFlags { dir?: string, json?: boolean }

export interface TestnetUpOptions { nodes: number, nat: number, sellers: number, dir: string, latencyMs: number, upnp: boolean, json: boolean }

function int (flag: string, v: string | undefined, fallback: number, min: number, max: number): number {
  if (v == null) return fallback
  if (!/^[0-9]+$/.test(v.trim())) throw new UsageError(`${flag}: expected a whole number ${min}..${max}, got ${JSON.stringify(v.slice(0, 40))}`)
  const n = Number(v)
  if (n < min || n > max) throw new UsageError(`${flag}: must be ${min}..${max}, got ${n}`)
  return n
}

export function parseTestnetUpFlags (f: TestnetUpFlags): TestnetUpOptions {
  const nodes = int('--nodes', f.nodes, 0, 1, MAX_TESTNET_NODES)
  // node 0 is the public bootstrap: neither behind a NAT nor selling
  const nat = int('--nat', f.nat, 0, 0, nodes - 1)
  const sellers = int('--sellers', f.sellers, Math.min(1, nodes - 1), 0, nodes - 1)
  const latencyMs = int('--latency', f.latency, 0, 0, MAX_LATENCY_MS)
  if (f.upnp === true && nat === 0) throw new UsageError('--upnp: the NAT routers run miniupnpd, so it needs --nat of 1 or more')
  return { nodes, nat, sellers, dir: f.dir ?? DEFAULT_TESTNET_DIR, latencyMs, upnp: f.upnp === true, json: f.json === true }
}

export function testnetUpOptions (cmd: Command): Command {
  return cmd
    .description('start N real `tally start` processes, each in its own network namespace on one bridge ("the internet"), k of them behind NAT routers (nftables masquerade); node 0 is the public bootstrap. Needs root, ip (iproute2) and nft (nftables)')
    .requiredOption('--nodes <n>', `number of nodes, 1..${MAX_TESTNET_NODES}`)
    .option('--nat <k>', 'the last k nodes sit behind their own cone-like NAT router (default 0)')
    .option('--sellers <s>', 'the last s nodes sell the tiny embedded model, threads 1 (default 1)')
    .option('--upnp', 'the NAT routers run miniupnpd (UPnP IGD and NAT-PMP; Debian package miniupnpd-nftables) and the NATed nodes ask them for a port mapping (tally start --upnp)')
    .option('--latency <ms>', 'one-way latency on every link, where the kernel has netem (default 0; without netem the testnet says so and runs without)')
    .option('--dir <dir>', `the testnet's folder: state file, node data dirs and logs (default ${DEFAULT_TESTNET_DIR})`)
    .option('--json', 'print the testnet as one JSON document')
}

export function testnetDirOptions (cmd: Command): Command {
  return cmd
    .option('--dir <dir>', `the testnet's folder (default ${DEFAULT_TESTNET_DIR})`)
    .option('--json', 'print JSON')
}

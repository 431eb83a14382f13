/** Flags of `tally sim`, parsed and range-checked into SimOptions (bad values → UsageError). */
import type { Command } from 'commander'
import { UsageError } from '../io.js'
import { scenarioNames } from '../../sim/scenarios/index.js'
import { MAX_BOOTSTRAP_NODES, MAX_EMBEDDED_SELLERS, MAX_REQUESTS_PER_SEC, MAX_SIM_TOKENS_PER_SEC, MAX_SIM_TTFT_MS, MIN_REQUESTS_PER_SEC, SIM_CLOCKS, type SimClock } from '../../sim/options.js'

export interface SimFlags {
  peers?: string
  scenario?: string
  seed?: string
  duration?: string
  sellers?: string
  latency?: string
  jitter?: string
  loss?: string
  embeddedSellers?: string
  bootstrapNodes?: string
  rate?: string
  tokensPerSec?: string
  ttft?: string
  clock?: string
  json?: boolean
  report?: string
}

export interface SimOptions {
  peers: number
  scenario: string
  seed: string
  durationMs?: number
  sellersShare?: number
  latencyMs?: number
  jitter?: number
  lossRate?: number
  embeddedSellers?: number
  bootstrapNodes?: number
  requestsPerSec?: number
  tokensPerSec?: number
  ttftMs?: number
  clock?: SimClock
  json: boolean
  report?: string
}

/** most peers one process is asked to hold */
export const MAX_SIM_PEERS = 5_000
/** longest trading time one run may take */
export const MAX_SIM_DURATION_MS = 3_600_000

export function simOptions (cmd: Command): Command {
  return cmd
    .description('run N real Tally nodes in this process on a simulated network, through a scenario')
    .requiredOption('--peers <n>', 'number of nodes')
    .requiredOption('--scenario <name>', `one of: ${scenarioNames().join(', ')}`)
    .option('--seed <s>', 'seed for every random choice (same seed, same plan; on the virtual clock, the same result)', '1')
    .option('--duration <time>', 'trading time, e.g. 60s, 2m, 1500ms (default: the scenario\'s)')
    .option('--sellers <share>', 'share of peers that sell, 0..1 (default: the scenario\'s)')
    .option('--latency <ms>', 'mean one-way latency of a link, ms (default 10)')
    .option('--jitter <share>', 'each link\'s latency is within ±share of the mean, 0..1 (default 0.5)')
    .option('--loss <share>', 'share of buffers lost on a link and retransmitted 200 ms later, 0..0.5 (default 0)')
    .option('--embedded-sellers <k>', `k sellers run the real embedded engine on the tiny model, 0..${MAX_EMBEDDED_SELLERS} (default 0)`)
    .option('--bootstrap-nodes <k>', `every peer dials the first k peers (well-known bootstrap nodes, as a deployment would), 1..${MAX_BOOTSTRAP_NODES} (default: 3 random earlier peers)`)
    .option('--rate <req/s>', `requests per second over all honest buyers, ${MIN_REQUESTS_PER_SEC}..${MAX_REQUESTS_PER_SEC} (default: the scenario's, else max(2, min(20, N/10, 2000/N)))`)
    .option('--tokens-per-sec <n>', `simulated sellers' output speed after the first token, 1..${MAX_SIM_TOKENS_PER_SEC} (default 2000)`)
    .option('--ttft <ms>', `simulated sellers' delay before the first token, 0..${MAX_SIM_TTFT_MS} ms (default 20)`)
    .option('--clock <kind>', 'virtual: simulated time, each node as if on its own CPU, one seed one result; real: wall time, one busy thread slows every node (default virtual, real with --embedded-sellers)')
    .option('--json', 'print the result as one JSON document')
    .option('--report <file>', 'write a self-contained HTML report')
}

/** "60s", "2m", "1500ms", "1500" (ms) → ms */
export function parseDuration (v: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(v.trim())
  if (m == null) throw new UsageError(`--duration: expected e.g. 60s, 2m or 1500ms, got ${JSON.stringify(v.slice(0, 40))}`)
  const n = Number(m[1]) * (m[2] === 'm' ? 60_000 : m[2] === 's' ? 1_000 : 1)
  if (!(n >= 100 && n <= MAX_SIM_DURATION_MS)) throw new UsageError(`--duration: must be between 100ms and 60m, got ${v}`)
  return Math.round(n)
}

/** a decimal share in [0, max] */
function share (flag: string, v: string, max: number): number {
  const n = Number(v)
  if (!/^(0|1)?(\.[0-9]+)?$/.test(v) || v === '' || v === '.' || !(n >= 0 && n <= max)) throw new UsageError(`${flag}: expected a number between 0 and ${max}, got ${JSON.stringify(v.slice(0, 40))}`)
  return n
}

export function parseSimFlags (f: SimFlags): SimOptions {
  const peers = Number(f.peers)
  if (f.peers == null || !/^[0-9]+$/.test(f.peers) || peers < 2 || peers > MAX_SIM_PEERS) throw new UsageError(`--peers: expected an integer 2..${MAX_SIM_PEERS}, got ${JSON.stringify(String(f.peers).slice(0, 40))}`)
  const scenario = f.scenario ?? ''
  if (!scenarioNames().includes(scenario)) throw new UsageError(`--scenario: unknown ${JSON.stringify(scenario.slice(0, 40))} (known: ${scenarioNames().join(', ')})`)
  const seed = f.seed ?? '1'
  if (seed.length === 0 || seed.length > 128) throw new UsageError('--seed: expected 1..128 characters')
  const o: SimOptions = { peers, scenario, seed, json: f.json === true }
  if (f.duration != null) o.durationMs = parseDuration(f.duration)
  if (f.sellers != null) {
    const s = Number(f.sellers)
    if (!/^[0-9.]+$/.test(f.sellers) || !(s > 0 && s < 1)) throw new UsageError(`--sellers: expected a share between 0 and 1, got ${JSON.stringify(f.sellers.slice(0, 40))}`)
    o.sellersShare = s
  }
  if (f.latency != null) {
    const l = Number(f.latency)
    if (!/^[0-9]+$/.test(f.latency) || l > 10_000) throw new UsageError(`--latency: expected an integer 0..10000 ms, got ${JSON.stringify(f.latency.slice(0, 40))}`)
    o.latencyMs = l
  }
  if (f.jitter != null) o.jitter = share('--jitter', f.jitter, 1)
  if (f.loss != null) o.lossRate = share('--loss', f.loss, 0.5)
  if (f.embeddedSellers != null) {
    const k = Number(f.embeddedSellers)
    if (!/^[0-9]{1,3}$/.test(f.embeddedSellers) || k > MAX_EMBEDDED_SELLERS) throw new UsageError(`--embedded-sellers: expected an integer 0..${MAX_EMBEDDED_SELLERS}, got ${JSON.stringify(f.embeddedSellers.slice(0, 40))}`)
    o.embeddedSellers = k
  }
  if (f.bootstrapNodes != null) {
    const k = Number(f.bootstrapNodes)
    if (!/^[0-9]+$/.test(f.bootstrapNodes) || k < 1 || k > MAX_BOOTSTRAP_NODES) throw new UsageError(`--bootstrap-nodes: expected an integer 1..${MAX_BOOTSTRAP_NODES}, got ${JSON.stringify(f.bootstrapNodes.slice(0, 40))}`)
    o.bootstrapNodes = k
  }
  if (f.rate != null) {
    const r = Number(f.rate)
    if (!/^[0-9]+(\.[0-9]+)?$/.test(f.rate) || !(r >= MIN_REQUESTS_PER_SEC && r <= MAX_REQUESTS_PER_SEC)) throw new UsageError(`--rate: expected requests per second between ${MIN_REQUESTS_PER_SEC} and ${MAX_REQUESTS_PER_SEC}, got ${JSON.stringify(f.rate.slice(0, 40))}`)
    o.requestsPerSec = r
  }
  if (f.tokensPerSec != null) {
    const n = Number(f.tokensPerSec)
    if (!/^[0-9]+$/.test(f.tokensPerSec) || n < 1 || n > MAX_SIM_TOKENS_PER_SEC) throw new UsageError(`--tokens-per-sec: expected an integer 1..${MAX_SIM_TOKENS_PER_SEC}, got ${JSON.stringify(f.tokensPerSec.slice(0, 40))}`)
    o.tokensPerSec = n
  }
  if (f.ttft != null) {
    const n = Number(f.ttft)
    if (!/^[0-9]+$/.test(f.ttft) || n > MAX_SIM_TTFT_MS) throw new UsageError(`--ttft: expected an integer 0..${MAX_SIM_TTFT_MS} ms, got ${JSON.stringify(f.ttft.slice(0, 40))}`)
    o.ttftMs = n
  }
  if (f.clock != null) {
    if (!(SIM_CLOCKS as readonly string[]).includes(f.clock)) throw new UsageError(`--clock: expected one of ${SIM_CLOCKS.join(', ')}, got ${JSON.stringify(f.clock.slice(0, 40))}`)
    if (f.clock === 'virtual' && (o.embeddedSellers ?? 0) > 0) throw new UsageError('--clock virtual: embedded sellers run on wall time, use --clock real with --embedded-sellers')
    o.clock = f.clock as SimClock
  }
  if (f.report != null) {
    if (f.report.length === 0) throw new UsageError('--report: expected a file path')
    o.report = f.report
  }
  return o
}

/**
 * Issue 17's side-by-side (issue 17.6): one OpenAI-compatible upstream (procs/upstream.ts, its own
 * process, deterministic) reached three ways by the same client (undici, keep-alive):
 *   direct  — the upstream itself;
 *   proxy   — a bare reverse proxy (procs/proxy.ts, undici pooled, streaming the body through),
 *             the floor any local LLM proxy pays;
 *   tally   — one buyer process (its OpenAI API) → TCP loopback → one seller process
 *             `tally start --serve-http <upstream>`, warm sessions, the default development network.
 * Two workloads: 16 tokens paced 2 ms apart, 256 tokens written at once; concurrency 1, 8, 32, 64.
 * Rounds are interleaved (each round runs every path, in a rotating order) so load drift hits all.
 * Per path: TTFT and total p50/p95, added to direct (difference of the quantiles), Tally's added as
 * a ratio to the proxy's, requests/s and its ratio to direct, errors by kind, and CPU ms per
 * request summed over the path's own processes (proxy: the proxy; tally: buyer + seller), from
 * /proc/<pid>/stat utime+stime read before and after each batch. Prints figures, never fails on time.
 *
 * Quick smoke run: `npx tsx test/bench/run.ts --only proxy --json --quick` (or PROXY_BENCH_QUICK=1).
 * PROXY_BENCH_CONCURRENCY=1,8 limits the concurrencies; PROXY_BENCH_ROUNDS sets the rounds.
 * PROXY_BENCH_BASE=<dir>: a fourth path, `tally_base`, a second buyer + seller pair run from the
 * source tree in <dir> (an older commit, e.g. `git archive <rev> | tar -x -C <dir>` with a
 * node_modules link), interleaved with the others: before and after in one run.
 * PROXY_BENCH_TALLY=<dir>: run the `tally` path from that tree instead of this one (a committed
 * snapshot, when others are editing this tree). PROXY_BENCH_PROF=<dir>: the Tally processes
 * write V8 CPU profiles there (--cpu-prof).
 */
import '../../src/polyfill.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'

const here = dirname(fileURLToPath(import.meta.url))
const PROF = process.env.PROXY_BENCH_PROF
const QUICK = process.argv.includes('--quick') || process.env.PROXY_BENCH_QUICK === '1'
const CONCURRENCIES = (process.env.PROXY_BENCH_CONCURRENCY ?? '1,8,32,64').split(',').map(Number)
const ROUNDS = Number(process.env.PROXY_BENCH_ROUNDS ?? (QUICK ? 1 : 4))
/** requests per path per round at concurrency c */
const perRound = (c: number): number => QUICK ? Math.max(20, 2 * c) : (c === 1 ? 50 : Math.max(64, 4 * c))
const MODEL = 'bench-1b'
/** a process start compiles the whole tree through tsx: minutes on a loaded 2-core machine */
const START_TIMEOUT_MS = 300_000
const WORKLOADS = [
  { name: 'paced16', maxTokens: 16, prompt: 'pace:2' },
  { name: 'fast256', maxTokens: 256, prompt: 'fast' }
] as const
type Path = 'direct' | 'proxy' | 'tally' | 'tally_base'
const BASE = process.env.PROXY_BENCH_BASE
const PATHS: Path[] = BASE != null ? ['direct', 'proxy', 'tally', 'tally_base'] : ['direct', 'proxy', 'tally']

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d
const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** user+system CPU ms of a process (all its threads), from /proc (Linux) */
function cpuMs (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

interface Child { proc: ChildProcess, lines: string[], waitLine: (pred: (o: any) => boolean, what: string, ms?: number) => Promise<any> }

function start (args: string[]): Child {
  const prof = PROF != null && args[0].endsWith('tally.ts') ? ['--cpu-prof', '--cpu-prof-dir', PROF] : []
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBUG: '' } })
  const lines: string[] = []
  let buf = ''
  let err = ''
  proc.stdout!.on('data', (b: Buffer) => {
    buf += b.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, nl)); buf = buf.slice(nl + 1) }
  })
  proc.stderr!.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-4000) })
  const waitLine = async (pred: (o: any) => boolean, what: string, ms = 60_000): Promise<any> => {
    const until = Date.now() + ms
    for (;;) {
      for (const l of lines) { try { const o = JSON.parse(l); if (pred(o)) return o } catch {} }
      if (proc.exitCode != null) throw new Error(`${what}: the process exited ${proc.exitCode}: ${err}`)
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${err}`)
      await sleep(20)
    }
  }
  return { proc, lines, waitLine }
}

async function stop (c: Child): Promise<void> {
  if (c.proc.exitCode != null) return
  const exited = new Promise(resolve => c.proc.once('exit', resolve))
  c.proc.kill('SIGTERM')
  await Promise.race([exited, sleep(10_000)])
  if (c.proc.exitCode == null) c.proc.kill('SIGKILL')
}

/** the client's keep-alive connections per origin (PROXY_BENCH_CLIENT_CONNECTIONS; default 256, as unbounded as a stock client) */
const agent = new Agent({ connections: Number(process.env.PROXY_BENCH_CLIENT_CONNECTIONS ?? 256), keepAliveTimeout: 60_000, pipelining: 1 })

/** tailMs: from the last content chunk to the end of the body (finish, usage, [DONE]: how soon the end follows the last token) */
interface Sample { ttftMs: number, totalMs: number, tailMs: number }

/** one streamed chat completion; TTFT = first SSE chunk with content, total = end of the body */
async function once (base: string, w: typeof WORKLOADS[number], seed: number): Promise<Sample> {
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: w.prompt }], max_tokens: w.maxTokens, seed, stream: true })
  const t0 = performance.now()
  const res = await request(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher: agent })
  if (res.statusCode !== 200) {
    const text = await res.body.text()
    throw new Error(`${res.statusCode} ${text.slice(0, 120)}`)
  }
  let first: number | undefined
  let buf = ''
  let done = false
  let last = 0
  for await (const b of res.body) {
    buf += (b as Buffer).toString()
    let nl: number
    while ((nl = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, nl)
      buf = buf.slice(nl + 2)
      if (!ev.startsWith('data:')) continue
      const data = ev.slice(5).trim()
      if (data === '[DONE]') { done = true; continue }
      // after the first content only errors and the last content chunk matter: the client parses as little as it can
      if (first != null && !data.startsWith('{"error"')) {
        if (data.includes('"content":"') && !data.includes('"content":""')) last = performance.now()
        continue
      }
      const o = JSON.parse(data)
      if (o.error != null) throw new Error(`stream error ${String(o.error.code ?? o.error.type)}`)
      const c = o.choices?.[0]?.delta?.content
      if (typeof c === 'string' && c.length > 0) { first ??= performance.now(); last = first }
    }
  }
  const end = performance.now()
  if (!done) throw new Error('no [DONE]')
  if (first == null) throw new Error('no content')
  return { ttftMs: first - t0, totalMs: end - t0, tailMs: end - last }
}

interface Acc { samples: Sample[], errors: Map<string, number>, wallMs: number, cpuMs: number }
const newAcc = (): Acc => ({ samples: [], errors: new Map(), wallMs: 0, cpuMs: 0 })

async function batch (base: string, w: typeof WORKLOADS[number], c: number, n: number, pids: number[], acc: Acc): Promise<void> {
  let next = 0
  const cpu0 = pids.reduce((s, p) => s + cpuMs(p), 0)
  const t0 = performance.now()
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < n) {
      const i = next++
      try { acc.samples.push(await once(base, w, i)) } catch (err: any) {
        const k = String(err?.message ?? err).replace(/\d{3,}/g, 'N').slice(0, 100)
        acc.errors.set(k, (acc.errors.get(k) ?? 0) + 1)
      }
    }
  }))
  acc.wallMs += performance.now() - t0
  acc.cpuMs += pids.reduce((s, p) => s + cpuMs(p), 0) - cpu0
}

function figures (acc: Acc): Record<string, unknown> {
  const t = acc.samples.map(s => s.ttftMs)
  const T = acc.samples.map(s => s.totalMs)
  const errors = [...acc.errors.values()].reduce((a, b) => a + b, 0)
  return {
    ok: acc.samples.length,
    errors,
    ...(errors > 0 ? { error_kinds: Object.fromEntries(acc.errors) } : {}),
    ttft_p50_ms: round(quantile(t, 0.5)),
    ttft_p95_ms: round(quantile(t, 0.95)),
    total_p50_ms: round(quantile(T, 0.5)),
    total_p95_ms: round(quantile(T, 0.95)),
    tail_p50_ms: round(quantile(acc.samples.map(s => s.tailMs), 0.5)),
    requests_per_s: round(acc.samples.length / (acc.wallMs / 1000), 1),
    cpu_ms_per_request: acc.samples.length > 0 ? round(acc.cpuMs / acc.samples.length) : null
  }
}

export default async function (): Promise<Record<string, unknown>> {
  const dirs: string[] = []
  const children: Child[] = []
  try {
    const up = start([join(here, 'procs/upstream.ts')]); children.push(up)
    const upPort = (await up.waitLine(o => o.port != null, 'the upstream')).port
    const upstream = `http://127.0.0.1:${upPort}`
    const px = start([join(here, 'procs/proxy.ts'), upstream]); children.push(px)
    const proxy = `http://127.0.0.1:${(await px.waitLine(o => o.port != null, 'the proxy')).port}`

    /**
     * one seller `--serve-http` the upstream and one buyer with its API, from the source tree at
     * `root`; where that tree's `tally start` has the open-network services (discovery, NAT
     * traversal), they are off: other nodes on this host (mDNS) must not join the measured pair
     */
    const tallyPair = async (root: string): Promise<{ api: string, pids: number[] }> => {
      const optionsFile = join(root, 'src/cli/start/options.ts')
      const closed = existsSync(optionsFile) && readFileSync(optionsFile, 'utf8').includes('--no-mdns')
        ? ['--no-mdns', '--dht', 'off', '--min-connections', '0', '--no-autonat', '--relay', 'off', '--relay-client', 'off', '--no-dcutr']
        : []
      const sellerDir = await mkdtemp(join(tmpdir(), 'tally-bench-proxy-s-')); dirs.push(sellerDir)
      const buyerDir = await mkdtemp(join(tmpdir(), 'tally-bench-proxy-b-')); dirs.push(buyerDir)
      const tallyBin = join(root, 'test/bench/procs/tally.ts')
      const seller = start([tallyBin, 'start', '--json', '--data-dir', sellerDir, '--transport', 'tcp', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-api',
        '--serve-http', `${upstream}/v1`, '--model-id', MODEL, '--params', '1000000000', '--max-sessions', String(Math.max(...CONCURRENCIES)), ...closed]); children.push(seller)
      const sInfo = await seller.waitLine(o => Array.isArray(o.addrs), 'the seller start line', START_TIMEOUT_MS)
      const buyer = start([tallyBin, 'start', '--json', '--data-dir', buyerDir, '--transport', 'tcp', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0',
        '--bootstrap', sInfo.addrs[0], ...closed]); children.push(buyer)
      const bInfo = await buyer.waitLine(o => o.api != null, 'the buyer start line', START_TIMEOUT_MS)
      const api = String(bInfo.api).replace(/\/$/, '')
      const until = Date.now() + 60_000
      for (;;) {
        const r = await request(`${api}/v1/models`, { dispatcher: agent })
        const j: any = await r.body.json()
        if ((j.data ?? []).some((m: any) => m.id === MODEL)) break
        if (Date.now() > until) throw new Error('the buyer never saw the seller\'s offer')
        await sleep(100)
      }
      return { api, pids: [buyer.proc.pid!, seller.proc.pid!] }
    }
    const tally = await tallyPair(process.env.PROXY_BENCH_TALLY ?? join(here, '../..'))
    const base = BASE != null ? await tallyPair(BASE) : undefined
    const bases: Record<Path, string> = { direct: upstream, proxy, tally: tally.api, tally_base: base?.api ?? '' }
    const pids: Record<Path, number[]> = { direct: [], proxy: [px.proc.pid!], tally: tally.pids, tally_base: base?.pids ?? [] }

    const out: Record<string, unknown> = {
      note: 'added_* = path quantile − direct quantile in the same run; ratio_* = tally added / proxy added; cpu over the path\'s own processes (proxy: the proxy; tally: buyer + seller). Every process shares the machine\'s cores with the client and the upstream.',
      quick: QUICK,
      rounds: ROUNDS
    }
    for (const w of WORKLOADS) {
      for (const c of CONCURRENCIES) {
        // warm: every path's connections, and Tally's sessions at this width
        for (const p of PATHS) { const a = newAcc(); await batch(bases[p], w, c, c * 2, [], a) }
        const acc: Record<Path, Acc> = { direct: newAcc(), proxy: newAcc(), tally: newAcc(), tally_base: newAcc() }
        for (let r = 0; r < ROUNDS; r++) {
          for (let k = 0; k < PATHS.length; k++) {
            const p = PATHS[(k + r) % PATHS.length]
            await batch(bases[p], w, c, perRound(c), pids[p], acc[p])
          }
        }
        const f = Object.fromEntries(PATHS.map(p => [p, figures(acc[p])])) as Record<Path, any>
        const added = (p: Path, k: string): number => round(f[p][k] - f.direct[k])
        const ratio = (a: number, b: number): number | null => b > 0 ? round(a / b) : null
        const ta = added('tally', 'ttft_p50_ms')
        const pa = added('proxy', 'ttft_p50_ms')
        out[`${w.name}_c${c}`] = {
          ...f,
          added: {
            proxy_ttft_p50_ms: pa,
            proxy_ttft_p95_ms: added('proxy', 'ttft_p95_ms'),
            proxy_total_p50_ms: added('proxy', 'total_p50_ms'),
            proxy_total_p95_ms: added('proxy', 'total_p95_ms'),
            tally_ttft_p50_ms: ta,
            tally_ttft_p95_ms: added('tally', 'ttft_p95_ms'),
            tally_total_p50_ms: added('tally', 'total_p50_ms'),
            tally_total_p95_ms: added('tally', 'total_p95_ms'),
            ratio_ttft_p50: ratio(ta, pa),
            ratio_total_p50: ratio(added('tally', 'total_p50_ms'), added('proxy', 'total_p50_ms')),
            ...(base != null
              ? { tally_base_ttft_p50_ms: added('tally_base', 'ttft_p50_ms'), tally_base_total_p50_ms: added('tally_base', 'total_p50_ms'), ratio_base_ttft_p50: ratio(added('tally_base', 'ttft_p50_ms'), pa), ratio_base_total_p50: ratio(added('tally_base', 'total_p50_ms'), added('proxy', 'total_p50_ms')) }
              : {})
          },
          rps_vs_direct: Object.fromEntries(PATHS.filter(p => p !== 'direct').map(p => [p, ratio(f[p].requests_per_s, f.direct.requests_per_s)]))
        }
        process.stderr.write(`proxy bench ${w.name} c${c}: ${JSON.stringify((out[`${w.name}_c${c}`] as any).added)}\n`)
      }
    }
    return out
  } finally {
    await Promise.all(children.map(stop))
    await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true })))
  }
}

/**
 * Buyer-side figures (issue 7): what the gateway and the network add to one streamed request
 * over the same backend called in-process (time to first token and total, warm and cold session,
 * memory transport and TCP loopback, embedded engine and simulated backend), and streamed
 * requests per second through the gateway at concurrency 1, 8 and 32 with the embedded model,
 * with the process's RSS and CPU and the engine child's. Prints figures, never fails on time.
 */
import '../../src/polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createTallyNode, type SellInit, type TallyNode, type TallyNodeInit } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { createEmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'
import type { Backend, BackendEvent, ChatRequest } from '../../src/exec/backend.js'

type Transport = 'memory' | 'tcp'

/** samples per (backend, transport) for the warm and the cold case */
const WARM_SAMPLES = 100
const COLD_SAMPLES = 30
/** output tokens per overhead request: short, so engine time does not drown the overhead */
const OVERHEAD_MAX_TOKENS = 16
/** output tokens per throughput request */
const THROUGHPUT_MAX_TOKENS = 32
const CONCURRENCIES = [1, 8, 32]
/** a small lock per session, so 32 concurrent sessions fit the default credit limit */
const SESSION_LOCK_UC = 100_000n
const PROMPT = 'Tell me what Alice saw.'
/**
 * Seller limits for the throughput run. The defaults (8 inbound negotiate and infer streams per
 * connection, 2 open quotes per buyer) refuse most of a 32-wide burst from one buyer; the
 * `default_limits_burst` figure counts how many.
 */
const THROUGHPUT_SELLER_LIMITS: Pick<TallyNodeInit, 'negotiate' | 'inferSeller'> = {
  negotiate: { maxInboundStreams: 64, maxOpenQuotesPerBuyer: 64 },
  inferSeller: { maxInboundStreams: 64 }
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function waitFor (cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

interface Timing { ttftMs: number, totalMs: number }

const chatRequest = (maxTokens: number, seed: number): ChatRequest => ({ messages: [{ role: 'user', content: PROMPT }], maxTokens, seed, temperature: 0.8 })

/** (a): the backend in this process, streamed */
async function direct (backend: Backend, r: ChatRequest): Promise<Timing> {
  const t0 = performance.now()
  let first: number | undefined
  for await (const ev of backend.stream(r, new AbortController().signal) as AsyncIterable<BackendEvent>) {
    if (ev.type === 'chunk' && ev.text.length > 0) first ??= performance.now()
  }
  const end = performance.now()
  return { ttftMs: (first ?? end) - t0, totalMs: end - t0 }
}

/** the same request through the buyer node's SDK call (no HTTP): separates the gateway's share */
async function viaSdk (node: TallyNode, model: string, r: ChatRequest): Promise<Timing> {
  const t0 = performance.now()
  let first: number | undefined
  await node.infer(model, r, {}, { onDelta: (text) => { if (text.length > 0) first ??= performance.now() } })
  const end = performance.now()
  return { ttftMs: (first ?? end) - t0, totalMs: end - t0 }
}

/** (b): the same request through the gateway over HTTP, streamed; first token = first SSE delta with content */
async function viaGateway (url: string, model: string, r: ChatRequest): Promise<Timing> {
  const body = JSON.stringify({ model, messages: r.messages, max_tokens: r.maxTokens, seed: r.seed, temperature: r.temperature, stream: true })
  const t0 = performance.now()
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  if (res.status !== 200 || res.body == null) throw new Error(`gateway answered ${res.status}: ${await res.text()}`)
  let first: number | undefined
  let buffered = ''
  let sawDone = false
  const decoder = new TextDecoder()
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(bytes, { stream: true })
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim()
      buffered = buffered.slice(nl + 1)
      if (!line.startsWith('data:')) continue
      const data = line.slice(5).trim()
      if (data === '[DONE]') { sawDone = true; continue }
      const msg = JSON.parse(data)
      if (msg.error != null) throw new Error(`gateway stream error: ${JSON.stringify(msg.error)}`)
      if (first == null && (msg.choices?.[0]?.delta?.content ?? '').length > 0) first = performance.now()
    }
  }
  const end = performance.now()
  if (!sawDone) throw new Error('gateway stream ended without [DONE]')
  if (first == null) throw new Error('gateway stream carried no content')
  return { ttftMs: first - t0, totalMs: end - t0 }
}

class Harness {
  private readonly dirs: string[] = []
  private readonly nodes: TallyNode[] = []
  private readonly gateways: Gateway[] = []

  constructor (readonly transport: Transport) {}

  async node (init: { sell?: SellInit, bootstrap?: string[], limits?: Pick<TallyNodeInit, 'negotiate' | 'inferSeller'> } = {}): Promise<TallyNode> {
    const dataDir = await mkdtemp(join(tmpdir(), 'tally-bench-gw-'))
    this.dirs.push(dataDir)
    const raw = this.transport === 'tcp'
      ? { dataDir, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: init.bootstrap ?? [] }
      : { dataDir, transport: 'memory', bootstrap: init.bootstrap ?? [] }
    const n = await createTallyNode(parseConfig(raw), { memoryLedger: true, sell: init.sell, buy: { sessionLockUc: SESSION_LOCK_UC }, ...init.limits })
    this.nodes.push(n)
    await n.start()
    return n
  }

  /** a buyer connected to `sellers`, with a gateway, once every offer is in its book */
  async buyer (sellers: TallyNode[], model: string): Promise<{ node: TallyNode, gateway: Gateway }> {
    const node = await this.node({ bootstrap: sellers[0].addrs() })
    const gateway = await startGateway(node, { port: 0 })
    this.gateways.push(gateway)
    await waitFor(() => node.offerList(model).length === sellers.length, 'every offer in the buyer book')
    return { node, gateway }
  }

  async dispose (node: TallyNode, gateway: Gateway): Promise<void> {
    await gateway.close()
    await node.stop().catch(() => {})
    this.gateways.splice(this.gateways.indexOf(gateway), 1)
    this.nodes.splice(this.nodes.indexOf(node), 1)
  }

  async close (): Promise<void> {
    await Promise.all(this.gateways.splice(0).map(async g => await g.close()))
    await Promise.all(this.nodes.splice(0).map(async n => await n.stop().catch(() => {})))
    await Promise.all(this.dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
  }
}

/** raw quantiles of each side, and quantiles of the paired differences (b_i − a_i: same request, back to back) */
function summary (a: Timing[], b: Timing[]): Record<string, number> {
  const q = (xs: number[], p: number): number => round(quantile(xs, p))
  const diff = (k: keyof Timing): number[] => b.map((x, i) => x[k] - a[i][k])
  return {
    samples: b.length,
    direct_ttft_p50_ms: q(a.map(x => x.ttftMs), 0.5),
    direct_ttft_p99_ms: q(a.map(x => x.ttftMs), 0.99),
    gateway_ttft_p50_ms: q(b.map(x => x.ttftMs), 0.5),
    gateway_ttft_p99_ms: q(b.map(x => x.ttftMs), 0.99),
    added_ttft_p50_ms: q(diff('ttftMs'), 0.5),
    added_ttft_p99_ms: q(diff('ttftMs'), 0.99),
    direct_total_p50_ms: q(a.map(x => x.totalMs), 0.5),
    gateway_total_p50_ms: q(b.map(x => x.totalMs), 0.5),
    added_total_p50_ms: q(diff('totalMs'), 0.5),
    added_total_p99_ms: q(diff('totalMs'), 0.99)
  }
}

/**
 * Overhead of gateway + buyer + network + seller over the backend alone. The seller serves the
 * very backend instance (a) uses, so both sides include the same engine child; (a) and (b) are
 * interleaved so drift in machine load hits both.
 */
async function overhead (transport: Transport, makeBackend: () => Promise<Backend>): Promise<Record<string, unknown>> {
  const h = new Harness(transport)
  // the seller node closes its backend when it stops, so each set-up gets a fresh one
  const backend = await makeBackend()
  const model = backend.model.id
  try {
    const seller = await h.node({ sell: { backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n } })

    // warm: one buyer, its session opened by a first request
    const warm = await h.buyer([seller], model)
    for (let i = 0; i < 5; i++) { await viaGateway(warm.gateway.url, model, chatRequest(OVERHEAD_MAX_TOKENS, 1)); await direct(backend, chatRequest(OVERHEAD_MAX_TOKENS, 1)) }
    const wa: Timing[] = []
    const wb: Timing[] = []
    const wa2: Timing[] = []
    const ws: Timing[] = []
    for (let i = 0; i < WARM_SAMPLES; i++) {
      const r = chatRequest(OVERHEAD_MAX_TOKENS, 100 + i)
      wa.push(await direct(backend, r))
      wb.push(await viaGateway(warm.gateway.url, model, r))
      wa2.push(await direct(backend, r))
      ws.push(await viaSdk(warm.node, model, r))
    }
    const sdk = summary(wa2, ws)
    const warmSessions = warm.node.router.openSessions()
    await h.dispose(warm.node, warm.gateway)

    // cold: a fresh buyer per request, so negotiation and the ledger `open` are on the clock
    const ca: Timing[] = []
    const cb: Timing[] = []
    let coldSessions = 0
    for (let i = 0; i < COLD_SAMPLES; i++) {
      const b = await h.buyer([seller], model)
      // let the join-time ledger reconciliation and book sync finish before the clock starts
      await sleep(30)
      const r = chatRequest(OVERHEAD_MAX_TOKENS, 1000 + i)
      ca.push(await direct(backend, r))
      cb.push(await viaGateway(b.gateway.url, model, r))
      coldSessions += b.node.router.openSessions()
      await h.dispose(b.node, b.gateway)
    }
    return {
      warm: { ...summary(wa, wb), buyer_sessions_open: warmSessions },
      warm_sdk_no_http: { added_ttft_p50_ms: sdk.added_ttft_p50_ms, added_ttft_p99_ms: sdk.added_ttft_p99_ms, added_total_p50_ms: sdk.added_total_p50_ms, added_total_p99_ms: sdk.added_total_p99_ms },
      cold: { ...summary(ca, cb), sessions_opened: coldSessions }
    }
  } finally {
    await h.close()
    await backend.close()
  }
}

/** RSS (bytes) and user+system CPU (ms) of another process, from /proc (Linux only) */
function procStats (pid: number | undefined): { rssBytes: number, cpuMs: number } | undefined {
  if (pid == null) return undefined
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    // fields after "(comm) ": utime is the 12th, stime the 13th (0-based 11, 12), in clock ticks (100/s)
    const ticks = Number(fields[11]) + Number(fields[12])
    return { rssBytes: rssKb * 1024, cpuMs: ticks * 10 }
  } catch {
    return undefined
  }
}

async function throughput (): Promise<Record<string, unknown>> {
  const maxC = Math.max(...CONCURRENCIES)
  const backend = await createEmbeddedBackend({ modelPath: ensureTinyModel(), maxConcurrency: maxC, contextSize: 256 })
  const h = new Harness('memory')
  const model = backend.model.id
  const out: Record<string, unknown> = {}
  try {
    const seller = await h.node({ sell: { backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n, maxSessions: maxC }, limits: THROUGHPUT_SELLER_LIMITS })
    const { gateway } = await h.buyer([seller], model)
    const single = await direct(backend, chatRequest(THROUGHPUT_MAX_TOKENS, 1))
    out.direct_single_request_ms = round(single.totalMs)
    for (const c of CONCURRENCIES) {
      // warm up: open c sessions so the run measures steady state, not negotiation
      const warmup = await Promise.allSettled(Array.from({ length: c }, async (_, i) => await viaGateway(gateway.url, model, chatRequest(THROUGHPUT_MAX_TOKENS, i))))
      const total = Math.max(40, c * 6)
      let next = 0
      let done = 0
      let failed = 0
      const errors = new Map<string, number>()
      let peakRss = process.memoryUsage().rss
      let peakChildRss = procStats(backend.pid)?.rssBytes ?? 0
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss)
        peakChildRss = Math.max(peakChildRss, procStats(backend.pid)?.rssBytes ?? 0)
      }, 50)
      const cpu0 = process.cpuUsage()
      const child0 = procStats(backend.pid)
      const t0 = performance.now()
      await Promise.all(Array.from({ length: c }, async () => {
        while (next < total) {
          const i = next++
          try {
            await viaGateway(gateway.url, model, chatRequest(THROUGHPUT_MAX_TOKENS, 10_000 + i)); done++
          } catch (err: any) {
            failed++
            const m = String(err?.message ?? err).slice(0, 200)
            errors.set(m, (errors.get(m) ?? 0) + 1)
          }
        }
      }))
      const wallMs = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      const child1 = procStats(backend.pid)
      clearInterval(sampler)
      out[`c${c}`] = {
        warmup_failed: warmup.filter(r => r.status === 'rejected').length,
        requests: done,
        failed,
        errors: Object.fromEntries(errors),
        requests_per_s: round(done / (wallMs / 1000), 1),
        wall_ms: round(wallMs, 1),
        process_cpu_ms: round((cpu.user + cpu.system) / 1000, 1),
        process_cpu_share_of_wall: round((cpu.user + cpu.system) / 1000 / wallMs),
        process_peak_rss_mib: round(peakRss / 2 ** 20, 1),
        engine_child_cpu_ms: child0 != null && child1 != null ? child1.cpuMs - child0.cpuMs : null,
        engine_child_peak_rss_mib: round(peakChildRss / 2 ** 20, 1)
      }
    }
    return out
  } finally {
    await h.close()
    await backend.close()
  }
}

/**
 * The floor under every gateway figure: the same HTTP client and SSE parsing against a bare
 * node:http server in this process that streams OVERHEAD_MAX_TOKENS canned deltas at once.
 */
async function httpFloor (): Promise<Record<string, number>> {
  const delta = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }] })}\n\n`
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      for (let i = 0; i < OVERHEAD_MAX_TOKENS; i++) res.write(delta)
      res.end('data: [DONE]\n\n')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  try {
    const xs: Timing[] = []
    for (let i = 0; i < 5; i++) await viaGateway(url, 'floor', chatRequest(OVERHEAD_MAX_TOKENS, i))
    for (let i = 0; i < WARM_SAMPLES; i++) xs.push(await viaGateway(url, 'floor', chatRequest(OVERHEAD_MAX_TOKENS, i)))
    return {
      samples: xs.length,
      ttft_p50_ms: round(quantile(xs.map(x => x.ttftMs), 0.5)),
      ttft_p99_ms: round(quantile(xs.map(x => x.ttftMs), 0.99)),
      total_p50_ms: round(quantile(xs.map(x => x.totalMs), 0.5))
    }
  } finally {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
  }
}

/**
 * A burst of `width` concurrent first requests from one fresh buyer to one seller with the
 * default seller limits, through the gateway or straight through the SDK (`node.infer`).
 */
async function defaultLimitsBurst (width: number, via: 'gateway' | 'sdk'): Promise<Record<string, unknown>> {
  const h = new Harness('memory')
  const backend = new SimulatedBackend({ modelId: 'sim-8b', params: 8_000_000_000, maxConcurrency: width, naturalTokens: 10 ** 6 })
  try {
    const seller = await h.node({ sell: { backend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n, maxSessions: width } })
    const { node, gateway } = await h.buyer([seller], backend.model.id)
    const res = await Promise.allSettled(Array.from({ length: width }, async (_, i) => via === 'gateway'
      ? await viaGateway(gateway.url, backend.model.id, chatRequest(8, i))
      : await node.infer(backend.model.id, chatRequest(8, i))))
    const errors = new Map<string, number>()
    for (const r of res) {
      if (r.status === 'rejected') {
        const m = String(r.reason?.message ?? r.reason).replace(/holds \d+ open/, 'holds N open').slice(0, 200)
        errors.set(m, (errors.get(m) ?? 0) + 1)
      }
    }
    return { via, width, ok: res.filter(r => r.status === 'fulfilled').length, failed: res.filter(r => r.status === 'rejected').length, errors: Object.fromEntries(errors) }
  } finally {
    await h.close()
  }
}

export default async function (): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = {
    note: 'added_* = quantiles of (through gateway (HTTP stream) → buyer → seller → backend) minus (the same request to the same backend in-process, run just before). Every node, the gateway and its HTTP client share one process.',
    overhead_max_tokens: OVERHEAD_MAX_TOKENS
  }
  result.http_floor = await httpFloor()
  for (const transport of ['memory', 'tcp'] as const) {
    result[`embedded_${transport}`] = await overhead(transport, async () => await createEmbeddedBackend({ modelPath: ensureTinyModel(), maxConcurrency: 2 }))
  }
  for (const transport of ['memory', 'tcp'] as const) {
    result[`simulated_${transport}`] = await overhead(transport, async () => new SimulatedBackend({ modelId: 'sim-8b', params: 8_000_000_000, maxConcurrency: 2, naturalTokens: 10 ** 6 }))
  }
  result.default_limits_burst_gateway = await defaultLimitsBurst(Math.max(...CONCURRENCIES), 'gateway')
  result.default_limits_burst_sdk = await defaultLimitsBurst(Math.max(...CONCURRENCIES), 'sdk')
  result.throughput_embedded_memory = { max_tokens: THROUGHPUT_MAX_TOKENS, ...(await throughput()) }
  return result
}

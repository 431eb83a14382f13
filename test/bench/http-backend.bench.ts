/**
 * The seller's HTTP backend alone (issue 17.4): the same deterministic upstream as `proxy`
 * (procs/upstream.ts, its own process) streamed through createHttpBackend, with undici's pooled
 * client (the default) and with global fetch (`fetch: globalThis.fetch`, the client before
 * issue 17), alternating per round. Per client: TTFT and total p50, requests/s at concurrency
 * 1 and 8, CPU µs per request and per token of this process (process.cpuUsage). Connection
 * reuse is checked by the unit tests (test/unit/exec/http-pool.test.ts), not here.
 */
import '../../src/polyfill.js'
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHttpBackend } from '../../src/exec/backends/http/index.js'
import type { Backend, BackendEvent, ChatRequest } from '../../src/exec/backend.js'

const here = dirname(fileURLToPath(import.meta.url))
const ROUNDS = 4
const PER_ROUND = 100
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d
const p50 = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

async function one (b: Backend, r: ChatRequest): Promise<{ ttftMs: number, totalMs: number, tokens: number }> {
  const t0 = performance.now()
  let first: number | undefined
  let tokens = 0
  for await (const ev of b.stream(r, new AbortController().signal) as AsyncIterable<BackendEvent>) {
    if (ev.type === 'chunk') { first ??= performance.now(); tokens += ev.outputTokens }
  }
  const end = performance.now()
  return { ttftMs: (first ?? end) - t0, totalMs: end - t0, tokens }
}

export default async function (): Promise<Record<string, unknown>> {
  const up = spawn(process.execPath, ['--import', 'tsx', join(here, 'procs/upstream.ts')], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const port = await new Promise<number>((resolve, reject) => {
      up.stdout.once('data', (b: Buffer) => { resolve(JSON.parse(b.toString()).port) })
      up.once('exit', () => { reject(new Error('the upstream exited')) })
    })
    const baseUrl = `http://127.0.0.1:${port}/v1`
    const out: Record<string, unknown> = {}
    for (const w of [{ name: 'paced16', maxTokens: 16, prompt: 'pace:2' }, { name: 'fast256', maxTokens: 256, prompt: 'fast' }]) {
      for (const c of [1, 8]) {
        const clients: Record<string, Backend> = {
          undici_pool: createHttpBackend({ baseUrl, model: 'm', params: 1e9, tokenizerUrl: false, maxConcurrency: c }),
          global_fetch: createHttpBackend({ baseUrl, model: 'm', params: 1e9, tokenizerUrl: false, maxConcurrency: c, fetch: globalThis.fetch })
        }
        const acc: Record<string, { ttft: number[], total: number[], cpuUs: number, wallMs: number, tokens: number }> = {}
        for (const k of Object.keys(clients)) acc[k] = { ttft: [], total: [], cpuUs: 0, wallMs: 0, tokens: 0 }
        const r: ChatRequest = { messages: [{ role: 'user', content: w.prompt }], maxTokens: w.maxTokens }
        for (const k of Object.keys(clients)) await Promise.all(Array.from({ length: c }, async () => await one(clients[k], r)))
        for (let i = 0; i < ROUNDS; i++) {
          for (const k of (i % 2 === 0 ? Object.keys(clients) : Object.keys(clients).reverse())) {
            let next = 0
            const cpu0 = process.cpuUsage()
            const t0 = performance.now()
            await Promise.all(Array.from({ length: c }, async () => {
              while (next++ < PER_ROUND) {
                const s = await one(clients[k], r)
                acc[k].ttft.push(s.ttftMs); acc[k].total.push(s.totalMs); acc[k].tokens += s.tokens
              }
            }))
            acc[k].wallMs += performance.now() - t0
            const cpu = process.cpuUsage(cpu0)
            acc[k].cpuUs += cpu.user + cpu.system
          }
        }
        for (const b of Object.values(clients)) await b.close()
        out[`${w.name}_c${c}`] = Object.fromEntries(Object.entries(acc).map(([k, a]) => [k, {
          requests: a.total.length,
          ttft_p50_ms: round(p50(a.ttft)),
          total_p50_ms: round(p50(a.total)),
          requests_per_s: round(a.total.length / (a.wallMs / 1000), 1),
          cpu_us_per_request: round(a.cpuUs / a.total.length, 0),
          cpu_us_per_token: round(a.cpuUs / a.tokens, 1)
        }]))
      }
    }
    return { note: 'CPU is this process only (the backend and its client); the upstream runs in its own process', ...out }
  } finally {
    up.kill()
  }
}

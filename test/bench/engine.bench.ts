/**
 * Engine figures: tiny model build time and size, engine tokens/s and time to first token when
 * called directly in this process, directly inside the engine child (runDirect), and streamed
 * through the embedded backend (engine child + IPC per chunk).
 */
import '../../src/polyfill.js'
import { statSync } from 'node:fs'
import type { BackendEvent, ChatRequest } from '../../src/exec/backend.js'
import { createEmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { Engine } from '../../src/exec/backends/embedded/engine.js'
import { buildTinyModel, ensureTinyModel } from '../../src/exec/model/tiny.js'

const RUNS = 6
const request = (seed: number): ChatRequest => ({ messages: [{ role: 'user', content: 'Tell me what Alice saw.' }], temperature: 0.8, seed, maxTokens: 256 })

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d

export default async function (): Promise<Record<string, unknown>> {
  const builds: number[] = []
  for (let i = 0; i < 10; i++) { const t = performance.now(); buildTinyModel(); builds.push(performance.now() - t) }
  const modelPath = ensureTinyModel()

  // direct: the engine in this process, loaded once
  const t0 = performance.now()
  const engine = await Engine.load({ modelPath })
  const loadMs = performance.now() - t0
  let dTokens = 0; let dMs = 0; const dTtft: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now(); let first = -1
    const r = await engine.generate(request(i + 1), new AbortController().signal, () => { if (first < 0) first = performance.now() })
    const end = performance.now()
    dTokens += r.usage.outputTokens; dMs += end - start; dTtft.push(first - start)
  }
  await engine.close()

  // through the embedded backend: engine child process, IPC per chunk
  const t1 = performance.now()
  const backend = await createEmbeddedBackend({ modelPath })
  const startMs = performance.now() - t1
  // direct inside the engine child: same process layout as the backend, no per-chunk IPC
  let cTokens = 0; let cMs = 0; const cTtft: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const r = await backend.runDirect(request(i + 1))
    cTokens += r.usage.outputTokens; cMs += r.durationMs; cTtft.push(r.ttftMs)
  }
  let bTokens = 0; let bMs = 0; const bTtft: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now(); let first = -1
    for await (const ev of backend.stream(request(i + 1), new AbortController().signal) as AsyncIterable<BackendEvent>) {
      if (ev.type === 'chunk' && first < 0) first = performance.now()
      if (ev.type === 'done') bTokens += ev.usage.outputTokens
    }
    bMs += performance.now() - start; bTtft.push(first - start)
  }
  await backend.close()

  return {
    model_file_bytes: statSync(modelPath).size,
    model_params: backend.model.params,
    model_build_ms_median: round(median(builds)),
    direct_load_ms: round(loadMs),
    direct_tokens: dTokens,
    direct_tokens_per_s: round(dTokens / (dMs / 1000), 1),
    direct_ttft_ms_median: round(median(dTtft)),
    backend_start_ms: round(startMs),
    child_direct_tokens_per_s: round(cTokens / (cMs / 1000), 1),
    child_direct_ttft_ms_median: round(median(cTtft)),
    backend_tokens: bTokens,
    backend_tokens_per_s: round(bTokens / (bMs / 1000), 1),
    backend_ttft_ms_median: round(median(bTtft)),
    backend_vs_direct_ratio: round((bTokens / bMs) / (dTokens / dMs), 3),
    backend_vs_child_direct_ratio: round((bTokens / bMs) / (cTokens / cMs), 3)
  }
}

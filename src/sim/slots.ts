/**
 * A seller's slot use in a simulation: a Backend wrapper that records when each completion ran
 * (from its call until its stream ended), so a scenario can read busy slot-time over any window
 * of simulated time (utilisation = busy slot-time / (slots × window)). It changes nothing the
 * backend does; only scenarios that ask for it (ScenarioDefaults.meterSlots) get it.
 */
import { performance } from 'node:perf_hooks'
import type { Backend, BackendEvent, ChatRequest } from '../exec/backend.js'

export class SlotMeter implements Backend {
  readonly kind: Backend['kind']
  readonly model: Backend['model']
  readonly maxConcurrency: number
  readonly capabilities?: string[]
  /** finished runs: [start, end] in the process's (virtual) ms */
  private readonly runs: Array<[number, number]> = []
  /** runs still going: id → start */
  private readonly open = new Map<number, number>()
  private nextId = 0

  constructor (private readonly inner: Backend) {
    this.kind = inner.kind
    this.model = inner.model
    this.maxConcurrency = inner.maxConcurrency
    if (inner.capabilities != null) this.capabilities = inner.capabilities
  }

  /** requests running now */
  get running (): number { return this.open.size }

  /** completions that ran (finished or not) */
  get started (): number { return this.runs.length + this.open.size }

  async * stream (request: ChatRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    const id = this.nextId++
    const start = performance.now()
    this.open.set(id, start)
    try {
      yield * this.inner.stream(request, signal)
    } finally {
      this.open.delete(id)
      this.runs.push([start, performance.now()])
    }
  }

  /** ms of slot time busy within [fromMs, toMs] (process ms, performance.now's), at most maxConcurrency slots at once */
  busyMs (fromMs: number, toMs: number): number {
    const now = performance.now()
    const spans: Array<[number, number]> = [...this.runs, ...[...this.open.values()].map((s): [number, number] => [s, now])]
    let busy = 0
    for (const [s, e] of spans) busy += Math.max(0, Math.min(e, toMs) - Math.max(s, fromMs))
    // the seller admits at most maxConcurrency requests at once (its offer's slots): a bound, not a clip
    return Math.min(busy, this.maxConcurrency * Math.max(0, toMs - fromMs))
  }

  async close (): Promise<void> { await this.inner.close() }
}

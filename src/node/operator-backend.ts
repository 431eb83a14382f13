/**
 * The seller backend's health as the operator API reports it: a wrapper that counts each
 * request that ended well or with an error (a busy backend or a cancelled request is neither).
 */
import { BackendBusyError, type Backend, type BackendEvent, type ChatRequest } from '../exec/backend.js'

/** an error message is kept this long at most */
const MAX_ERROR_CHARS = 300

export class BackendHealth {
  failures = 0
  successes = 0
  lastError?: string
  lastFailureAtMs?: number
  lastSuccessAtMs?: number

  constructor (private readonly now: () => number) {}

  ok (): void {
    this.successes++
    this.lastSuccessAtMs = this.now()
  }

  failed (err: unknown): void {
    this.failures++
    this.lastFailureAtMs = this.now()
    this.lastError = String((err as Error)?.message ?? err).slice(0, MAX_ERROR_CHARS)
  }

  snapshot (): { failures: number, successes: number, lastError?: string, lastFailureAtMs?: number, lastSuccessAtMs?: number } {
    return { failures: this.failures, successes: this.successes, lastError: this.lastError, lastFailureAtMs: this.lastFailureAtMs, lastSuccessAtMs: this.lastSuccessAtMs }
  }
}

/**
 * `backend` with every stream's outcome reported to `health`; every other member (methods other
 * helpers add to backends, e.g. embeddings) is the backend's own, bound to it
 */
export function watchBackend (backend: Backend, health: BackendHealth): Backend {
  const stream = (request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent> => (async function * () {
    try {
      for await (const ev of backend.stream(request, signal)) {
        if (ev.type === 'done') health.ok()
        yield ev
      }
    } catch (err) {
      if (!signal.aborted && !(err instanceof BackendBusyError)) health.failed(err)
      throw err
    }
  })()
  return new Proxy(backend, {
    get (target, prop) {
      if (prop === 'stream') return stream
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}

/**
 * An overbilling seller's backend: it streams the real generator's text but claims `factor`
 * times the output tokens in every chunk and in the final usage. The seller's node forwards
 * the claims over the real /tally/infer protocol; honest buyers check them against the text.
 */
import type { Backend, BackendEvent, ChatRequest } from '../../exec/backend.js'

export class OverbillingBackend implements Backend {
  readonly kind = 'simulated' as const
  /** output tokens really generated, and claimed */
  trueOutputTokens = 0
  claimedOutputTokens = 0

  constructor (private readonly inner: Backend, private readonly factor: number) {}

  get model (): Backend['model'] { return this.inner.model }
  get maxConcurrency (): number { return this.inner.maxConcurrency }

  async * stream (request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent> {
    for await (const e of this.inner.stream(request, signal)) {
      if (e.type === 'chunk') {
        this.trueOutputTokens += e.outputTokens
        this.claimedOutputTokens += e.outputTokens * this.factor
        yield { ...e, outputTokens: e.outputTokens * this.factor }
      } else {
        yield { ...e, usage: { ...e.usage, outputTokens: e.usage.outputTokens * this.factor } }
      }
    }
  }

  async close (): Promise<void> { await this.inner.close() }
}

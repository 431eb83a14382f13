/** A simulated backend that counts the requests it was sent (which seller a router picked, how often). */
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import type { BackendEvent, ChatRequest } from '../../src/exec/backend.js'

export class CountingBackend extends SimulatedBackend {
  requests = 0
  override async * stream (request: ChatRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    this.requests++
    yield * super.stream(request, signal)
  }
}

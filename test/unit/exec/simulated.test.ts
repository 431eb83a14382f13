import { describe, expect, it } from 'vitest'
import { SimulatedBackend, simulatedInputTokens } from '../../../src/exec/backends/simulated.js'
import type { BackendEvent, ChatRequest } from '../../../src/exec/backend.js'

async function run (b: SimulatedBackend, r: ChatRequest, signal = new AbortController().signal) {
  const chunks: Array<{ text: string, outputTokens: number }> = []
  let done: Extract<BackendEvent, { type: 'done' }> | undefined
  for await (const ev of b.stream(r, signal) as AsyncIterable<BackendEvent>) {
    if (ev.type === 'chunk') chunks.push(ev)
    else done = ev
  }
  return { text: chunks.map(c => c.text).join(''), chunks, done: done! }
}

const req: ChatRequest = { messages: [{ role: 'user', content: 'hello there' }], seed: 3, maxTokens: 30 }

describe('simulated backend', () => {
  it('says it is simulated', () => {
    const b = new SimulatedBackend({ modelId: 'sim-7b', params: 7_000_000_000 })
    expect(b.kind).toBe('simulated')
    expect(b.model.fingerprint).toBe('simulated:sim-7b')
    expect(b.model.fingerprintVerified).toBe(false)
    expect(b.model.quantization).toBe('simulated')
    expect(b.model.params).toBe(7_000_000_000)
  })

  it('is deterministic per seed and prompt, and differs across seeds', async () => {
    const b = new SimulatedBackend({ naturalTokens: 1000 })
    const a1 = await run(b, req)
    const a2 = await run(b, req)
    const other = await run(b, { ...req, seed: 4 })
    expect(a1.text).toBe(a2.text)
    expect(other.text).not.toBe(a1.text)
    expect(a1.done.usage).toEqual({ inputTokens: simulatedInputTokens(req.messages), outputTokens: 30, source: 'reported' })
    expect(a1.done.finishReason).toBe('length')
    expect(a1.chunks.reduce((n, c) => n + c.outputTokens, 0)).toBe(30)
  })

  it('stops naturally, groups tokens per chunk and honours stop sequences', async () => {
    const natural = await run(new SimulatedBackend({ naturalTokens: 5, tokensPerChunk: 2 }), req)
    expect(natural.done.finishReason).toBe('stop')
    expect(natural.done.usage.outputTokens).toBe(5)
    expect(natural.chunks.map(c => c.outputTokens)).toEqual([2, 2, 1])
    const full = await run(new SimulatedBackend({ naturalTokens: 200 }), { ...req, maxTokens: 200 })
    const word = full.text.split(' ').filter(w => w.length > 1)[3]
    const stopped = await run(new SimulatedBackend({ naturalTokens: 200 }), { ...req, maxTokens: 200, stop: [` ${word}`] })
    expect(stopped.done.finishReason).toBe('stop')
    expect(stopped.text).toBe(full.text.slice(0, full.text.indexOf(` ${word}`)))
  })

  it('keeps its pace with an injected clock and ends cancelled on abort', async () => {
    const slept: number[] = []
    const b = new SimulatedBackend({ ttftMs: 500, tokensPerSec: 10, sleep: async (ms) => { slept.push(ms) } })
    await run(b, { ...req, maxTokens: 3 })
    expect(slept[0]).toBe(500)
    expect(slept.length).toBeGreaterThan(1)
    const ctrl = new AbortController()
    const slow = new SimulatedBackend({ tokensPerSec: 100 })
    const seen: BackendEvent[] = []
    for await (const ev of slow.stream({ ...req, maxTokens: 1000 }, ctrl.signal) as AsyncIterable<BackendEvent>) {
      seen.push(ev)
      if (seen.length === 3) ctrl.abort()
    }
    const last = seen[seen.length - 1]
    expect(last.type === 'done' && last.finishReason).toBe('cancelled')
    expect(seen.length).toBeLessThan(10)
  })

  it('injects failures for simulations', async () => {
    await expect(run(new SimulatedBackend({ failAfterTokens: 2 }), req)).rejects.toThrow(/simulated failure/)
  })
})

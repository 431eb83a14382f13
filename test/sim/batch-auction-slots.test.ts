/**
 * The slot meter the batch-auction scenario reads utilisation from (src/sim/slots.ts): busy
 * slot-time is the time completions ran, clipped to the window asked, on the clock the simulator
 * drives (performance.now, stubbed here).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { performance } from 'node:perf_hooks'
import { SlotMeter } from '../../src/sim/slots.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'

let now = 1_000
afterEach(() => { vi.restoreAllMocks() })

async function drain (it: AsyncIterable<unknown>, step: () => void): Promise<void> {
  for await (const _ of it) step()
}

describe('sim: SlotMeter', () => {
  it('counts the time each completion ran, within the window, and what runs now', async () => {
    vi.spyOn(performance, 'now').mockImplementation(() => now)
    const m = new SlotMeter(new SimulatedBackend({ maxConcurrency: 2, naturalTokens: 4 }))
    expect(m.maxConcurrency).toBe(2)
    const signal = new AbortController().signal
    // first completion: 4 chunks and its end, the clock moves 100 ms per event: runs from 1,000 to 1,500
    await drain(m.stream({ messages: [{ role: 'user', content: 'a' }] }, signal), () => { now += 100 })
    expect(m.running).toBe(0)
    expect(m.busyMs(0, 10_000)).toBe(500)
    expect(m.busyMs(1_200, 10_000)).toBe(300)
    expect(m.busyMs(1_500, 10_000)).toBe(0)
    // one still running counts until now
    const it2 = m.stream({ messages: [{ role: 'user', content: 'b' }] }, signal)[Symbol.asyncIterator]()
    await it2.next()
    expect(m.running).toBe(1)
    now += 300
    expect(m.busyMs(0, 10_000)).toBe(800)
    await it2.return?.(undefined)
    expect(m.running).toBe(0)
    expect(m.started).toBe(2)
    // never more than slots × window
    expect(m.busyMs(1_000, 1_100)).toBeLessThanOrEqual(200)
  })
})

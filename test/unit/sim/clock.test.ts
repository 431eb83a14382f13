import { afterEach, describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { VirtualClock, VirtualClockError, installedClock, wallNowMs } from '../../../src/sim/clock.js'

let clock: VirtualClock | undefined
afterEach(() => { clock?.uninstall(); clock = undefined })
const install = (): VirtualClock => { clock = new VirtualClock(); clock.install(); return clock }
/** what a test keeps alive on purpose */
const kept: unknown[] = []
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('virtual clock', () => {
  it('fires timers by due time, then by the order they were set, and jumps over idle time', async () => {
    const c = install()
    const fired: string[] = []
    const wall0 = wallNowMs()
    await new Promise<void>(resolve => {
      setTimeout(() => { fired.push('b 5s'); resolve() }, 5_000)
      setTimeout(() => { fired.push('a1 10ms') }, 10)
      setTimeout(() => { fired.push('a2 10ms') }, 10)
      setTimeout(() => { fired.push('zero→1ms') }, 0)
    })
    expect(fired).toEqual(['zero→1ms', 'a1 10ms', 'a2 10ms', 'b 5s'])
    expect(c.elapsedMs()).toBe(5_000)
    // three instants with timers due: 1 ms, 10 ms, 5 s
    expect(c.stats.jumps).toBe(3)
    // five simulated seconds, far less wall time
    expect(wallNowMs() - wall0).toBeLessThan(5_000)
  })

  it('reads whole milliseconds from a fixed epoch: elapsed times are exact, whatever the wall read at install', async () => {
    clock = new VirtualClock({ epochMs: Date.UTC(2026, 0, 1) })
    clock.install()
    expect(Date.now()).toBe(Date.UTC(2026, 0, 1))
    const start = performance.now()
    // a fractional base made (base + 1000) − (base + 250) − 750 come out as ±1e-13 in some runs
    expect(Number.isInteger(start)).toBe(true)
    await sleep(250)
    const a = performance.now() - start
    await sleep(750)
    expect(performance.now() - start - a).toBe(750)
    expect(Date.now()).toBe(Date.UTC(2026, 0, 1) + 1_000)
  })

  it('moves Date, new Date() and performance.now with it, not with the wall', async () => {
    install()
    const d0 = Date.now(); const p0 = performance.now(); const n0 = new Date().getTime()
    await sleep(60_000)
    expect(Date.now() - d0).toBe(60_000)
    expect(performance.now() - p0).toBe(60_000)
    expect(new Date().getTime() - n0).toBe(60_000)
    expect(new Date(0).getTime()).toBe(0)
    // busy work takes wall time, not simulated time
    const p1 = performance.now()
    const until = wallNowMs() + 30
    while (wallNowMs() < until) { /* spin */ }
    expect(performance.now()).toBe(p1)
  })

  it('repeats intervals until cleared; refresh restarts a timer from now; numeric ids clear', async () => {
    const c = install()
    const ticks: number[] = []
    const t0 = c.elapsedMs()
    const iv = setInterval(() => { ticks.push(c.elapsedMs() - t0); if (ticks.length === 3) clearInterval(iv) }, 100)
    await sleep(1_000)
    expect(ticks).toEqual([100, 200, 300])
    let at = -1
    const t = setTimeout(() => { at = c.elapsedMs() }, 500)
    await sleep(300)
    t.refresh()
    await sleep(1_000)
    expect(at - t0).toBe(1_000 + 300 + 500)
    // refresh re-arms a timer that already fired (as Node does), never one that was cleared
    let again = 0
    const once = setTimeout(() => { again++ }, 10)
    await sleep(20)
    once.refresh()
    await sleep(20)
    expect(again).toBe(2)
    clearTimeout(once)
    once.refresh()
    await sleep(20)
    expect(again).toBe(2)
    let fired = false
    const id = setTimeout(() => { fired = true }, 10)
    clearTimeout(Number(id))
    await sleep(50)
    expect(fired).toBe(false)
    expect(c.stats.fired).toBeGreaterThan(4)
  })

  it('stands still while work for this instant is queued: immediates run before it jumps', async () => {
    install()
    const t0 = performance.now()
    const seen: number[] = []
    setTimeout(() => {}, 20)
    await new Promise<void>(resolve => {
      const step = (): void => { seen.push(performance.now() - t0); if (seen.length < 5) setImmediate(step); else resolve() }
      setImmediate(step)
    })
    expect(seen).toEqual([0, 0, 0, 0, 0])
  })

  it('keeps its heap small when timers are cleared long before they are due', async () => {
    const c = install()
    for (let i = 0; i < 50_000; i++) clearTimeout(setTimeout(() => {}, 30_000))
    expect(c.pending).toBe(0)
    expect((c as any).heap.size).toBeLessThan(10_000)
    let fired = false
    setTimeout(() => { fired = true }, 10)
    await sleep(20)
    expect(fired).toBe(true)
  })

  it('a cleared timer holds nothing its callback closed over, though its heap entry waits for the next compaction', async () => {
    const c = install()
    // a live timer due first: the clock drops stale entries only from the heap's top
    let fired = false
    setTimeout(() => { fired = true }, 1_000)
    // what a libp2p muxer's keep-alive timer closes over: the connection and all it holds
    const held: Array<WeakRef<object>> = []
    for (let i = 0; i < 100; i++) {
      const connection = { buffers: new Uint8Array(1024) }
      held.push(new WeakRef(connection))
      clearTimeout(setTimeout(() => { connection.buffers.fill(1) }, 30_000))
      clearInterval(setInterval((x: object) => x, 30_000, connection))
    }
    v8.setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    await new Promise(resolve => setImmediate(resolve))
    // 200 stale entries behind the live one, far below the compaction threshold: still in the heap
    expect((c as any).heap.size).toBe(201)
    gc()
    expect(held.filter(r => r.deref() !== undefined)).toHaveLength(0)
    // the live timer kept its callback and fires
    await sleep(1_000)
    expect(fired).toBe(true)
  })

  it('AbortSignal.timeout aborts with a TimeoutError on simulated time', async () => {
    const c = install()
    const t0 = c.elapsedMs()
    const signal = AbortSignal.timeout(30_000)
    const reason = await new Promise<any>(resolve => { signal.addEventListener('abort', () => { resolve(signal.reason) }) })
    expect(reason.name).toBe('TimeoutError')
    expect(c.elapsedMs() - t0).toBe(30_000)
  })

  it('a timeout signal nobody holds or listens to is collected before it fires, as Node\'s own; one with listeners, onabort or an any() still fires', async () => {
    install()
    v8.setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    // what libp2p leaves behind per connection: deadlines whose exchange finished, listeners removed
    const dropped: Array<WeakRef<AbortSignal>> = []
    ;(() => {
      for (let i = 0; i < 100; i++) {
        const s = AbortSignal.timeout(10_000)
        const onAbort = (): void => {}
        s.addEventListener('abort', onAbort)
        s.removeEventListener('abort', onAbort)
        dropped.push(new WeakRef(s))
        dropped.push(new WeakRef(AbortSignal.timeout(10_000)))
      }
    })()
    // signals the caller drops but still waits on
    const fired: string[] = []
    ;(() => {
      AbortSignal.timeout(1_000).addEventListener('abort', () => { fired.push('listener') })
      AbortSignal.timeout(1_000).onabort = () => { fired.push('onabort') }
      const any = AbortSignal.any([AbortSignal.timeout(1_000)])
      any.addEventListener('abort', () => { fired.push(`any: ${(any.reason as Error).name}`) })
      kept.push(any)
    })()
    await new Promise(resolve => setImmediate(resolve))
    gc()
    expect(dropped.filter(r => r.deref() !== undefined)).toHaveLength(0)
    await sleep(1_000)
    expect(fired.sort()).toEqual(['any: TimeoutError', 'listener', 'onabort'])
  })

  it('waits for real I/O in flight before it jumps ahead', async () => {
    install()
    const order: string[] = []
    const timer = new Promise<void>(resolve => setTimeout(() => { order.push('timer 1s'); resolve() }, 1_000))
    const read = readFile(new URL(import.meta.url)).then(() => { order.push('file read') })
    await Promise.all([timer, read])
    expect(order).toEqual(['file read', 'timer 1s'])
  })

  it('uninstall restores real time and hands pending timers to real timers', async () => {
    const c = install()
    expect(installedClock()).toBe(c)
    expect(() => { new VirtualClock().install() }).toThrow(VirtualClockError)
    let fired = false
    setTimeout(() => { fired = true }, 20)
    c.uninstall()
    clock = undefined
    expect(installedClock()).toBeUndefined()
    expect(typeof setTimeout(() => {}, 1).hasRef).toBe('function')
    expect(Object.getOwnPropertyNames(performance)).not.toContain('now')
    expect(Math.abs(performance.now() - wallNowMs())).toBeLessThan(5)
    const wall0 = Date.now()
    await new Promise(resolve => setTimeout(resolve, 60))
    expect(fired).toBe(true)
    expect(Date.now() - wall0).toBeGreaterThanOrEqual(50)
  })
})

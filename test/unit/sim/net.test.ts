import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { SimNetwork, SimNetworkError } from '../../../src/sim/net/index.js'

interface Delivered { dir: string, n: number, sentAt: number, at: number, scheduledAt: number }

/** sends a sequence of buffers over several directions; resolves when all were delivered */
async function run (net: SimNetwork, sends: Array<{ link: number, reverse: boolean, gapMs: number }>, peers: string[]): Promise<Delivered[]> {
  const dirs = new Map<string, ReturnType<SimNetwork['direction']>>()
  const counters = new Map<string, number>()
  const out: Delivered[] = []
  const { promise, resolve } = Promise.withResolvers<void>()
  let left = sends.length
  if (left === 0) return out
  for (const s of sends) {
    if (s.gapMs > 0) await new Promise(resolve => setTimeout(resolve, s.gapMs))
    const a = peers[s.link % peers.length]; const b = peers[(s.link + 1) % peers.length]
    const [from, to] = s.reverse ? [b, a] : [a, b]
    const key = `${from}>${to}`
    let dir = dirs.get(key)
    if (dir === undefined) { dir = net.direction(from, to); dirs.set(key, dir) }
    const n = counters.get(key) ?? 0
    counters.set(key, n + 1)
    const sentAt = net.now()
    const rec: Delivered = { dir: key, n, sentAt, at: NaN, scheduledAt: NaN }
    rec.scheduledAt = net.sendData(dir, 10, () => {
      rec.at = net.now()
      out.push(rec)
      if (--left === 0) resolve()
    })
  }
  await promise
  return out
}

describe('SimNetwork', () => {
  it('keeps each direction in send order, never before send + link latency, under random latency and loss', async () => {
    const peers = ['12D3KooWa', '12D3KooWb', '12D3KooWc', '12D3KooWd']
    await fc.assert(fc.asyncProperty(
      fc.record({ latencyMs: fc.integer({ min: 0, max: 15 }), jitter: fc.double({ min: 0, max: 1, noNaN: true }), lossRate: fc.double({ min: 0, max: 1, noNaN: true }), seed: fc.string({ minLength: 1, maxLength: 8 }) }),
      fc.array(fc.record({ link: fc.nat(3), reverse: fc.boolean(), gapMs: fc.constantFrom(0, 0, 0, 1, 3) }), { maxLength: 30 }),
      async (opts, sends) => {
        const net = new SimNetwork({ ...opts, rtoMs: 7 })
        const out = await run(net, sends, peers)
        expect(out).toHaveLength(sends.length)
        const lastByDir = new Map<string, number>()
        for (const d of out) {
          // delivery order on a direction is send order
          expect(d.n).toBe((lastByDir.get(d.dir) ?? -1) + 1)
          lastByDir.set(d.dir, d.n)
          const [from, to] = d.dir.split('>')
          expect(d.scheduledAt).toBeGreaterThanOrEqual(d.sentAt + net.linkLatencyMs(from, to))
          expect(d.at).toBeGreaterThanOrEqual(d.scheduledAt)
        }
        expect(net.stats().pending).toBe(0)
        expect(net.deliveryErrors).toEqual([])
      }), { numRuns: 40 })
  })

  it('a lost buffer arrives exactly rtoMs late and holds the later ones behind it (head-of-line)', async () => {
    let t = 1000
    const draws = [0.05, 0.9, 0.9] // first buffer lost (0.05 < 0.1), the other two not
    const net = new SimNetwork({ latencyMs: 20, jitter: 0, lossRate: 0.1, rtoMs: 200, random: () => draws.shift() ?? 0.9, now: () => t })
    const dir = net.direction('a', 'b')
    const at1 = net.sendData(dir, 1, () => {})
    t += 5
    const at2 = net.sendData(dir, 1, () => {})
    const other = net.sendData(net.direction('b', 'a'), 1, () => {})
    expect(at1).toBe(1000 + 20 + 200)
    expect(at2).toBe(at1) // would be 1025, waits behind the retransmission
    expect(other).toBe(1005 + 20) // the other direction is not blocked
    expect(net.stats()).toMatchObject({ buffers: 3, bytes: 3, retransmits: 1 })
    const control = net.sendControl(dir, () => {})
    expect(control).toBe(at1) // a close after the data never overtakes it
  })

  it('every lossRate-1 buffer is retransmitted once; lossRate 0 never draws', () => {
    let draws = 0
    const t = 0
    const lossy = new SimNetwork({ latencyMs: 10, jitter: 0, lossRate: 1, rtoMs: 50, now: () => t })
    expect(lossy.sendData(lossy.direction('a', 'b'), 4, () => {})).toBe(60)
    expect(lossy.stats().retransmits).toBe(1)
    const clean = new SimNetwork({ latencyMs: 10, jitter: 0, random: () => { draws++; return 0 }, now: () => t })
    expect(clean.sendData(clean.direction('a', 'b'), 4, () => {})).toBe(10)
    expect(draws).toBe(0)
  })

  it('link latency is symmetric, deterministic per pair and seed, inside the jitter band', () => {
    fc.assert(fc.property(
      fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.string({ minLength: 1, maxLength: 20 }),
      fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 1, noNaN: true }),
      (a, b, seed, latencyMs, jitter) => {
        const n1 = new SimNetwork({ latencyMs, jitter, seed })
        const n2 = new SimNetwork({ latencyMs, jitter, seed })
        const l = n1.linkLatencyMs(a, b)
        expect(n1.linkLatencyMs(b, a)).toBe(l)
        expect(n2.linkLatencyMs(a, b)).toBe(l)
        expect(l).toBeGreaterThanOrEqual(latencyMs * (1 - jitter) - 1e-9)
        expect(l).toBeLessThanOrEqual(latencyMs * (1 + jitter) + 1e-9)
      }))
    // different pairs and seeds spread over the band
    const net = new SimNetwork({ latencyMs: 100, jitter: 0.5, seed: 's1' })
    const ls = Array.from({ length: 200 }, (_, i) => net.linkLatencyMs(`p${i}`, 'q'))
    expect(Math.min(...ls)).toBeLessThan(60)
    expect(Math.max(...ls)).toBeGreaterThan(140)
    const other = new SimNetwork({ latencyMs: 100, jitter: 0.5, seed: 's2' })
    expect(ls.filter((l, i) => l !== other.linkLatencyMs(`p${i}`, 'q')).length).toBeGreaterThan(190)
  })

  it('setLinkLatency overrides one pair both ways and rejects a bad value', () => {
    const net = new SimNetwork({ latencyMs: 10, now: () => 0 })
    net.setLinkLatency('a', 'b', 75)
    expect(net.linkLatencyMs('b', 'a')).toBe(75)
    expect(net.sendData(net.direction('a', 'b'), 1, () => {})).toBe(75)
    expect(() => { net.setLinkLatency('a', 'b', -1) }).toThrow(SimNetworkError)
  })

  it('never delivers inside the send call, even at latency 0; a cascade yields to timers between hops', async () => {
    const net = new SimNetwork({ latencyMs: 0 })
    let delivered = false
    net.sendData(net.direction('a', 'b'), 1, () => { delivered = true })
    expect(delivered).toBe(false)
    await Promise.resolve()
    await Promise.resolve()
    expect(delivered).toBe(false) // not in a microtask either
    await new Promise(resolve => setImmediate(resolve))
    await new Promise(resolve => setImmediate(resolve))
    expect(delivered).toBe(true)

    // a ping-pong that re-sends on every delivery: a 0 ms timer still fires while it runs
    let hops = 0
    let stop = false
    const ab = net.direction('a', 'b'); const ba = net.direction('b', 'a')
    const bounce = (toB: boolean): void => {
      if (stop) return
      hops++
      net.sendData(toB ? ab : ba, 1, () => { bounce(!toB) })
    }
    bounce(true)
    // a deliberate timer: the subject is that it fires while the cascade runs
    await new Promise(resolve => setTimeout(resolve, 5))
    const atTimer = hops
    stop = true
    expect(atTimer).toBeGreaterThan(1) // the cascade was running when the timer fired
    await expect.poll(() => net.stats().pending).toBe(0)
  })

  it('rejects bad options with a SimNetworkError naming the field', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ latencyMs: -1 }, 'latencyMs'], [{ latencyMs: Number.NaN }, 'latencyMs'], [{ latencyMs: '5' }, 'latencyMs'],
      [{ latencyMs: Infinity }, 'latencyMs'], [{ jitter: 1.5 }, 'jitter'], [{ jitter: -0.1 }, 'jitter'],
      [{ lossRate: 2 }, 'lossRate'], [{ lossRate: -0.5 }, 'lossRate'], [{ rtoMs: -3 }, 'rtoMs'],
      [{ random: 4 }, 'random'], [{ seed: '' }, 'seed'], [{ seed: 7 }, 'seed'], [{ now: 'x' }, 'now']
    ]
    for (const [init, field] of bad) {
      let err: unknown
      try { new SimNetwork(init as any) } catch (e) { err = e }
      expect(err, JSON.stringify(init)).toBeInstanceOf(SimNetworkError)
      expect((err as SimNetworkError).name).toBe('SimNetworkError')
      expect((err as SimNetworkError).field).toBe(field)
    }
    expect(() => new SimNetwork(null as any)).toThrow(SimNetworkError)
  })

  it('close drops what is in flight and every later send', async () => {
    const net = new SimNetwork({ latencyMs: 5, jitter: 0 })
    const dir = net.direction('a', 'b')
    let delivered = 0
    net.sendData(dir, 10, () => { delivered++ })
    net.close()
    net.sendData(dir, 10, () => { delivered++ })
    net.sendControl(dir, () => { delivered++ })
    // a deliberate wait, six times the latency: the subject is deliveries that must NOT happen
    await new Promise(resolve => setTimeout(resolve, 30))
    expect(delivered).toBe(0)
    expect(net.stats().pending).toBe(0)
  })

  it('a listen address can be taken once', () => {
    const net = new SimNetwork()
    const ep = { peerId: 'x' }
    net.listen('/memory/x', ep)
    expect(() => { net.listen('/memory/x', { peerId: 'y' }) }).toThrow(SimNetworkError)
    net.unlisten('/memory/x', ep)
    expect(net.lookup('/memory/x')).toBeUndefined()
  })
})

describe('SimNetwork batching', () => {
  it('delivers at most maxPerTick per macrotask, in order, and a timer runs between batches', async () => {
    const net = new SimNetwork({ latencyMs: 0, maxPerTick: 4 })
    const dir = net.direction('a', 'b')
    const log: string[] = []
    const total = 4000
    for (let i = 0; i < total; i++) net.sendData(dir, 1, () => { log.push(`d${i}`) })
    setTimeout(() => { log.push('timer') }, 0)
    await expect.poll(() => net.stats().pending, { interval: 5 }).toBe(0)
    const ds = log.filter(x => x !== 'timer')
    expect(ds).toEqual(Array.from({ length: total }, (_, i) => `d${i}`))
    // 1000 macrotasks of 4: the 0 ms timer does not wait for the whole backlog
    expect(log.indexOf('timer')).toBeGreaterThanOrEqual(0)
    expect(log.indexOf('timer')).toBeLessThan(total)
    expect(() => new SimNetwork({ maxPerTick: 0 })).toThrow(SimNetworkError)
    expect(() => new SimNetwork({ maxPerTick: 1.5 })).toThrow(SimNetworkError)
  })
})

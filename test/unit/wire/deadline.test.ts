import { runTsChild } from '../../helpers/child.js'
import { getEventListeners } from 'node:events'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { deadline, DeadlineExceededError } from '../../../src/wire/deadline.js'
import { ErrorCode } from '../../../src/errors/index.js'

const CHILD = join(import.meta.dirname, '../../fixtures/wire/deadline-gc.ts')

/** runs the gc child (node --expose-gc) and returns its JSON line */
async function underGc (mode: 'owned' | 'any' | 'timeout', count: number, ms: number): Promise<{ mode: string, count: number, fired: number }> {
  const { code, out, err } = await runTsChild(['--expose-gc'], CHILD, [mode, String(count), String(ms)])
  expect(code, err).toBe(0)
  expect(err, 'no warning (e.g. a listener leak on the parent)').toBe('')
  return JSON.parse(out.trim())
}

describe('deadline under garbage collection (issue 15.2)', () => {
  it('every owned deadline fires although the collector ran between start and deadline', async () => {
    const r = await underGc('owned', 200, 300)
    expect(r.fired).toBe(200)
  })

  it('(figures) the AbortSignal.any pattern it replaces, in the same child', async () => {
    // not asserted: Node's behaviour, not ours; printed for the record (Node 20.20: 0 of 200)
    const r = await underGc('any', 200, 300)
    console.log(`AbortSignal.any([parent, AbortSignal.timeout]) after gc(): ${r.fired} of ${r.count} fired (${process.version})`)
  })
})

describe('deadline', () => {
  afterEach(() => { vi.useRealTimers() })

  it('aborts with a DeadlineExceededError (code deadline-exceeded) when the time is up, and leaves no timer', async () => {
    vi.useFakeTimers()
    const d = deadline(1_000)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(999)
    expect(d.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(d.signal.aborted).toBe(true)
    expect(d.expired).toBe(true)
    expect(d.signal.reason).toBeInstanceOf(DeadlineExceededError)
    expect(d.signal.reason.code).toBe(ErrorCode.deadlineExceeded)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('takes the reason the protocol gives', () => {
    vi.useFakeTimers()
    class MyTimeout extends Error {}
    const d = deadline(50, undefined, ms => new MyTimeout(`none in ${ms} ms`))
    vi.advanceTimersByTime(50)
    expect(d.signal.reason).toBeInstanceOf(MyTimeout)
    expect(d.signal.reason.message).toBe('none in 50 ms')
  })

  it('clear stops the timer: a finished exchange leaves none, and the signal never aborts', () => {
    vi.useFakeTimers()
    const parent = new AbortController()
    const d = deadline(1_000, parent.signal)
    d.clear()
    d.clear()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(5_000)
    parent.abort(new Error('later'))
    expect(d.signal.aborted).toBe(false)
    expect(d.expired).toBe(false)
  })

  it('a parent\'s abort passes its reason on and clears the timer; expired stays false', () => {
    vi.useFakeTimers()
    const a = new AbortController()
    const b = new AbortController()
    const d = deadline(1_000, [a.signal, undefined, b.signal])
    const why = new Error('caller gave up')
    b.abort(why)
    expect(d.signal.reason).toBe(why)
    expect(d.expired).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an already aborted parent aborts at once and starts no timer', () => {
    vi.useFakeTimers()
    const why = new Error('stopped')
    const d = deadline(1_000, AbortSignal.abort(why))
    expect(d.signal.aborted).toBe(true)
    expect(d.signal.reason).toBe(why)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a parent followed by many deadlines holds one listener, and cleared ones are let go', () => {
    vi.useFakeTimers()
    const parent = new AbortController()
    const ds = Array.from({ length: 100 }, () => deadline(1_000, parent.signal))
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
    for (const d of ds.slice(0, 50)) d.clear()
    parent.abort(new Error('shutdown'))
    expect(ds.filter(d => d.signal.aborted)).toHaveLength(50)
    expect(ds.slice(50).every(d => d.signal.aborted)).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('refuses a deadline that is not a finite number of ms', () => {
    for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => deadline(ms)).toThrow(RangeError)
  })
})

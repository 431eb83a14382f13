/**
 * The gateway's idempotency store and key rule: a retry is answered from the first answer, a
 * duplicate in flight waits for it, a reused key with another body is refused, failures are not
 * kept, and the store is bounded by count and age.
 */
import { describe, it, expect } from 'vitest'
import { IdempotencyStore, IdempotencyKeyReusedError, idempotencyKeyOf, requestFingerprint } from '../../../src/api/idempotency.js'
import { toHttpError, HttpApiError } from '../../../src/api/errors.js'

describe('IdempotencyStore', () => {
  it('answers a retry from the stored answer: one purchase', async () => {
    const store = new IdempotencyStore()
    let bought = 0
    const buy = async (): Promise<{ status: number, body: unknown }> => ({ status: 200, body: { n: ++bought } })
    expect(await store.run('k', 'fp', buy)).toEqual({ status: 200, body: { n: 1 }, replayed: false })
    expect(await store.run('k', 'fp', buy)).toEqual({ status: 200, body: { n: 1 }, replayed: true })
    expect(bought).toBe(1)
  })

  it('a duplicate arriving while the first is in flight waits for it', async () => {
    const store = new IdempotencyStore()
    const gate = Promise.withResolvers<void>()
    let bought = 0
    const buy = async (): Promise<{ status: number, body: unknown }> => { bought++; await gate.promise; return { status: 200, body: 'answer' } }
    const first = store.run('k', 'fp', buy)
    const second = store.run('k', 'fp', buy)
    gate.resolve()
    expect((await first).replayed).toBe(false)
    expect(await second).toEqual({ status: 200, body: 'answer', replayed: true })
    expect(bought).toBe(1)
  })

  it('the same key with a different request is a 422 idempotency_key_reused', async () => {
    const store = new IdempotencyStore()
    await store.run('k', 'fp1', async () => ({ status: 200, body: 1 }))
    const err = await store.run('k', 'fp2', async () => ({ status: 200, body: 2 })).catch(e => e)
    expect(err).toBeInstanceOf(IdempotencyKeyReusedError)
    expect(toHttpError(err).toJSON().error).toMatchObject({ code: 'idempotency_key_reused' })
    expect(toHttpError(err).status).toBe(422)
  })

  it('a failed purchase is not kept: the retry buys', async () => {
    const store = new IdempotencyStore()
    await expect(store.run('k', 'fp', async () => { throw new Error('seller died') })).rejects.toThrow('seller died')
    expect(await store.run('k', 'fp', async () => ({ status: 200, body: 'ok' }))).toMatchObject({ body: 'ok', replayed: false })
  })

  it('fresh replaces a stored answer instead of replaying it', async () => {
    const store = new IdempotencyStore()
    await store.run('k', 'fp', async () => ({ status: 200, body: 1 }))
    expect(await store.run('k', 'fp', async () => ({ status: 200, body: 2 }), { fresh: true })).toMatchObject({ body: 2, replayed: false })
    expect(await store.run('k', 'fp', async () => ({ status: 200, body: 3 }))).toMatchObject({ body: 2, replayed: true })
  })

  it('fresh never joins an identical request in flight: two first tries are two purchases', async () => {
    const store = new IdempotencyStore()
    const gate = Promise.withResolvers<void>()
    let bought = 0
    const buy = async (): Promise<{ status: number, body: unknown }> => { const n = ++bought; await gate.promise; return { status: 200, body: n } }
    const a = store.run('k', 'fp', buy, { fresh: true })
    const b = store.run('k', 'fp', buy, { fresh: true })
    gate.resolve()
    expect([(await a).body, (await b).body]).toEqual([1, 2])
    expect(bought).toBe(2)
    // a retry gets the latest
    expect(await store.run('k', 'fp', buy)).toMatchObject({ body: 2, replayed: true })
  })

  it('is bounded by count (oldest answers go first) and by age', async () => {
    let now = 0
    const store = new IdempotencyStore({ maxEntries: 2, ttlMs: 1000, now: () => now })
    for (const k of ['a', 'b', 'c']) await store.run(k, 'fp', async () => ({ status: 200, body: k }))
    expect(store.size).toBe(2)
    expect((await store.run('a', 'fp', async () => ({ status: 200, body: 'a2' }))).replayed).toBe(false)
    now = 5000
    expect((await store.run('c', 'fp', async () => ({ status: 200, body: 'c2' }))).replayed).toBe(false)
    expect(store.size).toBe(1)
  })

  it('is bounded by the answers\' bytes', async () => {
    const store = new IdempotencyStore({ maxBytes: 250 })
    for (const k of ['a', 'b', 'c']) await store.run(k, 'fp', async () => ({ status: 200, body: 'x'.repeat(100) }))
    expect(store.size).toBe(2)
    expect((await store.run('a', 'fp', async () => ({ status: 200, body: 'y' }))).replayed).toBe(false)
  })
})

describe('idempotencyKeyOf', () => {
  const fp = requestFingerprint('/v1/chat/completions', { a: 1 })

  it('Idempotency-Key wins; it must be printable and is refused on a stream', () => {
    expect(idempotencyKeyOf({ 'idempotency-key': 'abc' }, '/r', fp, false)).toEqual({ kind: 'key', key: 'key:/r:abc' })
    for (const [h, stream] of [['', false], ['a b', false], ['x'.repeat(256), false], ['ok', true]] as const) {
      let e: unknown
      try { idempotencyKeyOf({ 'idempotency-key': h }, '/r', fp, stream) } catch (err) { e = err }
      expect(e).toBeInstanceOf(HttpApiError)
      expect((e as HttpApiError).param).toBe('Idempotency-Key')
    }
  })

  it('the official SDK\'s retries (X-Stainless-Retry-Count ≥ 1) are keyed by the request itself; its first try buys fresh', () => {
    expect(idempotencyKeyOf({ 'x-stainless-retry-count': '0' }, '/r', fp, false)).toEqual({ kind: 'first', key: `sdk:${fp}` })
    expect(idempotencyKeyOf({ 'x-stainless-retry-count': '2' }, '/r', fp, false)).toEqual({ kind: 'key', key: `sdk:${fp}` })
    expect(idempotencyKeyOf({ 'x-stainless-retry-count': '1' }, '/r', fp, true)).toEqual({ kind: 'none' })
    expect(idempotencyKeyOf({}, '/r', fp, false)).toEqual({ kind: 'none' })
    expect(requestFingerprint('/r', { a: 1 })).not.toBe(requestFingerprint('/r', { a: 2 }))
  })
})

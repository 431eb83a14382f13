/** The batch input format and the batch's status moves (src/node/batch/format.ts): pure, with properties. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { BATCH_ENDPOINT, BatchError, MAX_WINDOW_MS, canMove, parseLimits, parseMetadata, parseWindow, splitInput, type BatchStatus } from '../../../src/node/batch/format.js'

const line = (id: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ custom_id: id, method: 'POST', url: BATCH_ENDPOINT, body: { model: 'm', messages: [] }, ...extra })

describe('splitInput', () => {
  it('every non-blank line is either runnable or reported once under its own line number', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom(line('a'), line('b'), line('a'), '', '   ', '{}', '[1]', 'null')), { maxLength: 40 }), (raw) => {
      const { lines, bad } = splitInput(raw.map(s => s.replace(/\n/g, ' ')).join('\n'))
      const numbers = [...lines.map(l => l.line), ...bad.map(b => b.line)]
      expect(new Set(numbers).size).toBe(numbers.length)
      const nonBlank = raw.filter(s => s.replace(/\n/g, ' ').trim() !== '').length
      expect(numbers.length).toBe(nonBlank)
      // custom_ids of runnable lines are unique
      expect(new Set(lines.map(l => l.customId)).size).toBe(lines.length)
    }))
  })

  it('names what is wrong with each bad line', () => {
    const { lines, bad } = splitInput([
      line('ok'),
      '{"custom_id": ',
      line('u', { url: '/v1/embeddings' }),
      line('m', { method: 'GET' }),
      line('x', { extra: 1 }),
      JSON.stringify({ method: 'POST', url: BATCH_ENDPOINT, body: {} }),
      line('b', { body: [] }),
      line('ok')
    ].join('\n'))
    expect(lines.map(l => [l.line, l.customId])).toEqual([[1, 'ok']])
    expect(bad.map(b => [b.line, b.code, b.param])).toEqual([
      [2, 'invalid_json_line', null],
      [3, 'invalid_url', 'url'],
      [4, 'invalid_method', 'method'],
      [5, 'invalid_request', 'extra'],
      [6, 'missing_custom_id', 'custom_id'],
      [7, 'invalid_request', 'body'],
      [8, 'duplicate_custom_id', 'custom_id']
    ])
  })
})

describe('batch parameters', () => {
  it('completion_window: a bounded duration', () => {
    expect(parseWindow('24h')).toBe(86_400_000)
    expect(parseWindow('90m')).toBe(5_400_000)
    expect(parseWindow('7d')).toBe(MAX_WINDOW_MS)
    for (const bad of ['8d', '1s', '0h', '2 h', 'soon', 24, null, '-1h', '1e3s']) expect(() => parseWindow(bad), String(bad)).toThrow(BatchError)
  })

  it('metadata and the tally limits are bounded and typed', () => {
    expect(parseMetadata({ a: 'b' })).toEqual({ a: 'b' })
    expect(() => parseMetadata({ a: 1 })).toThrow(BatchError)
    expect(() => parseMetadata(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])))).toThrow(BatchError)
    expect(parseLimits({ max_price: 2_000_000, budget_uc: '5000000', concurrency_per_seller: 4 })).toEqual({ maxPriceOutPerMTokUc: 2_000_000n, maxPriceInPerMTokUc: undefined, budgetUc: 5_000_000n, concurrencyPerSeller: 4 })
    for (const bad of [{ budget_uc: 0 }, { budget_uc: -1 }, { max_price: 1.5 }, { concurrency_per_seller: 0 }, { concurrency_per_seller: 65 }, { other: 1 }, []]) expect(() => parseLimits(bad), JSON.stringify(bad)).toThrow(BatchError)
  })

  it('status moves are OpenAI\'s, and final statuses are final', () => {
    const all: BatchStatus[] = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled']
    for (const s of ['failed', 'completed', 'expired', 'cancelled'] as const) for (const t of all) expect(canMove(s, t)).toBe(false)
    expect(canMove('in_progress', 'finalizing')).toBe(true)
    expect(canMove('in_progress', 'completed')).toBe(false)
    expect(canMove('completed', 'cancelling')).toBe(false)
  })
})

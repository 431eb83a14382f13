import { describe, it, expect } from 'vitest'
import { mkdtempSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { CostBook, aggregate, formatBpt, tokenParams, type CostEntry } from '../../../src/node/costs.js'

function inf (tag: string, model: string, seller: string, inTok: number, outTok: number, params: number, amount: bigint, atMs = 1): CostEntry {
  return { atMs, kind: 'inference', tag, model, counterparty: seller, inputTokens: inTok, outputTokens: outTok, tokenParams: tokenParams(inTok, outTok, params), amountUc: amount }
}

describe('cost accounting', () => {
  it('formats Bpt exactly', () => {
    expect(formatBpt(0n)).toBe('0')
    expect(formatBpt(7_000_000_000n)).toBe('7')
    expect(formatBpt(tokenParams(100, 50, 7_000_000_000))).toBe('1050')
    expect(formatBpt(tokenParams(3, 0, 120_000))).toBe('0.00036')
  })

  it('groups by tag, model and seller, payments separate from inference', () => {
    const entries: CostEntry[] = [
      inf('a', 'm1', 's1', 10, 20, 1e9, 100n),
      inf('a', 'm2', 's2', 1, 1, 1e9, 5n),
      inf('', 'm1', 's1', 2, 3, 1e9, 7n),
      { atMs: 1, kind: 'payment-sent', tag: 'a', model: '', counterparty: 'bob', inputTokens: 0, outputTokens: 0, tokenParams: 0n, amountUc: 1000n }
    ]
    const byTag = aggregate(entries, 'tag')
    expect(byTag.find(r => r.key === 'a')).toMatchObject({ requests: 2, inputTokens: 11, outputTokens: 21, bpt: '32', spentUc: 105n, paymentsSentUc: 1000n })
    expect(byTag.find(r => r.key === '(untagged)')).toMatchObject({ requests: 1, spentUc: 7n })
    expect(aggregate(entries, 'seller').map(r => r.key)).toEqual(['s1', 's2', 'bob'])
    expect(aggregate(entries, 'model', 2)).toEqual([])
  })

  it('persists to a JSON-lines file and survives a torn last line', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tally-costs-')), 'costs.jsonl')
    const a = new CostBook(file)
    a.add(inf('t', 'm', 's', 1, 2, 1000, 9n))
    appendFileSync(file, '{"atMs":1,"ki')
    const b = new CostBook(file)
    expect(b.all()).toHaveLength(1)
    expect(b.report('tag')[0]).toMatchObject({ key: 't', spentUc: 9n, bpt: '0.000003' })
  })

  it('property: totals over groups equal the grand total, whatever the grouping', () => {
    fc.assert(fc.property(fc.array(fc.record({ tag: fc.constantFrom('', 'x', 'y'), model: fc.constantFrom('m', 'n'), seller: fc.constantFrom('s', 't'), i: fc.nat(1000), o: fc.nat(1000), amt: fc.bigInt({ min: 0n, max: 10n ** 12n }) })), (xs) => {
      const entries = xs.map(x => inf(x.tag, x.model, x.seller, x.i, x.o, 1000, x.amt))
      const total = entries.reduce((s, e) => s + e.amountUc, 0n)
      for (const by of ['tag', 'model', 'seller'] as const) {
        expect(aggregate(entries, by).reduce((s, r) => s + r.spentUc, 0n)).toBe(total)
      }
    }))
  })
})

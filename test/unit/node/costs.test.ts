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

  it('an embeddings request counts like inference: a request, its input tokens and Bpt, its share of the contract\'s settle', () => {
    const chat = { ...inf('rag', 'm', 's', 10, 5, 1e9, 30n), contractId: 'c1' }
    const embed: CostEntry = { atMs: 2, kind: 'embeddings', tag: 'rag', model: 'm', counterparty: 's', inputTokens: 40, outputTokens: 0, tokenParams: tokenParams(40, 0, 1e9), amountUc: 40n, contractId: 'c1' }
    const [row] = aggregate([chat, embed], 'tag', 0, id => id === 'c1' ? 60n : undefined)
    expect(row).toMatchObject({ key: 'rag', requests: 2, inputTokens: 50, outputTokens: 5, bpt: '55', signedUc: 70n, spentUc: 60n, unchargedUc: 10n, pendingUc: 0n })
  })

  it('groups by tag, model and seller, payments separate from inference', () => {
    const entries: CostEntry[] = [
      inf('a', 'm1', 's1', 10, 20, 1e9, 100n),
      inf('a', 'm2', 's2', 1, 1, 1e9, 5n),
      inf('', 'm1', 's1', 2, 3, 1e9, 7n),
      { atMs: 1, kind: 'payment-sent', tag: 'a', model: '', counterparty: 'bob', inputTokens: 0, outputTokens: 0, tokenParams: 0n, amountUc: 1000n }
    ]
    const byTag = aggregate(entries, 'tag')
    expect(byTag.find(r => r.key === 'a')).toMatchObject({ requests: 2, inputTokens: 11, outputTokens: 21, bpt: '32', signedUc: 105n, pendingUc: 105n, spentUc: 0n, paymentsSentUc: 1000n })
    expect(byTag.find(r => r.key === '(untagged)')).toMatchObject({ requests: 1, signedUc: 7n })
    expect(aggregate(entries, 'seller').map(r => r.key)).toEqual(['s1', 's2', 'bob'])
    expect(aggregate(entries, 'model', 2)).toEqual([])
  })

  it('persists to a JSON-lines file and survives a torn last line', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tally-costs-')), 'costs.jsonl')
    const a = new CostBook(file)
    a.add({ ...inf('t', 'm', 's', 1, 2, 1000, 9n), contractId: 'cc'.repeat(32) })
    appendFileSync(file, '{"atMs":1,"ki')
    const b = new CostBook(file)
    expect(b.all()).toHaveLength(1)
    expect(b.report('tag')[0]).toMatchObject({ key: 't', signedUc: 9n, bpt: '0.000003' })
    // the contract id survives the file: the entry reconciles with the ledger's settle
    expect(b.report('tag', 0, id => (id === 'cc'.repeat(32) ? 9n : undefined))[0]).toMatchObject({ spentUc: 9n, pendingUc: 0n })
  })

  it('property: totals over groups equal the grand total, whatever the grouping', () => {
    fc.assert(fc.property(fc.array(fc.record({ tag: fc.constantFrom('', 'x', 'y'), model: fc.constantFrom('m', 'n'), seller: fc.constantFrom('s', 't'), i: fc.nat(1000), o: fc.nat(1000), amt: fc.bigInt({ min: 0n, max: 10n ** 12n }) })), (xs) => {
      const entries = xs.map(x => inf(x.tag, x.model, x.seller, x.i, x.o, 1000, x.amt))
      const total = entries.reduce((s, e) => s + e.amountUc, 0n)
      for (const by of ['tag', 'model', 'seller'] as const) {
        expect(aggregate(entries, by).reduce((s, r) => s + r.signedUc, 0n)).toBe(total)
      }
    }))
  })

  it('reconciles with the ledger: a settle covers the first vouchers of its session; the rest is pending or never charged, not spent', () => {
    const c = (e: CostEntry, contractId: string): CostEntry => ({ ...e, contractId })
    const A = 'aa'.repeat(32)
    const B = 'bb'.repeat(32)
    const entries = [
      c(inf('x', 'm', 's1', 1, 1, 1e9, 100n), A),
      c(inf('y', 'm', 's1', 1, 1, 1e9, 50n), A),
      c(inf('x', 'm', 's2', 1, 1, 1e9, 70n), B),
      inf('x', 'm', 's3', 1, 1, 1e9, 5n)
    ]
    // the seller of A crashed and settled 120 of the 150 signed; B is still open
    const settled = (id: string): bigint | undefined => (id === A ? 120n : undefined)
    const bySeller = aggregate(entries, 'seller', 0, settled)
    expect(bySeller.find(r => r.key === 's1')).toMatchObject({ signedUc: 150n, spentUc: 120n, unchargedUc: 30n, pendingUc: 0n })
    expect(bySeller.find(r => r.key === 's2')).toMatchObject({ signedUc: 70n, spentUc: 0n, pendingUc: 70n })
    expect(bySeller.find(r => r.key === 's3')).toMatchObject({ signedUc: 5n, spentUc: 0n, pendingUc: 5n })
    const byTag = aggregate(entries, 'tag', 0, settled)
    expect(byTag.find(r => r.key === 'x')).toMatchObject({ spentUc: 100n, pendingUc: 75n, unchargedUc: 0n })
    expect(byTag.find(r => r.key === 'y')).toMatchObject({ spentUc: 20n, unchargedUc: 30n })
    // spent over every row is exactly what the ledger charged, even when the window hides the first entry
    expect(byTag.reduce((s, r) => s + r.spentUc, 0n)).toBe(120n)
    expect(aggregate(entries, 'tag', 2, settled).reduce((s, r) => s + r.spentUc, 0n)).toBe(0n)
  })

  it('property: spent + pending + uncharged = signed in every row, and spent never exceeds the settles', () => {
    fc.assert(fc.property(fc.array(fc.record({ tag: fc.constantFrom('', 'x'), k: fc.nat(3), amt: fc.bigInt({ min: 0n, max: 10n ** 9n }) })), fc.array(fc.option(fc.bigInt({ min: 0n, max: 10n ** 10n })), { minLength: 4, maxLength: 4 }), (xs, settles) => {
      const ids = ['0', '1', '2', '3'].map(d => d.repeat(64))
      const entries = xs.map(x => ({ ...inf(x.tag, 'm', 's', 1, 1, 1000, x.amt), contractId: ids[x.k] }))
      const settled = (id: string): bigint | undefined => settles[ids.indexOf(id)] ?? undefined
      const rows = aggregate(entries, 'tag', 0, settled)
      for (const r of rows) expect(r.spentUc + r.pendingUc + r.unchargedUc).toBe(r.signedUc)
      const charged = ids.reduce((s, id, i) => s + (entries.some(e => e.contractId === id) ? (settles[i] ?? 0n) : 0n), 0n)
      expect(rows.reduce((s, r) => s + r.spentUc, 0n) <= charged).toBe(true)
    }))
  })
})

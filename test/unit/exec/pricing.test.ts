import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { amountUc, bpt, nanoBpt, PricingRangeError, sessionAmountUc, ucPerBpt } from '../../../src/exec/pricing.js'

const tokens = fc.bigInt({ min: 0n, max: 10n ** 12n })
const price = fc.bigInt({ min: 0n, max: 10n ** 12n })

describe('amountUc', () => {
  it('is the ceiling of the exact amount', () => {
    expect(amountUc(0n, 0n, 5n, 5n)).toBe(0n)
    expect(amountUc(1n, 0n, 1n, 0n)).toBe(1n)
    expect(amountUc(1_000_000n, 0n, 1n, 0n)).toBe(1n)
    expect(amountUc(1_000_001n, 0n, 1n, 0n)).toBe(2n)
    expect(amountUc(1_000_000n, 1_000_000n, 7_000_000n, 21_000_000n)).toBe(28_000_000n)
    expect(amountUc(3n, 2n, 500_000n, 1_500_000n)).toBe(5n) // 1.5 + 3.0 = 4.5 → 5
  })

  it('never undercharges and overcharges by less than one µc', () => {
    fc.assert(fc.property(tokens, tokens, price, price, (i, o, pi, po) => {
      const a = amountUc(i, o, pi, po)
      const exactMicro = i * pi + o * po
      return a * 1_000_000n >= exactMicro && (a - 1n) * 1_000_000n < exactMicro + (exactMicro === 0n ? 1_000_000n : 0n)
    }))
  })

  it('is monotone in both token counts', () => {
    fc.assert(fc.property(tokens, tokens, tokens, tokens, price, price, (i, o, di, dOut, pi, po) => {
      return amountUc(i + di, o + dOut, pi, po) >= amountUc(i, o, pi, po)
    }))
  })

  it('cumulative billing never exceeds the sum of per-chunk ceilings and never drifts from the one-shot amount', () => {
    fc.assert(fc.property(fc.array(fc.bigInt({ min: 0n, max: 10_000n }), { minLength: 1, maxLength: 50 }), price, (chunks, po) => {
      let cum = 0n
      let incremental = 0n
      let last = 0n
      for (const c of chunks) {
        cum += c
        incremental += amountUc(0n, c, 0n, po)
        const a = amountUc(0n, cum, 0n, po)
        if (a < last) return false
        last = a
      }
      return last === amountUc(0n, cum, 0n, po) && last <= incremental
    }))
  })

  it('session amounts are capped at max spend', () => {
    fc.assert(fc.property(tokens, tokens, price, price, fc.bigInt({ min: 1n, max: 10n ** 9n }), (i, o, pi, po, max) => {
      const a = sessionAmountUc(i, o, { priceInPerMTokUc: pi, priceOutPerMTokUc: po, maxSpendUc: max })
      return a <= max && a === (amountUc(i, o, pi, po) < max ? amountUc(i, o, pi, po) : max)
    }))
  })

  it('rejects negative inputs with a typed error', () => {
    expect(() => amountUc(-1n, 0n, 1n, 1n)).toThrow(PricingRangeError)
    expect(() => amountUc(0n, 0n, 1n, -1n)).toThrow(PricingRangeError)
  })
})

describe('bpt', () => {
  it('is an exact decimal of tokens × params / 1e9', () => {
    expect(bpt(1, 1_000_000_000)).toBe('1')
    expect(bpt(1_000_000, 3_200_000_000)).toBe('3200000')
    expect(bpt(135, 1_000)).toBe('0.000135')
    expect(bpt(1, 7_241_732_096)).toBe('7.241732096')
    expect(bpt(0, 7)).toBe('0')
    expect(nanoBpt(3, 7)).toBe(21n)
  })

  it('round-trips through its integer nano-Bpt form', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.bigInt({ min: 1n, max: 10n ** 12n }), (t, p) => {
      const s = bpt(t, p)
      const [w, f = ''] = s.split('.')
      return BigInt(w) * 1_000_000_000n + BigInt(f.padEnd(9, '0')) === t * p && !f.endsWith('0')
    }))
  })

  it('normalizes prices to µc per Bpt (par = 1)', () => {
    expect(ucPerBpt(7_000_000n, 7_000_000_000)).toBe('1')
    expect(ucPerBpt(14_000_000n, 7_000_000_000)).toBe('2')
    expect(ucPerBpt(1_000_000n, 2_000_000_000)).toBe('0.5')
    expect(() => ucPerBpt(1n, 0)).toThrow(PricingRangeError)
  })
})

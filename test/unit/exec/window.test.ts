import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { covers, nextChunk, paidTotals, requestOutputTokens, syncOnHighest, unpaidLoss, voucherDue, windowBoundUc, type Billed, type Budget, type PendingOutput, type Totals } from '../../../src/exec/infer/window.js'
import { amountUc, sessionAmountUc } from '../../../src/exec/pricing.js'

// whole µc per token often, so amounts land exactly on the max spend
const price = fc.oneof(fc.constantFrom(0n, 1_000_000n, 2_000_000n, 3_000_000n), fc.bigInt({ min: 0n, max: 100_000_000n }))
const output = fc.record({ text: fc.string({ maxLength: 12 }), outputTokens: fc.integer({ min: 0, max: 80 }) })
const limits = fc.record({ maxChunkTokens: fc.integer({ min: 1, max: 64 }), maxChunkTextBytes: fc.integer({ min: 1, max: 64 }) })
const budget: fc.Arbitrary<Budget> = fc.record({ priceInPerMTokUc: price, priceOutPerMTokUc: price, maxSpendUc: fc.bigInt({ min: 1n, max: 500n }) })

function billed (t: Totals, b: Budget): Billed {
  return { ...t, amountUc: sessionAmountUc(t.inputTokens, t.outputTokens, b) }
}

describe('covers (window = 1)', () => {
  it('nothing sent needs no voucher; otherwise the voucher must reach both totals', () => {
    expect(covers(undefined, { inputTokens: 0n, outputTokens: 0n })).toBe(true)
    expect(covers(undefined, { inputTokens: 0n, outputTokens: 1n })).toBe(false)
    expect(covers(undefined, { inputTokens: 5n, outputTokens: 0n })).toBe(false)
    expect(covers({ inputTokens: 5n, outputTokens: 9n }, { inputTokens: 5n, outputTokens: 9n })).toBe(true)
    expect(covers({ inputTokens: 5n, outputTokens: 9n }, { inputTokens: 5n, outputTokens: 10n })).toBe(false)
    expect(covers({ inputTokens: 4n, outputTokens: 99n }, { inputTokens: 5n, outputTokens: 10n })).toBe(false)
  })

  it('a seller that sends only when covered never has more than one unpaid chunk out', () => {
    // a run: the backend's outputs, and after each chunk how many chunks the buyer pays up to (it may pay nothing)
    fc.assert(fc.property(fc.array(output, { maxLength: 40 }), fc.array(fc.nat(3), { maxLength: 60 }), budget, limits, fc.bigInt({ min: 0n, max: 1_000n }), (outs, payments, b, lim, startIn) => {
      const pending: PendingOutput[] = [...outs]
      const chunkEnds: bigint[] = [] // cumulative output after each chunk sent
      let sent: Totals = { inputTokens: startIn, outputTokens: 0n }
      let highest: Totals | undefined = startIn > 0n ? { inputTokens: startIn, outputTokens: 0n } : undefined
      for (const pay of payments) {
        if (pending.length === 0) break
        if (covers(highest, sent)) {
          const c = nextChunk(pending, sent, b, lim)
          pending.splice(0, c.count)
          if (c.outputTokens > 0) {
            sent = { ...sent, outputTokens: sent.outputTokens + BigInt(c.outputTokens) }
            chunkEnds.push(sent.outputTokens)
          }
          if (c.budgetStop) break
        }
        // the buyer signs for some of what it received: never more than was sent
        const paidUpTo = chunkEnds.length - Math.min(pay, chunkEnds.length)
        if (paidUpTo > 0 && (highest == null || chunkEnds[paidUpTo - 1] > highest.outputTokens)) highest = { inputTokens: startIn, outputTokens: chunkEnds[paidUpTo - 1] }
        const paid = highest?.outputTokens ?? 0n
        const unpaidChunks = chunkEnds.filter(e => e > paid).length
        expect(unpaidChunks).toBeLessThanOrEqual(1)
      }
    }))
  })
})

describe('nextChunk (budget trim)', () => {
  it('never takes the rule on the new totals above the max spend', () => {
    // the max spend lands near the amount after some prefix of the outputs, so the trim is exercised at its edge
    fc.assert(fc.property(fc.array(output, { maxLength: 20 }), price, price, limits, fc.bigInt({ min: 0n, max: 2_000n }), fc.bigInt({ min: 0n, max: 2_000n }), fc.nat(20), fc.integer({ min: -2, max: 2 }), (pending, pIn, pOut, lim, inTokens, outTokens, prefix, slack) => {
      const prefixTokens = pending.slice(0, prefix).reduce((s, p) => s + p.outputTokens, 0)
      const edge = amountUc(inTokens, outTokens + BigInt(prefixTokens), pIn, pOut) + BigInt(slack)
      const b: Budget = { priceInPerMTokUc: pIn, priceOutPerMTokUc: pOut, maxSpendUc: edge > 0n ? edge : 1n }
      const sent = { inputTokens: inTokens, outputTokens: outTokens }
      const c = nextChunk(pending, sent, b, lim)
      if (c.count > 0) expect(amountUc(inTokens, outTokens + BigInt(c.outputTokens), pIn, pOut)).toBeLessThanOrEqual(b.maxSpendUc)
      // the stop comes exactly when the next output would not fit
      if (c.budgetStop) {
        expect(c.count).toBeLessThan(pending.length)
        expect(amountUc(inTokens, outTokens + BigInt(c.outputTokens + pending[c.count].outputTokens), pIn, pOut)).toBeGreaterThan(b.maxSpendUc)
      }
    }), { numRuns: 300 })
  })

  it('carries whole outputs from the front, within the chunk limits (an oversized first output still leaves, alone)', () => {
    fc.assert(fc.property(fc.array(output, { maxLength: 20 }), limits, (pending, lim) => {
      const unlimited: Budget = { priceInPerMTokUc: 0n, priceOutPerMTokUc: 0n, maxSpendUc: 1n }
      const c = nextChunk(pending, { inputTokens: 0n, outputTokens: 0n }, unlimited, lim)
      const taken = pending.slice(0, c.count)
      expect(c.budgetStop).toBe(false)
      expect(c.text).toBe(taken.map(p => p.text).join(''))
      expect(c.outputTokens).toBe(taken.reduce((s, p) => s + p.outputTokens, 0))
      // the limits bind from the first output that carries tokens: anything joining it fits
      const first = taken.findIndex(p => p.outputTokens > 0)
      if (first >= 0 && first < taken.length - 1) {
        expect(c.outputTokens).toBeLessThanOrEqual(lim.maxChunkTokens)
        expect(Buffer.byteLength(c.text)).toBeLessThanOrEqual(lim.maxChunkTextBytes)
      }
      if (pending.length > 0) expect(c.count).toBeGreaterThan(0)
    }))
  })

  it('stops before the first token that would not fit', () => {
    // 1 µc per output token, 3 µc of budget left after 7 tokens of a 10 µc contract
    const b: Budget = { priceInPerMTokUc: 0n, priceOutPerMTokUc: 1_000_000n, maxSpendUc: 10n }
    const c = nextChunk([{ text: 'a', outputTokens: 2 }, { text: 'b', outputTokens: 2 }], { inputTokens: 0n, outputTokens: 7n }, b, { maxChunkTokens: 64, maxChunkTextBytes: 64 })
    expect(c).toEqual({ count: 1, text: 'a', outputTokens: 2, budgetStop: true })
  })
})

describe('nextChunk (max_unpaid_uc room)', () => {
  it('never bills more than the room beyond the highest voucher, except a first output alone, and never takes fewer than one output', () => {
    fc.assert(fc.property(fc.array(output, { maxLength: 20 }), price, price, limits, fc.bigInt({ min: 0n, max: 2_000n }), fc.bigInt({ min: 0n, max: 2_000n }), fc.bigInt({ min: 0n, max: 300n }), (pending, pIn, pOut, lim, inTokens, outTokens, roomUc) => {
      const b: Budget = { priceInPerMTokUc: pIn, priceOutPerMTokUc: pOut, maxSpendUc: 1n << 60n }
      const sent = { inputTokens: inTokens, outputTokens: outTokens }
      // the highest voucher covers what was sent (the window's gate before any chunk)
      const paidUc = amountUc(inTokens, outTokens, pIn, pOut)
      const c = nextChunk(pending, sent, b, lim, { paidUc, roomUc })
      const free = nextChunk(pending, sent, b, lim)
      expect(c.count).toBeLessThanOrEqual(free.count)
      if (pending.length > 0) expect(c.count).toBeGreaterThan(0)
      if (c.count > 1) expect(amountUc(inTokens, outTokens + BigInt(c.outputTokens), pIn, pOut) - paidUc).toBeLessThanOrEqual(roomUc)
      // it stops only where the next output would not fit the room (or the chunk limits stop it anyway)
      if (c.count < free.count) {
        expect(amountUc(inTokens, outTokens + BigInt(c.outputTokens + pending[c.count].outputTokens), pIn, pOut) - paidUc).toBeGreaterThan(roomUc)
      }
    }), { numRuns: 300 })
  })

  it('trims a chunk to the room: 1 µc per token, 5 µc of room', () => {
    const b: Budget = { priceInPerMTokUc: 0n, priceOutPerMTokUc: 1_000_000n, maxSpendUc: 1_000n }
    const pending = [{ text: 'a', outputTokens: 2 }, { text: 'b', outputTokens: 2 }, { text: 'c', outputTokens: 2 }]
    const lim = { maxChunkTokens: 64, maxChunkTextBytes: 64 }
    expect(nextChunk(pending, { inputTokens: 0n, outputTokens: 10n }, b, lim, { paidUc: 10n, roomUc: 5n })).toEqual({ count: 2, text: 'ab', outputTokens: 4, budgetStop: false })
    // a room below one output still lets one output leave
    expect(nextChunk(pending, { inputTokens: 0n, outputTokens: 10n }, b, lim, { paidUc: 10n, roomUc: 0n })).toEqual({ count: 1, text: 'a', outputTokens: 2, budgetStop: false })
    // no room given: the chunk limits alone
    expect(nextChunk(pending, { inputTokens: 0n, outputTokens: 10n }, b, lim).count).toBe(3)
  })
})

describe('unpaidLoss', () => {
  it('is at most one chunk (plus the request\'s input tokens) at the session\'s prices', () => {
    fc.assert(fc.property(budget, fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 64 }), fc.bigInt({ min: 0n, max: 5_000n }), fc.bigInt({ min: 0n, max: 5_000n }), fc.bigInt({ min: 0n, max: 2_000n }), fc.boolean(), fc.boolean(), (b, maxChunkTokens, chunkTokens, paidIn, paidOut, reqIn, hasVoucher, doneSent) => {
      const highest = hasVoucher ? billed({ inputTokens: paidIn, outputTokens: paidOut }, b) : undefined
      const paid = paidTotals(highest)
      // the seller billed one chunk beyond the voucher, and the request's input tokens once its done frame went out
      const chunk = BigInt(Math.min(chunkTokens, maxChunkTokens))
      const sent = billed({ inputTokens: paid.inputTokens + (doneSent ? reqIn : 0n), outputTokens: paid.outputTokens + chunk }, b)
      const loss = unpaidLoss(sent, highest, b, maxChunkTokens)
      if (loss == null) {
        expect(sent.amountUc).toBeLessThanOrEqual(paid.amountUc)
        return
      }
      expect(loss.outputTokens).toBeLessThanOrEqual(BigInt(maxChunkTokens))
      expect(loss.amountUc).toBe(sent.amountUc - paid.amountUc)
      expect(loss.amountUc).toBeLessThanOrEqual(loss.boundUc)
    }))
  })

  it('is nothing when the voucher covers what was billed', () => {
    const b: Budget = { priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n, maxSpendUc: 1_000n }
    const h = billed({ inputTokens: 3n, outputTokens: 4n }, b)
    expect(unpaidLoss(h, h, b, 64)).toBeUndefined()
    expect(unpaidLoss({ inputTokens: 0n, outputTokens: 0n, amountUc: 0n }, undefined, b, 64)).toBeUndefined()
    expect(unpaidLoss(billed({ inputTokens: 3n, outputTokens: 6n }, b), h, b, 64)).toEqual({ inputTokens: 0n, outputTokens: 2n, amountUc: 4n, boundUc: 129n })
  })
})

describe('totals', () => {
  it('a voucher ahead of the seller\'s count is taken; one behind changes nothing', () => {
    const b: Budget = { priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n, maxSpendUc: 100n }
    const mine = billed({ inputTokens: 5n, outputTokens: 5n }, b)
    expect(syncOnHighest(mine, undefined, b)).toEqual(mine)
    expect(syncOnHighest(mine, { inputTokens: 2n, outputTokens: 9n }, b)).toEqual({ inputTokens: 5n, outputTokens: 9n, amountUc: 14n })
    expect(syncOnHighest(mine, { inputTokens: 1n, outputTokens: 1n }, b)).toEqual(mine)
    expect(paidTotals(undefined)).toEqual({ inputTokens: 0n, outputTokens: 0n, amountUc: 0n })
  })

  it('a request\'s output tokens are what the backend reported, never fewer than were sent', () => {
    expect(requestOutputTokens(10n, 12n, false)).toBe(12n)
    expect(requestOutputTokens(10n, 8n, false)).toBe(10n)
    expect(requestOutputTokens(10n, 12n, true)).toBe(10n)
  })
})

describe('the paid-ahead window in µc (max_unpaid_uc stated)', () => {
  it('for any chunk sizes and voucher arrivals, unpaid ≤ max(window, one output), and the seller stalls only while something is unpaid', () => {
    // a run: backend outputs; per step, whether the buyer's due voucher arrives now (else it is in flight, or never sent)
    fc.assert(fc.property(fc.array(output, { maxLength: 60 }), fc.array(fc.boolean(), { maxLength: 200 }), budget, limits, fc.bigInt({ min: 1n, max: 400n }), fc.boolean(), (outs, arrivals, b, lim, windowUc, honest) => {
      const pending: PendingOutput[] = [...outs]
      let sent: Totals = { inputTokens: 0n, outputTokens: 0n }
      let paidUc = 0n
      /** the buyer's last signed amount, and what is signed but not yet arrived */
      let signedUc = 0n
      let largestOutputUc = 0n
      for (const arrive of arrivals) {
        if (pending.length === 0) break
        if (arrive) paidUc = signedUc
        const before = amountUc(0n, sent.outputTokens, b.priceInPerMTokUc, b.priceOutPerMTokUc)
        const c = nextChunk(pending, sent, b, lim, { paidUc, roomUc: windowUc, window: true })
        if (c.count === 0 && !c.budgetStop) {
          // stalled: only when what is unpaid is real (the first output after full payment always leaves)
          expect(before - paidUc).toBeGreaterThan(0n)
          // an honest buyer has signed for everything at half the window, or the seller asks (one output > the rest)
          continue
        }
        pending.splice(0, c.count)
        if (c.outputTokens > 0) {
          const after = amountUc(0n, sent.outputTokens + BigInt(c.outputTokens), b.priceInPerMTokUc, b.priceOutPerMTokUc)
          if (c.count === 1 && after - before > largestOutputUc) largestOutputUc = after - before
          sent = { ...sent, outputTokens: sent.outputTokens + BigInt(c.outputTokens) }
          const unpaid = (after > b.maxSpendUc ? b.maxSpendUc : after) - paidUc
          expect(unpaid).toBeLessThanOrEqual(windowBoundUc(windowUc, largestOutputUc))
          if (unpaid > windowUc) expect(before).toBe(paidUc) // beyond the window only when nothing was unpaid before it
          // the buyer signs at half the window (an honest one; a dishonest one never)
          if (honest && voucherDue(after - signedUc, windowUc)) signedUc = after
        }
        if (c.budgetStop) break
      }
    }), { numRuns: 500 })
  })

  it('a chunk ends before the output that would exceed the window; a window below one output\'s price lets one leave when all is paid', () => {
    const b: Budget = { priceInPerMTokUc: 0n, priceOutPerMTokUc: 1_000_000n, maxSpendUc: 1_000_000n }
    const lim = { maxChunkTokens: 64, maxChunkTextBytes: 1024 }
    const outs: PendingOutput[] = Array.from({ length: 20 }, () => ({ text: 'x', outputTokens: 1 }))
    // 10 µc window, 1 µc per token, 3 unpaid already: 7 more leave
    expect(nextChunk(outs, { inputTokens: 0n, outputTokens: 3n }, b, lim, { paidUc: 0n, roomUc: 10n, window: true }).count).toBe(7)
    // full: nothing leaves until a voucher arrives
    expect(nextChunk(outs, { inputTokens: 0n, outputTokens: 10n }, b, lim, { paidUc: 0n, roomUc: 10n, window: true }).count).toBe(0)
    // paid up to 10: the window opens again
    expect(nextChunk(outs, { inputTokens: 0n, outputTokens: 10n }, b, lim, { paidUc: 10n, roomUc: 10n, window: true }).count).toBe(10)
    // one 5-token output against a 2 µc window: leaves only when nothing is unpaid
    const big: PendingOutput[] = [{ text: 'xxxxx', outputTokens: 5 }]
    expect(nextChunk(big, { inputTokens: 0n, outputTokens: 10n }, b, lim, { paidUc: 10n, roomUc: 2n, window: true }).count).toBe(1)
    expect(nextChunk(big, { inputTokens: 0n, outputTokens: 11n }, b, lim, { paidUc: 10n, roomUc: 2n, window: true }).count).toBe(0)
    // without `window` (the node cap alone): the room only tightens one chunk, whose first output always leaves
    expect(nextChunk(big, { inputTokens: 0n, outputTokens: 11n }, b, lim, { paidUc: 10n, roomUc: 2n }).count).toBe(1)
    expect(windowBoundUc(10n, 5n)).toBe(10n)
    expect(windowBoundUc(2n, 5n)).toBe(5n)
  })

  it('the buyer signs at half the window, every chunk without one', () => {
    expect(voucherDue(1n, undefined)).toBe(true)
    expect(voucherDue(1n, 0n)).toBe(true)
    expect(voucherDue(4n, 10n)).toBe(false)
    expect(voucherDue(5n, 10n)).toBe(true)
    expect(voucherDue(5n, 11n)).toBe(false)
    expect(voucherDue(6n, 11n)).toBe(true)
  })

  it('a request\'s unpaid loss under a window is bounded by the window plus its input', () => {
    const prices = { priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 1_000_000n }
    const loss = unpaidLoss({ inputTokens: 7n, outputTokens: 500n, amountUc: 507n }, { inputTokens: 0n, outputTokens: 100n, amountUc: 100n }, prices, 4, 400n)!
    expect(loss.amountUc).toBe(407n)
    expect(loss.boundUc).toBe(400n + 7n + 1n)
  })
})

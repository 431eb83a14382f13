import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  isSellerTerminal, sellerContracted, sellerDeadline, sellerStep, SellerSessionTable,
  type HeldVoucher, type SellerContract, type SellerEffect, type SellerEvent, type SellerMachineConfig, type SellerState
} from '../../../src/exec/session/seller-machine.js'
import {
  buyerDeadline, buyerNegotiating, buyerStep, isBuyerLive, isBuyerTerminal,
  type BuyerContract, type BuyerEffect, type BuyerEvent, type BuyerState
} from '../../../src/exec/session/buyer-machine.js'

const FAR = 1e13

const contract: SellerContract = { contractId: 'c1', buyer: 'b1', modelId: 'm', maxSpendUc: 1_000_000n, expiresAtMs: 60_000, secondPeerAboveUc: 0n }

const voucher = (nonce: bigint, amountUc: bigint): HeldVoucher => ({ nonce, amountUc, bytes: new Uint8Array([Number(nonce % 256n)]) })

const sellerEvent: fc.Arbitrary<SellerEvent> = fc.oneof(
  fc.record({ type: fc.constant('open' as const), openId: fc.constantFrom('o1', 'o2'), buyer: fc.constantFrom('b1', 'b2'), maxSpendUc: fc.constantFrom(1_000_000n, 5n) }),
  fc.constant({ type: 'open-confirmed' as const }),
  fc.constant({ type: 'request-began' as const }),
  fc.constant({ type: 'request-ended' as const }),
  fc.record({ type: fc.constant('voucher' as const), voucher: fc.tuple(fc.bigInt(1n, 20n), fc.bigInt(0n, 1_000_000n)).map(([n, a]) => voucher(n, a)) }),
  fc.constant({ type: 'buyer-closed' as const }),
  fc.constant({ type: 'settle-done' as const }),
  fc.constant({ type: 'settle-failed' as const, message: 'x' }),
  fc.constant({ type: 'tick' as const }),
  fc.constant({ type: 'stop' as const })
)

const sellerContract: fc.Arbitrary<SellerContract> = fc.tuple(fc.constantFrom(0n, 500_000n, 2_000_000n), fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }))
  .map(([secondPeerAboveUc, openByMs]) => ({ ...contract, secondPeerAboveUc, openByMs }))

const sellerConfig: fc.Arbitrary<SellerMachineConfig> = fc.record({
  confirmForMs: fc.integer({ min: 1, max: 100_000 }),
  drainMs: fc.integer({ min: 0, max: 100_000 }),
  settleReportMs: fc.integer({ min: 1, max: 100_000 })
})

/** a run: events at increasing times, then time ticked far ahead until the session ends */
interface SellerRun { states: SellerState[], effects: SellerEffect[][], settleOracle: Array<bigint | undefined> }

function runSeller (events: Array<[SellerEvent, number]>, cfg: SellerMachineConfig, c: SellerContract): SellerRun {
  let s = sellerContracted(c)
  let now = 0
  let highest: bigint | undefined
  const run: SellerRun = { states: [s], effects: [], settleOracle: [] }
  const feed = (e: SellerEvent): void => {
    // the oracle: the highest voucher amount the session took while serving
    if (e.type === 'voucher' && s.phase === 'serving') {
      const h = s.highest
      if (h == null || (e.voucher.nonce > h.nonce && e.voucher.amountUc >= h.amountUc)) highest = e.voucher.amountUc
    }
    const r = sellerStep(s, e, now, cfg)
    s = r.state
    run.states.push(s)
    run.effects.push(r.effects)
    run.settleOracle.push(highest)
  }
  for (const [e, dt] of events) { now += dt; feed(e) }
  for (let i = 0; i < 4 && !isSellerTerminal(s); i++) { now += FAR; feed({ type: 'tick' }) }
  return run
}

const sellerEvents = fc.array(fc.tuple(sellerEvent, fc.integer({ min: 0, max: 20_000 })), { maxLength: 40 })

describe('seller session machine: properties', () => {
  it('every live state has a deadline, and ticking time far enough always ends the session', () => {
    fc.assert(fc.property(sellerEvents, sellerConfig, sellerContract, (events, cfg, c) => {
      const run = runSeller(events, cfg, c)
      for (const s of run.states) if (!isSellerTerminal(s)) expect(sellerDeadline(s, cfg)).toBeTypeOf('number')
      expect(isSellerTerminal(run.states[run.states.length - 1])).toBe(true)
    }), { numRuns: 500 })
  })

  it('the reservation taken with the contract is released exactly once on every path', () => {
    fc.assert(fc.property(sellerEvents, sellerConfig, sellerContract, (events, cfg, c) => {
      const all = runSeller(events, cfg, c).effects.flat()
      expect(all.filter(e => e.type === 'release-reservation')).toHaveLength(1)
    }), { numRuns: 500 })
  })

  it('a slot is taken only with a matching open, at most once, before any admit', () => {
    fc.assert(fc.property(sellerEvents, sellerConfig, sellerContract, (events, cfg, c) => {
      const all = runSeller(events, cfg, c).effects.flat()
      const taken = all.findIndex(e => e.type === 'slot-taken')
      expect(all.filter(e => e.type === 'slot-taken').length).toBeLessThanOrEqual(1)
      const admitted = all.findIndex(e => e.type === 'admit')
      if (admitted >= 0) expect(taken).toBeGreaterThanOrEqual(0)
      if (admitted >= 0) expect(taken).toBeLessThan(admitted)
    }), { numRuns: 500 })
  })

  it('no open is taken after the reservation\'s open deadline', () => {
    fc.assert(fc.property(sellerEvents, sellerConfig, sellerContract, (events, cfg, c) => {
      let s = sellerContracted(c)
      let now = 0
      const deadline = Math.min(c.openByMs ?? c.expiresAtMs, c.expiresAtMs)
      for (const [e, dt] of events) {
        now += dt
        const r = sellerStep(s, { type: 'tick' }, now, cfg)
        const r2 = sellerStep(r.state, e, now, cfg)
        if (r2.effects.some(x => x.type === 'slot-taken')) expect(now).toBeLessThan(deadline)
        s = r2.state
      }
    }), { numRuns: 500 })
  })

  it('settle is published at most once, and only with the highest voucher taken', () => {
    fc.assert(fc.property(sellerEvents, sellerConfig, sellerContract, (events, cfg, c) => {
      const run = runSeller(events, cfg, c)
      let settles = 0
      run.effects.forEach((effects, i) => {
        for (const e of effects) {
          if (e.type !== 'publish-settle') continue
          settles++
          expect(e.voucher?.amountUc).toBe(run.settleOracle[i])
        }
      })
      expect(settles).toBeLessThanOrEqual(1)
      // a session that served (was admitted) always settles
      if (run.effects.flat().some(e => e.type === 'admit')) expect(settles).toBe(1)
    }), { numRuns: 500 })
  })

  it('no effect and no change after a terminal state', () => {
    fc.assert(fc.property(sellerEvents, sellerConfig, sellerContract, fc.array(sellerEvent, { maxLength: 10 }), (events, cfg, c, after) => {
      const run = runSeller(events, cfg, c)
      const end = run.states[run.states.length - 1]
      for (const e of after) {
        const r = sellerStep(end, e, FAR * 10, cfg)
        expect(r.effects).toEqual([])
        expect(r.state).toBe(end)
      }
    }), { numRuns: 300 })
  })
})

describe('seller session machine: paths', () => {
  it('open → serve → buyer closes → settle with the highest voucher → settled', () => {
    let r = sellerStep(sellerContracted(contract), { type: 'open', openId: 'o1', buyer: 'b1', maxSpendUc: 1_000_000n }, 10)
    expect(r.state.phase).toBe('serving')
    expect(r.effects).toEqual([{ type: 'slot-taken' }, { type: 'admit' }])
    r = sellerStep(r.state, { type: 'voucher', voucher: voucher(1n, 100n) }, 20)
    r = sellerStep(r.state, { type: 'voucher', voucher: voucher(2n, 300n) }, 30)
    r = sellerStep(r.state, { type: 'voucher', voucher: voucher(1n, 100n) }, 31) // a replay changes nothing
    r = sellerStep(r.state, { type: 'buyer-closed' }, 40)
    expect(r.state.phase).toBe('closing')
    expect(r.effects).toEqual([{ type: 'stop-requests' }, { type: 'release-reservation' }, { type: 'publish-settle', openId: 'o1', voucher: voucher(2n, 300n) }])
    r = sellerStep(r.state, { type: 'settle-done' }, 50)
    expect(r).toEqual({ state: { phase: 'settled', contract }, effects: [{ type: 'forget' }] })
  })

  it('a contract whose open never comes is released at its expiry, not before', () => {
    expect(sellerStep(sellerContracted(contract), { type: 'tick' }, 59_999).state.phase).toBe('contracted')
    const r = sellerStep(sellerContracted(contract), { type: 'tick' }, 60_000)
    expect(r.state.phase).toBe('expired-unopened')
    expect(r.effects.map(e => e.type)).toEqual(['release-reservation', 'fail-waiters'])
  })

  it('a reservation ends at its open deadline (open_within_ms), long before the contract\'s expiry', () => {
    const reserved = { ...contract, openByMs: 5_000 }
    expect(sellerDeadline(sellerContracted(reserved))).toBe(5_000)
    expect(sellerStep(sellerContracted(reserved), { type: 'tick' }, 4_999).state.phase).toBe('contracted')
    const r = sellerStep(sellerContracted(reserved), { type: 'tick' }, 5_000)
    expect(r.state.phase).toBe('expired-unopened')
    expect(r.effects).toEqual([{ type: 'release-reservation', lapsed: true }, { type: 'fail-waiters', reason: 'the buyer\'s open did not arrive within the quote\'s open_within_ms' }])
    // an open in time takes the slot; the session then lives to the contract's expiry
    const opened = sellerStep(sellerContracted(reserved), { type: 'open', openId: 'o1', buyer: 'b1', maxSpendUc: 1_000_000n }, 4_999)
    expect(opened.effects.map(e => e.type)).toEqual(['slot-taken', 'admit'])
    expect(sellerStep(opened.state, { type: 'tick' }, 30_000).state.phase).toBe('serving')
    // an open deadline past the expiry does not extend the reservation
    expect(sellerDeadline(sellerContracted({ ...contract, openByMs: 90_000 }))).toBe(60_000)
  })

  it('an open with another buyer or amount is ignored and the contract stays', () => {
    for (const open of [{ buyer: 'b2', maxSpendUc: 1_000_000n }, { buyer: 'b1', maxSpendUc: 5n }]) {
      const r = sellerStep(sellerContracted(contract), { type: 'open', openId: 'o1', ...open }, 1)
      expect(r.state.phase).toBe('contracted')
      expect(r.effects.map(e => e.type)).toEqual(['ignored-open'])
    }
  })

  it('a large open waits for a second peer; unconfirmed by the deadline it is settled empty', () => {
    const cfg = { confirmForMs: 1_000 }
    let r = sellerStep(sellerContracted({ ...contract, secondPeerAboveUc: 500_000n }), { type: 'open', openId: 'o1', buyer: 'b1', maxSpendUc: 1_000_000n }, 100, cfg)
    expect(r.state).toMatchObject({ phase: 'confirming', confirmUntilMs: 1_100 })
    expect(r.effects).toEqual([{ type: 'slot-taken' }, { type: 'confirm-open', openId: 'o1' }])
    expect(sellerStep(r.state, { type: 'open-confirmed' }, 500, cfg).effects).toEqual([{ type: 'admit' }])
    r = sellerStep(r.state, { type: 'tick' }, 1_100, cfg)
    expect(r.state.phase).toBe('closing')
    expect(r.effects).toEqual([{ type: 'release-reservation' }, { type: 'fail-waiters', reason: 'no second peer holds the open' }, { type: 'publish-settle', openId: 'o1' }])
  })

  it('expiry waits for a running request to end (up to the drain time)', () => {
    const cfg = { drainMs: 5_000 }
    let s = sellerStep(sellerContracted(contract), { type: 'open', openId: 'o1', buyer: 'b1', maxSpendUc: 1_000_000n }, 0, cfg).state
    s = sellerStep(s, { type: 'request-began' }, 1, cfg).state
    expect(sellerStep(s, { type: 'tick' }, 60_000, cfg).state.phase).toBe('serving')
    expect(sellerStep(s, { type: 'request-ended' }, 60_001, cfg).state.phase).toBe('closing')
    expect(sellerStep(s, { type: 'tick' }, 65_000, cfg).state.phase).toBe('closing')
  })

  it('the table drops ended sessions and ticks only what is due', () => {
    const t = new SellerSessionTable()
    expect(t.contracted(contract)).toBe(true)
    expect(t.contracted(contract)).toBe(false)
    expect(t.tick(59_000)).toEqual([])
    const [r] = t.tick(60_000)
    expect(r.contractId).toBe('c1')
    expect(r.state.phase).toBe('expired-unopened')
    expect(t.has('c1')).toBe(false)
    expect(t.apply('c1', { type: 'tick' }, 70_000)).toBeUndefined()
  })
})

const bContract: BuyerContract = { contractId: 'c1', seller: 's1', modelId: 'm', maxSpendUc: 1_000_000n, expiresAtMs: 60_000 }

const buyerEvent: fc.Arbitrary<BuyerEvent> = fc.oneof(
  fc.constant({ type: 'contract' as const, contract: bContract }),
  fc.constant({ type: 'refused' as const, message: 'no' }),
  fc.constant({ type: 'open-published' as const, openId: 'o1' }),
  fc.constant({ type: 'open-refused' as const, message: 'no' }),
  fc.constant({ type: 'request-began' as const }),
  fc.record({ type: fc.constant('request-ended' as const), retire: fc.boolean() }),
  fc.constant({ type: 'retire' as const }),
  fc.constant({ type: 'close-acked' as const }),
  fc.constant({ type: 'close-failed' as const, message: 'x' }),
  fc.constant({ type: 'tick' as const }),
  fc.constant({ type: 'stop' as const })
)

function runBuyer (events: Array<[BuyerEvent, number]>): { states: BuyerState[], effects: BuyerEffect[] } {
  let s = buyerNegotiating('s1', 'm', 5_000)
  let now = 0
  const states = [s]
  const effects: BuyerEffect[] = []
  const feed = (e: BuyerEvent): void => {
    const r = buyerStep(s, e, now)
    s = r.state
    states.push(s)
    effects.push(...r.effects)
  }
  for (const [e, dt] of events) { now += dt; feed(e) }
  for (let i = 0; i < 4 && !isBuyerTerminal(s); i++) { now += FAR; feed({ type: 'tick' }) }
  return { states, effects }
}

const buyerEvents = fc.array(fc.tuple(buyerEvent, fc.integer({ min: 0, max: 20_000 })), { maxLength: 40 })

describe('buyer session machine: properties', () => {
  it('every live state has a deadline, and ticking time far enough always ends the session', () => {
    fc.assert(fc.property(buyerEvents, (events) => {
      const { states } = runBuyer(events)
      for (const s of states) if (!isBuyerTerminal(s)) expect(buyerDeadline(s)).toBeTypeOf('number')
      expect(isBuyerTerminal(states[states.length - 1])).toBe(true)
    }), { numRuns: 500 })
  })

  it('the open is published at most once, the close sent at most once and only after an open, and the session is forgotten exactly once', () => {
    fc.assert(fc.property(buyerEvents, (events) => {
      const { effects } = runBuyer(events)
      expect(effects.filter(e => e.type === 'publish-open').length).toBeLessThanOrEqual(1)
      const closes = effects.filter(e => e.type === 'send-close').length
      expect(closes).toBeLessThanOrEqual(1)
      if (closes === 1) expect(effects.findIndex(e => e.type === 'publish-open')).toBeLessThan(effects.findIndex(e => e.type === 'send-close'))
      expect(effects.filter(e => e.type === 'forget')).toHaveLength(1)
    }), { numRuns: 500 })
  })

  it('a session is usable (live) only between its open and its close', () => {
    fc.assert(fc.property(buyerEvents, (events) => {
      const { states } = runBuyer(events)
      const firstLive = states.findIndex(isBuyerLive)
      const lastLive = states.length - 1 - [...states].reverse().findIndex(isBuyerLive)
      if (firstLive < 0) return
      for (let i = firstLive; i <= lastLive; i++) expect(isBuyerLive(states[i])).toBe(true)
    }), { numRuns: 300 })
  })

  it('no effect and no change after a terminal state', () => {
    fc.assert(fc.property(buyerEvents, fc.array(buyerEvent, { maxLength: 10 }), (events, after) => {
      const { states } = runBuyer(events)
      const end = states[states.length - 1]
      for (const e of after) expect(buyerStep(end, e, FAR * 10)).toEqual({ state: end, effects: [] })
    }), { numRuns: 300 })
  })
})

describe('buyer session machine: paths', () => {
  it('negotiate → open → request → idle close → closed', () => {
    let r = buyerStep(buyerNegotiating('s1', 'm', 5_000), { type: 'contract', contract: bContract }, 10)
    expect(r.effects).toEqual([{ type: 'publish-open', maxSpendUc: 1_000_000n }])
    r = buyerStep(r.state, { type: 'open-published', openId: 'o1' }, 20)
    r = buyerStep(r.state, { type: 'request-began' }, 30)
    expect(r.state.phase).toBe('serving')
    r = buyerStep(r.state, { type: 'request-ended', retire: false }, 60)
    expect(r.state.phase).toBe('opened')
    expect(buyerStep(r.state, { type: 'tick' }, 60 + 59_000, { idleCloseMs: 60_000 }).state.phase).toBe('opened')
    r = buyerStep(r.state, { type: 'tick' }, 60 + 60_000, { idleCloseMs: 1_000 })
    expect(r).toMatchObject({ state: { phase: 'closing' }, effects: [{ type: 'send-close' }] })
    r = buyerStep(r.state, { type: 'close-acked' }, 70_000)
    expect(r).toEqual({ state: { phase: 'closed' }, effects: [{ type: 'forget' }] })
  })

  it('a broken request closes the session; a refused open forgets it without a close', () => {
    let r = buyerStep(buyerNegotiating('s1', 'm', 5_000), { type: 'contract', contract: bContract }, 10)
    expect(buyerStep(r.state, { type: 'open-refused', message: 'no credit' }, 11)).toEqual({ state: { phase: 'open-refused' }, effects: [{ type: 'forget' }] })
    r = buyerStep(r.state, { type: 'open-published', openId: 'o1' }, 20)
    r = buyerStep(r.state, { type: 'request-began' }, 30)
    expect(buyerStep(r.state, { type: 'request-ended', retire: true }, 40).effects).toEqual([{ type: 'send-close' }])
  })
})

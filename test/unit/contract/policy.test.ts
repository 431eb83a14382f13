import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_UNPAID_PER_BUYER_UC, DEFAULT_MAX_UNPAID_YOUNG_UC, evaluateBuyer, spendableTrusting, type BuyerView } from '../../../src/contract/policy.js'
import { RefusalReason } from '../../../src/wire/pb/negotiate.js'

const seasoned: BuyerView = { flagged: false, spendableUc: 1_000_000n, ownFundsUc: 1_000_000n, records: 50, earned: true }
const ask = (maxSpendUc: bigint) => ({ stage: 'quote' as const, modelId: 'm', maxSpendUc })

describe('seller risk policy', () => {
  it('refuses a buyer that cannot cover the lock, before anything is reserved; a request with no lock needs some credit', () => {
    expect(evaluateBuyer({ ...seasoned, spendableUc: 99n }, ask(100n))).toMatchObject({ ok: false, reason: RefusalReason.INSUFFICIENT_CREDIT })
    expect(evaluateBuyer({ ...seasoned, spendableUc: 0n }, ask(0n))).toMatchObject({ ok: false, reason: RefusalReason.INSUFFICIENT_CREDIT })
    expect(evaluateBuyer({ ...seasoned, spendableUc: 100n }, ask(100n))).toMatchObject({ ok: true })
    // a minimum spendable balance is a refusal too, and a stated term
    expect(evaluateBuyer(seasoned, ask(100n), { minBuyerSpendableUc: 2_000_000n })).toMatchObject({ ok: false, reason: RefusalReason.INSUFFICIENT_CREDIT })
    expect(evaluateBuyer(seasoned, ask(100n), { minBuyerSpendableUc: 500n })).toMatchObject({ ok: true, minBuyerSpendableUc: 500n })
  })

  it('flagged buyers are refused; buyers on credit only when the seller serves credit', () => {
    expect(evaluateBuyer({ ...seasoned, flagged: true }, ask(1n))).toMatchObject({ ok: false, reason: RefusalReason.BUYER_FLAGGED })
    const onCredit = { ...seasoned, ownFundsUc: 0n }
    expect(evaluateBuyer(onCredit, ask(100n))).toMatchObject({ ok: true })
    expect(evaluateBuyer(onCredit, ask(100n), { serveOnCredit: false })).toMatchObject({ ok: false, reason: RefusalReason.BUYER_NOT_TRUSTED })
    expect(evaluateBuyer({ ...onCredit, ownFundsUc: 100n }, ask(100n), { serveOnCredit: false })).toMatchObject({ ok: true })
  })

  it('young accounts (few records or nothing earned) get the smaller unpaid window', () => {
    expect(evaluateBuyer(seasoned, ask(1n))).toMatchObject({ ok: true, maxUnpaidUc: DEFAULT_MAX_UNPAID_PER_BUYER_UC })
    expect(evaluateBuyer({ ...seasoned, records: 2 }, ask(1n))).toMatchObject({ ok: true, maxUnpaidUc: DEFAULT_MAX_UNPAID_YOUNG_UC })
    expect(evaluateBuyer({ ...seasoned, earned: false }, ask(1n))).toMatchObject({ ok: true, maxUnpaidUc: DEFAULT_MAX_UNPAID_YOUNG_UC })
    expect(evaluateBuyer({ ...seasoned, records: 2 }, ask(1n), { maxUnpaidYoungUc: 77n, youngRecords: 3 })).toMatchObject({ maxUnpaidUc: 77n })
  })

  describe('trusted grantors (quote term trusted_grantors)', () => {
    const bank = new Uint8Array(32).fill(1)
    const friend = new Uint8Array(32).fill(2)
    const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex')
    // own funds 100 µc, a 500 µc line from the bank, a 300 µc line from a stranger: spendable 900
    const onLines: BuyerView = { ...seasoned, spendableUc: 900n, ownFundsUc: 100n, lines: [{ grantor: hex(bank), amountUc: 500n }, { grantor: hex(new Uint8Array(32).fill(9)), amountUc: 300n }] }

    it('a lock covered by own funds and trusted lines is served, the term names the grantors', () => {
      expect(evaluateBuyer(onLines, ask(600n), { trustedGrantors: [bank] })).toMatchObject({ ok: true, trustedGrantors: [bank] })
      expect(evaluateBuyer(onLines, ask(600n), { trustedGrantors: [bank, friend] })).toMatchObject({ ok: true })
    })

    it('a lock that needs an untrusted line is refused BUYER_NOT_TRUSTED, saying why', () => {
      expect(evaluateBuyer(onLines, ask(601n), { trustedGrantors: [bank] })).toMatchObject({ ok: false, reason: RefusalReason.BUYER_NOT_TRUSTED, message: expect.stringContaining('grantors this seller does not trust') })
      expect(evaluateBuyer(onLines, ask(101n), { trustedGrantors: [friend] })).toMatchObject({ ok: false, reason: RefusalReason.BUYER_NOT_TRUSTED })
      expect(evaluateBuyer(onLines, ask(100n), { trustedGrantors: [friend] })).toMatchObject({ ok: true })
    })

    it('a used untrusted line is debt already in own funds: taking the whole line off leaves own funds and trusted lines', () => {
      // spent 250 of the stranger's 300: own funds -150, spendable 650 (500 bank + 300 stranger - 150)
      const used: BuyerView = { ...onLines, spendableUc: 650n, ownFundsUc: -150n }
      expect(spendableTrusting(650n, used.lines!, [bank])).toBe(350n)
      expect(evaluateBuyer(used, ask(350n), { trustedGrantors: [bank] })).toMatchObject({ ok: true })
      expect(evaluateBuyer(used, ask(351n), { trustedGrantors: [bank] })).toMatchObject({ ok: false, reason: RefusalReason.BUYER_NOT_TRUSTED })
    })

    it('default (no list): any grantor, no term; --refuse-credit stays no credit at all', () => {
      expect(evaluateBuyer(onLines, ask(900n))).toMatchObject({ ok: true, trustedGrantors: [] })
      expect(spendableTrusting(900n, onLines.lines!, [])).toBe(900n)
      expect(evaluateBuyer(onLines, ask(101n), { serveOnCredit: false, trustedGrantors: [bank] })).toMatchObject({ ok: false, reason: RefusalReason.BUYER_NOT_TRUSTED })
    })
  })
})

import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_UNPAID_PER_BUYER_UC, DEFAULT_MAX_UNPAID_YOUNG_UC, evaluateBuyer, type BuyerView } from '../../../src/contract/policy.js'
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
})

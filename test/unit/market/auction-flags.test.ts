/** `tally start --batch-discount/--idle-discount/--no-auction` become SellInit.auction; the seller's auction settings are range-checked (protocols/auction.md § Seller policy). */
import { describe, expect, it } from 'vitest'
import { sellPlan } from '../../../src/cli/start/serve.js'
import { checkAuctionSellInit } from '../../../src/node/auction/seller.js'

const http = { serveHttp: 'http://127.0.0.1:9/v1', modelId: 'm', params: '7000000000' }

describe('seller auction flags', () => {
  it('default: answer bids with the default discounts', async () => {
    expect((await sellPlan(http, {}))?.auction).toEqual({})
  })

  it('--batch-discount, --idle-discount, --no-auction', async () => {
    expect((await sellPlan({ ...http, batchDiscount: '50', idleDiscount: '10' }, {}))?.auction).toEqual({ batchDiscountPct: 50, idleDiscountPct: 10 })
    expect((await sellPlan({ ...http, batchDiscount: '0' }, {}))?.auction).toEqual({ batchDiscountPct: 0 })
    expect((await sellPlan({ ...http, auction: false }, {}))?.auction).toEqual({ disabled: true })
  })

  it('bad values, and flags without a backend, are usage errors naming the flag', async () => {
    for (const v of ['101', '-1', '1.5', 'ten', '']) {
      await expect(sellPlan({ ...http, batchDiscount: v }, {})).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('--batch-discount') })
      await expect(sellPlan({ ...http, idleDiscount: v }, {})).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('--idle-discount') })
    }
    // together more than 100 % (a flag alone counts the other's default)
    await expect(sellPlan({ ...http, batchDiscount: '60', idleDiscount: '50' }, {})).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('at most 100') })
    await expect(sellPlan({ ...http, batchDiscount: '90' }, {})).rejects.toMatchObject({ name: 'UsageError' })
    await expect(sellPlan({ ...http, auction: false, batchDiscount: '10' }, {})).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('--no-auction') })
    await expect(sellPlan({ batchDiscount: '10' }, {})).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('need --serve') })
    await expect(sellPlan({ auction: false }, {})).rejects.toMatchObject({ name: 'UsageError' })
  })

  it('the SDK settings are range-checked with a typed error naming the field', () => {
    const ok = { batchDiscountPct: 30, idleDiscountPct: 20, batchMinDeferMs: 600_000 }
    expect(() => checkAuctionSellInit(ok, 10)).not.toThrow()
    expect(() => checkAuctionSellInit({ ...ok, batchDiscountPct: 101 }, 10)).toThrow(expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('batchDiscountPct') }))
    expect(() => checkAuctionSellInit({ ...ok, idleDiscountPct: 2.5 }, 10)).toThrow(expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('idleDiscountPct') }))
    expect(() => checkAuctionSellInit({ ...ok, batchDiscountPct: 80, idleDiscountPct: 30 }, 10)).toThrow(expect.objectContaining({ code: 'invalid-config' }))
    expect(() => checkAuctionSellInit({ ...ok, batchMinDeferMs: -1 }, 10)).toThrow(expect.objectContaining({ message: expect.stringContaining('batchMinDeferMs') }))
    expect(() => checkAuctionSellInit(ok, 0)).toThrow(expect.objectContaining({ message: expect.stringContaining('tokensPerSecPerSlot') }))
  })
})

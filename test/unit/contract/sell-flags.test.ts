/** `tally start` flags for the seller's risk policy (negotiate.md § Seller risk policy) become SellInit.risk. */
import { describe, expect, it } from 'vitest'
import { sellPlan } from '../../../src/cli/start/serve.js'

const http = { serveHttp: 'http://127.0.0.1:9/v1', modelId: 'm', params: '7000000000' }

describe('seller risk flags', () => {
  it('default: an empty policy (every default applies)', async () => {
    expect((await sellPlan(http, {}))?.risk).toEqual({})
  })

  it('--max-unpaid, --max-unpaid-total, --refuse-credit', async () => {
    const plan = await sellPlan({ ...http, maxUnpaid: '4000', maxUnpaidTotal: '90000', refuseCredit: true }, {})
    expect(plan?.risk).toEqual({ maxUnpaidPerBuyerUc: 4000n, maxUnpaidYoungUc: 4000n, maxUnpaidTotalUc: 90_000n, serveOnCredit: false })
    // above the young default, young accounts keep theirs
    expect((await sellPlan({ ...http, maxUnpaid: '200000' }, {}))?.risk).toEqual({ maxUnpaidPerBuyerUc: 200_000n })
  })

  it('bad values and flags without a backend are usage errors', async () => {
    await expect(sellPlan({ ...http, maxUnpaid: '0' }, {})).rejects.toMatchObject({ name: 'UsageError' })
    await expect(sellPlan({ ...http, maxUnpaidTotal: '1.5' }, {})).rejects.toMatchObject({ name: 'UsageError' })
    await expect(sellPlan({ refuseCredit: true }, {})).rejects.toMatchObject({ name: 'UsageError' })
  })
})

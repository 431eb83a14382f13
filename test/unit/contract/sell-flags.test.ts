/** `tally start` flags for the seller's risk policy (negotiate.md § Seller risk policy) become SellInit.risk. */
import { describe, expect, it } from 'vitest'
import { sellPlan } from '../../../src/cli/start/serve.js'
import { accountIdFromPublicKey } from '../../../src/identity/account.js'

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

  it('--trust-grantor (repeatable, comma list) and TALLY_TRUST_GRANTORS become trusted grantor keys', async () => {
    const keys = [1, 2, 3].map(i => new Uint8Array(32).fill(i))
    const ids = keys.map(accountIdFromPublicKey)
    expect((await sellPlan({ ...http, trustGrantor: [ids[0], ids[1]] }, {}))?.risk.trustedGrantors).toEqual([keys[0], keys[1]])
    expect((await sellPlan(http, { TALLY_TRUST_GRANTORS: `${ids[2]}, ${ids[0]}` }))?.risk.trustedGrantors).toEqual([keys[2], keys[0]])
    // the flag wins over the environment
    expect((await sellPlan({ ...http, trustGrantor: [ids[1]] }, { TALLY_TRUST_GRANTORS: ids[2] }))?.risk.trustedGrantors).toEqual([keys[1]])
    await expect(sellPlan({ ...http, trustGrantor: ['not-an-account'] }, {})).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('--trust-grantor') })
    await expect(sellPlan(http, { TALLY_TRUST_GRANTORS: 'nope' })).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('TALLY_TRUST_GRANTORS') })
    await expect(sellPlan({ ...http, trustGrantor: [ids[0], ids[0]] }, {})).rejects.toMatchObject({ name: 'UsageError' })
    await expect(sellPlan({ ...http, trustGrantor: [] }, {})).rejects.toMatchObject({ name: 'UsageError' })
    const many = Array.from({ length: 17 }, (_, i) => accountIdFromPublicKey(new Uint8Array(32).fill(i + 1)))
    await expect(sellPlan({ ...http, trustGrantor: many }, {})).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('at most 16') })
    await expect(sellPlan({ ...http, trustGrantor: [ids[0]], refuseCredit: true }, {})).rejects.toMatchObject({ name: 'UsageError' })
    await expect(sellPlan({ trustGrantor: [ids[0]] }, {})).rejects.toMatchObject({ name: 'UsageError' })
  })

  it('bad values and flags without a backend are usage errors', async () => {
    await expect(sellPlan({ ...http, maxUnpaid: '0' }, {})).rejects.toMatchObject({ name: 'UsageError' })
    await expect(sellPlan({ ...http, maxUnpaidTotal: '1.5' }, {})).rejects.toMatchObject({ name: 'UsageError' })
    await expect(sellPlan({ refuseCredit: true }, {})).rejects.toMatchObject({ name: 'UsageError' })
  })
})

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { HttpApiError } from '../../../src/api/errors.js'
import { modelsBody, parseGrantBody, parsePayBody, parseReportQuery, parseRevokeBody, wantsAllBalances } from '../../../src/api/tally-requests.js'

function refusal (fn: () => unknown): { status: number, param: string | null } {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(HttpApiError)
    const body = (err as HttpApiError).toJSON() as { error: { param: string | null } }
    return { status: (err as HttpApiError).status, param: body.error.param }
  }
  throw new Error('expected a refusal')
}

describe('POST /tally/grant and /tally/revoke bodies', () => {
  it('take a positive integer amount; refuse each bad field with a 400 that names it', () => {
    expect(parseGrantBody({ to: 'acct', amount_uc: '2000000' })).toEqual({ to: 'acct', amountUc: 2_000_000n })
    expect(parseRevokeBody({ grant_id: 'ab'.repeat(32), amount_uc: 5 })).toEqual({ grantId: 'ab'.repeat(32), amountUc: 5n })
    expect(refusal(() => parseGrantBody(null))).toEqual({ status: 400, param: null })
    expect(refusal(() => parseGrantBody({ amount_uc: 1 })).param).toBe('to')
    expect(refusal(() => parseGrantBody({ to: 'a', amount_uc: 0 })).param).toBe('amount_uc')
    expect(refusal(() => parseRevokeBody({ grant_id: 'AB'.repeat(32), amount_uc: 1 })).param).toBe('grant_id')
    expect(refusal(() => parseRevokeBody({ grant_id: 'ab'.repeat(32), amount_uc: '01' })).param).toBe('amount_uc')
  })
})

describe('POST /tally/pay body', () => {
  it('takes a positive integer amount as a number or a decimal string', () => {
    expect(parsePayBody({ to: 'acct', amount_uc: 5 })).toEqual({ to: 'acct', amountUc: 5n, memo: undefined, tag: undefined })
    expect(parsePayBody({ to: 'acct', amount_uc: '9223372036854775807', memo: 'm', tag: 't' })).toEqual({ to: 'acct', amountUc: 9223372036854775807n, memo: 'm', tag: 't' })
  })

  it('refuses each bad field with a 400 that names it', () => {
    expect(refusal(() => parsePayBody(null))).toEqual({ status: 400, param: null })
    expect(refusal(() => parsePayBody({ amount_uc: 1 })).param).toBe('to')
    for (const amount of [0, -1, 1.5, '0', '01', '1e3', '12345678901234567890', Number.MAX_SAFE_INTEGER + 2, null, true]) {
      expect(refusal(() => parsePayBody({ to: 'a', amount_uc: amount })).param).toBe('amount_uc')
    }
    expect(refusal(() => parsePayBody({ to: 'a', amount_uc: 1, memo: 'x'.repeat(257) })).param).toBe('memo')
    expect(refusal(() => parsePayBody({ to: 'a', amount_uc: 1, tag: 7 })).param).toBe('tag')
  })

  it('never throws anything but an HttpApiError on any JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), (body) => {
      try { parsePayBody(body) } catch (err) { expect(err).toBeInstanceOf(HttpApiError) }
    }))
  })
})

describe('GET /tally/report and /tally/balance queries', () => {
  it('by defaults to tag; since is a unix time in ms', () => {
    expect(parseReportQuery({})).toEqual({ by: 'tag', sinceMs: undefined })
    expect(parseReportQuery({ by: 'seller', since: '1700000000000' })).toEqual({ by: 'seller', sinceMs: 1_700_000_000_000 })
    expect(refusal(() => parseReportQuery({ by: 'day' })).param).toBe('by')
    expect(refusal(() => parseReportQuery({ since: 'yesterday' })).param).toBe('since')
    expect(wantsAllBalances({ all: '1' })).toBe(true)
    expect(wantsAllBalances({ all: 'yes' })).toBe(false)
  })
})

describe('GET /v1/models body', () => {
  it('is OpenAI\'s list with the market figures under tally', () => {
    expect(modelsBody([{ id: 'm', sellers: 2, params: 7, bestPriceInPerMTokUc: 1n, bestPriceOutPerMTokUc: 3n, capabilities: ['chat', 'tools'], contextLength: 2048 }])).toEqual({
      object: 'list',
      data: [{ id: 'm', object: 'model', created: 0, owned_by: 'tally-market', tally: { sellers: 2, params: 7, best_price_in_per_mtok_uc: 1n, best_price_out_per_mtok_uc: 3n, capabilities: ['chat', 'tools'], context_length: 2048 } }]
    })
  })
})

/**
 * batch-auction at 20 peers on the virtual clock (issue 20 § 4): bids answered by the sellers'
 * auction pricing, the volume bought from the winners through the real negotiate/infer path;
 * the same network without the bids (batch-auction-baseline) for utilisation without batch demand.
 */
import { describe, expect, it } from 'vitest'
import { runSmall } from './helpers.js'

describe('sim: batch-auction', () => {
  it('batch volume goes to the cheapest sellers able to meet the deadline and fills idle slots', async () => {
    const base = await runSmall('batch-auction-baseline', { clock: 'virtual' })
    const r = await runSmall('batch-auction', { clock: 'virtual' })
    const f = r.figures
    // the same network and interactive traffic in both runs
    expect(r.plan.digest).toBe(base.plan.digest)
    expect(base.figures.batchBids).toBeUndefined()
    // every bid was answered, and at least one was urgent (no batch discount)
    const bids = Number(f.batchBids)
    expect(bids).toBe(f.batchBidsPlanned)
    expect(bids).toBeGreaterThanOrEqual(4)
    expect(Number(f.batchBidsUrgent)).toBeGreaterThanOrEqual(1)
    expect(f.batchBidsWithQuotes).toBe(bids)
    expect(r.metrics.quotesPerBid.p50).toBeGreaterThanOrEqual(2)
    // the volume was bought, from the quotes (none at posted prices for want of a quote)
    expect(f.batchBidsFilled).toBe(bids)
    expect(f.batchVolumeDeliveredTokens).toBe(f.batchVolumeAskedTokens)
    expect(f.batchVolumeFallbackTokens).toBe(0)
    // the claims: ≥ 90 % of batch volume to the cheapest capable sellers; utilisation rises
    expect(Number(f.batchVolumeToCheapestPct)).toBeGreaterThanOrEqual(90)
    expect(Number(f.sellerUtilisationPct)).toBeGreaterThan(Number(base.figures.sellerUtilisationPct))
    expect(r.metrics.timeToFillMs.count).toBe(bids)
    // interactive traffic is served as without the bids
    expect(r.requests.sent).toBe(base.requests.sent)
    expect(r.requests.completed).toBe(r.requests.sent)
    for (const x of [base, r]) {
      expect(x.losses.withinBounds).toBe(true)
      expect(x.balancesAgree).toBe(true)
      expect(x.sumOfBalancesUc).toBe('0')
    }
  })
})

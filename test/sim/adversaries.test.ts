/**
 * The adversary scenarios over 10 honest nodes: honest traffic keeps working and honest nodes
 * lose nothing beyond the bounds (seller: one chunk; buyer: what it signed).
 */
import { describe, expect, it } from 'vitest'
import { runSmall } from './helpers.js'

/**
 * honest nodes per run: every bound asserted here holds per node or per session, and 10 carry
 * several hops of gossip, fallbacks and free rides (figures at larger N: `tally sim`, the benches);
 * 20 cost twice the CPU, mostly in warming the mesh
 */
const PEERS = 10

describe('sim: adversaries', () => {
  it('double-spender: flagged on every honest node, then refused', async () => {
    const r = await runSmall('double-spender', { peers: PEERS, durationMs: 4_000, clock: 'virtual' })
    expect(r.adversaries).toBe(1)
    expect(r.doubleSpendFlaggedMs?.nodes).toBe(PEERS)
    expect(r.doubleSpendFlaggedMs?.flaggedOn).toBe(PEERS)
    expect(r.doubleSpendFlaggedMs?.count).toBe(PEERS)
    expect(r.figures.flaggedOnEveryHonestNode).toBe(true)
    expect(r.figures.flaggedBuyerServed).toBe(false)
    expect(r.figures.lossWithinCreditLine).toBe(true)
    // the loss ledger: the forker overdrew at most its credit line once (one proven seq)
    const od = r.losses.overdrafts.find(o => o.adversary === 'double-spender')
    expect(od).toBeDefined()
    expect(BigInt(od!.overdraftUc)).toBeLessThanOrEqual(BigInt(od!.boundUc))
    expect(BigInt(od!.boundUc)).toBeGreaterThan(0n)
    expect(r.losses.withinBounds).toBe(true)
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
  })

  it('gossip-spammer: spam is rejected and scored down, honest traffic is unaffected', async () => {
    const r = await runSmall('gossip-spammer', { peers: PEERS, durationMs: 4_000, clock: 'virtual' })
    expect(Number(r.figures.spamAttempted)).toBeGreaterThan(200)
    expect(Number(r.figures.spamSent)).toBeGreaterThan(20)
    expect(r.figures.spamRecordsAccepted).toBe(0)
    expect(r.figures.honestPeersScoringSpammerNegative).toBe(r.figures.honestPeersConnectedToSpammer)
    expect(r.requests.sent).toBeGreaterThan(3)
    expect(r.requests.completed).toBe(r.requests.sent)
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
  })

  it('stalling-seller: buyers fall back, the staller earns nothing', async () => {
    const r = await runSmall('stalling-seller', { peers: PEERS, durationMs: 5_000, clock: 'virtual' })
    expect(r.figures.servedByStaller).toBe(0)
    expect(Number(r.figures.requestsAfterFallback)).toBeGreaterThan(0)
    expect(r.requests.completed).toBe(r.requests.sent)
    expect(r.figures.stallerBalanceUc).toBe('0')
    expect(r.balancesAgree).toBe(true)
  })

  it('overbilling-seller: claims are caught, buyers fall back and lose nothing', async () => {
    const r = await runSmall('overbilling-seller', { peers: PEERS, durationMs: 4_000, clock: 'virtual' })
    expect(Number(r.figures.overbillerClaimedOutputTokens)).toBeGreaterThan(Number(r.figures.overbillerTrueOutputTokens))
    expect(r.figures.servedByOverbiller).toBe(0)
    expect(Number(r.figures.requestsAfterFallback)).toBeGreaterThan(0)
    expect(r.requests.completed).toBe(r.requests.sent)
    expect(r.figures.honestBuyersLossUc).toBe('0')
    expect(r.losses.honestBuyersOverchargedUc).toBe('0')
    expect(r.losses.withinBounds).toBe(true)
    expect(r.balancesAgree).toBe(true)
  })

  it('non-paying-buyer: each seller streams at most its paid-ahead window unpaid', async () => {
    const r = await runSmall('non-paying-buyer', { peers: PEERS, durationMs: 5_000, clock: 'virtual' })
    expect(Number(r.figures.freeRides)).toBeGreaterThan(0)
    // every session had a paid-ahead window (the contract's max_unpaid_uc, carried as window_uc)
    expect(Number(r.figures.ridesWithoutWindow)).toBe(0)
    expect(BigInt(r.figures.minWindowUc)).toBeGreaterThan(0n)
    // infer.md § Flow 5: unpaid output <= max(W, one backend output), per session, exactly
    expect(Number(r.figures.ridesBeyondWindow)).toBe(0)
    // the rider asked for more than the window covers: some seller stopped at its window, unpaid
    expect(Number(r.figures.ridesStoppedByWindow)).toBeGreaterThan(0)
    expect(Number(r.figures.maxUnpaidTokensPerSession)).toBeGreaterThan(0)
    expect(r.figures.riderBalanceUc).toBe('0')
    // the sellers' own count of unpaid work: some, and within the window's bound per request (+ input, + 1 µc)
    expect(BigInt(r.losses.honestSellersUnpaidUc)).toBeGreaterThan(0n)
    expect(BigInt(r.losses.honestSellersUnpaidUc)).toBeLessThanOrEqual(BigInt(r.losses.honestSellersUnpaidBoundUc))
    expect(r.losses.withinBounds).toBe(true)
    expect(r.requests.completed).toBe(r.requests.sent)
    expect(r.balancesAgree).toBe(true)
  })
})

/**
 * Trust scenarios on the virtual clock (issue 14.7): what keys that cost nothing, contracts
 * never opened, locks never settled and grants can take from honest peers. Each run's figures
 * are the scenario's loss ledger; the bounds asserted are the protocols'.
 */
import { describe, expect, it } from 'vitest'
import { runSmall } from './helpers.js'
import { DEFAULT_OPEN_WITHIN_MS } from '../../src/contract/negotiate.js'
import { DEFAULT_RELEASE_CHECK_MS } from '../../src/ledger/service.js'

/** the sampling step of capacity-squatter's seller watch: a stretch is measured to within it */
const SAMPLE_SLACK_MS = 100
/**
 * honest nodes in the squatter, griefer and grant runs: their bounds are per seller, per lock and
 * per account and hold at 10 (3 sellers, each squatted and griefed many times over), at half
 * the CPU of 20 (lock-griefer idles 6 simulated minutes past its grace). sybil-drain keeps 20:
 * its key count scales with N and the test states 100 keys.
 */
const PEERS = 10

describe('sim: trust', () => {
  // 20 honest nodes: sybil-drain draws 5 keys per node
  it('sybil-drain: 100 fresh keys get no contract, no token and no credit; honest traffic is served as without them', async () => {
    const base = await runSmall('sybil-drain-baseline', { durationMs: 4_000, clock: 'virtual' })
    const r = await runSmall('sybil-drain', { durationMs: 4_000, clock: 'virtual' })
    const sellers = r.sellers
    expect(r.figures.sybilKeys).toBe(100)
    expect(r.figures.sybilKeysTried).toBe(100)
    // every key asked every honest seller, and every seller refused before reserving anything
    expect(r.figures.sybilAttempts).toBe(100 * sellers)
    expect(r.figures.sybilOutcome_INSUFFICIENT_CREDIT).toBe(100 * sellers)
    expect(r.figures.sybilContracts).toBe(0)
    expect(r.figures.sybilRequestsServed).toBe(0)
    expect(r.figures.creditsTakenFromHonestSellersUc).toBe('0')
    expect(r.figures.honestSellersUnpaidUc).toBe('0')
    expect(r.figures.sybilBalanceUc).toBe('0')
    expect(r.figures.sybilLockedUc).toBe('0')
    expect(r.figures.sybilAccountsWithRecords).toBe(0)
    // honest buyers, funded by the genesis issuer, are served as in the run without the attack
    expect(Number(base.figures.honestRequestsSent)).toBeGreaterThan(3)
    expect(r.figures.honestRequestsSent).toBe(base.figures.honestRequestsSent)
    expect(Number(r.figures.honestCompletedPct)).toBeGreaterThanOrEqual(0.99 * Number(base.figures.honestCompletedPct))
    expect(r.requests.completed).toBeGreaterThan(3)
    expect(r.losses.withinBounds).toBe(true)
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
  })

  it('capacity-squatter: contracts never opened close a seller to honest buyers for at most open_within_ms', async () => {
    const r = await runSmall('capacity-squatter', { peers: PEERS, clock: 'virtual' })
    expect(Number(r.figures.squatterKeys)).toBeGreaterThan(0)
    // the attack filled every seller's reservations, more than once (it re-squats what frees up)
    expect(r.figures.sellersEverClosedToHonest).toBe(r.figures.sellers)
    expect(Number(r.figures.squatContracts)).toBeGreaterThan(2 * Number(r.figures.squatterKeys) * Number(r.figures.sellers))
    expect(Number(r.figures.lastSquatMs)).toBeGreaterThan(Number(r.figures.attackFromMs) + DEFAULT_OPEN_WITHIN_MS)
    // every contract is a reservation for open_within_ms, whatever its end (60 s asked)
    expect(r.figures.squatContractsWithoutReservationTerm).toBe(0)
    expect(Number(r.figures.longestUnavailableMs)).toBeGreaterThan(0)
    expect(Number(r.figures.longestUnavailableMs)).toBeLessThanOrEqual(DEFAULT_OPEN_WITHIN_MS + SAMPLE_SLACK_MS)
    expect(Number(r.figures.unavailableAfterLastSquatMs)).toBeLessThanOrEqual(DEFAULT_OPEN_WITHIN_MS + SAMPLE_SLACK_MS)
    expect(r.figures.sellersClosedAtEnd).toBe(0)
    expect(r.figures.unopenedAtEnd).toBe(0)
    // honest buyers keep their opened sessions and fall back: they complete
    expect(Number(r.figures.honestCompletedPct)).toBeGreaterThanOrEqual(95)
    expect(r.requests.sent).toBeGreaterThan(5)
    expect(r.losses.withinBounds).toBe(true)
    expect(r.balancesAgree).toBe(true)
  })

  it('lock-griefer: every lock with a seller that never settles is released by the contract end + grace, the buyers charged at most what they signed', async () => {
    const r = await runSmall('lock-griefer', { peers: PEERS, clock: 'virtual' })
    // honest buyers bought from the griefer, which withheld every settle
    expect(Number(r.figures.burstServedByGriefer)).toBeGreaterThan(5)
    expect(Number(r.figures.settlesWithheld)).toBeGreaterThan(0)
    expect(Number(r.figures.griefLocks)).toBeGreaterThanOrEqual(Number(r.figures.burstServedByGriefer))
    expect(r.figures.griefLocksWithEnd).toBe(r.figures.griefLocks)
    expect(r.figures.griefLocksSettled).toBe(0)
    // each buyer released its own: nothing locked forever, within one release check of end + grace
    expect(r.figures.griefLocksReleased).toBe(r.figures.griefLocks)
    expect(r.figures.griefLocksStillLocked).toBe(0)
    expect(r.figures.griefLockedAtEndUc).toBe('0')
    expect(r.figures.honestLockedAtEndUc).toBe('0')
    expect(Number(r.figures.maxReleaseAfterEndPlusGraceMs)).toBeGreaterThanOrEqual(0)
    expect(Number(r.figures.maxReleaseAfterEndPlusGraceMs)).toBeLessThan(DEFAULT_RELEASE_CHECK_MS)
    // the buyers' loss: at most what they signed (the griefer may still settle those vouchers)
    expect(BigInt(r.figures.griefSignedUc as string)).toBeGreaterThan(0n)
    expect(BigInt(r.figures.griefChargedUc as string)).toBeLessThanOrEqual(BigInt(r.figures.griefSignedUc as string))
    expect(r.losses.honestBuyersOverchargedUc).toBe('0')
    expect(r.losses.withinBounds).toBe(true)
    expect(Number(r.figures.honestCompletedPct)).toBe(100)
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
  })

  it('grant-chain: rings and chains of grants create no credit; the grantor of a line spent and never paid back loses at most its grant', async () => {
    const r = await runSmall('grant-chain', { peers: PEERS, clock: 'virtual' })
    expect(r.figures.ringGrantsValid).toBe(4)
    expect(r.figures.chainHeadGrantValid).toBe(true)
    // a received line never backs a grant: every onward grant in the ring and the chain is refused
    expect(r.figures.ringOnwardGrantsValid).toBe(0)
    expect(r.figures.chainOnwardGrantsValid).toBe(0)
    expect(r.figures['grantsRefused_grant-unbacked']).toBe(4 + 2)
    // what the ring can spend is what it owns, and over the whole run no account set can spend more than it owns
    expect(r.figures.ringSpendableUc).toBe(r.figures.ringOwnFundsUc)
    expect(Number(r.figures.samples)).toBeGreaterThan(10)
    expect(BigInt(r.figures.maxSpendableOverOwnFundsUc as string)).toBeLessThanOrEqual(0n)
    // no account ever bore more for others than it owned (with received lines backing grants: 7 credits more)
    expect(BigInt(r.figures.maxGrantedOverOwnFundsUc as string)).toBeLessThanOrEqual(0n)
    expect(r.figures.maxAccountsBelowBound).toBe(0)
    // the fresh key spent its line and nothing beyond; its grantor's loss is that line, held
    expect(r.figures.chainLineSpentUc).toBe(r.figures.chainHeadLossBoundUc)
    expect(r.figures.chainBeyondLineSpent).toBe(false)
    expect(r.figures.chainKeyBalanceUc).toBe(`-${r.figures.chainHeadLossBoundUc as string}`)
    expect(BigInt(r.figures.chainHeadStillGrantedUc as string)).toBeLessThanOrEqual(BigInt(r.figures.chainHeadLossBoundUc as string))
    expect(r.losses.overdrafts.every(o => o.withinBound)).toBe(true)
    expect(r.losses.withinBounds).toBe(true)
    expect(r.requests.completed).toBe(r.requests.sent)
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
  })
})

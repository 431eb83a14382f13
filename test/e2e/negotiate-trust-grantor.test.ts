/**
 * Whom a seller serves on granted credit (negotiate.md § Seller risk policy, quote term
 * trusted_grantors), on real nodes: a buyer whose lock rests on a line from a grantor the seller
 * trusts is served and its contract carries the term; a buyer living on a line from anyone else is
 * refused buyer-not-trusted (402) before any quote, slot or lock. The same market shows the lines
 * in `balance()` and `tally balance`: granted (amount, used, unused) and received (from whom, used).
 */
import { describe, expect, it } from 'vitest'
import type { TallyNode } from '../../src/node/tally.js'
import { SimulatedBackend } from '../../src/exec/backends/simulated.js'
import { identityFromSeed } from '../../src/identity/keystore.js'
import { toHttpError } from '../../src/api/errors.js'
import { startGateway } from '../../src/api/gateway.js'
import { main } from '../../src/cli/main.js'
import type { CliIO } from '../../src/cli/io.js'
import { startNode, trackGateway, useTallyCleanup } from './tally-helpers.js'
import { waitFor } from '../helpers/wait.js'

useTallyCleanup()

const MODEL = 'sim-3b'
const LOCK_UC = 100_000n
const LINE_UC = 1_000_000n
const sellerId = identityFromSeed(new Uint8Array(32).fill(41))
/** no credit line for anyone: a buyer spends only what it was given or granted; the seller issues */
const NET = { name: 'trust-grantor', issuers: [{ account: sellerId.account, capUc: '100000000' }], defaultCreditLimitUc: '0', maxSessionLockUc: '1000000' }
const request = { messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 8 }

describe('trusted grantors on real nodes', () => {
  it('serves a buyer on a trusted grantor\'s line (the contract names the grantor), refuses one on another\'s line before any quote or lock; balance shows both sides of each line', async () => {
    const trusted = await startNode({ genesis: NET })
    const stranger = await startNode({ bootstrap: trusted.addrs(), genesis: NET })
    const seller = await startNode({ bootstrap: trusted.addrs(), genesis: NET }, {
      identity: sellerId,
      sell: { backend: new SimulatedBackend({ modelId: MODEL, params: 3_000_000_000, tokensPerChunk: 2, maxConcurrency: 2 }), priceInPerMTokUc: 500_000n, priceOutPerMTokUc: 1_000_000n, maxSessions: 2, risk: { trustedGrantors: [trusted.libp2p.peerId.publicKey!.raw] } }
    })
    const good = await startNode({ bootstrap: seller.addrs(), genesis: NET }, { buy: { sessionLockUc: LOCK_UC } })
    const bad = await startNode({ bootstrap: seller.addrs(), genesis: NET }, { buy: { sessionLockUc: LOCK_UC } })

    // the seller (an issuer) funds both grantors; each grants one buyer a line; no buyer owns a µc
    await seller.ledger.credit(trusted.account, 5n * LINE_UC)
    await seller.ledger.credit(stranger.account, 5n * LINE_UC)
    await waitFor(() => trusted.ledger.balance().spendableUc === 5n * LINE_UC && stranger.ledger.balance().spendableUc === 5n * LINE_UC, 'the grantors hold their credits')
    const grantGood = await trusted.grant(good.account, LINE_UC)
    await stranger.grant(bad.account, LINE_UC)
    await waitFor(() => seller.ledger.balance(good.account).spendableUc === LINE_UC && seller.ledger.balance(bad.account).spendableUc === LINE_UC, 'both lines acked, seen by the seller')
    await waitFor(() => good.offerList(MODEL).length === 1 && bad.offerList(MODEL).length === 1, 'the offer reached both buyers')

    // the stranger's grantee: 402 buyer-not-trusted, nothing quoted, nothing locked, nobody blamed
    const quotesBefore = seller.negotiator.stats.quotesIssued
    const err: any = await bad.infer(MODEL, request).then(() => undefined, e => e)
    expect(err).toMatchObject({ code: 'buyer-not-trusted', message: expect.stringContaining('grantors this seller does not trust') })
    expect(toHttpError(err).status).toBe(402)
    expect(seller.negotiator.stats.quotesIssued).toBe(quotesBefore)
    expect(bad.ledger.balance().lockedUc).toBe(0n)
    expect(bad.quality.snapshot(seller.account)?.failures ?? 0).toBe(0)

    // the trusted grantor's grantee is served; its signed contract names the grantor
    const r = await good.infer(MODEL, request)
    expect(r.seller).toBe(seller.account)
    const [contract] = seller.negotiator.activeSessions()
    expect(contract.buyerId).toBe(good.account)
    expect(contract.trustedGrantors.map(k => Buffer.from(k).toString('hex'))).toEqual([Buffer.from(trusted.libp2p.peerId.publicKey!.raw).toString('hex')])
    expect(good.ledger.balance().lockedUc).toBe(LOCK_UC)

    // balance: the grantee's lock draws on its line; the grantor sees the same draw
    await waitFor(async () => (await good.balance()).lines.received[0]?.usedUc === LOCK_UC, 'the grantee sees its lock drawn on the line')
    expect((await good.balance()).lines).toEqual({ granted: [], received: [{ grantId: grantGood.id, grantor: trusted.account, amountUc: LINE_UC, usedUc: LOCK_UC, acked: true }] })
    await waitFor(async () => (await trusted.balance()).lines.granted[0]?.usedUc === LOCK_UC, 'the grantor sees the draw')
    expect((await trusted.balance()).lines).toEqual({ granted: [{ grantId: grantGood.id, grantee: good.account, amountUc: LINE_UC, usedUc: LOCK_UC, unusedUc: LINE_UC - LOCK_UC }], received: [] })

    // `tally balance` prints them
    const gw = trackGateway(await startGateway(trusted, { port: 0 }))
    const out: string[] = []
    const io: CliIO = { out: l => { out.push(l) }, err: () => {}, env: {} }
    expect(await main(['node', 'tally', 'balance', '--api', gw.url], { io, signal: new AbortController().signal })).toBe(0)
    expect(out).toContain('credit lines granted (borne by this account):')
    expect(out.find(l => l.includes(good.account))).toMatch(/1 +0\.1 +0\.9/)
    out.length = 0
    expect(await main(['node', 'tally', 'balance', good.account, '--api', gw.url], { io, signal: new AbortController().signal })).toBe(0)
    expect(out).toContain('credit lines received:')
    expect(out.find(l => l.includes(trusted.account))).toMatch(/1 +0\.1 +yes/)
  })
})

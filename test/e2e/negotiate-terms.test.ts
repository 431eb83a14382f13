/**
 * Quotes whose terms contradict the request or the buyer's means (issue 14, bad input): a lying
 * seller on a raw /tally/negotiate handler quotes another lock, a later session end, a longer
 * validity, or names grantors whose lines cannot carry the lock; the buyer signs no accept for any
 * of them (ContractMismatchError, quote-terms-unmet). An honest quote of the same seller is taken.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { NEGOTIATE_PROTOCOL } from '../../src/contract/negotiate.js'
import { openAccept, signContract, signQuote, type QuoteTerms } from '../../src/contract/messages.js'
import { NegotiateFrame } from '../../src/wire/pb/negotiate.js'
import { createPeer, stopAll, testNet, type TestPeer } from './market-helpers.js'
import { MODEL, negotiatingPeer, type NegotiatingPeer } from './negotiate-helpers.js'

let peers: TestPeer[] = []
let svcs: NegotiatingPeer[] = []
afterEach(async () => {
  await Promise.all(svcs.map(async p => p.svc.stop()))
  await stopAll([...peers, ...svcs.map(p => p.peer)])
  peers = []
  svcs = []
})

/** a seller that answers each request with the quote `lie` makes of the honest one, and countersigns any accept */
async function lyingSeller (lie: (honest: QuoteTerms) => QuoteTerms): Promise<{ peer: TestPeer, accepts: () => number }> {
  const peer = await createPeer()
  peers.push(peer)
  let accepts = 0
  await peer.libp2p.handle(NEGOTIATE_PROTOCOL, async (stream) => {
    const lp = lpStream(stream)
    const req = NegotiateFrame.decode((await lp.read()).subarray()).quoteRequest!
    const now = BigInt(Date.now())
    const q = signQuote(peer.signer, testNet, lie({
      quoteId: randomBytes(16), buyer: req.buyer, requestNonce: req.nonce, modelId: req.modelId, fingerprint: MODEL.fingerprint, fingerprintVerified: true,
      params: MODEL.params, priceInPerMTokUc: MODEL.priceInPerMTokUc, priceOutPerMTokUc: MODEL.priceOutPerMTokUc, validUntilMs: now + 10_000n,
      maxSpendUc: req.maxSpendUc, sessionExpiresAtMs: req.sessionExpiresAtMs, openWithinMs: 5_000n
    }))
    await lp.write(NegotiateFrame.encode({ quote: q.bytes as Uint8Array<ArrayBuffer> }))
    const f = NegotiateFrame.decode((await lp.read()).subarray())
    accepts++
    const c = signContract(peer.signer, testNet, openAccept(f.accept!, testNet))
    await lp.write(NegotiateFrame.encode({ contract: c.bytes as Uint8Array<ArrayBuffer> }))
    await lp.unwrap().close()
  }, { runOnLimitedConnection: true } as any)
  return { peer, accepts: () => accepts }
}

describe('quotes that contradict the request or the buyer\'s means', () => {
  it('the buyer signs no accept for a changed lock, a later end, an over-long validity, or grantors its lines do not reach; it takes an honest quote', async () => {
    const buyer = await negotiatingPeer()
    svcs.push(buyer)
    const end = BigInt(Date.now() + 60_000)
    const ask = (accepts?: Record<string, unknown>): any => ({ modelId: MODEL.modelId, maxSpendUc: 50_000n, sessionExpiresAtMs: end, accepts })
    const grantor = new Uint8Array(32).fill(5)
    const cases: Array<[(q: QuoteTerms) => QuoteTerms, string, RegExp, Record<string, unknown>?]> = [
      [q => ({ ...q, maxSpendUc: 50_001n }), 'contract-mismatch', /lock is 50001/],
      [q => ({ ...q, sessionExpiresAtMs: end + 1n }), 'contract-mismatch', /session end/],
      [q => ({ ...q, validUntilMs: q.validUntilMs + 60_000n }), 'contract-mismatch', /more than 10 s/],
      [q => ({ ...q, modelId: 'other-model' }), 'contract-mismatch', /other-model/],
      [q => ({ ...q, trustedGrantors: [grantor] }), 'quote-terms-unmet', /credit only from 1 grantor.*49999 µc/, { spendableTrusting: (g: Uint8Array[]) => g.length === 1 && g[0][0] === 5 ? 49_999n : 0n }]
    ]
    for (const [lie, code, re, accepts] of cases) {
      const s = await lyingSeller(lie)
      const err: any = await buyer.svc.negotiate(s.peer.libp2p.getMultiaddrs(), ask(accepts)).then(() => undefined, e => e)
      expect(err?.code).toBe(code)
      expect(err?.message).toMatch(re)
      expect(s.accepts()).toBe(0)
    }
    // the same trusted-grantors term, when the buyer's lines from that grantor reach the lock
    const s = await lyingSeller(q => ({ ...q, trustedGrantors: [grantor] }))
    const c = await buyer.svc.negotiate(s.peer.libp2p.getMultiaddrs(), ask({ spendableTrusting: () => 50_000n }))
    expect(c.trustedGrantors).toEqual([grantor])
    expect(s.accepts()).toBe(1)
  })
})

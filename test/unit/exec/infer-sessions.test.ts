import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { BuyerSessions, SellerSessions } from '../../../src/exec/infer/sessions.js'
import { BudgetExhaustedError, InvalidRequestError, InvalidTermsError, SessionBusyError, SessionClosedError, SessionExpiredError, UnknownSessionError, WrongBuyerError } from '../../../src/exec/infer/errors.js'
import { validateTerms, type SessionTerms } from '../../../src/exec/infer/terms.js'
import { checkChatRequest, decodeBuyerFrame, decodeSellerFrame, encodeRequest, encodeSellerFrame, encodeVoucherFrame, MAX_REQUEST_FRAME_BYTES, parseRequest } from '../../../src/exec/infer/codec.js'
import { utf8BoundCounter } from '../../../src/exec/infer/token-counter.js'
import { makeVoucher, StaleVoucherError } from '../../../src/exec/voucher.js'
import { sessionAmountUc } from '../../../src/exec/pricing.js'
import { meterRecord, tokensPerSec } from '../../../src/exec/metering.js'
import { createSigner, generateSeed } from '../../../src/identity/ed25519.js'
import { netId } from '../../../src/ledger/genesis.js'
import { MalformedMessageError, MessageTooLargeError } from '../../../src/wire/errors.js'
import type { ChatRequest } from '../../../src/exec/backend.js'

const net = netId({ name: 'sessions-test', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 0n })
const buyer = createSigner(generateSeed())
const seller = createSigner(generateSeed())

function terms (over: Partial<SessionTerms> = {}): SessionTerms {
  return { contractId: new Uint8Array(32).fill(Math.floor(Math.random() * 255)), buyer: buyer.publicKey, seller: seller.publicKey, modelId: 'm', params: 1_000_000_000, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n, maxSpendUc: 100n, expiresAtMs: 10_000, ...over }
}

describe('session terms', () => {
  it('are range-checked', () => {
    expect(() => validateTerms(terms({ contractId: new Uint8Array(31) }))).toThrow(InvalidTermsError)
    expect(() => validateTerms(terms({ buyer: new Uint8Array(3) }))).toThrow(InvalidTermsError)
    expect(() => validateTerms(terms({ modelId: '' }))).toThrow(InvalidTermsError)
    expect(() => validateTerms(terms({ params: 0 }))).toThrow(InvalidTermsError)
    expect(() => validateTerms(terms({ priceOutPerMTokUc: 0n }))).toThrow(InvalidTermsError)
    expect(() => validateTerms(terms({ maxSpendUc: 0n }))).toThrow(InvalidTermsError)
    expect(() => validateTerms(terms({ expiresAtMs: 1.5 }))).toThrow(InvalidTermsError)
  })
})

describe('SellerSessions', () => {
  it('starts requests only for the buyer, on a known, open, unexpired, unspent, idle session', () => {
    let now = 0
    const reg = new SellerSessions({ net, now: () => now })
    const t = reg.add(terms()).terms
    expect(() => reg.beginRequest(new Uint8Array(32).fill(255), buyer.publicKey)).toThrow(UnknownSessionError)
    expect(() => reg.beginRequest(t.contractId, seller.publicKey)).toThrow(WrongBuyerError)
    expect(() => reg.beginRequest(t.contractId, undefined)).toThrow(WrongBuyerError)
    const s = reg.beginRequest(t.contractId, buyer.publicKey)
    expect(() => reg.beginRequest(t.contractId, buyer.publicKey)).toThrow(SessionBusyError)
    // a stranger learns nothing of the session's state: wrong buyer, not busy (infer.md's order)
    expect(() => reg.beginRequest(t.contractId, seller.publicKey)).toThrow(WrongBuyerError)
    reg.endRequest(s)
    s.amountUc = t.maxSpendUc
    expect(() => reg.beginRequest(t.contractId, buyer.publicKey)).toThrow(BudgetExhaustedError)
    s.amountUc = 0n
    now = 10_000
    expect(() => reg.beginRequest(t.contractId, buyer.publicKey)).toThrow(SessionExpiredError)
    expect(reg.closeSession(t.contractId)?.terms).toEqual(t)
    now = 0
    expect(() => reg.beginRequest(t.contractId, buyer.publicKey)).toThrow(SessionClosedError)
    expect(() => reg.beginRequest(t.contractId, seller.publicKey)).toThrow(WrongBuyerError)
  })

  it('keeps the highest voucher and refuses a replay', () => {
    const reg = new SellerSessions({ net, now: () => 0 })
    const t = reg.add(terms()).terms
    const mk = (nonce: bigint, o: bigint) => makeVoucher(buyer, net, { contractId: t.contractId, nonce, inputTokens: 0n, outputTokens: o, amountUc: sessionAmountUc(0n, o, t) })
    reg.acceptVoucher(t.contractId, mk(1n, 3n).bytes)
    reg.acceptVoucher(t.contractId, mk(2n, 5n).bytes)
    expect(() => reg.acceptVoucher(t.contractId, mk(2n, 6n).bytes)).toThrow(StaleVoucherError)
    expect(reg.highestVoucher(t.contractId)!.outputTokens).toBe(5n)
    expect(() => reg.acceptVoucher(new Uint8Array(32), mk(3n, 6n).bytes)).toThrow(UnknownSessionError)
    const closed = reg.closeSession(t.contractId)!
    expect(closed.highestVoucher!.nonce).toBe(2n)
    reg.remove(t.contractId)
    expect(reg.get(t.contractId)).toBeUndefined()
  })

  it('the unpaid room is the contract\'s max_unpaid_uc, within the node cap less the other sessions\' unpaid work', () => {
    const reg = new SellerSessions({ net, now: () => 0, maxUnpaidTotalUc: 50n })
    const a = reg.add(terms({ maxSpendUc: 1_000n, maxUnpaidUc: 30n }))
    const b = reg.add(terms({ contractId: new Uint8Array(32).fill(7), maxSpendUc: 1_000n }))
    expect(reg.unpaidRoom(a)).toEqual({ paidUc: 0n, roomUc: 30n, window: true })
    expect(reg.unpaidRoom(b)).toEqual({ paidUc: 0n, roomUc: 50n })
    // b has billed 40 µc no voucher covers: a may run 10 ahead, b its 50 (its own unpaid is not "other")
    b.amountUc = 40n
    expect(reg.exposureUc()).toBe(40n)
    expect(reg.unpaidRoom(a)).toEqual({ paidUc: 0n, roomUc: 10n, window: true })
    expect(reg.unpaidRoom(b)).toEqual({ paidUc: 0n, roomUc: 50n })
    // a voucher for b's work frees the room again
    const v = makeVoucher(buyer, net, { contractId: b.terms.contractId, nonce: 1n, inputTokens: 0n, outputTokens: 20n, amountUc: sessionAmountUc(0n, 20n, b.terms) })
    reg.acceptVoucher(b.terms.contractId, v.bytes)
    expect(reg.exposureUc()).toBe(0n)
    expect(reg.unpaidRoom(a)).toEqual({ paidUc: 0n, roomUc: 30n, window: true })
    expect(reg.unpaidRoom(b)).toEqual({ paidUc: 40n, roomUc: 50n })
    // neither a term nor a cap: the window alone
    expect(new SellerSessions({ net, now: () => 0 }).unpaidRoom(b)).toBeUndefined()
  })

  it('sums unpaid work and its bound over requests', () => {
    const reg = new SellerSessions({ net, now: () => 0 })
    expect(reg.unpaid()).toEqual({ requests: 0, inputTokens: 0n, outputTokens: 0n, amountUc: 0n, boundUc: 0n, maxOutputTokens: 0n })
    reg.recordUnpaid({ inputTokens: 0n, outputTokens: 4n, amountUc: 3n, boundUc: 9n })
    reg.recordUnpaid({ inputTokens: 7n, outputTokens: 2n, amountUc: 5n, boundUc: 12n })
    const u = reg.unpaid()
    expect(u).toEqual({ requests: 2, inputTokens: 7n, outputTokens: 6n, amountUc: 8n, boundUc: 21n, maxOutputTokens: 4n })
    u.requests = 99
    expect(reg.unpaid().requests).toBe(2)
  })
})

describe('BuyerSessions', () => {
  it('tracks what the buyer signed and refuses spent or busy sessions', () => {
    const reg = new BuyerSessions({ now: () => 0 })
    const t = terms({ maxSpendUc: 10n })
    reg.add(t)
    const s = reg.beginRequest(t.contractId)
    expect(() => reg.beginRequest(t.contractId)).toThrow(SessionBusyError)
    const v = makeVoucher(buyer, net, { contractId: t.contractId, nonce: 1n, inputTokens: 0n, outputTokens: 5n, amountUc: 10n })
    reg.recordVoucher(s, v)
    reg.endRequest(s)
    expect(reg.lastVoucher(t.contractId)).toBe(v)
    expect(() => reg.beginRequest(t.contractId)).toThrow(BudgetExhaustedError)
    expect(() => reg.beginRequest(new Uint8Array(32))).toThrow(UnknownSessionError)
    // what a settle may charge at most survives the session
    reg.closeSession(t.contractId)
    reg.remove(t.contractId)
    expect(reg.signedUc(t.contractId)).toBe(10n)
    expect(reg.signedUc(new Uint8Array(32))).toBe(0n)
  })
})

const req: ChatRequest = { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'héllo' }], maxTokens: 10, temperature: 0.5, topP: 0.9, seed: 42, stop: ['\n'] }

describe('infer codec', () => {
  it('round-trips a request (property)', () => {
    const msg = fc.record({ role: fc.constantFrom('system' as const, 'user' as const, 'assistant' as const), content: fc.string({ maxLength: 200 }) })
    fc.assert(fc.property(fc.array(msg, { minLength: 1, maxLength: 10 }), fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }), fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }), (messages, maxTokens, seed) => {
      const r: ChatRequest = { messages, maxTokens, seed }
      const id = new Uint8Array(32).fill(7)
      const back = parseRequest(decodeBuyerFrame(encodeRequest(id, r), true).request!)
      return JSON.stringify(back.request.messages) === JSON.stringify(messages) && back.request.maxTokens === maxTokens && back.request.seed === seed
    }))
    const back = parseRequest(decodeBuyerFrame(encodeRequest(new Uint8Array(32), req), true).request!)
    expect(back.request).toEqual(req)
  })

  it('rejects out-of-range requests with InvalidRequestError', () => {
    expect(() => checkChatRequest({ messages: [] })).toThrow(InvalidRequestError)
    expect(() => checkChatRequest({ messages: [{ role: 'tool' as any, content: 'x' }] })).toThrow(InvalidRequestError)
    expect(() => checkChatRequest({ ...req, maxTokens: 0 })).toThrow(InvalidRequestError)
    expect(() => checkChatRequest({ ...req, temperature: 3 })).toThrow(InvalidRequestError)
    expect(() => checkChatRequest({ ...req, topP: 0 })).toThrow(InvalidRequestError)
    expect(() => checkChatRequest({ ...req, seed: -1 })).toThrow(InvalidRequestError)
    expect(() => checkChatRequest({ ...req, stop: ['a', 'b', 'c', 'd', 'e'] })).toThrow(InvalidRequestError)
    expect(() => checkChatRequest({ ...req, stop: [''] })).toThrow(InvalidRequestError)
    const frame = decodeBuyerFrame(encodeRequest(new Uint8Array(32), req), true)
    expect(() => parseRequest({ ...frame.request!, contractId: new Uint8Array(5) })).toThrow(InvalidRequestError)
  })

  it('enforces frame order, sizes and shapes with typed errors', () => {
    const vf = encodeVoucherFrame(new Uint8Array(10))
    expect(() => decodeBuyerFrame(vf, true)).toThrow(MalformedMessageError)
    expect(() => decodeBuyerFrame(encodeRequest(new Uint8Array(32), req), false)).toThrow(MalformedMessageError)
    expect(() => decodeBuyerFrame(new Uint8Array(MAX_REQUEST_FRAME_BYTES + 1), true)).toThrow(MessageTooLargeError)
    expect(() => decodeBuyerFrame(new Uint8Array(2000), false)).toThrow(MessageTooLargeError)
    expect(() => decodeSellerFrame(encodeSellerFrame({}))).toThrow(MalformedMessageError)
    expect(() => decodeSellerFrame(encodeSellerFrame({ failure: { code: 'x', message: '' }, chunk: { text: '', outputTokens: 0, totalInputTokens: 0n, totalOutputTokens: 0n, amountUc: 0n } }))).toThrow(MalformedMessageError)
  })

  it('decoders reject garbage only with typed errors (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, first) => {
      for (const f of [() => decodeBuyerFrame(bytes, first), () => decodeSellerFrame(bytes)]) {
        try { f() } catch (err) { if (!(err instanceof MalformedMessageError || err instanceof MessageTooLargeError)) return false }
      }
      return true
    }))
  })
})

describe('token counter and metering', () => {
  it('the UTF-8 bound counts bytes and adds a template allowance to input', () => {
    const c = utf8BoundCounter({ templateTokensPerMessage: 2, templateTokensFixed: 1 })
    expect(c.maxOutputTokens('héllo')).toBe(6)
    expect(c.maxInputTokens([{ role: 'user', content: 'ab' }])).toBe(1 + 4 + 2 + 2)
  })

  it('meter records carry exact Bpt and the amount this request added', () => {
    const r = meterRecord({ contractId: new Uint8Array(32), seller: seller.publicKey, buyer: buyer.publicKey, modelId: 'm', params: 7_000_000_000, priceInPerMTokUc: 1n, priceOutPerMTokUc: 2n, inputTokens: 10, outputTokens: 21, amountBeforeUc: 5n, amountAfterUc: 9n, ttftMs: 12, generationMs: 2000, usageSource: 'reported', startedAtMs: 1 })
    expect(r.bpt).toBe('217')
    expect(r.bptNano).toBe(217_000_000_000n)
    expect(r.amountUc).toBe(4n)
    expect(r.sessionAmountUc).toBe(9n)
    expect(r.tokensPerSec).toBe(10)
    expect(tokensPerSec(1, 100)).toBe(0)
  })
})

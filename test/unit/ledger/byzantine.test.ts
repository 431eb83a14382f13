import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Ledger } from '../../../src/ledger/ledger.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { parseRecord, signRecord, fromHex, MAX_MEMO_BYTES, MAX_TAG_BYTES, MAX_ACKS, MAX_RECORD_BYTES } from '../../../src/ledger/record.js'
import { InvalidRecordError } from '../../../src/ledger/errors.js'
import { Record as RecordPb } from '../../../src/wire/pb/ledger.js'
import { sealEnvelope } from '../../../src/wire/envelope.js'
import { Domain } from '../../../src/wire/domains.js'
import { World, CREDIT_LIMIT } from './world.js'

async function setup (): Promise<{ w: World, l: Ledger, store: MemoryLedgerStore, net: Uint8Array, credit: string, t1: string }> {
  const w = new World(3)
  const c = await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 5_000n })
  const t1 = await w.sign(1, { type: 'transfer', to: w.key(2), amountUc: 100n })
  const store = new MemoryLedgerStore()
  const l = new Ledger({ genesis: w.genesis, store })
  for (const r of w.records) l.add(r)
  await l.flush()
  return { w, l, store, net: l.net, credit: c.id, t1: t1.id }
}

describe('byzantine records are rejected and never stored', () => {
  it('each kind of bad record gets its reason', async () => {
    const { w, l, store, net, credit, t1 } = await setup()
    const A = w.actors[1].signer
    const next = { net, seq: 2n, prev: fromHex(t1) }
    const cases: Array<[string, Uint8Array]> = []
    const good = signRecord(A, { ...next, kind: { type: 'transfer', to: w.key(2), amountUc: 1n } }).bytes
    const badSig = Uint8Array.from(good); badSig[badSig.length - 5] ^= 1
    cases.push(['bad-signature', badSig])
    const other = new World(3, 'other-net')
    cases.push(['bad-signature', signRecord(A, { ...next, net: other.actors[0].ledger.net, kind: { type: 'transfer', to: w.key(2), amountUc: 1n } }).bytes])
    // right envelope net, wrong net inside the payload
    cases.push(['wrong-net', sealEnvelope(A, Domain.record, net, RecordPb.encode({ net: other.actors[0].ledger.net as any, from: A.publicKey as any, seq: 2n, prev: fromHex(t1) as any, acks: [], memo: '', time: 0n, transfer: { to: w.key(2) as any, amountUc: 1n, memo: '', tag: '' } })).bytes])
    cases.push(['wrong-author', sealEnvelope(w.actors[2].signer, Domain.record, net, RecordPb.encode({ net: net as any, from: A.publicKey as any, seq: 2n, prev: fromHex(t1) as any, acks: [], memo: '', time: 0n, transfer: { to: w.key(2) as any, amountUc: 1n, memo: '', tag: '' } })).bytes])
    cases.push(['wrong-domain', sealEnvelope(A, Domain.voucher, net, new Uint8Array(8)).bytes])
    cases.push(['bad-chain', signRecord(A, { ...next, seq: 3n, kind: { type: 'transfer', to: w.key(2), amountUc: 1n } }).bytes])
    cases.push(['bad-chain', signRecord(A, { net, seq: 1n, prev: fromHex(t1), kind: { type: 'transfer', to: w.key(2), amountUc: 1n } }).bytes])
    cases.push(['bad-chain', signRecord(A, { net, seq: 2n, prev: fromHex(credit), kind: { type: 'transfer', to: w.key(2), amountUc: 1n } }).bytes])
    cases.push(['double-ack', signRecord(A, { ...next, acks: [fromHex(credit)], kind: { type: 'transfer', to: w.key(2), amountUc: 1n } }).bytes])
    cases.push(['double-ack', signRecord(w.actors[2].signer, { net, seq: 1n, acks: [fromHex(t1), fromHex(t1)], kind: { type: 'ack' } }).bytes])
    cases.push(['bad-ack', signRecord(A, { ...next, acks: [fromHex(t1)], kind: { type: 'transfer', to: w.key(2), amountUc: 1n } }).bytes])
    cases.push(['overspend', signRecord(A, { ...next, kind: { type: 'transfer', to: w.key(2), amountUc: 5_000n - 100n + CREDIT_LIMIT + 1n } }).bytes])
    cases.push(['bad-amount', signRecord(A, { ...next, kind: { type: 'transfer', to: w.key(2), amountUc: 0n } }).bytes])
    cases.push(['bad-field', signRecord(A, { ...next, memo: 'x'.repeat(MAX_MEMO_BYTES + 1), kind: { type: 'transfer', to: w.key(2), amountUc: 1n } }).bytes])
    cases.push(['bad-field', signRecord(A, { ...next, kind: { type: 'transfer', to: w.key(2), amountUc: 1n, memo: 'é'.repeat(MAX_MEMO_BYTES / 2 + 1) } }).bytes])
    cases.push(['bad-field', signRecord(A, { ...next, kind: { type: 'transfer', to: w.key(2), amountUc: 1n, tag: 't'.repeat(MAX_TAG_BYTES + 1) } }).bytes])
    cases.push(['bad-field', signRecord(A, { ...next, kind: { type: 'transfer', to: w.key(1), amountUc: 1n } }).bytes])
    cases.push(['bad-field', signRecord(A, { ...next, kind: { type: 'open', seller: w.key(2), contractId: new Uint8Array(5), maxSpendUc: 1n } }).bytes])
    cases.push(['lock-too-large', signRecord(A, { ...next, kind: { type: 'open', seller: w.key(2), contractId: new Uint8Array(32), maxSpendUc: w.genesis.maxSessionLockUc + 1n } }).bytes])
    cases.push(['malformed', signRecord(A, { ...next, kind: { type: 'ack' } }).bytes])
    cases.push(['malformed', signRecord(A, { ...next, acks: Array.from({ length: MAX_ACKS + 1 }, (_, i) => new Uint8Array(32).fill(i)), kind: { type: 'ack' } }).bytes])
    cases.push(['malformed', sealEnvelope(A, Domain.record, net, RecordPb.encode({ net: net as any, from: A.publicKey as any, seq: 2n, prev: fromHex(t1) as any, acks: [], memo: '', time: 0n, transfer: { to: w.key(2) as any, amountUc: 1n, memo: '', tag: '' } }).subarray(0, 30)).bytes])
    cases.push(['too-large', new Uint8Array(MAX_RECORD_BYTES + 1)])
    cases.push(['not-issuer', signRecord(A, { ...next, kind: { type: 'credit', to: w.key(2), amountUc: 1n } }).bytes])
    cases.push(['malformed', new Uint8Array([0xff, 0xff, 0xff])])
    for (const [reason, bytes] of cases) {
      expect(l.validateGossipRecord(bytes), reason).toBe('reject')
      expect(l.add(bytes), reason).toMatchObject({ status: 'rejected', reason })
    }
    // an ack of a record that does not exist never becomes valid
    const ghost = signRecord(A, { ...next, acks: [new Uint8Array(32).fill(9)], kind: { type: 'transfer', to: w.key(2), amountUc: 1n } })
    expect(l.validateGossipRecord(ghost.bytes)).toBe('ignore')
    expect(l.add(ghost.bytes).status).toBe('pending')
    expect(l.missing()).toEqual([Buffer.alloc(32, 9).toString('hex')])
    // its descendants wait too, and the good record at the same seq is still accepted (a fork)
    expect(l.add(good).status).toBe('accepted')
    await l.flush()
    expect(store.records.size).toBe(3)
    expect(l.size).toBe(3)
    expect(l.has(ghost.id)).toBe(false)
    expect(l.totalUc()).toBe(0n)
  })

  it('a record that depends on a rejected one is rejected', async () => {
    const { w, l, net, t1 } = await setup()
    const A = w.actors[1].signer
    const bad = signRecord(A, { net, seq: 2n, prev: fromHex(t1), kind: { type: 'transfer', to: w.key(2), amountUc: 10n ** 9n } })
    const child = signRecord(A, { net, seq: 3n, prev: fromHex(bad.id), kind: { type: 'transfer', to: w.key(2), amountUc: 1n } })
    expect(l.add(child.bytes).status).toBe('pending')
    expect(l.add(bad.bytes)).toMatchObject({ status: 'rejected', reason: 'overspend' })
    expect(l.pendingSize).toBe(0)
    expect(l.add(child.bytes)).toMatchObject({ status: 'rejected' })
  })

  it('garbage bytes never throw and are rejected (property)', async () => {
    const { l, store } = await setup()
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), bytes => {
      expect(l.add(bytes).status).toBe('rejected')
      expect(l.validateGossipRecord(bytes)).toBe('reject')
    }), { numRuns: 300 })
    await l.flush()
    expect(store.records.size).toBe(2)
    expect(store.pending.size).toBe(0)
  })

  it('records round-trip through sign and parse (property)', async () => {
    const { w, net } = await setup()
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), fc.string({ maxLength: 60 }), fc.string({ maxLength: 20 }), fc.bigInt({ min: 1n, max: 2n ** 40n }), (amountUc, memo, tag, seq) => {
      const { id, bytes } = signRecord(w.actors[1].signer, { net, seq, prev: seq === 1n ? undefined : new Uint8Array(32).fill(3), kind: { type: 'transfer', to: w.key(2), amountUc, memo, tag } })
      const r = parseRecord(bytes, { net })
      expect(r).toMatchObject({ id, seq, kind: { type: 'transfer', amountUc, memo, tag } })
    }), { numRuns: 200 })
    expect(() => parseRecord(new Uint8Array([1]), { net })).toThrow(InvalidRecordError)
  })
})

describe('record ids and topic', () => {
  it('recordIdOf gives the id parse computes, and refuses non-records', async () => {
    const { w, net } = await setup()
    const { recordIdOf, recordsTopic, toHex: hex } = await import('../../../src/ledger/record.js')
    for (const b of w.records) expect(hex(recordIdOf(b, net))).toBe(parseRecord(b, { net }).id)
    expect(() => recordIdOf(new Uint8Array([9, 9]), net)).toThrow(InvalidRecordError)
    expect(() => recordIdOf(sealEnvelope(w.actors[1].signer, Domain.voucher, net, new Uint8Array(3)).bytes, net)).toThrow(/wrong-domain/)
    expect(recordsTopic(net)).toMatch(/^tally\/[0-9a-f]{8}\/records\/1$/)
  })
})

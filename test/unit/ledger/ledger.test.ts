import { describe, expect, it } from 'vitest'
import { createSigner } from '../../../src/identity/ed25519.js'
import { Ledger, gossipVerdict } from '../../../src/ledger/ledger.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { signRecord, signVoucher, fromHex, toHex } from '../../../src/ledger/record.js'
import { netId } from '../../../src/ledger/genesis.js'
import { InsufficientCreditError } from '../../../src/ledger/errors.js'
import { World, CREDIT_LIMIT, ISSUER_CAP, seed } from './world.js'

const cid = (n: number): Uint8Array => new Uint8Array(32).fill(n)

describe('ledger', () => {
  it('credit, ack, transfer: balances move and sum to zero', async () => {
    const w = new World(3)
    const c = await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 10_000n })
    const l = w.actors[2].ledger
    expect(l.balance(w.key(1)).balanceUc).toBe(10_000n)
    expect(l.balance(w.key(0)).balanceUc).toBe(-10_000n)
    expect(w.actors[1].ledger.unackedIncoming(w.key(1))).toEqual([c.id])
    const t = await w.sign(1, { type: 'transfer', to: w.key(2), amountUc: 4_000n, memo: 'lunch', tag: 'food' })
    const rec = l.get(t.id)!.rec
    expect(rec.acks).toEqual([c.id])
    expect(l.balance(w.key(1)).balanceUc).toBe(6_000n)
    expect(l.balance(w.key(2)).balanceUc).toBe(4_000n)
    expect(l.totalUc()).toBe(0n)
    expect(l.history(w.key(1)).map(r => r.id)).toEqual([c.id, t.id])
    expect(w.actors[1].ledger.balance(w.key(1)).spendableUc).toBe(6_000n + CREDIT_LIMIT)
  })

  it('refuses to sign beyond the credit limit and never stores that record', async () => {
    const w = new World(2)
    const store = new MemoryLedgerStore()
    const l = new Ledger({ genesis: w.genesis, signer: w.actors[1].signer, store })
    await expect(l.createRecord({ type: 'transfer', to: w.key(0), amountUc: CREDIT_LIMIT + 1n })).rejects.toBeInstanceOf(InsufficientCreditError)
    expect(store.records.size).toBe(0)
    const ok = await l.createRecord({ type: 'transfer', to: w.key(0), amountUc: CREDIT_LIMIT })
    expect(store.records.has(ok.id)).toBe(true)
    expect(ok.record.seq).toBe(1n)
  })

  it('open, settle with the buyer voucher, buyer acks to get the remainder back', async () => {
    const w = new World(3)
    await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 100_000n })
    const open = await w.sign(1, { type: 'open', seller: w.key(2), contractId: cid(9), maxSpendUc: 50_000n })
    const l = w.actors[0].ledger
    expect(l.balance(w.key(1))).toMatchObject({ balanceUc: 100_000n, lockedUc: 50_000n, availableUc: 50_000n })
    const voucher = signVoucher(w.actors[1].signer, l.net, { contractId: cid(9), nonce: 3n, outputTokens: 10n, amountUc: 12_345n })
    const settle = await w.sign(2, { type: 'settle', openId: fromHex(open.id), voucher, amountUc: 12_345n })
    expect(l.balance(w.key(1))).toMatchObject({ balanceUc: 100_000n - 12_345n, lockedUc: 0n })
    expect(l.balance(w.key(2)).balanceUc).toBe(12_345n)
    expect(l.totalUc()).toBe(0n)
    // the buyer's chain still holds the lock until it acks the settle
    const buyer = w.actors[1].ledger
    expect(buyer.headState(toHex(w.key(1))).locked).toBe(50_000n)
    expect(buyer.unackedIncoming(w.key(1))).toEqual([settle.id])
    const ack = await w.sign(1, { type: 'ack' })
    expect(l.get(ack.id)!.state).toMatchObject({ locked: 0n, debits: 12_345n, acked: 100_000n })
    // the seller's payout is spendable at once
    await w.sign(2, { type: 'transfer', to: w.key(1), amountUc: 12_345n + CREDIT_LIMIT })
    expect(l.balance(w.key(2)).balanceUc).toBe(-CREDIT_LIMIT)
  })

  it('rejects settles that do not match their open', async () => {
    const w = new World(4)
    const net = w.actors[0].ledger.net
    const open = await w.sign(1, { type: 'open', seller: w.key(2), contractId: cid(1), maxSpendUc: 500n })
    const l = w.fresh()
    const settleBy = (i: number, voucher: Uint8Array | undefined, amountUc: bigint, seq = 1n): Uint8Array =>
      signRecord(w.actors[i].signer, { net, seq, kind: { type: 'settle', openId: fromHex(open.id), voucher, amountUc } }).bytes
    expect(l.add(settleBy(3, signVoucher(w.actors[1].signer, net, { contractId: cid(1), nonce: 1n, amountUc: 5n }), 5n))).toMatchObject({ status: 'rejected', reason: 'bad-settle' })
    expect(l.add(settleBy(2, signVoucher(w.actors[3].signer, net, { contractId: cid(1), nonce: 1n, amountUc: 5n }), 5n))).toMatchObject({ status: 'rejected', reason: 'bad-voucher' })
    expect(l.add(settleBy(2, signVoucher(w.actors[1].signer, net, { contractId: cid(2), nonce: 1n, amountUc: 5n }), 5n))).toMatchObject({ status: 'rejected', reason: 'bad-voucher' })
    expect(l.add(settleBy(2, signVoucher(w.actors[1].signer, net, { contractId: cid(1), nonce: 1n, amountUc: 501n }), 501n))).toMatchObject({ status: 'rejected', reason: 'bad-settle' })
    expect(l.add(settleBy(2, signVoucher(w.actors[1].signer, net, { contractId: cid(1), nonce: 1n, amountUc: 5n }), 6n))).toMatchObject({ status: 'rejected', reason: 'bad-settle' })
    expect(l.add(settleBy(2, undefined, 0n))).toMatchObject({ status: 'accepted' })
    expect(l.balance(w.key(1)).lockedUc).toBe(0n)
    expect(l.totalUc()).toBe(0n)
  })

  it('a second settle of one open in the same chain is rejected', async () => {
    const w = new World(3)
    const open = await w.sign(1, { type: 'open', seller: w.key(2), contractId: cid(1), maxSpendUc: 500n })
    await w.sign(2, { type: 'settle', openId: fromHex(open.id), amountUc: 0n })
    await expect(w.actors[2].ledger.createRecord({ type: 'settle', openId: fromHex(open.id), amountUc: 0n })).rejects.toMatchObject({ reason: 'double-settle' })
  })

  it('credit lines only from issuers, within the cap', async () => {
    const w = new World(3)
    await expect(w.actors[1].ledger.createRecord({ type: 'credit', to: w.key(2), amountUc: 1n })).rejects.toMatchObject({ reason: 'not-issuer' })
    await w.sign(0, { type: 'credit', to: w.key(1), amountUc: ISSUER_CAP - 1n })
    await expect(w.actors[0].ledger.createRecord({ type: 'credit', to: w.key(2), amountUc: 2n })).rejects.toMatchObject({ reason: 'over-cap' })
    await w.sign(0, { type: 'credit', to: w.key(2), amountUc: 1n })
  })

  it('records with missing ancestors wait, tell what is missing, and resolve in any order', async () => {
    const w = new World(3)
    const c = await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 5_000n })
    const t1 = await w.sign(1, { type: 'transfer', to: w.key(2), amountUc: 1_000n })
    const t2 = await w.sign(1, { type: 'transfer', to: w.key(2), amountUc: 1_000n })
    const l = new Ledger({ genesis: w.genesis })
    expect(l.add(w.records[2]).status).toBe('pending')
    expect(l.add(w.records[1]).status).toBe('pending')
    expect(l.missing()).toEqual([c.id])
    expect(l.validateGossipRecord(w.records[0])).toBe('accept')
    const r = l.add(w.records[0])
    expect(r.status).toBe('accepted')
    expect(r.accepted.map(x => x.id).sort()).toEqual([c.id, t1.id, t2.id].sort())
    expect(l.missing()).toEqual([])
    expect(l.pendingSize).toBe(0)
    expect(l.add(w.records[1]).status).toBe('duplicate')
    expect(l.validateGossipRecord(w.records[1])).toBe('ignore')
  })

  it('the pending set is bounded', async () => {
    const w = new World(2)
    for (let i = 0; i < 6; i++) await w.sign(1, { type: 'transfer', to: w.key(0), amountUc: 1n })
    const l = new Ledger({ genesis: w.genesis, maxPending: 3 })
    for (let i = 5; i >= 1; i--) l.add(w.records[i])
    expect(l.pendingSize).toBe(3)
    // the oldest two (seq 6 and 5) were dropped; seq 1..4 resolve
    expect(l.add(w.records[0]).status).toBe('accepted')
    expect(l.size).toBe(4)
    expect(l.pendingSize).toBe(0)
    expect(l.add(w.records[4]).status).toBe('accepted')
    expect(l.add(w.records[5]).status).toBe('accepted')
  })

  it('a fork is kept, flags the account everywhere and yields a verifiable fraud proof', async () => {
    const w = new World(3)
    await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 10_000n })
    // the double spender signs two different seq-1 transfers from two copies of its key
    const clone = new Ledger({ genesis: w.genesis, signer: createSigner(seed(1)), store: new MemoryLedgerStore() })
    clone.add(w.records[0])
    const a = await w.sign(1, { type: 'transfer', to: w.key(2), amountUc: 10_000n + CREDIT_LIMIT })
    const b = await clone.createRecord({ type: 'transfer', to: w.key(0), amountUc: 10_000n + CREDIT_LIMIT })
    expect(a.id).not.toBe(b.id)
    const l = w.fresh()
    expect(l.add(b.bytes).status).toBe('accepted')
    expect(l.isFlagged(w.key(1))).toBe(true)
    expect(l.isFlagged(w.key(2))).toBe(false)
    const [proof] = l.fraudProofs()
    expect(proof.seq).toBe(1n)
    const again = new Ledger({ genesis: w.genesis })
    again.add(proof.a); again.add(proof.b)
    expect(again.isFlagged(w.key(1))).toBe(true)
    // the loss to the network is at most the spender's spendable balance (10 000 + limit)
    const spendable = 10_000n + CREDIT_LIMIT
    const loss = -CREDIT_LIMIT - l.balance(w.key(1)).balanceUc
    expect(loss).toBe(spendable)
    expect(l.totalUc()).toBe(0n)
  })

  it('a seller that forks to settle one open twice charges the buyer once, in any order', async () => {
    const w = new World(3)
    await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 100_000n })
    const open = await w.sign(1, { type: 'open', seller: w.key(2), contractId: cid(5), maxSpendUc: 9_000n })
    const net = w.actors[0].ledger.net
    const v = (amountUc: bigint): Uint8Array => signVoucher(w.actors[1].signer, net, { contractId: cid(5), nonce: amountUc, amountUc })
    const s1 = signRecord(w.actors[2].signer, { net, seq: 1n, kind: { type: 'settle', openId: fromHex(open.id), voucher: v(3_000n), amountUc: 3_000n } })
    const s2 = signRecord(w.actors[2].signer, { net, seq: 1n, kind: { type: 'settle', openId: fromHex(open.id), voucher: v(8_000n), amountUc: 8_000n } })
    const counted = s1.id < s2.id ? 3_000n : 8_000n
    for (const order of [[s1, s2], [s2, s1]]) {
      const l = w.fresh()
      for (const s of order) expect(l.add(s.bytes).status).toBe('accepted')
      expect(l.isFlagged(w.key(2))).toBe(true)
      expect(l.balance(w.key(1))).toMatchObject({ balanceUc: 100_000n - counted, lockedUc: 0n })
      expect(l.balance(w.key(2)).balanceUc).toBe(counted)
      expect(l.totalUc()).toBe(0n)
    }
  })

  it('a forked seller\'s settles release the buyer\'s lock once: a second ack is double-release (issue 15.1)', async () => {
    const w = new World(3)
    const net = w.actors[0].ledger.net
    const open = await w.sign(1, { type: 'open', seller: w.key(2), contractId: cid(6), maxSpendUc: 500n })
    // the seller signs three settles of the same open for seq 1: three branches
    const settles = [1, 2, 3].map(n => signRecord(w.actors[2].signer, { net, seq: 1n, memo: `branch ${n}`, kind: { type: 'settle', openId: fromHex(open.id), amountUc: 0n } }))
    for (const s of settles) w.deliver(s.bytes)
    const buyer = w.actors[1].ledger
    // the honest buyer offers one of them to ack, the smallest id (the one balances count)
    const smallest = settles.map(s => s.id).sort()[0]
    expect(buyer.unackedIncoming(w.key(1))).toEqual([smallest])
    const a1 = signRecord(w.actors[1].signer, { net, seq: 2n, prev: fromHex(open.id), acks: [fromHex(settles[0].id)], kind: { type: 'ack' } })
    expect(buyer.add(a1.bytes).status).toBe('accepted')
    const a2 = signRecord(w.actors[1].signer, { net, seq: 3n, prev: fromHex(a1.id), acks: [fromHex(settles[1].id)], kind: { type: 'ack' } })
    expect(buyer.add(a2.bytes)).toMatchObject({ status: 'rejected', reason: 'double-release' })
    // two settles of one open in one record are refused too
    const both = signRecord(w.actors[1].signer, { net, seq: 2n, prev: fromHex(open.id), acks: [fromHex(settles[1].id), fromHex(settles[2].id)], kind: { type: 'ack' } })
    expect(w.fresh().add(both.bytes)).toMatchObject({ status: 'rejected', reason: 'double-release' })
    // the buyer's headroom came back once: it cannot spend the other locks' worth
    expect(buyer.unackedIncoming(w.key(1))).toEqual([])
    expect(buyer.balance(w.key(1))).toMatchObject({ lockedUc: 0n, availableUc: 0n, spendableUc: CREDIT_LIMIT })
    await expect(buyer.createRecord({ type: 'transfer', to: w.key(0), amountUc: CREDIT_LIMIT + 1n })).rejects.toBeInstanceOf(InsufficientCreditError)
  })

  it('a transfer below the genesis minimum is bad-amount', async () => {
    const issuer = createSigner(seed(0))
    const payer = createSigner(seed(1))
    const genesis = { name: 'min-transfer', issuers: [{ publicKey: issuer.publicKey, capUc: 10_000n }], defaultCreditLimitUc: 0n, maxSessionLockUc: 500n, minTransferUc: 100n }
    const l = new Ledger({ genesis, signer: payer, store: new MemoryLedgerStore() })
    const net = l.net
    const credit = signRecord(issuer, { net, seq: 1n, kind: { type: 'credit', to: payer.publicKey, amountUc: 1_000n } })
    expect(l.add(credit.bytes).status).toBe('accepted')
    await expect(l.createRecord({ type: 'transfer', to: issuer.publicKey, amountUc: 99n })).rejects.toMatchObject({ reason: 'bad-amount' })
    await l.createRecord({ type: 'transfer', to: issuer.publicKey, amountUc: 100n })
    expect(l.balance(payer.publicKey).balanceUc).toBe(900n)
  })

  it('gossip verdicts', async () => {
    const w = new World(2)
    const t = await w.sign(1, { type: 'transfer', to: w.key(0), amountUc: 10n })
    const l = new Ledger({ genesis: w.genesis })
    expect(l.validateGossipRecord(t.bytes)).toBe('accept')
    expect(gossipVerdict(l.add(t.bytes))).toBe('accept')
    expect(l.validateGossipRecord(t.bytes)).toBe('ignore')
    expect(l.validateGossipRecord(new Uint8Array([1, 2, 3]))).toBe('reject')
    const other = new World(2, 'other-net')
    const foreign = await other.sign(1, { type: 'transfer', to: other.key(0), amountUc: 10n })
    expect(l.validateGossipRecord(foreign.bytes)).toBe('reject')
    const over = signRecord(w.actors[1].signer, { net: netId(w.genesis), seq: 2n, prev: fromHex(t.id), kind: { type: 'transfer', to: w.key(0), amountUc: CREDIT_LIMIT } })
    expect(l.validateGossipRecord(over.bytes)).toBe('reject')
    expect(l.add(over.bytes)).toMatchObject({ status: 'rejected', reason: 'overspend' })
    expect(l.has(over.id)).toBe(false)
  })
})

/**
 * Admission of network records (src/ledger/admission.ts through LedgerService and RecordGossip,
 * real ledgers on memory stores, a controllable clock, a recording pubsub): future-dated records
 * are held and judged when the clock reaches them; authors with no balance of their own get a
 * forwarding budget on gossip (kept, Ignored beyond it, never penalised while valid); pulled
 * records still pending are not re-gossiped.
 */
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { defaultLogger } from '@libp2p/logger'
import type { PeerId } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { identityFromSeed } from '../../../src/identity/keystore.js'
import { netId } from '../../../src/ledger/genesis.js'
import { recordGossip, type RecordGossip, type RecordGossipInit } from '../../../src/ledger/gossip.js'
import { AuthorBudget, FutureHold, MAX_RECORD_CLOCK_SKEW_MS } from '../../../src/ledger/admission.js'
import { LedgerService } from '../../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { DEV_GENESIS } from '../../../src/node/defaults.js'
import { recordsTopic } from '../../../src/wire/topics.js'
import { fakePubsub } from './pubsub.js'

const net = netId(DEV_GENESIS)
const T0 = 1_700_000_000_000
const SKEW = MAX_RECORD_CLOCK_SKEW_MS

const ledgers: LedgerService[] = []
const gossips: RecordGossip[] = []
afterEach(async () => {
  for (const g of gossips.splice(0)) g.stop()
  await Promise.all(ledgers.splice(0).map(async l => { await l.stop() }))
})

async function ledgerOf (seedByte: number, now: () => number): Promise<LedgerService> {
  const l = new LedgerService({ genesis: DEV_GENESIS, signer: identityFromSeed(new Uint8Array(32).fill(seedByte)).signer, store: new MemoryLedgerStore(), now })
  await l.start()
  ledgers.push(l)
  return l
}

const account = (seedByte: number): string => identityFromSeed(new Uint8Array(32).fill(seedByte)).account

function gossipOver (ledger: LedgerService, now: () => number, init: RecordGossipInit = {}): { gossip: RecordGossip, published: Uint8Array[], validate: (data: Uint8Array) => Promise<TopicValidatorResult> } {
  const { pubsub, published } = fakePubsub()
  const gossip = recordGossip({ now, futureCheckMs: 3_600_000, ...init })({ pubsub, ledger, net, logger: defaultLogger() })
  gossip.start()
  gossips.push(gossip)
  const v = pubsub.topicValidators.get(recordsTopic(net))!
  const msg = (data: Uint8Array): Message => ({ type: 'unsigned', topic: recordsTopic(net), data })
  return { gossip, published, validate: async (data) => await v(undefined as unknown as PeerId, msg(data)) }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const toHexKey = hex

describe('future-dated records', () => {
  it('a record dated beyond the skew is held, not judged, and judged once the clock reaches time − skew', async () => {
    let nowMs = T0
    const node = await ledgerOf(1, () => nowMs)
    // an author whose clock runs 2 minutes ahead, then 1 minute
    let authorMs = T0 + 2 * SKEW
    const author = await ledgerOf(2, () => authorMs)
    const parent = await author.pay(account(3), 1_000n)
    authorMs = T0 + SKEW
    const child = await author.pay(account(3), 2_000n)

    const held = node.add(parent.bytes)
    expect(held).toMatchObject({ status: 'pending', id: parent.id, future: true })
    expect(node.ledger.has(parent.id)).toBe(false)
    expect(node.heldFutureSize).toBe(1)
    expect(node.add(parent.bytes).status).toBe('duplicate')
    // its child, dated within the skew, is judged and waits for it like for any ancestor, but a
    // held record is not "missing" (nothing to fetch)
    const waiting = node.add(child.bytes)
    expect([waiting.status, waiting.future]).toEqual(['pending', undefined])
    expect(node.ledger.missing()).toEqual([parent.id])
    expect(node.missing()).toEqual([])

    nowMs = T0 + SKEW - 1
    expect(node.releaseDue().released).toEqual([])
    nowMs = T0 + SKEW
    const r = node.releaseDue()
    expect(r.released.map(x => x.id)).toEqual([parent.id])
    expect(r.accepted.map(x => x.id).sort()).toEqual([parent.id, child.id].sort())
    expect(node.ledger.has(child.id)).toBe(true)
    expect(node.heldFutureSize).toBe(0)
    expect(node.balance(account(3)).balanceUc).toBe(3_000n)
  })

  it('a record within the skew is judged at once; a mis-signed future record is rejected at once', async () => {
    const node = await ledgerOf(1, () => T0)
    const author = await ledgerOf(2, () => T0 + SKEW)
    const rec = await author.pay(account(3), 1_000n)
    expect(node.add(rec.bytes).status).toBe('accepted')

    const ahead = await ledgerOf(4, () => T0 + 10 * SKEW)
    const bad = (await ahead.pay(account(3), 1_000n)).bytes.slice()
    bad[bad.length - 1] ^= 1 // the signature is the envelope's last field
    expect(node.add(bad)).toMatchObject({ status: 'rejected', reason: 'bad-signature' })
    expect(node.heldFutureSize).toBe(0)
  })

  it('the hold is bounded: when full, the record dated furthest ahead is dropped', () => {
    const hold = new FutureHold(2, SKEW)
    expect(hold.hold('a', new Uint8Array([1]), T0 + 3 * SKEW)).toBe(true)
    expect(hold.hold('b', new Uint8Array([2]), T0 + 5 * SKEW)).toBe(true)
    expect(hold.hold('c', new Uint8Array([3]), T0 + 9 * SKEW)).toBe(false)
    expect(hold.hold('d', new Uint8Array([4]), T0 + 2 * SKEW)).toBe(true)
    expect([...hold.ids()].sort()).toEqual(['a', 'd'])
    expect(hold.due(T0 + 2 * SKEW).map(x => x.id)).toEqual(['d', 'a'])
  })

  it('on gossip a future-dated record is Ignored at once, and judged, told and re-gossiped when its time comes', async () => {
    let nowMs = T0
    const node = await ledgerOf(1, () => nowMs)
    const { gossip, published, validate } = gossipOver(node, () => nowMs, { pendingVerdictMs: 60_000, regossipMinAgeMs: 0 })
    const accepted: string[] = []
    gossip.onAccepted((recs) => { accepted.push(...recs.map(r => r.id)) })
    const author = await ledgerOf(2, () => T0 + 2 * SKEW)
    const rec = await author.pay(account(3), 1_000n)
    // Ignored without waiting for the held-verdict time (60 s here)
    expect(await validate(rec.bytes)).toBe(TopicValidatorResult.Ignore)
    expect(node.ledger.has(rec.id)).toBe(false)
    nowMs = T0 + SKEW
    expect(gossip.releaseDue().map(r => r.id)).toEqual([rec.id])
    expect(accepted).toEqual([rec.id])
    expect(published.map(hex)).toEqual([hex(rec.bytes)])
  })
})

describe('gossip budget of authors with no balance of their own', () => {
  it('beyond R records per window an unfunded author\'s valid records are kept but Ignored; invalid ones are Rejected; a funded author is not limited', async () => {
    let nowMs = T0
    const node = await ledgerOf(1, () => nowMs)
    const { validate } = gossipOver(node, () => nowMs, { unfundedRecordsPerWindow: 3, unfundedWindowMs: 10_000 })
    const spammer = await ledgerOf(2, () => T0)
    const recs = []
    for (let i = 0; i < 5; i++) recs.push(await spammer.pay(account(5), 1n))
    const verdicts = []
    for (const r of recs) verdicts.push(await validate(r.bytes))
    const { Accept, Ignore, Reject } = TopicValidatorResult
    expect(verdicts).toEqual([Accept, Accept, Accept, Ignore, Ignore])
    // kept: the set does not depend on the budget, only forwarding does
    for (const r of recs) expect(node.ledger.has(r.id)).toBe(true)
    // over budget, an invalid record is still Rejected (the forwarder is scored for it)
    const sixth = await spammer.pay(account(5), 1n)
    const forged = sixth.bytes.slice()
    forged[forged.length - 1] ^= 1 // the signature is the envelope's last field
    expect(await validate(forged)).toBe(Reject)
    expect(await validate(sixth.bytes)).toBe(Ignore)
    // a new window
    nowMs += 10_000
    const big = await spammer.pay(account(5), 1_000_000n)
    expect(await validate(big.bytes)).toBe(Accept)

    // the account the spammer paid has a balance of its own: never limited
    const funded = await ledgerOf(5, () => T0)
    for (const r of [...recs, sixth, big]) funded.add(r.bytes)
    for (let i = 0; i < 6; i++) expect(await validate((await funded.pay(account(6), 1n)).bytes)).toBe(Accept)
  })

  it('a genesis issuer (negative balance by construction) is not limited', async () => {
    const issuer = identityFromSeed(new Uint8Array(32).fill(20)).signer
    const genesis = { ...DEV_GENESIS, name: 'issued', issuers: [{ publicKey: issuer.publicKey, capUc: 1_000_000n }] }
    const start = async (l: LedgerService): Promise<LedgerService> => { await l.start(); ledgers.push(l); return l }
    const node = await start(new LedgerService({ genesis, signer: identityFromSeed(new Uint8Array(32).fill(1)).signer, store: new MemoryLedgerStore(), now: () => T0 }))
    const issuing = await start(new LedgerService({ genesis, signer: issuer, store: new MemoryLedgerStore(), now: () => T0 }))
    const { pubsub } = fakePubsub()
    const gossip = recordGossip({ now: () => T0, unfundedRecordsPerWindow: 2 })({ pubsub, ledger: node, net: netId(genesis), logger: defaultLogger() })
    gossip.start()
    gossips.push(gossip)
    const validate = pubsub.topicValidators.get(recordsTopic(netId(genesis)))!
    for (let i = 0; i < 5; i++) {
      const credit = await issuing.credit(account(30 + i), 1_000n)
      expect(await validate(undefined as unknown as PeerId, { type: 'unsigned', topic: recordsTopic(netId(genesis)), data: credit.bytes })).toBe(TopicValidatorResult.Accept)
    }
    expect(node.balance(toHexKey(issuer.publicKey)).balanceUc).toBe(-5_000n)
  })

  it('the node does not ack a record it kept but did not forward until the others can have pulled it (its own records must not wait at them)', async () => {
    let nowMs = T0
    const node = await ledgerOf(1, () => nowMs)
    const { validate } = gossipOver(node, () => nowMs, { unfundedRecordsPerWindow: 3, unfundedWindowMs: 10_000, ackDeferMs: 60_000 })
    const spammer = await ledgerOf(2, () => T0)
    const recs = []
    for (let i = 0; i < 5; i++) recs.push(await spammer.pay(account(1), 1_000n))
    const verdicts = []
    for (const r of recs) verdicts.push(await validate(r.bytes))
    const { Accept, Ignore } = TopicValidatorResult
    expect(verdicts).toEqual([Accept, Accept, Accept, Ignore, Ignore])
    // the next own record acks what was forwarded, not the two kept back
    const first = await node.pay(account(7), 1n)
    expect([...first.record.acks].sort()).toEqual(recs.slice(0, 3).map(r => r.id).sort())
    // once the deferral has passed (two pulls), they are acked like any income
    nowMs += 60_000
    const second = await node.pay(account(7), 1n)
    expect([...second.record.acks].sort()).toEqual(recs.slice(3).map(r => r.id).sort())
  })

  it('AuthorBudget counts per author and per window', () => {
    const b = new AuthorBudget(2, 100, 2)
    expect([b.take('a', 0), b.take('a', 1), b.take('a', 2), b.take('b', 2)]).toEqual([true, true, false, true])
    expect(b.take('a', 100)).toBe(true)
    // at most maxAuthors windows: the oldest is forgotten (a fresh window, never a wrong refusal)
    expect(b.take('c', 101)).toBe(true)
  })
})

describe('records learned by pull', () => {
  it('a pulled record still pending is not re-gossiped; once its parent comes, both are', async () => {
    const nowMs = T0 + 60_000
    const node = await ledgerOf(1, () => nowMs)
    const { gossip, published } = gossipOver(node, () => nowMs, { regossipMinAgeMs: 5_000 })
    const author = await ledgerOf(2, () => T0)
    const parent = await author.pay(account(3), 1_000n)
    const child = await author.pay(account(3), 2_000n)
    expect((await gossip.add(child.bytes)).status).toBe('pending')
    expect(published).toHaveLength(0)
    expect((await gossip.add(parent.bytes)).status).toBe('accepted')
    expect(published.map(hex).sort()).toEqual([hex(parent.bytes), hex(child.bytes)].sort())
  })
})

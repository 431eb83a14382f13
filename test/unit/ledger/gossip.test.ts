/**
 * RecordGossip over a real LedgerService (memory store) and a recording pubsub: the records
 * topic verdicts, a pending record's held verdict, own records published, pulled records
 * re-gossiped only when not fresh and within the bound.
 */
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { defaultLogger } from '@libp2p/logger'
import type { PeerId } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { identityFromSeed } from '../../../src/identity/keystore.js'
import { netId } from '../../../src/ledger/genesis.js'
import { recordGossip, recordMessageId, type RecordGossip } from '../../../src/ledger/gossip.js'
import { recordIdOf } from '../../../src/ledger/record.js'
import { createHash } from 'node:crypto'
import { LedgerService } from '../../../src/ledger/service.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { DEV_GENESIS } from '../../../src/node/defaults.js'
import { recordsTopic } from '../../../src/wire/topics.js'
import { fakePubsub } from './pubsub.js'

const net = netId(DEV_GENESIS)
const T0 = 1_700_000_000_000

const ledgers: LedgerService[] = []
async function ledgerOf (seedByte: number, now: () => number): Promise<LedgerService> {
  const l = new LedgerService({ genesis: DEV_GENESIS, signer: identityFromSeed(new Uint8Array(32).fill(seedByte)).signer, store: new MemoryLedgerStore(), now })
  await l.start()
  ledgers.push(l)
  return l
}
afterEach(async () => { await Promise.all(ledgers.splice(0).map(async l => { await l.stop() })) })

/** `n` payments signed by one author, in chain order */
async function chain (n: number, nowMs: number, authorSeed = 7): Promise<Uint8Array[]> {
  const author = await ledgerOf(authorSeed, () => nowMs)
  const to = identityFromSeed(new Uint8Array(32).fill(8)).account
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) out.push((await author.pay(to, 1_000n)).bytes)
  return out
}

const msg = (data: Uint8Array): Message => ({ type: 'unsigned', topic: recordsTopic(net), data })
const from = undefined as unknown as PeerId

describe('RecordGossip', () => {
  it('maps ledger.add to verdicts, holds a pending verdict until the ancestor arrives, and publishes own records', async () => {
    let nowMs = T0
    const { pubsub, published } = fakePubsub()
    const ledger = new LedgerService({ genesis: DEV_GENESIS, signer: identityFromSeed(new Uint8Array(32).fill(1)).signer, store: new MemoryLedgerStore(), now: () => nowMs })
    ledgers.push(ledger)
    const gossip: RecordGossip = recordGossip({ now: () => nowMs, pendingVerdictMs: 5_000 })({ pubsub, ledger, net, logger: defaultLogger() })
    gossip.start()
    const validate = pubsub.topicValidators.get(recordsTopic(net))
    expect(validate).toBeDefined()
    const [first, second] = await chain(2, T0)
    // the ledger has not loaded: not the sender's fault
    expect(await validate!(from, msg(first))).toBe(TopicValidatorResult.Ignore)
    await ledger.start()

    const accepted: string[] = []
    gossip.onAccepted((recs) => { accepted.push(...recs.map(r => r.kind.type)) })
    const held = validate!(from, msg(second))
    await new Promise(resolve => setImmediate(resolve))
    expect(await validate!(from, msg(first))).toBe(TopicValidatorResult.Accept)
    expect(await held).toBe(TopicValidatorResult.Accept)
    expect(accepted).toEqual(['transfer', 'transfer'])
    expect(await validate!(from, msg(new Uint8Array([1, 2, 3])))).toBe(TopicValidatorResult.Reject)

    const mine = await ledger.pay(identityFromSeed(new Uint8Array(32).fill(9)).account, 5n)
    expect(published.map(b => Buffer.from(b).toString('hex'))).toEqual([Buffer.from(mine.bytes).toString('hex')])

    gossip.stop()
    expect(pubsub.topicValidators.has(recordsTopic(net))).toBe(false)
    await ledger.pay(identityFromSeed(new Uint8Array(32).fill(9)).account, 5n)
    expect(published).toHaveLength(1)
  })

  it('the message id of a record is its record id; of anything else its SHA-256, never a throw (so the validator can Reject it and the sender is scored)', async () => {
    const [rec] = await chain(1, T0)
    expect(recordMessageId(rec, net)).toEqual(recordIdOf(rec, net))
    for (const junk of [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(100_000).fill(7), rec.subarray(1)]) {
      expect(() => recordIdOf(junk, net)).toThrow()
      expect(recordMessageId(junk, net)).toEqual(new Uint8Array(createHash('sha256').update(junk).digest()))
    }
  })

  it('a pending record is Ignored when its ancestor never comes', async () => {
    const { pubsub } = fakePubsub()
    const ledger = await ledgerOf(2, () => T0)
    const gossip = recordGossip({ now: () => T0, pendingVerdictMs: 20 })({ pubsub, ledger, net, logger: defaultLogger() })
    gossip.start()
    const [, second] = await chain(2, T0)
    expect(await pubsub.topicValidators.get(recordsTopic(net))!(from, msg(second))).toBe(TopicValidatorResult.Ignore)
    gossip.stop()
  })

  it('re-gossips pulled records that are not fresh, at most regossipMaxPerWindow per window', async () => {
    let nowMs = T0 + 60_000
    const { pubsub, published } = fakePubsub()
    const ledger = await ledgerOf(3, () => nowMs)
    const gossip = recordGossip({ now: () => nowMs, regossipMaxPerWindow: 2, regossipWindowMs: 1_000, regossipMinAgeMs: 5_000 })({ pubsub, ledger, net, logger: defaultLogger() })
    gossip.start()
    const old = await chain(4, T0)
    for (const bytes of old.slice(0, 3)) expect((await gossip.add(bytes)).status).toBe('accepted')
    expect(published).toHaveLength(2)
    nowMs += 1_001
    await gossip.add(old[3])
    expect(published).toHaveLength(3)

    // a record 1 s old is still travelling by gossip: accepted, not re-gossiped
    const fresh = await chain(1, nowMs - 1_000, 10)
    published.length = 0
    nowMs += 2_000
    expect((await gossip.add(fresh[0])).status).toBe('accepted')
    expect(published).toHaveLength(0)
    gossip.stop()
  })
})

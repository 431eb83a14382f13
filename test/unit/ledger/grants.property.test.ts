/**
 * Grants create no credit (protocols/ledger.md § Validity, grant and revoke; issue 14.1): whatever
 * accounts grant each other — rings A→B→C→A, chains, revokes, forked grantees acking revokes on
 * several branches — what all accounts together can spend never exceeds what was issued plus
 * each account's default credit line (one branch per forked account; the other branches are the
 * fork loss ledger.md § Forks bounds), grants above the grantor's own funds are rejected, and no
 * unflagged account goes below −(creditLimit + linesUc).
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Ledger } from '../../../src/ledger/ledger.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { createSigner, type Ed25519Signer } from '../../../src/identity/ed25519.js'
import { InsufficientCreditError, InvalidRecordError } from '../../../src/ledger/errors.js'
import { fromHex, signRecord, toHex, type RecordKindInput } from '../../../src/ledger/record.js'
import type { ValidRecord } from '../../../src/ledger/validity.js'
import { CREDIT_LIMIT, makeGenesis, seed } from './world.js'

/** account 0 is the issuer, 1..N trade, N + 1 is the sink the final drain pays */
const N = 4
const SINK = N + 1

/** Accounts with branches: branch ledgers of one key never see each other's own records, so every branch but the first is a fork. */
class GrantWorld {
  readonly signers: Ed25519Signer[] = Array.from({ length: N + 2 }, (_, i) => createSigner(seed(i)))
  readonly genesis = makeGenesis(this.signers[0], 'grants-net')
  readonly branches: Ledger[][] = this.signers.map(signer => [this.branch(signer)])
  readonly records: Array<{ bytes: Uint8Array, author: number, branch: number }> = []
  readonly grants: Array<{ id: string, from: number }> = []
  readonly net = this.branches[0][0].net
  issued = 0n

  private branch (signer: Ed25519Signer): Ledger {
    return new Ledger({ genesis: this.genesis, signer, store: new MemoryLedgerStore(), now: () => 0 })
  }

  key (i: number): Uint8Array { return this.signers[i].publicKey }

  fork (i: number, from: number): void {
    // the new branch holds what branch `from` holds now (its own chain included), then diverges
    const l = this.branch(this.signers[i])
    for (const r of this.branches[i][from].records()) l.add(r.bytes)
    for (const r of this.branches[i][from].pendingRecords()) l.add(r.bytes)
    this.branches[i].push(l)
  }

  deliver (bytes: Uint8Array, author: number, branch: number): void {
    this.records.push({ bytes, author, branch })
    this.branches.forEach((bs, i) => bs.forEach((l, b) => { if (i !== author || b === branch) l.add(bytes) }))
  }

  /** sign honestly on branch b of account i; a refusal the rules allow is undefined */
  async sign (i: number, b: number, kind: RecordKindInput): Promise<string | undefined> {
    try {
      const r = await this.branches[i][b].createRecord(kind)
      this.deliver(r.bytes, i, b)
      return r.id
    } catch (err) {
      if (err instanceof InsufficientCreditError) return undefined
      if (err instanceof InvalidRecordError && (err.reason === 'grant-unbacked' || err.reason === 'bad-revoke')) return undefined
      throw err
    }
  }

  /** every branch of every account acks what it can, twice (grants and revokes, then returns) */
  async ackAll (): Promise<void> {
    for (let round = 0; round < 2; round++) {
      for (let i = 1; i <= N; i++) {
        for (let b = 0; b < this.branches[i].length; b++) {
          if (this.branches[i][b].unackedIncoming(this.key(i)).length > 0) await this.sign(i, b, { type: 'ack' })
        }
      }
    }
  }

  /** one ledger holding every record, in order */
  all (): Ledger {
    const l = new Ledger({ genesis: this.genesis })
    for (const r of this.records) l.add(r.bytes)
    return l
  }
}

/** what a chain can still spend at `tip`: acked − debits − locked − granted + limit + lines */
const headroom = (v: ValidRecord): bigint => v.state.acked - v.state.debits - v.state.locked - v.state.granted + CREDIT_LIMIT + v.state.lines

/** the records of `key` no other record of `key` builds on (one per branch) */
function tips (l: Ledger, key: string): ValidRecord[] {
  const chain = l.chain(key, 1n, 1_000_000)
  const prevs = new Set(chain.map(r => r.prev))
  return chain.filter(r => !prevs.has(r.id)).map(r => l.get(r.id)!)
}

const account = fc.integer({ min: 1, max: N })
const amount = fc.bigInt({ min: 1n, max: 4_000n })
const op = fc.oneof(
  fc.tuple(fc.constant('credit' as const), account, fc.constant(0), amount),
  fc.tuple(fc.constant('grant' as const), account, account, amount),
  fc.tuple(fc.constant('grant-max' as const), account, account, fc.constant(0n)),
  fc.tuple(fc.constant('revoke' as const), account, fc.nat(20), amount),
  fc.tuple(fc.constant('pay' as const), account, account, amount),
  fc.tuple(fc.constant('ack' as const), account, fc.nat(3), fc.constant(0n)),
  fc.tuple(fc.constant('fork' as const), account, fc.constant(0), fc.constant(0n))
)

async function run (ring: bigint[], ops: Array<readonly [string, number, number, bigint]>): Promise<void> {
  const w = new GrantWorld()
  // a ring of grants first: 1 → 2 → … → N → 1
  for (let i = 1; i <= N; i++) {
    const id = await w.sign(i, 0, { type: 'grant', to: w.key(i % N + 1), amountUc: ring[i - 1] })
    if (id != null) w.grants.push({ id, from: i })
  }
  for (const [type, i, j, amt] of ops) {
    // a forked account spends on its first branch; its other branches ack (grants, revokes, returns)
    const b = type === 'ack' ? j % w.branches[i].length : 0
    const l = w.branches[i][b]
    if (type === 'credit') {
      if (await w.sign(0, 0, { type: 'credit', to: w.key(i), amountUc: amt }) != null) w.issued += amt
    } else if (type === 'grant' || type === 'grant-max') {
      if (i === j) continue
      // grant-max asks for everything the account could spend, lines included: only own funds may back it
      const want = type === 'grant' ? amt : l.balance(w.key(i)).spendableUc
      if (want <= 0n) continue
      const id = await w.sign(i, b, { type: 'grant', to: w.key(j), amountUc: want })
      if (id != null) {
        w.grants.push({ id, from: i })
        const s = l.get(id)!.state
        expect(s.acked - s.debits - s.locked - s.granted).toBeGreaterThanOrEqual(-CREDIT_LIMIT)
      }
    } else if (type === 'revoke') {
      const own = w.grants.filter(g => g.from === i && l.get(g.id) != null)
      if (own.length === 0) continue
      await w.sign(i, b, { type: 'revoke', grantId: fromHex(own[j % own.length].id), amountUc: amt })
    } else if (type === 'pay') {
      if (i !== j) await w.sign(i, b, { type: 'transfer', to: w.key(j), amountUc: amt })
    } else if (type === 'ack') {
      if (l.unackedIncoming(w.key(i)).length > 0) await w.sign(i, b, { type: 'ack' })
    } else if (type === 'fork' && w.branches[i].length < 3) {
      w.fork(i, w.branches[i].length - 1)
    }
  }
  await w.ackAll()

  const all = w.all()
  for (let i = 1; i <= N; i++) {
    const k = toHex(w.key(i))
    if (all.isFlagged(k)) continue
    const bal = all.balance(k)
    expect(bal.availableUc).toBeGreaterThanOrEqual(-(CREDIT_LIMIT + all.grants(k).linesUc))
  }

  // every branch of every account spends all it can, to the sink; the first branch of each is
  // what the bound counts, the others' spending is the fork loss (flagged, ledger.md § Forks)
  let drained = 0n
  let forkExtra = 0n
  for (let i = 1; i <= N; i++) {
    const k = toHex(w.key(i))
    const first = w.branches[i][0].chain(k, 1n, 1_000_000).at(-1)?.id
    for (const tip of tips(all, k)) {
      const h = headroom(tip)
      if (h <= 0n) continue
      const r = signRecord(w.signers[i], { net: w.net, seq: tip.rec.seq + 1n, prev: fromHex(tip.rec.id), kind: { type: 'transfer', to: w.key(SINK), amountUc: h } })
      expect(all.add(r.bytes).status).toBe('accepted')
      // one µc more is refused
      const over = signRecord(w.signers[i], { net: w.net, seq: tip.rec.seq + 1n, prev: fromHex(tip.rec.id), kind: { type: 'transfer', to: w.key(SINK), amountUc: h + 1n }, memo: 'over' })
      expect(all.add(over.bytes).status).toBe('rejected')
      drained += h
      if (tip.rec.id !== first) forkExtra += h
    }
  }
  expect(all.balance(w.key(SINK)).balanceUc).toBe(drained)
  expect(drained - forkExtra).toBeLessThanOrEqual(w.issued + CREDIT_LIMIT * BigInt(N))
  expect(all.totalUc()).toBe(0n)
}

describe('grants create no credit', () => {
  it('what all accounts can spend never exceeds issued + default lines, through rings, chains, revokes and forked grantees', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.bigInt({ min: 1n, max: 2_000n }), { minLength: N, maxLength: N }),
      fc.array(op, { minLength: 5, maxLength: 40 }),
      async (ring, ops) => { await run(ring, ops) }
    ), { numRuns: 60 })
  })

  it('a ring where every account grants all it can spend, twice around', async () => {
    const ops: Array<readonly [string, number, number, bigint]> = []
    for (let round = 0; round < 3; round++) {
      for (let i = 1; i <= N; i++) {
        ops.push(['ack', i, 0, 0n], ['grant-max', i, i % N + 1, 0n])
      }
    }
    await run([1_000n, 1_000n, 1_000n, 1_000n], ops)
  })
})

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Ledger } from '../../../src/ledger/ledger.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import { createSigner } from '../../../src/identity/ed25519.js'
import { fromHex, signVoucher, toHex } from '../../../src/ledger/record.js'
import { World, CREDIT_LIMIT, fingerprint, seed } from './world.js'

const N = 4
const action = fc.tuple(fc.integer({ min: 0, max: N - 1 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: N - 1 }), fc.bigInt({ min: 1n, max: 900n }))

/** play random actions through real signing ledgers; impossible ones are refused and skipped */
async function play (actions: Array<[number, number, number, bigint]>): Promise<World> {
  const w = new World(N)
  const opens: Array<{ id: string, buyer: number, seller: number, max: bigint, cid: Uint8Array, settled: boolean }> = []
  const grants: Array<{ id: string, from: number }> = []
  for (const [i, op, j, amt] of actions) {
    try {
      if (op === 0) { if (j !== 0) await w.sign(0, { type: 'credit', to: w.key(j), amountUc: amt * 20n }) }
      else if (op <= 2 && i !== j) await w.sign(i, { type: 'transfer', to: w.key(j), amountUc: amt })
      else if (op === 3 && i !== j) {
        const cid = new Uint8Array(32).fill(opens.length + 1)
        const r = await w.sign(i, { type: 'open', seller: w.key(j), contractId: cid, maxSpendUc: amt })
        opens.push({ id: r.id, buyer: i, seller: j, max: amt, cid, settled: false })
      } else if (op === 4) {
        const o = opens.find(o => o.seller === i && !o.settled)
        if (o == null) continue
        const pay = amt % (o.max + 1n)
        const voucher = signVoucher(w.actors[o.buyer].signer, w.actors[0].ledger.net, { contractId: o.cid, nonce: 1n, amountUc: pay })
        await w.sign(i, { type: 'settle', openId: fromHex(o.id), voucher, amountUc: pay })
        o.settled = true
      } else if (op === 5 && w.actors[i].ledger.unackedIncoming(w.key(i)).length > 0) {
        await w.sign(i, { type: 'ack' })
      } else if (op === 6 && i !== j) {
        grants.push({ id: (await w.sign(i, { type: 'grant', to: w.key(j), amountUc: amt })).id, from: i })
      } else if (op === 7) {
        const g = grants.filter(g => g.from === i)
        if (g.length > 0) await w.sign(i, { type: 'revoke', grantId: fromHex(g[j % g.length].id), amountUc: amt })
      }
    } catch (err: any) {
      if (err?.name !== 'InsufficientCreditError' && err?.name !== 'InvalidRecordError') throw err
    }
  }
  return w
}

function shuffle<T> (xs: T[], s: number): T[] {
  const a = [...xs]
  let x = s >>> 0 || 1
  for (let i = a.length - 1; i > 0; i--) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    const j = x % (i + 1);
    [a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

function merge (w: World, ...parts: Ledger[]): Ledger {
  const l = new Ledger({ genesis: w.genesis })
  for (const p of parts) {
    for (const r of p.records()) l.add(r.bytes)
    for (const r of p.pendingRecords()) l.add(r.bytes)
  }
  return l
}

const worlds = fc.array(action, { minLength: 20, maxLength: 60 })

const sizes: number[] = []
const kinds = new Set<string>()

describe('ledger merge (properties)', () => {
  it('any order of arrival gives identical state; balances sum to zero; no honest account below -creditLimit', async () => {
    await fc.assert(fc.asyncProperty(worlds, fc.integer(), fc.integer(), async (actions, s1, s2) => {
      const w = await play(actions)
      const a = w.fresh(shuffle(w.records, s1))
      const b = w.fresh(shuffle(w.records, s2))
      expect(fingerprint(a)).toEqual(fingerprint(b))
      expect(a.size).toBe(w.records.length)
      sizes.push(w.records.length)
      for (const r of a.records()) kinds.add(r.kind.type)
      expect(a.totalUc()).toBe(0n)
      const issuer = toHex(w.key(0))
      for (const bal of a.balances()) {
        if (a.keyOf(bal.account) === issuer) continue
        expect(bal.availableUc).toBeGreaterThanOrEqual(-(CREDIT_LIMIT + a.grants(bal.account).linesUc))
      }
      for (const r of a.records()) {
        const st = a.get(r.id)!.state
        expect(st.acked - st.debits - st.locked - st.granted).toBeGreaterThanOrEqual(-(CREDIT_LIMIT + st.lines))
      }
    }), { numRuns: 25 })
    // the generator must make real ledgers, not empty ones
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(150)
    expect([...kinds].sort()).toEqual(['ack', 'credit', 'grant', 'open', 'revoke', 'settle', 'transfer'])
  })

  it('merge is commutative, associative and idempotent', async () => {
    await fc.assert(fc.asyncProperty(worlds, fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 40, maxLength: 40 }), fc.integer(), async (actions, parts, s) => {
      const w = await play(actions)
      const rs = shuffle(w.records, s)
      const [A, B, C] = [0, 1, 2].map(p => w.fresh(rs.filter((_, i) => parts[i % parts.length] === p)))
      expect(fingerprint(merge(w, A, B))).toEqual(fingerprint(merge(w, B, A)))
      expect(fingerprint(merge(w, merge(w, A, B), C))).toEqual(fingerprint(merge(w, A, merge(w, B, C))))
      expect(fingerprint(merge(w, A, A))).toEqual(fingerprint(A))
      expect(fingerprint(merge(w, A, B, C))).toEqual(fingerprint(w.fresh()))
    }), { numRuns: 25 })
  })

  it('a double spender\'s loss to the network is bounded by its spendable balance per extra branch', async () => {
    const spends = fc.array(fc.bigInt({ min: 1n, max: 60_000n }), { minLength: 1, maxLength: 6 })
    await fc.assert(fc.asyncProperty(fc.bigInt({ min: 1n, max: 50_000n }), fc.array(spends, { minLength: 2, maxLength: 3 }), fc.integer(), async (credit, branches, s) => {
      const w = new World(3)
      await w.sign(0, { type: 'credit', to: w.key(1), amountUc: credit })
      const spendable = credit + CREDIT_LIMIT
      // copies of the same key that do not see each other: one branch each from seq 1
      const out: Uint8Array[] = [w.records[0]]
      let forkedBranches = 0
      for (const [b, amounts] of branches.entries()) {
        const l = new Ledger({ genesis: w.genesis, signer: createSigner(seed(1)), store: new MemoryLedgerStore() })
        l.add(w.records[0])
        let signed = 0
        for (const amt of amounts) {
          try {
            out.push((await l.createRecord({ type: 'transfer', to: w.key(b % 2 === 0 ? 2 : 0), amountUc: amt, memo: `branch ${b}` })).bytes)
            signed++
          } catch (err: any) { if (err?.name !== 'InsufficientCreditError') throw err }
        }
        if (signed > 0) forkedBranches++
      }
      const net = w.fresh(shuffle(out, s))
      const loss = -CREDIT_LIMIT - net.balance(w.key(1)).balanceUc
      // two branches: at most the spendable balance; k branches: (k - 1) times it
      expect(loss).toBeLessThanOrEqual(BigInt(Math.max(1, forkedBranches - 1)) * spendable)
      expect(net.totalUc()).toBe(0n)
      expect(net.size).toBe(out.length)
      expect(net.isFlagged(w.key(1))).toBe(forkedBranches > 1)
    }), { numRuns: 25 })
  })
})

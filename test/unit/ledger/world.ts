/** Test helpers: a small network of accounts that sign real records through real ledgers. */
import { createSigner, type Ed25519Signer } from '../../../src/identity/ed25519.js'
import { Ledger } from '../../../src/ledger/ledger.js'
import { MemoryLedgerStore } from '../../../src/ledger/store.js'
import type { Genesis } from '../../../src/ledger/genesis.js'
import type { RecordKindInput } from '../../../src/ledger/record.js'

export function seed (n: number): Uint8Array {
  const s = new Uint8Array(32)
  s[0] = n + 1
  s[31] = 7
  return s
}

export const ISSUER_CAP = 1_000_000n
export const CREDIT_LIMIT = 1_000n

export function makeGenesis (issuer: Ed25519Signer, name = 'test-net'): Genesis {
  return { name, issuers: [{ publicKey: issuer.publicKey, capUc: ISSUER_CAP }], defaultCreditLimitUc: CREDIT_LIMIT, maxSessionLockUc: 500_000n }
}

export interface Actor { signer: Ed25519Signer, ledger: Ledger }

/** account 0 is the issuer; every signed record is delivered to every actor at once */
export class World {
  readonly genesis: Genesis
  readonly actors: Actor[]
  readonly records: Uint8Array[] = []

  constructor (n: number, name = 'test-net') {
    const signers = Array.from({ length: n }, (_, i) => createSigner(seed(i)))
    this.genesis = makeGenesis(signers[0], name)
    this.actors = signers.map(signer => ({ signer, ledger: new Ledger({ genesis: this.genesis, signer, store: new MemoryLedgerStore(), now: () => 0 }) }))
  }

  key (i: number): Uint8Array { return this.actors[i].signer.publicKey }

  async sign (i: number, kind: RecordKindInput, memo?: string): Promise<{ id: string, bytes: Uint8Array }> {
    const r = await this.actors[i].ledger.createRecord(kind, { memo })
    this.deliver(r.bytes, i)
    return r
  }

  deliver (bytes: Uint8Array, except = -1): void {
    this.records.push(bytes)
    this.actors.forEach((a, j) => { if (j !== except) a.ledger.add(bytes) })
  }

  /** a memory-only ledger of this net holding `records` in the given order */
  fresh (records: Uint8Array[] = this.records): Ledger {
    const l = new Ledger({ genesis: this.genesis })
    for (const b of records) l.add(b)
    return l
  }
}

/** everything that defines a ledger's state, comparable with toEqual */
export function fingerprint (l: Ledger): { valid: string[], pending: string[], balances: unknown[], flagged: string[] } {
  return {
    valid: [...l.records()].map(r => r.id).sort(),
    pending: [...l.pendingRecords()].map(r => r.id).sort(),
    balances: l.balances().map(b => ({ ...b, spendableUc: b.spendableUc.toString() })),
    flagged: l.fraudProofs().map(p => p.account).sort()
  }
}

/**
 * Ledger figures: verified records ingested per second into a LevelDB-backed ledger (single
 * thread) as a ratio of raw native ed25519 verifications per second in the same run, and heap
 * per 100k records held in memory.
 */
import '../../src/polyfill.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createSigner, verifyNative } from '../../src/identity/ed25519.js'
import { decodeEnvelope, signingInput } from '../../src/wire/envelope.js'
import { Domain } from '../../src/wire/domains.js'
import { Ledger } from '../../src/ledger/ledger.js'
import { LevelLedgerStore } from '../../src/ledger/store.js'
import { netId, type Genesis } from '../../src/ledger/genesis.js'
import { fromHex, signRecord, MAX_ACKS } from '../../src/ledger/record.js'

const ACCOUNTS = 50

/** n valid records: accounts pay each other round-robin and ack everything they received */
function makeRecords (n: number): { genesis: Genesis, records: Uint8Array[] } {
  const signers = Array.from({ length: ACCOUNTS }, (_, i) => { const s = new Uint8Array(32); s[0] = i + 1; s[1] = 99; return createSigner(s) })
  const genesis: Genesis = { name: 'bench', issuers: [], defaultCreditLimitUc: 10n ** 15n, maxSessionLockUc: 0n }
  const net = netId(genesis)
  const prev: Array<string | undefined> = new Array(ACCOUNTS).fill(undefined)
  const seq = new Array<bigint>(ACCOUNTS).fill(0n)
  const inbox: string[][] = Array.from({ length: ACCOUNTS }, () => [])
  const records: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const a = i % ACCOUNTS
    const to = (a + 1 + (i % 7)) % ACCOUNTS
    const acks = inbox[a].splice(0, MAX_ACKS)
    seq[a]++
    const r = signRecord(signers[a], { net, seq: seq[a], prev: prev[a] != null ? fromHex(prev[a]) : undefined, acks: acks.map(fromHex), kind: { type: 'transfer', to: signers[to].publicKey, amountUc: 1n + BigInt(i % 1000), memo: 'bench' }, time: BigInt(i) })
    prev[a] = r.id
    inbox[to].push(r.id)
    records.push(r.bytes)
  }
  return { genesis, records }
}

export default async function (): Promise<Record<string, unknown>> {
  const N = 20_000
  const { genesis, records } = makeRecords(N)
  const net = netId(genesis)

  // raw native verify of the same signatures (inputs prepared outside the timed loop),
  // interleaved block by block with the ingest so both see the same machine load
  const prepared = records.map(b => { const e = decodeEnvelope(b); return { sig: e.signature, input: signingInput(Domain.record, net, e.payload), pub: e.publicKey } })
  const dir = mkdtempSync(join(tmpdir(), 'tally-bench-ledger-'))
  const store = new LevelLedgerStore(dir)
  await store.open()
  const ledger = new Ledger({ genesis, store })
  const BLOCK = 1000
  let verifySec = 0
  let ingestSec = 0
  let ok = 0
  let accepted = 0
  for (let i = 0; i < N; i += BLOCK) {
    let t = performance.now()
    for (let j = i; j < i + BLOCK; j++) if (verifyNative(prepared[j].sig, prepared[j].input, prepared[j].pub)) ok++
    verifySec += (performance.now() - t) / 1000
    t = performance.now()
    for (let j = i; j < i + BLOCK; j++) if (ledger.add(records[j]).status === 'accepted') accepted++
    await ledger.flush()
    ingestSec += (performance.now() - t) / 1000
  }
  await store.close()
  rmSync(dir, { recursive: true, force: true })
  const verifyPerSec = ok / verifySec
  const ingestPerSec = accepted / ingestSec

  // the same without a store: how much of the gap is LevelDB
  const memOnly = new Ledger({ genesis })
  let memSec = 0
  let verify2Sec = 0
  for (let i = 0; i < N; i += BLOCK) {
    let t = performance.now()
    for (let j = i; j < i + BLOCK; j++) verifyNative(prepared[j].sig, prepared[j].input, prepared[j].pub)
    verify2Sec += (performance.now() - t) / 1000
    t = performance.now()
    for (let j = i; j < i + BLOCK; j++) memOnly.add(records[j])
    memSec += (performance.now() - t) / 1000
  }

  // memory: 100k records held by a memory-only ledger (signatures trusted to keep the run short)
  const M = 100_000
  const big = makeRecords(M)
  v8.setFlagsFromString('--expose-gc')
  const gc = (globalThis as { gc?: () => void }).gc ?? runInNewContext('gc') as (() => void) | undefined
  gc?.()
  const before = process.memoryUsage().heapUsed
  const mem = new Ledger({ genesis: big.genesis })
  for (const b of big.records) mem.add(b, { trusted: true })
  gc?.()
  const after = process.memoryUsage().heapUsed
  if (mem.size !== M) throw new Error(`memory ledger holds ${mem.size} of ${M} records`)
  const recordBytes = big.records.reduce((n, b) => n + b.length, 0)

  return {
    records: N,
    accepted,
    nativeVerifyPerSec: Math.round(verifyPerSec),
    ingestPerSec: Math.round(ingestPerSec),
    ingestToVerifyRatio: Number((ingestPerSec / verifyPerSec).toFixed(3)),
    ingestNoStorePerSec: Math.round(N / memSec),
    ingestNoStoreToVerifyRatio: Number((verify2Sec / memSec).toFixed(3)),
    memRecords: mem.size,
    heapMiBPer100k: Number(((after - before) / 2 ** 20 * (100_000 / M)).toFixed(1)),
    avgRecordBytes: Math.round(recordBytes / M),
    gcExposed: gc != null
  }
}

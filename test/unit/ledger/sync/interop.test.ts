/**
 * Interoperability with the reference implementation (hoytech/negentropy js/Negentropy.js, MIT,
 * copied unmodified to test/fixtures/negentropy): byte-identical transcripts in all four
 * client/server pairings, and exact haves/needs in both directions.
 */
import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Negentropy, storageFromItems } from '../../../../src/ledger/sync/negentropy.js'
import { hex, hexSet, splitSets, type TestItem } from './helpers.js'

const require = createRequire(import.meta.url)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ref = require('../../../fixtures/negentropy/Negentropy.cjs') as {
  Negentropy: new (storage: unknown, frameSizeLimit?: number) => RefNegentropy
  NegentropyStorageVector: new () => { insert(ts: number, id: Uint8Array): void, seal(): void }
}

interface RefNegentropy {
  wantUint8ArrayOutput?: boolean
  initiate(): Promise<Uint8Array>
  reconcile(msg: Uint8Array): Promise<[Uint8Array | null, Uint8Array[], Uint8Array[]]>
}

interface Side {
  initiate(): Promise<Uint8Array>
  reconcile(msg: Uint8Array): Promise<[Uint8Array | null, Uint8Array[], Uint8Array[]]>
}

function refSide (items: TestItem[], frame: number): Side {
  const s = new ref.NegentropyStorageVector()
  for (const it of items) s.insert(it.timestamp, it.id.slice())
  s.seal()
  const ne = new ref.Negentropy(s, frame)
  ne.wantUint8ArrayOutput = true
  return { initiate: async () => ne.initiate(), reconcile: async (m) => ne.reconcile(m) }
}

function ourSide (items: TestItem[], frame: number): Side {
  const ne = new Negentropy(storageFromItems(items), frame)
  return {
    initiate: async () => ne.initiate(),
    reconcile: async (m) => {
      const r = ne.reconcile(m)
      return [r.output, r.haveIds, r.needIds]
    }
  }
}

async function run (client: Side, server: Side): Promise<{ transcript: string[], have: Set<string>, need: Set<string> }> {
  const transcript: string[] = []
  const have: Uint8Array[] = []
  const need: Uint8Array[] = []
  let msg: Uint8Array | null = await client.initiate()
  while (msg != null) {
    transcript.push(hex(msg))
    if (transcript.length > 200) throw new Error('no convergence')
    const [reply] = await server.reconcile(msg)
    transcript.push(hex(reply!))
    const [next, h, n] = await client.reconcile(reply!)
    have.push(...h)
    need.push(...n)
    msg = next
  }
  return { transcript, have: hexSet(have), need: hexSet(need) }
}

describe('interop with the reference Negentropy.js', () => {
  it('all four pairings give byte-identical transcripts and the exact symmetric difference', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer(), fc.integer({ min: 0, max: 2000 }),
      fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }),
      fc.constantFrom(1, 30, 2_000_000_000), fc.constantFrom(0, 4096, 20_000),
      async (seed, n, pBoth, pA, pB, tsRange, frame) => {
        fc.pre(pBoth + pA + pB > 0)
        const { a, b, onlyA, onlyB } = splitSets(seed, n, pBoth, pA, pB, tsRange)
        const refRef = await run(refSide(a, frame), refSide(b, frame))
        const ourRef = await run(ourSide(a, frame), refSide(b, frame))
        const refOur = await run(refSide(a, frame), ourSide(b, frame))
        const ourOur = await run(ourSide(a, frame), ourSide(b, frame))
        expect(ourRef.transcript).toEqual(refRef.transcript)
        expect(refOur.transcript).toEqual(refRef.transcript)
        expect(ourOur.transcript).toEqual(refRef.transcript)
        for (const r of [refRef, ourRef, refOur, ourOur]) {
          expect(r.have).toEqual(onlyA)
          expect(r.need).toEqual(onlyB)
        }
      }), { numRuns: 20 })
  })

  it('first messages are byte-identical for the same input (larger sets)', async () => {
    for (const [seed, n, ts] of [[1, 10_000, 1], [2, 10_000, 500], [3, 31, 10], [4, 32, 10], [5, 0, 1]] as const) {
      const { a } = splitSets(seed, n, 1, 0, 0, ts)
      const ours = await ourSide(a, 0).initiate()
      const theirs = await refSide(a, 0).initiate()
      expect(hex(ours)).toBe(hex(theirs))
    }
  })

  it('replays the version-fallback transcript of the reference test/protoversion.pl', async () => {
    const item: TestItem = { timestamp: 12345, id: new Uint8Array(32).fill(0xee), payload: new Uint8Array(0) }
    const expected = await refSide([item], 0).reconcile(Uint8Array.from(Buffer.from('6100000200', 'hex')))
    const ours = ourSide([item], 0)
    const [fallback] = await ours.reconcile(Uint8Array.from(Buffer.from('62aabbccddeeff', 'hex')))
    expect(hex(fallback!)).toBe('61')
    const [reply] = await ours.reconcile(Uint8Array.from(Buffer.from('6100000200', 'hex')))
    expect(hex(reply!)).toBe(hex(expected[0]!))
    // the reply lists the single item as an IdList over the full range
    expect(hex(reply!)).toBe('61000002' + '01' + 'ee'.repeat(32))
  })
})

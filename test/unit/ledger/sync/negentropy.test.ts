import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NegentropyMalformedError, NegentropyStateError, UnsupportedProtocolVersionError } from '../../../../src/ledger/sync/errors.js'
import { decodeVarint, encodeVarint, MAX_TIMESTAMP, Negentropy, NegentropyStorageVector, reconcileInMemory, storageFromItems } from '../../../../src/ledger/sync/negentropy.js'
import { hexSet, splitSets } from './helpers.js'

function naiveFingerprint (ids: Uint8Array[]): Uint8Array {
  let sum = 0n
  for (const id of ids) sum = (sum + BigInt('0x' + Buffer.from(id).reverse().toString('hex'))) % (1n << 256n)
  const le = Buffer.from(sum.toString(16).padStart(64, '0'), 'hex').reverse()
  return new Uint8Array(createHash('sha256').update(le).update(encodeVarint(ids.length)).digest().subarray(0, 16))
}

describe('varint', () => {
  it('round-trips every u64 and is minimal', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: MAX_TIMESTAMP }), (n) => {
      const enc = encodeVarint(n)
      const dec = decodeVarint(enc)
      expect(dec.value).toBe(n)
      expect(dec.length).toBe(enc.length)
      expect(enc[0]).not.toBe(n === 0n ? 1 : 128) // no leading zero digit
    }))
  })

  it('matches the spec examples', () => {
    expect([...encodeVarint(0)]).toEqual([0])
    expect([...encodeVarint(127)]).toEqual([127])
    expect([...encodeVarint(128)]).toEqual([0x81, 0x00])
    expect([...encodeVarint(16384)]).toEqual([0x81, 0x80, 0x00])
  })

  it('rejects overlong and truncated varints with a typed error', () => {
    expect(() => decodeVarint(new Uint8Array(11).fill(0xff))).toThrow(NegentropyMalformedError)
    expect(() => decodeVarint(Uint8Array.of(0x81))).toThrow(NegentropyMalformedError)
    expect(() => decodeVarint(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))).toThrow(NegentropyMalformedError)
  })
})

describe('storage', () => {
  it('range fingerprints equal the naive sum-of-ids definition', () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: 0, max: 200 }), fc.nat(), fc.nat(), (seed, n, x, y) => {
      const { a } = splitSets(seed, n, 1, 0, 0, 10)
      const s = storageFromItems(a)
      const begin = n === 0 ? 0 : x % (n + 1)
      const end = begin + (n === 0 ? 0 : y % (n - begin + 1))
      const ids: Uint8Array[] = []
      for (let i = begin; i < end; i++) ids.push(s.id(i))
      expect(Buffer.from(s.fingerprint(begin, end))).toEqual(Buffer.from(naiveFingerprint(ids)))
    }), { numRuns: 60 })
  })

  it('sorts by (timestamp, id) and finds lower bounds with id prefixes', () => {
    const { a } = splitSets(7, 300, 1, 0, 0, 5)
    const s = storageFromItems([...a].reverse())
    for (let i = 1; i < s.size(); i++) {
      const p = s.item(i - 1)
      const c = s.item(i)
      expect(p.timestamp < c.timestamp || (p.timestamp === c.timestamp && Buffer.compare(p.id, c.id) < 0)).toBe(true)
    }
    for (let i = 0; i < s.size(); i++) {
      const it = s.item(i)
      expect(s.findLowerBound(0, s.size(), { timestamp: it.timestamp, id: it.id })).toBe(i)
      expect(s.findLowerBound(0, s.size(), { timestamp: it.timestamp, id: it.id.subarray(0, 0) })).toBeLessThanOrEqual(i)
    }
    expect(s.findLowerBound(0, s.size(), { timestamp: MAX_TIMESTAMP, id: new Uint8Array(0) })).toBe(s.size())
  })

  it('refuses misuse with typed errors', () => {
    const s = new NegentropyStorageVector()
    const id = new Uint8Array(32)
    s.insert(1, id)
    expect(() => s.size()).toThrow(NegentropyStateError)
    expect(() => new Negentropy(s)).toThrow(NegentropyStateError)
    s.insert(1, id)
    expect(() => s.seal()).toThrow(NegentropyStateError)
    const t = new NegentropyStorageVector()
    expect(() => t.insert(1, new Uint8Array(31))).toThrow(RangeError)
    expect(() => t.insert(MAX_TIMESTAMP, id)).toThrow(RangeError)
    t.seal()
    expect(() => t.insert(2, id)).toThrow(NegentropyStateError)
    expect(() => t.seal()).toThrow(NegentropyStateError)
    expect(() => new Negentropy(t, 1000)).toThrow(RangeError)
    const ne = new Negentropy(t)
    ne.initiate()
    expect(() => ne.initiate()).toThrow(NegentropyStateError)
  })
})

describe('reconciliation', () => {
  it('finds exactly the symmetric difference for random sets (property)', () => {
    fc.assert(fc.property(
      fc.integer(), fc.integer({ min: 0, max: 2000 }),
      fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }),
      fc.constantFrom(1, 20, 1_000_000), fc.constantFrom(0, 4096, 60_000),
      (seed, n, pBoth, pA, pB, tsRange, frame) => {
        fc.pre(pBoth + pA + pB > 0)
        const { a, b, onlyA, onlyB } = splitSets(seed, n, pBoth, pA, pB, tsRange)
        const r = reconcileInMemory(storageFromItems(a), storageFromItems(b), frame)
        expect(hexSet(r.haveIds)).toEqual(onlyA)
        expect(hexSet(r.needIds)).toEqual(onlyB)
        if (frame === 0) {
          // without a frame limit no id is reported twice (the reference suite's NODUPS case);
          // a limited frame may re-send a range it cut short, so callers dedupe
          expect(r.haveIds.length).toBe(onlyA.size)
          expect(r.needIds.length).toBe(onlyB.size)
        }
      }), { numRuns: 30 })
  })

  it('keeps every message within the frame size limit', () => {
    const { a, b } = splitSets(99, 20_000, 1, 1, 1, 1000)
    const client = new Negentropy(storageFromItems(a), 4096)
    const server = new Negentropy(storageFromItems(b), 4096)
    let msg: Uint8Array | null = client.initiate()
    let rounds = 0
    while (msg != null) {
      expect(msg.length).toBeLessThanOrEqual(4096)
      const reply: Uint8Array = server.reconcile(msg).output!
      expect(reply.length).toBeLessThanOrEqual(4096)
      msg = client.reconcile(reply).output
      rounds++
    }
    expect(rounds).toBeGreaterThan(3)
  })

  it('identical sets finish in one round with two fingerprint-only messages', () => {
    const { a } = splitSets(3, 5000, 1, 0, 0, 100)
    const r = reconcileInMemory(storageFromItems(a), storageFromItems(a))
    expect(r.rounds).toBe(1)
    expect(r.haveIds).toEqual([])
    expect(r.needIds).toEqual([])
    expect(r.bytesReceived).toBe(1)
  })
})

describe('bad input', () => {
  const { a } = splitSets(5, 500, 1, 0, 0, 50)
  const storage = storageFromItems(a)

  it('answers an unknown newer version with the version it speaks (spec fallback)', () => {
    const r = new Negentropy(storage).reconcile(Uint8Array.from(Buffer.from('62aabbccddeeff', 'hex')))
    expect(Buffer.from(r.output!).toString('hex')).toBe('61')
  })

  it('rejects non-negentropy version bytes and, on the initiator, a downgrade request', () => {
    expect(() => new Negentropy(storage).reconcile(Uint8Array.of(0x01, 0, 0))).toThrow(UnsupportedProtocolVersionError)
    expect(() => new Negentropy(storage).reconcile(new Uint8Array(0))).toThrow(NegentropyMalformedError)
    const client = new Negentropy(storage)
    client.initiate()
    expect(() => client.reconcile(Uint8Array.of(0x62))).toThrow(UnsupportedProtocolVersionError)
  })

  it('rejects specific malformed messages with NegentropyMalformedError', () => {
    const cases = [
      '6100', // bound without prefix length
      '61000003', // unknown mode 3
      '610021', // id prefix length 33
      '61000001aabb', // truncated fingerprint
      '610000020500', // IdList claims 5 ids, has none
      '61ffffffffffffffffffff7f0000' // timestamp varint overflow
    ]
    for (const c of cases) {
      expect(() => new Negentropy(storage).reconcile(Uint8Array.from(Buffer.from(c, 'hex'))), c).toThrow(NegentropyMalformedError)
    }
  })

  it('random garbage only ever yields a reply or a typed error (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, prefix) => {
      const msg = prefix ? Uint8Array.from([0x61, ...bytes]) : bytes
      try {
        const r = new Negentropy(storage, 4096).reconcile(msg)
        expect(r.output!.length).toBeLessThanOrEqual(4096)
      } catch (err) {
        expect(err).toSatisfy((e: unknown) => e instanceof NegentropyMalformedError || e instanceof UnsupportedProtocolVersionError)
      }
    }), { numRuns: 500 })
  })
})

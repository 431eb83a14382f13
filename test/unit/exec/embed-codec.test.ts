/**
 * The embeddings request and vector frames of /tally/infer (infer.md § Embeddings): bounds on
 * both ends, packed little-endian float32 round-trips, garbage refused, and the buyer's bound.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  checkEmbedRequest, decodeBuyerFrame, decodeSellerFrame, embeddingsFrames, encodeEmbedRequest, MAX_EMBED_FRAME_VECTOR_BYTES, MAX_EMBED_INPUT_BYTES,
  MAX_EMBED_INPUTS, MAX_SELLER_FRAME_BYTES, packVectors, parseEmbedRequest, parseRequest, unpackVectors
} from '../../../src/exec/infer/codec.js'
import { maxEmbedInputTokens } from '../../../src/exec/infer/token-counter.js'
import { InvalidRequestError } from '../../../src/exec/infer/errors.js'
import { MalformedMessageError } from '../../../src/wire/errors.js'
import { BuyerFrame } from '../../../src/wire/pb/infer.js'

const contractId = new Uint8Array(32).fill(7)

describe('embeddings request', () => {
  it('round-trips through the request frame', () => {
    const bytes = encodeEmbedRequest(contractId, { inputs: ['a', 'é 漢字'], dimensions: 64 })
    const frame = decodeBuyerFrame(bytes, true)
    expect(parseEmbedRequest(frame.request!)).toEqual({ contractId, request: { inputs: ['a', 'é 漢字'], dimensions: 64 } })
  })

  it('refuses out-of-range requests on both ends', () => {
    const bad = [
      { inputs: [] },
      { inputs: Array(MAX_EMBED_INPUTS + 1).fill('x') },
      { inputs: ['ok', ''] },
      { inputs: ['x'.repeat(MAX_EMBED_INPUT_BYTES + 1)] },
      { inputs: ['x'], dimensions: 0 },
      { inputs: ['x'], dimensions: 8193 },
      { inputs: ['x'], dimensions: 1.5 }
    ]
    for (const r of bad) expect(() => checkEmbedRequest(r)).toThrow(InvalidRequestError)
    expect(() => encodeEmbedRequest(contractId, { inputs: [] })).toThrow(InvalidRequestError)
    // a seller receiving more inputs than the limit refuses the frame before it is whole
    const over = BuyerFrame.encode({ request: { contractId, messages: [], stop: [], embed: { inputs: Array(MAX_EMBED_INPUTS + 1).fill('x') } } })
    expect(() => decodeBuyerFrame(over, true)).toThrow(MalformedMessageError)
  })

  it('an embeddings request carries no chat field, and a chat parser never takes it for a chat', () => {
    const mixed = BuyerFrame.decode(BuyerFrame.encode({ request: { contractId, messages: [{ role: 'user', content: 'hi' }], stop: [], embed: { inputs: ['x'] } } }))
    expect(() => parseEmbedRequest(mixed.request!)).toThrow(/no chat fields/)
    const embed = decodeBuyerFrame(encodeEmbedRequest(contractId, { inputs: ['x'] }), true)
    // what an old seller does with it: no messages, bad-request
    expect(() => parseRequest(embed.request!)).toThrow(InvalidRequestError)
  })

  it('the buyer\'s bound: UTF-8 bytes plus 4 special tokens per input', () => {
    expect(maxEmbedInputTokens(['abc', 'é'])).toBe(3 + 4 + 2 + 4)
  })
})

describe('vector frames', () => {
  const vec = (dims: number): fc.Arbitrary<Float32Array> => fc.float32Array({ minLength: dims, maxLength: dims, noNaN: true, noDefaultInfinity: true })

  it('packed vectors round-trip exactly, little-endian', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 32 }).chain(d => fc.tuple(fc.constant(d), fc.array(vec(d), { minLength: 1, maxLength: 8 }))), ([dims, vectors]) => {
      const back = unpackVectors(packVectors(vectors, dims), dims)
      expect(back.map(v => [...v])).toEqual(vectors.map(v => [...v]))
    }))
    const one = packVectors([Float32Array.of(1)], 1)
    expect([...one]).toEqual([0x00, 0x00, 0x80, 0x3f])
  })

  it('garbage is refused: partial vectors, no vectors, non-finite values, absurd dimensions', () => {
    expect(() => unpackVectors(new Uint8Array(12), 4)).toThrow(MalformedMessageError)
    expect(() => unpackVectors(new Uint8Array(0), 4)).toThrow(MalformedMessageError)
    expect(() => unpackVectors(packVectors([Float32Array.of(1, Number.NaN)], 2), 2)).toThrow(/finite/)
    expect(() => unpackVectors(packVectors([Float32Array.of(Infinity)], 1), 1)).toThrow(/finite/)
    expect(() => unpackVectors(new Uint8Array(4), 0)).toThrow(MalformedMessageError)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 8 }), (bytes, dims) => {
      try {
        const vs = unpackVectors(bytes, dims)
        expect(vs.length * dims * 4).toBe(bytes.length)
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedMessageError)
      }
    }))
  })

  it('many large vectors split into frames that each fit a seller frame, in order', () => {
    const dims = 4096
    const vectors = Array.from({ length: 7 }, (_, i) => new Float32Array(dims).fill(i))
    const frames = embeddingsFrames(vectors, dims)
    expect(frames.length).toBe(Math.ceil(7 / Math.floor(MAX_EMBED_FRAME_VECTOR_BYTES / (dims * 4))))
    let next = 0
    for (const bytes of frames) {
      expect(bytes.length).toBeLessThanOrEqual(MAX_SELLER_FRAME_BYTES)
      const e = decodeSellerFrame(bytes).embeddings!
      expect(e.firstIndex).toBe(next)
      const vs = unpackVectors(e.vectors, e.dimensions)
      for (const v of vs) expect(v[0]).toBe(next++)
    }
    expect(next).toBe(7)
  })
})

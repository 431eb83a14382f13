/**
 * Works around a protons-runtime 7.1.2 writer bug: a uint64/int64 value in [2^31, 2^32)
 * (e.g. params = 3e9, amounts of 2148..4294 credits in µc) is encoded as zero bytes, because
 * LongBits keeps `lo` as a signed int32 and writeVarint64 then skips its loop. A value below
 * 2^32 has the same varint encoding as a uint32, which the writer encodes correctly, so those
 * values are routed there. Imported by src/polyfill.ts and by the codecs that carry such values.
 */
import { writer } from 'protons-runtime'

const TWO_32 = 4_294_967_296n
const proto = Object.getPrototypeOf(writer()) as { uint64: (v: bigint) => unknown, uint32: (v: number) => unknown, __tallyUint64Fixed?: boolean }

if (proto.__tallyUint64Fixed !== true) {
  const original = proto.uint64
  proto.uint64 = function (this: typeof proto, value: bigint) {
    if (value >= 0n && value < TWO_32) return this.uint32(Number(value))
    return original.call(this, value)
  }
  proto.__tallyUint64Fixed = true
}

export {}

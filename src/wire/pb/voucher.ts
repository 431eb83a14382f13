import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Voucher {
  contractId: Uint8Array<ArrayBuffer>
  nonce: bigint
  inputTokens: bigint
  outputTokens: bigint
  amountUc: bigint
}

export namespace Voucher {
  let _codec: Codec<Voucher>

  export const codec = (): Codec<Voucher> => {
    if (_codec == null) {
      _codec = message<Voucher>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.contractId != null && obj.contractId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.contractId)
        }

        if ((obj.nonce != null && obj.nonce !== 0n)) {
          w.uint32(16)
          w.uint64(obj.nonce)
        }

        if ((obj.inputTokens != null && obj.inputTokens !== 0n)) {
          w.uint32(24)
          w.uint64(obj.inputTokens)
        }

        if ((obj.outputTokens != null && obj.outputTokens !== 0n)) {
          w.uint32(32)
          w.uint64(obj.outputTokens)
        }

        if ((obj.amountUc != null && obj.amountUc !== 0n)) {
          w.uint32(40)
          w.uint64(obj.amountUc)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          contractId: uint8ArrayAlloc(0),
          nonce: 0n,
          inputTokens: 0n,
          outputTokens: 0n,
          amountUc: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.contractId = reader.bytes()
              break
            }
            case 2: {
              obj.nonce = reader.uint64()
              break
            }
            case 3: {
              obj.inputTokens = reader.uint64()
              break
            }
            case 4: {
              obj.outputTokens = reader.uint64()
              break
            }
            case 5: {
              obj.amountUc = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.contractId`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.inputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.outputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.amountUc`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface VoucherContractIdFieldEvent {
    field: '$.contractId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface VoucherNonceFieldEvent {
    field: '$.nonce'
    value: bigint
  }

  export interface VoucherInputTokensFieldEvent {
    field: '$.inputTokens'
    value: bigint
  }

  export interface VoucherOutputTokensFieldEvent {
    field: '$.outputTokens'
    value: bigint
  }

  export interface VoucherAmountUcFieldEvent {
    field: '$.amountUc'
    value: bigint
  }

  export function encode (obj: Partial<Voucher>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Voucher.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Voucher>): Voucher {
    return decodeMessage(buf, Voucher.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Voucher>): Generator<VoucherContractIdFieldEvent | VoucherNonceFieldEvent | VoucherInputTokensFieldEvent | VoucherOutputTokensFieldEvent | VoucherAmountUcFieldEvent> {
    return streamMessage(buf, Voucher.codec(), opts)
  }
}

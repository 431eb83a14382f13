import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Genesis {
  name: string
  issuers: Issuer[]
  defaultCreditLimitUc: bigint
  maxSessionLockUc: bigint
  development: boolean
  minTransferUc: bigint
}

export namespace Genesis {
  let _codec: Codec<Genesis>

  export const codec = (): Codec<Genesis> => {
    if (_codec == null) {
      _codec = message<Genesis>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if (obj.issuers != null && obj.issuers.length > 0) {
          for (const value of obj.issuers) {
            w.uint32(18)
            Issuer.codec().encode(value, w)
          }
        }

        if ((obj.defaultCreditLimitUc != null && obj.defaultCreditLimitUc !== 0n)) {
          w.uint32(24)
          w.uint64(obj.defaultCreditLimitUc)
        }

        if ((obj.maxSessionLockUc != null && obj.maxSessionLockUc !== 0n)) {
          w.uint32(32)
          w.uint64(obj.maxSessionLockUc)
        }

        if ((obj.development != null && obj.development !== false)) {
          w.uint32(40)
          w.bool(obj.development)
        }

        if ((obj.minTransferUc != null && obj.minTransferUc !== 0n)) {
          w.uint32(48)
          w.uint64(obj.minTransferUc)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          issuers: [],
          defaultCreditLimitUc: 0n,
          maxSessionLockUc: 0n,
          development: false,
          minTransferUc: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.issuers != null && obj.issuers.length === opts.limits.issuers) {
                throw new MaxLengthError('Decode error - repeated field "issuers" had too many elements')
              }

              obj.issuers.push(Issuer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.issuers$
              }))
              break
            }
            case 3: {
              obj.defaultCreditLimitUc = reader.uint64()
              break
            }
            case 4: {
              obj.maxSessionLockUc = reader.uint64()
              break
            }
            case 5: {
              obj.development = reader.bool()
              break
            }
            case 6: {
              obj.minTransferUc = reader.uint64()
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
        const obj = {
          issuers: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.issuers != null && obj.issuers === opts.limits.issuers) {
                throw new MaxLengthError('Streaming decode error - repeated field "issuers" had too many elements')
              }

              for (const evt of Issuer.codec().stream(reader, reader.uint32(), `${prefix}.issuers[]`, {
                limits: opts.limits?.issuers$
              })) {
                yield {
                  ...evt,
                  index: obj.issuers
                }
              }

              obj.issuers++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.defaultCreditLimitUc`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.maxSessionLockUc`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.development`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.minTransferUc`,
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

  export interface GenesisNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface GenesisIssuersPublicKeyFieldEvent {
    field: '$.issuers[].publicKey'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GenesisIssuersCapUcFieldEvent {
    field: '$.issuers[].capUc'
    value: bigint
    index: number
  }

  export interface GenesisDefaultCreditLimitUcFieldEvent {
    field: '$.defaultCreditLimitUc'
    value: bigint
  }

  export interface GenesisMaxSessionLockUcFieldEvent {
    field: '$.maxSessionLockUc'
    value: bigint
  }

  export interface GenesisDevelopmentFieldEvent {
    field: '$.development'
    value: boolean
  }

  export interface GenesisMinTransferUcFieldEvent {
    field: '$.minTransferUc'
    value: bigint
  }

  export function encode (obj: Partial<Genesis>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Genesis.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Genesis>): Genesis {
    return decodeMessage(buf, Genesis.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Genesis>): Generator<GenesisNameFieldEvent | GenesisIssuersPublicKeyFieldEvent | GenesisIssuersCapUcFieldEvent | GenesisDefaultCreditLimitUcFieldEvent | GenesisMaxSessionLockUcFieldEvent | GenesisDevelopmentFieldEvent | GenesisMinTransferUcFieldEvent> {
    return streamMessage(buf, Genesis.codec(), opts)
  }
}

export interface Issuer {
  publicKey: Uint8Array<ArrayBuffer>
  capUc: bigint
}

export namespace Issuer {
  let _codec: Codec<Issuer>

  export const codec = (): Codec<Issuer> => {
    if (_codec == null) {
      _codec = message<Issuer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.publicKey != null && obj.publicKey.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.publicKey)
        }

        if ((obj.capUc != null && obj.capUc !== 0n)) {
          w.uint32(16)
          w.uint64(obj.capUc)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          publicKey: uint8ArrayAlloc(0),
          capUc: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.publicKey = reader.bytes()
              break
            }
            case 2: {
              obj.capUc = reader.uint64()
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
                field: `${prefix}.publicKey`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.capUc`,
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

  export interface IssuerPublicKeyFieldEvent {
    field: '$.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface IssuerCapUcFieldEvent {
    field: '$.capUc'
    value: bigint
  }

  export function encode (obj: Partial<Issuer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Issuer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Issuer>): Issuer {
    return decodeMessage(buf, Issuer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Issuer>): Generator<IssuerPublicKeyFieldEvent | IssuerCapUcFieldEvent> {
    return streamMessage(buf, Issuer.codec(), opts)
  }
}

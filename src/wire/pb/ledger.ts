import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Record {
  net: Uint8Array<ArrayBuffer>
  from: Uint8Array<ArrayBuffer>
  seq: bigint
  prev: Uint8Array<ArrayBuffer>
  transfer?: Transfer
  open?: Open
  settle?: Settle
  credit?: Credit
  release?: Release
  grant?: Grant
  revoke?: Revoke
  acks: Uint8Array<ArrayBuffer>[]
  memo: string
  time: bigint
}

export namespace Record {
  let _codec: Codec<Record>

  export const codec = (): Codec<Record> => {
    if (_codec == null) {
      _codec = message<Record>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        obj = { ...obj }

        if (obj.revoke != null) {
          obj.grant = undefined
          obj.release = undefined
          obj.credit = undefined
          obj.settle = undefined
          obj.open = undefined
          obj.transfer = undefined
        }

        if (obj.grant != null) {
          obj.revoke = undefined
          obj.release = undefined
          obj.credit = undefined
          obj.settle = undefined
          obj.open = undefined
          obj.transfer = undefined
        }

        if (obj.release != null) {
          obj.revoke = undefined
          obj.grant = undefined
          obj.credit = undefined
          obj.settle = undefined
          obj.open = undefined
          obj.transfer = undefined
        }

        if (obj.credit != null) {
          obj.revoke = undefined
          obj.grant = undefined
          obj.release = undefined
          obj.settle = undefined
          obj.open = undefined
          obj.transfer = undefined
        }

        if (obj.settle != null) {
          obj.revoke = undefined
          obj.grant = undefined
          obj.release = undefined
          obj.credit = undefined
          obj.open = undefined
          obj.transfer = undefined
        }

        if (obj.open != null) {
          obj.revoke = undefined
          obj.grant = undefined
          obj.release = undefined
          obj.credit = undefined
          obj.settle = undefined
          obj.transfer = undefined
        }

        if (obj.transfer != null) {
          obj.revoke = undefined
          obj.grant = undefined
          obj.release = undefined
          obj.credit = undefined
          obj.settle = undefined
          obj.open = undefined
        }

        if ((obj.net != null && obj.net.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.net)
        }

        if ((obj.from != null && obj.from.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.from)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(24)
          w.uint64(obj.seq)
        }

        if ((obj.prev != null && obj.prev.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.prev)
        }

        if (obj.transfer != null) {
          w.uint32(42)
          Transfer.codec().encode(obj.transfer, w)
        }

        if (obj.open != null) {
          w.uint32(50)
          Open.codec().encode(obj.open, w)
        }

        if (obj.settle != null) {
          w.uint32(58)
          Settle.codec().encode(obj.settle, w)
        }

        if (obj.credit != null) {
          w.uint32(66)
          Credit.codec().encode(obj.credit, w)
        }

        if (obj.release != null) {
          w.uint32(98)
          Release.codec().encode(obj.release, w)
        }

        if (obj.grant != null) {
          w.uint32(106)
          Grant.codec().encode(obj.grant, w)
        }

        if (obj.revoke != null) {
          w.uint32(114)
          Revoke.codec().encode(obj.revoke, w)
        }

        if (obj.acks != null && obj.acks.length > 0) {
          for (const value of obj.acks) {
            w.uint32(74)
            w.bytes(value)
          }
        }

        if ((obj.memo != null && obj.memo !== '')) {
          w.uint32(82)
          w.string(obj.memo)
        }

        if ((obj.time != null && obj.time !== 0n)) {
          w.uint32(88)
          w.uint64(obj.time)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          net: uint8ArrayAlloc(0),
          from: uint8ArrayAlloc(0),
          seq: 0n,
          prev: uint8ArrayAlloc(0),
          acks: [],
          memo: '',
          time: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.net = reader.bytes()
              break
            }
            case 2: {
              obj.from = reader.bytes()
              break
            }
            case 3: {
              obj.seq = reader.uint64()
              break
            }
            case 4: {
              obj.prev = reader.bytes()
              break
            }
            case 5: {
              obj.transfer = Transfer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.transfer
              })
              break
            }
            case 6: {
              obj.open = Open.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.open
              })
              break
            }
            case 7: {
              obj.settle = Settle.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.settle
              })
              break
            }
            case 8: {
              obj.credit = Credit.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.credit
              })
              break
            }
            case 12: {
              obj.release = Release.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.release
              })
              break
            }
            case 13: {
              obj.grant = Grant.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.grant
              })
              break
            }
            case 14: {
              obj.revoke = Revoke.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.revoke
              })
              break
            }
            case 9: {
              if (opts.limits?.acks != null && obj.acks.length === opts.limits.acks) {
                throw new MaxLengthError('Decode error - repeated field "acks" had too many elements')
              }

              obj.acks.push(reader.bytes())
              break
            }
            case 10: {
              obj.memo = reader.string()
              break
            }
            case 11: {
              obj.time = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        if (obj.revoke != null) {
          delete obj.grant
          delete obj.release
          delete obj.credit
          delete obj.settle
          delete obj.open
          delete obj.transfer
        }

        if (obj.grant != null) {
          delete obj.revoke
          delete obj.release
          delete obj.credit
          delete obj.settle
          delete obj.open
          delete obj.transfer
        }

        if (obj.release != null) {
          delete obj.revoke
          delete obj.grant
          delete obj.credit
          delete obj.settle
          delete obj.open
          delete obj.transfer
        }

        if (obj.credit != null) {
          delete obj.revoke
          delete obj.grant
          delete obj.release
          delete obj.settle
          delete obj.open
          delete obj.transfer
        }

        if (obj.settle != null) {
          delete obj.revoke
          delete obj.grant
          delete obj.release
          delete obj.credit
          delete obj.open
          delete obj.transfer
        }

        if (obj.open != null) {
          delete obj.revoke
          delete obj.grant
          delete obj.release
          delete obj.credit
          delete obj.settle
          delete obj.transfer
        }

        if (obj.transfer != null) {
          delete obj.revoke
          delete obj.grant
          delete obj.release
          delete obj.credit
          delete obj.settle
          delete obj.open
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          acks: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.net`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.from`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.prev`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield * Transfer.codec().stream(reader, reader.uint32(), `${prefix}.transfer`, {
                limits: opts.limits?.transfer
              })

              break
            }
            case 6: {
              yield * Open.codec().stream(reader, reader.uint32(), `${prefix}.open`, {
                limits: opts.limits?.open
              })

              break
            }
            case 7: {
              yield * Settle.codec().stream(reader, reader.uint32(), `${prefix}.settle`, {
                limits: opts.limits?.settle
              })

              break
            }
            case 8: {
              yield * Credit.codec().stream(reader, reader.uint32(), `${prefix}.credit`, {
                limits: opts.limits?.credit
              })

              break
            }
            case 12: {
              yield * Release.codec().stream(reader, reader.uint32(), `${prefix}.release`, {
                limits: opts.limits?.release
              })

              break
            }
            case 13: {
              yield * Grant.codec().stream(reader, reader.uint32(), `${prefix}.grant`, {
                limits: opts.limits?.grant
              })

              break
            }
            case 14: {
              yield * Revoke.codec().stream(reader, reader.uint32(), `${prefix}.revoke`, {
                limits: opts.limits?.revoke
              })

              break
            }
            case 9: {
              if (opts.limits?.acks != null && obj.acks === opts.limits.acks) {
                throw new MaxLengthError('Streaming decode error - repeated field "acks" had too many elements')
              }

              yield {
                field: `${prefix}.acks[]`,
                index: obj.acks,
                value: reader.bytes()
              }

              obj.acks++

              break
            }
            case 10: {
              yield {
                field: `${prefix}.memo`,
                value: reader.string()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.time`,
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

  export interface RecordNetFieldEvent {
    field: '$.net'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordFromFieldEvent {
    field: '$.from'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface RecordPrevFieldEvent {
    field: '$.prev'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordTransferToFieldEvent {
    field: '$.transfer.to'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordTransferAmountUcFieldEvent {
    field: '$.transfer.amountUc'
    value: bigint
  }

  export interface RecordTransferMemoFieldEvent {
    field: '$.transfer.memo'
    value: string
  }

  export interface RecordTransferTagFieldEvent {
    field: '$.transfer.tag'
    value: string
  }

  export interface RecordOpenSellerFieldEvent {
    field: '$.open.seller'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordOpenContractIdFieldEvent {
    field: '$.open.contractId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordOpenMaxSpendUcFieldEvent {
    field: '$.open.maxSpendUc'
    value: bigint
  }

  export interface RecordOpenEndsAtMsFieldEvent {
    field: '$.open.endsAtMs'
    value: bigint
  }

  export interface RecordSettleOpenIdFieldEvent {
    field: '$.settle.openId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordSettleVoucherFieldEvent {
    field: '$.settle.voucher'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordSettleAmountUcFieldEvent {
    field: '$.settle.amountUc'
    value: bigint
  }

  export interface RecordCreditToFieldEvent {
    field: '$.credit.to'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordCreditAmountUcFieldEvent {
    field: '$.credit.amountUc'
    value: bigint
  }

  export interface RecordReleaseOpenIdFieldEvent {
    field: '$.release.openId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordGrantToFieldEvent {
    field: '$.grant.to'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordGrantAmountUcFieldEvent {
    field: '$.grant.amountUc'
    value: bigint
  }

  export interface RecordRevokeGrantIdFieldEvent {
    field: '$.revoke.grantId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordRevokeAmountUcFieldEvent {
    field: '$.revoke.amountUc'
    value: bigint
  }

  export interface RecordAcksFieldEvent {
    field: '$.acks[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordMemoFieldEvent {
    field: '$.memo'
    value: string
  }

  export interface RecordTimeFieldEvent {
    field: '$.time'
    value: bigint
  }

  export function encode (obj: Partial<Record>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Record.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Record>): Record {
    return decodeMessage(buf, Record.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Record>): Generator<RecordNetFieldEvent | RecordFromFieldEvent | RecordSeqFieldEvent | RecordPrevFieldEvent | RecordTransferToFieldEvent | RecordTransferAmountUcFieldEvent | RecordTransferMemoFieldEvent | RecordTransferTagFieldEvent | RecordOpenSellerFieldEvent | RecordOpenContractIdFieldEvent | RecordOpenMaxSpendUcFieldEvent | RecordOpenEndsAtMsFieldEvent | RecordSettleOpenIdFieldEvent | RecordSettleVoucherFieldEvent | RecordSettleAmountUcFieldEvent | RecordCreditToFieldEvent | RecordCreditAmountUcFieldEvent | RecordReleaseOpenIdFieldEvent | RecordGrantToFieldEvent | RecordGrantAmountUcFieldEvent | RecordRevokeGrantIdFieldEvent | RecordRevokeAmountUcFieldEvent | RecordAcksFieldEvent | RecordMemoFieldEvent | RecordTimeFieldEvent> {
    return streamMessage(buf, Record.codec(), opts)
  }
}

export interface Transfer {
  to: Uint8Array<ArrayBuffer>
  amountUc: bigint
  memo: string
  tag: string
}

export namespace Transfer {
  let _codec: Codec<Transfer>

  export const codec = (): Codec<Transfer> => {
    if (_codec == null) {
      _codec = message<Transfer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.to != null && obj.to.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.to)
        }

        if ((obj.amountUc != null && obj.amountUc !== 0n)) {
          w.uint32(16)
          w.uint64(obj.amountUc)
        }

        if ((obj.memo != null && obj.memo !== '')) {
          w.uint32(26)
          w.string(obj.memo)
        }

        if ((obj.tag != null && obj.tag !== '')) {
          w.uint32(34)
          w.string(obj.tag)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          to: uint8ArrayAlloc(0),
          amountUc: 0n,
          memo: '',
          tag: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.to = reader.bytes()
              break
            }
            case 2: {
              obj.amountUc = reader.uint64()
              break
            }
            case 3: {
              obj.memo = reader.string()
              break
            }
            case 4: {
              obj.tag = reader.string()
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
                field: `${prefix}.to`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.amountUc`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.memo`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.tag`,
                value: reader.string()
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

  export interface TransferToFieldEvent {
    field: '$.to'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TransferAmountUcFieldEvent {
    field: '$.amountUc'
    value: bigint
  }

  export interface TransferMemoFieldEvent {
    field: '$.memo'
    value: string
  }

  export interface TransferTagFieldEvent {
    field: '$.tag'
    value: string
  }

  export function encode (obj: Partial<Transfer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Transfer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Transfer>): Transfer {
    return decodeMessage(buf, Transfer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Transfer>): Generator<TransferToFieldEvent | TransferAmountUcFieldEvent | TransferMemoFieldEvent | TransferTagFieldEvent> {
    return streamMessage(buf, Transfer.codec(), opts)
  }
}

export interface Open {
  seller: Uint8Array<ArrayBuffer>
  contractId: Uint8Array<ArrayBuffer>
  maxSpendUc: bigint
  endsAtMs: bigint
}

export namespace Open {
  let _codec: Codec<Open>

  export const codec = (): Codec<Open> => {
    if (_codec == null) {
      _codec = message<Open>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seller != null && obj.seller.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.seller)
        }

        if ((obj.contractId != null && obj.contractId.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.contractId)
        }

        if ((obj.maxSpendUc != null && obj.maxSpendUc !== 0n)) {
          w.uint32(24)
          w.uint64(obj.maxSpendUc)
        }

        if ((obj.endsAtMs != null && obj.endsAtMs !== 0n)) {
          w.uint32(32)
          w.uint64(obj.endsAtMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seller: uint8ArrayAlloc(0),
          contractId: uint8ArrayAlloc(0),
          maxSpendUc: 0n,
          endsAtMs: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seller = reader.bytes()
              break
            }
            case 2: {
              obj.contractId = reader.bytes()
              break
            }
            case 3: {
              obj.maxSpendUc = reader.uint64()
              break
            }
            case 4: {
              obj.endsAtMs = reader.uint64()
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
                field: `${prefix}.seller`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.contractId`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.maxSpendUc`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.endsAtMs`,
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

  export interface OpenSellerFieldEvent {
    field: '$.seller'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OpenContractIdFieldEvent {
    field: '$.contractId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OpenMaxSpendUcFieldEvent {
    field: '$.maxSpendUc'
    value: bigint
  }

  export interface OpenEndsAtMsFieldEvent {
    field: '$.endsAtMs'
    value: bigint
  }

  export function encode (obj: Partial<Open>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Open.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Open>): Open {
    return decodeMessage(buf, Open.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Open>): Generator<OpenSellerFieldEvent | OpenContractIdFieldEvent | OpenMaxSpendUcFieldEvent | OpenEndsAtMsFieldEvent> {
    return streamMessage(buf, Open.codec(), opts)
  }
}

export interface Settle {
  openId: Uint8Array<ArrayBuffer>
  voucher: Uint8Array<ArrayBuffer>
  amountUc: bigint
}

export namespace Settle {
  let _codec: Codec<Settle>

  export const codec = (): Codec<Settle> => {
    if (_codec == null) {
      _codec = message<Settle>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.openId != null && obj.openId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.openId)
        }

        if ((obj.voucher != null && obj.voucher.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.voucher)
        }

        if ((obj.amountUc != null && obj.amountUc !== 0n)) {
          w.uint32(24)
          w.uint64(obj.amountUc)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          openId: uint8ArrayAlloc(0),
          voucher: uint8ArrayAlloc(0),
          amountUc: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.openId = reader.bytes()
              break
            }
            case 2: {
              obj.voucher = reader.bytes()
              break
            }
            case 3: {
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
                field: `${prefix}.openId`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.voucher`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
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

  export interface SettleOpenIdFieldEvent {
    field: '$.openId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SettleVoucherFieldEvent {
    field: '$.voucher'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SettleAmountUcFieldEvent {
    field: '$.amountUc'
    value: bigint
  }

  export function encode (obj: Partial<Settle>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Settle.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Settle>): Settle {
    return decodeMessage(buf, Settle.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Settle>): Generator<SettleOpenIdFieldEvent | SettleVoucherFieldEvent | SettleAmountUcFieldEvent> {
    return streamMessage(buf, Settle.codec(), opts)
  }
}

export interface Release {
  openId: Uint8Array<ArrayBuffer>
}

export namespace Release {
  let _codec: Codec<Release>

  export const codec = (): Codec<Release> => {
    if (_codec == null) {
      _codec = message<Release>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.openId != null && obj.openId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.openId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          openId: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.openId = reader.bytes()
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
                field: `${prefix}.openId`,
                value: reader.bytes()
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

  export interface ReleaseOpenIdFieldEvent {
    field: '$.openId'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Release>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Release.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Release>): Release {
    return decodeMessage(buf, Release.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Release>): Generator<ReleaseOpenIdFieldEvent> {
    return streamMessage(buf, Release.codec(), opts)
  }
}

export interface Credit {
  to: Uint8Array<ArrayBuffer>
  amountUc: bigint
}

export namespace Credit {
  let _codec: Codec<Credit>

  export const codec = (): Codec<Credit> => {
    if (_codec == null) {
      _codec = message<Credit>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.to != null && obj.to.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.to)
        }

        if ((obj.amountUc != null && obj.amountUc !== 0n)) {
          w.uint32(16)
          w.uint64(obj.amountUc)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          to: uint8ArrayAlloc(0),
          amountUc: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.to = reader.bytes()
              break
            }
            case 2: {
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
                field: `${prefix}.to`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
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

  export interface CreditToFieldEvent {
    field: '$.to'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CreditAmountUcFieldEvent {
    field: '$.amountUc'
    value: bigint
  }

  export function encode (obj: Partial<Credit>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Credit.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Credit>): Credit {
    return decodeMessage(buf, Credit.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Credit>): Generator<CreditToFieldEvent | CreditAmountUcFieldEvent> {
    return streamMessage(buf, Credit.codec(), opts)
  }
}

export interface Grant {
  to: Uint8Array<ArrayBuffer>
  amountUc: bigint
}

export namespace Grant {
  let _codec: Codec<Grant>

  export const codec = (): Codec<Grant> => {
    if (_codec == null) {
      _codec = message<Grant>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.to != null && obj.to.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.to)
        }

        if ((obj.amountUc != null && obj.amountUc !== 0n)) {
          w.uint32(16)
          w.uint64(obj.amountUc)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          to: uint8ArrayAlloc(0),
          amountUc: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.to = reader.bytes()
              break
            }
            case 2: {
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
                field: `${prefix}.to`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
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

  export interface GrantToFieldEvent {
    field: '$.to'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GrantAmountUcFieldEvent {
    field: '$.amountUc'
    value: bigint
  }

  export function encode (obj: Partial<Grant>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Grant.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Grant>): Grant {
    return decodeMessage(buf, Grant.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Grant>): Generator<GrantToFieldEvent | GrantAmountUcFieldEvent> {
    return streamMessage(buf, Grant.codec(), opts)
  }
}

export interface Revoke {
  grantId: Uint8Array<ArrayBuffer>
  amountUc: bigint
}

export namespace Revoke {
  let _codec: Codec<Revoke>

  export const codec = (): Codec<Revoke> => {
    if (_codec == null) {
      _codec = message<Revoke>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.grantId != null && obj.grantId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.grantId)
        }

        if ((obj.amountUc != null && obj.amountUc !== 0n)) {
          w.uint32(16)
          w.uint64(obj.amountUc)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          grantId: uint8ArrayAlloc(0),
          amountUc: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.grantId = reader.bytes()
              break
            }
            case 2: {
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
                field: `${prefix}.grantId`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
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

  export interface RevokeGrantIdFieldEvent {
    field: '$.grantId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RevokeAmountUcFieldEvent {
    field: '$.amountUc'
    value: bigint
  }

  export function encode (obj: Partial<Revoke>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Revoke.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Revoke>): Revoke {
    return decodeMessage(buf, Revoke.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Revoke>): Generator<RevokeGrantIdFieldEvent | RevokeAmountUcFieldEvent> {
    return streamMessage(buf, Revoke.codec(), opts)
  }
}

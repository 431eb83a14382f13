import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface BidQuote {
  bidId: Uint8Array<ArrayBuffer>
  buyer: Uint8Array<ArrayBuffer>
  modelId: string
  fingerprint: string
  fingerprintVerified: boolean
  params: bigint
  priceInPerMtokUc: bigint
  priceOutPerMtokUc: bigint
  maxOutputTokens: bigint
  validUntilMs: bigint
  postedPriceOutPerMtokUc: bigint
  multiaddrs: string[]
  quoteId: Uint8Array<ArrayBuffer>
  quantization: string
}

export namespace BidQuote {
  let _codec: Codec<BidQuote>

  export const codec = (): Codec<BidQuote> => {
    if (_codec == null) {
      _codec = message<BidQuote>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.bidId != null && obj.bidId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.bidId)
        }

        if ((obj.buyer != null && obj.buyer.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.buyer)
        }

        if ((obj.modelId != null && obj.modelId !== '')) {
          w.uint32(26)
          w.string(obj.modelId)
        }

        if ((obj.fingerprint != null && obj.fingerprint !== '')) {
          w.uint32(34)
          w.string(obj.fingerprint)
        }

        if ((obj.fingerprintVerified != null && obj.fingerprintVerified !== false)) {
          w.uint32(40)
          w.bool(obj.fingerprintVerified)
        }

        if ((obj.params != null && obj.params !== 0n)) {
          w.uint32(48)
          w.uint64(obj.params)
        }

        if ((obj.priceInPerMtokUc != null && obj.priceInPerMtokUc !== 0n)) {
          w.uint32(56)
          w.uint64(obj.priceInPerMtokUc)
        }

        if ((obj.priceOutPerMtokUc != null && obj.priceOutPerMtokUc !== 0n)) {
          w.uint32(64)
          w.uint64(obj.priceOutPerMtokUc)
        }

        if ((obj.maxOutputTokens != null && obj.maxOutputTokens !== 0n)) {
          w.uint32(72)
          w.uint64(obj.maxOutputTokens)
        }

        if ((obj.validUntilMs != null && obj.validUntilMs !== 0n)) {
          w.uint32(80)
          w.uint64(obj.validUntilMs)
        }

        if ((obj.postedPriceOutPerMtokUc != null && obj.postedPriceOutPerMtokUc !== 0n)) {
          w.uint32(88)
          w.uint64(obj.postedPriceOutPerMtokUc)
        }

        if (obj.multiaddrs != null && obj.multiaddrs.length > 0) {
          for (const value of obj.multiaddrs) {
            w.uint32(98)
            w.string(value)
          }
        }

        if ((obj.quoteId != null && obj.quoteId.byteLength > 0)) {
          w.uint32(106)
          w.bytes(obj.quoteId)
        }

        if ((obj.quantization != null && obj.quantization !== '')) {
          w.uint32(114)
          w.string(obj.quantization)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          bidId: uint8ArrayAlloc(0),
          buyer: uint8ArrayAlloc(0),
          modelId: '',
          fingerprint: '',
          fingerprintVerified: false,
          params: 0n,
          priceInPerMtokUc: 0n,
          priceOutPerMtokUc: 0n,
          maxOutputTokens: 0n,
          validUntilMs: 0n,
          postedPriceOutPerMtokUc: 0n,
          multiaddrs: [],
          quoteId: uint8ArrayAlloc(0),
          quantization: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.bidId = reader.bytes()
              break
            }
            case 2: {
              obj.buyer = reader.bytes()
              break
            }
            case 3: {
              obj.modelId = reader.string()
              break
            }
            case 4: {
              obj.fingerprint = reader.string()
              break
            }
            case 5: {
              obj.fingerprintVerified = reader.bool()
              break
            }
            case 6: {
              obj.params = reader.uint64()
              break
            }
            case 7: {
              obj.priceInPerMtokUc = reader.uint64()
              break
            }
            case 8: {
              obj.priceOutPerMtokUc = reader.uint64()
              break
            }
            case 9: {
              obj.maxOutputTokens = reader.uint64()
              break
            }
            case 10: {
              obj.validUntilMs = reader.uint64()
              break
            }
            case 11: {
              obj.postedPriceOutPerMtokUc = reader.uint64()
              break
            }
            case 12: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs.length === opts.limits.multiaddrs) {
                throw new MaxLengthError('Decode error - repeated field "multiaddrs" had too many elements')
              }

              obj.multiaddrs.push(reader.string())
              break
            }
            case 13: {
              obj.quoteId = reader.bytes()
              break
            }
            case 14: {
              obj.quantization = reader.string()
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
          multiaddrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.bidId`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.buyer`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.modelId`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.fingerprint`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.fingerprintVerified`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.params`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.priceInPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.priceOutPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.maxOutputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.validUntilMs`,
                value: reader.uint64()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.postedPriceOutPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 12: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs === opts.limits.multiaddrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "multiaddrs" had too many elements')
              }

              yield {
                field: `${prefix}.multiaddrs[]`,
                index: obj.multiaddrs,
                value: reader.string()
              }

              obj.multiaddrs++

              break
            }
            case 13: {
              yield {
                field: `${prefix}.quoteId`,
                value: reader.bytes()
              }
              break
            }
            case 14: {
              yield {
                field: `${prefix}.quantization`,
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

  export interface BidQuoteBidIdFieldEvent {
    field: '$.bidId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BidQuoteBuyerFieldEvent {
    field: '$.buyer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BidQuoteModelIdFieldEvent {
    field: '$.modelId'
    value: string
  }

  export interface BidQuoteFingerprintFieldEvent {
    field: '$.fingerprint'
    value: string
  }

  export interface BidQuoteFingerprintVerifiedFieldEvent {
    field: '$.fingerprintVerified'
    value: boolean
  }

  export interface BidQuoteParamsFieldEvent {
    field: '$.params'
    value: bigint
  }

  export interface BidQuotePriceInPerMtokUcFieldEvent {
    field: '$.priceInPerMtokUc'
    value: bigint
  }

  export interface BidQuotePriceOutPerMtokUcFieldEvent {
    field: '$.priceOutPerMtokUc'
    value: bigint
  }

  export interface BidQuoteMaxOutputTokensFieldEvent {
    field: '$.maxOutputTokens'
    value: bigint
  }

  export interface BidQuoteValidUntilMsFieldEvent {
    field: '$.validUntilMs'
    value: bigint
  }

  export interface BidQuotePostedPriceOutPerMtokUcFieldEvent {
    field: '$.postedPriceOutPerMtokUc'
    value: bigint
  }

  export interface BidQuoteMultiaddrsFieldEvent {
    field: '$.multiaddrs[]'
    index: number
    value: string
  }

  export interface BidQuoteQuoteIdFieldEvent {
    field: '$.quoteId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BidQuoteQuantizationFieldEvent {
    field: '$.quantization'
    value: string
  }

  export function encode (obj: Partial<BidQuote>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BidQuote.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BidQuote>): BidQuote {
    return decodeMessage(buf, BidQuote.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BidQuote>): Generator<BidQuoteBidIdFieldEvent | BidQuoteBuyerFieldEvent | BidQuoteModelIdFieldEvent | BidQuoteFingerprintFieldEvent | BidQuoteFingerprintVerifiedFieldEvent | BidQuoteParamsFieldEvent | BidQuotePriceInPerMtokUcFieldEvent | BidQuotePriceOutPerMtokUcFieldEvent | BidQuoteMaxOutputTokensFieldEvent | BidQuoteValidUntilMsFieldEvent | BidQuotePostedPriceOutPerMtokUcFieldEvent | BidQuoteMultiaddrsFieldEvent | BidQuoteQuoteIdFieldEvent | BidQuoteQuantizationFieldEvent> {
    return streamMessage(buf, BidQuote.codec(), opts)
  }
}

export interface Ack {
  accepted: boolean
  code: string
  message: string
}

export namespace Ack {
  let _codec: Codec<Ack>

  export const codec = (): Codec<Ack> => {
    if (_codec == null) {
      _codec = message<Ack>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.accepted != null && obj.accepted !== false)) {
          w.uint32(8)
          w.bool(obj.accepted)
        }

        if ((obj.code != null && obj.code !== '')) {
          w.uint32(18)
          w.string(obj.code)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(26)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          accepted: false,
          code: '',
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.accepted = reader.bool()
              break
            }
            case 2: {
              obj.code = reader.string()
              break
            }
            case 3: {
              obj.message = reader.string()
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
                field: `${prefix}.accepted`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.code`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.message`,
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

  export interface AckAcceptedFieldEvent {
    field: '$.accepted'
    value: boolean
  }

  export interface AckCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export interface AckMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<Ack>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Ack.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Ack {
    return decodeMessage(buf, Ack.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Generator<AckAcceptedFieldEvent | AckCodeFieldEvent | AckMessageFieldEvent> {
    return streamMessage(buf, Ack.codec(), opts)
  }
}

export interface AuctionFrame {
  bidQuote?: Uint8Array<ArrayBuffer>
  ack?: Ack
}

export namespace AuctionFrame {
  let _codec: Codec<AuctionFrame>

  export const codec = (): Codec<AuctionFrame> => {
    if (_codec == null) {
      _codec = message<AuctionFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.bidQuote != null) {
          w.uint32(10)
          w.bytes(obj.bidQuote)
        }

        if (obj.ack != null) {
          w.uint32(18)
          Ack.codec().encode(obj.ack, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.bidQuote = reader.bytes()
              break
            }
            case 2: {
              obj.ack = Ack.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ack
              })
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
                field: `${prefix}.bidQuote`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield * Ack.codec().stream(reader, reader.uint32(), `${prefix}.ack`, {
                limits: opts.limits?.ack
              })

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

  export interface AuctionFrameBidQuoteFieldEvent {
    field: '$.bidQuote'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AuctionFrameAckAcceptedFieldEvent {
    field: '$.ack.accepted'
    value: boolean
  }

  export interface AuctionFrameAckCodeFieldEvent {
    field: '$.ack.code'
    value: string
  }

  export interface AuctionFrameAckMessageFieldEvent {
    field: '$.ack.message'
    value: string
  }

  export function encode (obj: Partial<AuctionFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AuctionFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuctionFrame>): AuctionFrame {
    return decodeMessage(buf, AuctionFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuctionFrame>): Generator<AuctionFrameBidQuoteFieldEvent | AuctionFrameAckAcceptedFieldEvent | AuctionFrameAckCodeFieldEvent | AuctionFrameAckMessageFieldEvent> {
    return streamMessage(buf, AuctionFrame.codec(), opts)
  }
}

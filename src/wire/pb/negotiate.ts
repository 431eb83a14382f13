import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export enum RefusalReason {
  REFUSAL_UNSPECIFIED = 'REFUSAL_UNSPECIFIED',
  NO_CAPACITY = 'NO_CAPACITY',
  UNKNOWN_MODEL = 'UNKNOWN_MODEL',
  PRICE_CHANGED = 'PRICE_CHANGED',
  QUOTE_EXPIRED = 'QUOTE_EXPIRED',
  BUYER_FLAGGED = 'BUYER_FLAGGED',
  INSUFFICIENT_CREDIT = 'INSUFFICIENT_CREDIT',
  BAD_REQUEST = 'BAD_REQUEST',
  BUYER_NOT_TRUSTED = 'BUYER_NOT_TRUSTED',
  RESERVATIONS_LAPSED = 'RESERVATIONS_LAPSED',
  BID_QUOTE_INVALID = 'BID_QUOTE_INVALID',
  BID_QUOTE_EXPIRED = 'BID_QUOTE_EXPIRED',
  BID_VOLUME_EXHAUSTED = 'BID_VOLUME_EXHAUSTED'
}

enum __RefusalReasonValues {
  REFUSAL_UNSPECIFIED = 0,
  NO_CAPACITY = 1,
  UNKNOWN_MODEL = 2,
  PRICE_CHANGED = 3,
  QUOTE_EXPIRED = 4,
  BUYER_FLAGGED = 5,
  INSUFFICIENT_CREDIT = 6,
  BAD_REQUEST = 7,
  BUYER_NOT_TRUSTED = 8,
  RESERVATIONS_LAPSED = 9,
  BID_QUOTE_INVALID = 10,
  BID_QUOTE_EXPIRED = 11,
  BID_VOLUME_EXHAUSTED = 12
}

export namespace RefusalReason {
  export const codec = (): Codec<RefusalReason> => {
    return enumeration<RefusalReason>(__RefusalReasonValues)
  }
}

export interface QuoteRequest {
  modelId: string
  expectedInputTokens: bigint
  expectedOutputTokens: bigint
  buyer: Uint8Array<ArrayBuffer>
  nonce: Uint8Array<ArrayBuffer>
  maxPriceInPerMtokUc: bigint
  maxPriceOutPerMtokUc: bigint
  maxSpendUc: bigint
  sessionExpiresAtMs: bigint
  bidQuote: Uint8Array<ArrayBuffer>
}

export namespace QuoteRequest {
  let _codec: Codec<QuoteRequest>

  export const codec = (): Codec<QuoteRequest> => {
    if (_codec == null) {
      _codec = message<QuoteRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.modelId != null && obj.modelId !== '')) {
          w.uint32(10)
          w.string(obj.modelId)
        }

        if ((obj.expectedInputTokens != null && obj.expectedInputTokens !== 0n)) {
          w.uint32(16)
          w.uint64(obj.expectedInputTokens)
        }

        if ((obj.expectedOutputTokens != null && obj.expectedOutputTokens !== 0n)) {
          w.uint32(24)
          w.uint64(obj.expectedOutputTokens)
        }

        if ((obj.buyer != null && obj.buyer.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.buyer)
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.nonce)
        }

        if ((obj.maxPriceInPerMtokUc != null && obj.maxPriceInPerMtokUc !== 0n)) {
          w.uint32(48)
          w.uint64(obj.maxPriceInPerMtokUc)
        }

        if ((obj.maxPriceOutPerMtokUc != null && obj.maxPriceOutPerMtokUc !== 0n)) {
          w.uint32(56)
          w.uint64(obj.maxPriceOutPerMtokUc)
        }

        if ((obj.maxSpendUc != null && obj.maxSpendUc !== 0n)) {
          w.uint32(64)
          w.uint64(obj.maxSpendUc)
        }

        if ((obj.sessionExpiresAtMs != null && obj.sessionExpiresAtMs !== 0n)) {
          w.uint32(72)
          w.uint64(obj.sessionExpiresAtMs)
        }

        if ((obj.bidQuote != null && obj.bidQuote.byteLength > 0)) {
          w.uint32(82)
          w.bytes(obj.bidQuote)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          modelId: '',
          expectedInputTokens: 0n,
          expectedOutputTokens: 0n,
          buyer: uint8ArrayAlloc(0),
          nonce: uint8ArrayAlloc(0),
          maxPriceInPerMtokUc: 0n,
          maxPriceOutPerMtokUc: 0n,
          maxSpendUc: 0n,
          sessionExpiresAtMs: 0n,
          bidQuote: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.modelId = reader.string()
              break
            }
            case 2: {
              obj.expectedInputTokens = reader.uint64()
              break
            }
            case 3: {
              obj.expectedOutputTokens = reader.uint64()
              break
            }
            case 4: {
              obj.buyer = reader.bytes()
              break
            }
            case 5: {
              obj.nonce = reader.bytes()
              break
            }
            case 6: {
              obj.maxPriceInPerMtokUc = reader.uint64()
              break
            }
            case 7: {
              obj.maxPriceOutPerMtokUc = reader.uint64()
              break
            }
            case 8: {
              obj.maxSpendUc = reader.uint64()
              break
            }
            case 9: {
              obj.sessionExpiresAtMs = reader.uint64()
              break
            }
            case 10: {
              obj.bidQuote = reader.bytes()
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
                field: `${prefix}.modelId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.expectedInputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.expectedOutputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.buyer`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.maxPriceInPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.maxPriceOutPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.maxSpendUc`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.sessionExpiresAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.bidQuote`,
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

  export interface QuoteRequestModelIdFieldEvent {
    field: '$.modelId'
    value: string
  }

  export interface QuoteRequestExpectedInputTokensFieldEvent {
    field: '$.expectedInputTokens'
    value: bigint
  }

  export interface QuoteRequestExpectedOutputTokensFieldEvent {
    field: '$.expectedOutputTokens'
    value: bigint
  }

  export interface QuoteRequestBuyerFieldEvent {
    field: '$.buyer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteRequestNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteRequestMaxPriceInPerMtokUcFieldEvent {
    field: '$.maxPriceInPerMtokUc'
    value: bigint
  }

  export interface QuoteRequestMaxPriceOutPerMtokUcFieldEvent {
    field: '$.maxPriceOutPerMtokUc'
    value: bigint
  }

  export interface QuoteRequestMaxSpendUcFieldEvent {
    field: '$.maxSpendUc'
    value: bigint
  }

  export interface QuoteRequestSessionExpiresAtMsFieldEvent {
    field: '$.sessionExpiresAtMs'
    value: bigint
  }

  export interface QuoteRequestBidQuoteFieldEvent {
    field: '$.bidQuote'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<QuoteRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, QuoteRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<QuoteRequest>): QuoteRequest {
    return decodeMessage(buf, QuoteRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<QuoteRequest>): Generator<QuoteRequestModelIdFieldEvent | QuoteRequestExpectedInputTokensFieldEvent | QuoteRequestExpectedOutputTokensFieldEvent | QuoteRequestBuyerFieldEvent | QuoteRequestNonceFieldEvent | QuoteRequestMaxPriceInPerMtokUcFieldEvent | QuoteRequestMaxPriceOutPerMtokUcFieldEvent | QuoteRequestMaxSpendUcFieldEvent | QuoteRequestSessionExpiresAtMsFieldEvent | QuoteRequestBidQuoteFieldEvent> {
    return streamMessage(buf, QuoteRequest.codec(), opts)
  }
}

export interface Quote {
  quoteId: Uint8Array<ArrayBuffer>
  buyer: Uint8Array<ArrayBuffer>
  requestNonce: Uint8Array<ArrayBuffer>
  modelId: string
  fingerprint: string
  fingerprintVerified: boolean
  params: bigint
  priceInPerMtokUc: bigint
  priceOutPerMtokUc: bigint
  validUntilMs: bigint
  secondPeerAboveUc: bigint
  maxSpendUc: bigint
  sessionExpiresAtMs: bigint
  openWithinMs: bigint
  minBuyerSpendableUc: bigint
  maxUnpaidUc: bigint
  trustedGrantors: Uint8Array<ArrayBuffer>[]
}

export namespace Quote {
  let _codec: Codec<Quote>

  export const codec = (): Codec<Quote> => {
    if (_codec == null) {
      _codec = message<Quote>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.quoteId != null && obj.quoteId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.quoteId)
        }

        if ((obj.buyer != null && obj.buyer.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.buyer)
        }

        if ((obj.requestNonce != null && obj.requestNonce.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.requestNonce)
        }

        if ((obj.modelId != null && obj.modelId !== '')) {
          w.uint32(34)
          w.string(obj.modelId)
        }

        if ((obj.fingerprint != null && obj.fingerprint !== '')) {
          w.uint32(42)
          w.string(obj.fingerprint)
        }

        if ((obj.fingerprintVerified != null && obj.fingerprintVerified !== false)) {
          w.uint32(48)
          w.bool(obj.fingerprintVerified)
        }

        if ((obj.params != null && obj.params !== 0n)) {
          w.uint32(56)
          w.uint64(obj.params)
        }

        if ((obj.priceInPerMtokUc != null && obj.priceInPerMtokUc !== 0n)) {
          w.uint32(64)
          w.uint64(obj.priceInPerMtokUc)
        }

        if ((obj.priceOutPerMtokUc != null && obj.priceOutPerMtokUc !== 0n)) {
          w.uint32(72)
          w.uint64(obj.priceOutPerMtokUc)
        }

        if ((obj.validUntilMs != null && obj.validUntilMs !== 0n)) {
          w.uint32(80)
          w.uint64(obj.validUntilMs)
        }

        if ((obj.secondPeerAboveUc != null && obj.secondPeerAboveUc !== 0n)) {
          w.uint32(88)
          w.uint64(obj.secondPeerAboveUc)
        }

        if ((obj.maxSpendUc != null && obj.maxSpendUc !== 0n)) {
          w.uint32(96)
          w.uint64(obj.maxSpendUc)
        }

        if ((obj.sessionExpiresAtMs != null && obj.sessionExpiresAtMs !== 0n)) {
          w.uint32(104)
          w.uint64(obj.sessionExpiresAtMs)
        }

        if ((obj.openWithinMs != null && obj.openWithinMs !== 0n)) {
          w.uint32(112)
          w.uint64(obj.openWithinMs)
        }

        if ((obj.minBuyerSpendableUc != null && obj.minBuyerSpendableUc !== 0n)) {
          w.uint32(120)
          w.uint64(obj.minBuyerSpendableUc)
        }

        if ((obj.maxUnpaidUc != null && obj.maxUnpaidUc !== 0n)) {
          w.uint32(128)
          w.uint64(obj.maxUnpaidUc)
        }

        if (obj.trustedGrantors != null && obj.trustedGrantors.length > 0) {
          for (const value of obj.trustedGrantors) {
            w.uint32(138)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          quoteId: uint8ArrayAlloc(0),
          buyer: uint8ArrayAlloc(0),
          requestNonce: uint8ArrayAlloc(0),
          modelId: '',
          fingerprint: '',
          fingerprintVerified: false,
          params: 0n,
          priceInPerMtokUc: 0n,
          priceOutPerMtokUc: 0n,
          validUntilMs: 0n,
          secondPeerAboveUc: 0n,
          maxSpendUc: 0n,
          sessionExpiresAtMs: 0n,
          openWithinMs: 0n,
          minBuyerSpendableUc: 0n,
          maxUnpaidUc: 0n,
          trustedGrantors: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.quoteId = reader.bytes()
              break
            }
            case 2: {
              obj.buyer = reader.bytes()
              break
            }
            case 3: {
              obj.requestNonce = reader.bytes()
              break
            }
            case 4: {
              obj.modelId = reader.string()
              break
            }
            case 5: {
              obj.fingerprint = reader.string()
              break
            }
            case 6: {
              obj.fingerprintVerified = reader.bool()
              break
            }
            case 7: {
              obj.params = reader.uint64()
              break
            }
            case 8: {
              obj.priceInPerMtokUc = reader.uint64()
              break
            }
            case 9: {
              obj.priceOutPerMtokUc = reader.uint64()
              break
            }
            case 10: {
              obj.validUntilMs = reader.uint64()
              break
            }
            case 11: {
              obj.secondPeerAboveUc = reader.uint64()
              break
            }
            case 12: {
              obj.maxSpendUc = reader.uint64()
              break
            }
            case 13: {
              obj.sessionExpiresAtMs = reader.uint64()
              break
            }
            case 14: {
              obj.openWithinMs = reader.uint64()
              break
            }
            case 15: {
              obj.minBuyerSpendableUc = reader.uint64()
              break
            }
            case 16: {
              obj.maxUnpaidUc = reader.uint64()
              break
            }
            case 17: {
              if (opts.limits?.trustedGrantors != null && obj.trustedGrantors.length === opts.limits.trustedGrantors) {
                throw new MaxLengthError('Decode error - repeated field "trustedGrantors" had too many elements')
              }

              obj.trustedGrantors.push(reader.bytes())
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
          trustedGrantors: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.quoteId`,
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
                field: `${prefix}.requestNonce`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.modelId`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.fingerprint`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.fingerprintVerified`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.params`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.priceInPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.priceOutPerMtokUc`,
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
                field: `${prefix}.secondPeerAboveUc`,
                value: reader.uint64()
              }
              break
            }
            case 12: {
              yield {
                field: `${prefix}.maxSpendUc`,
                value: reader.uint64()
              }
              break
            }
            case 13: {
              yield {
                field: `${prefix}.sessionExpiresAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 14: {
              yield {
                field: `${prefix}.openWithinMs`,
                value: reader.uint64()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.minBuyerSpendableUc`,
                value: reader.uint64()
              }
              break
            }
            case 16: {
              yield {
                field: `${prefix}.maxUnpaidUc`,
                value: reader.uint64()
              }
              break
            }
            case 17: {
              if (opts.limits?.trustedGrantors != null && obj.trustedGrantors === opts.limits.trustedGrantors) {
                throw new MaxLengthError('Streaming decode error - repeated field "trustedGrantors" had too many elements')
              }

              yield {
                field: `${prefix}.trustedGrantors[]`,
                index: obj.trustedGrantors,
                value: reader.bytes()
              }

              obj.trustedGrantors++

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

  export interface QuoteQuoteIdFieldEvent {
    field: '$.quoteId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteBuyerFieldEvent {
    field: '$.buyer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteRequestNonceFieldEvent {
    field: '$.requestNonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteModelIdFieldEvent {
    field: '$.modelId'
    value: string
  }

  export interface QuoteFingerprintFieldEvent {
    field: '$.fingerprint'
    value: string
  }

  export interface QuoteFingerprintVerifiedFieldEvent {
    field: '$.fingerprintVerified'
    value: boolean
  }

  export interface QuoteParamsFieldEvent {
    field: '$.params'
    value: bigint
  }

  export interface QuotePriceInPerMtokUcFieldEvent {
    field: '$.priceInPerMtokUc'
    value: bigint
  }

  export interface QuotePriceOutPerMtokUcFieldEvent {
    field: '$.priceOutPerMtokUc'
    value: bigint
  }

  export interface QuoteValidUntilMsFieldEvent {
    field: '$.validUntilMs'
    value: bigint
  }

  export interface QuoteSecondPeerAboveUcFieldEvent {
    field: '$.secondPeerAboveUc'
    value: bigint
  }

  export interface QuoteMaxSpendUcFieldEvent {
    field: '$.maxSpendUc'
    value: bigint
  }

  export interface QuoteSessionExpiresAtMsFieldEvent {
    field: '$.sessionExpiresAtMs'
    value: bigint
  }

  export interface QuoteOpenWithinMsFieldEvent {
    field: '$.openWithinMs'
    value: bigint
  }

  export interface QuoteMinBuyerSpendableUcFieldEvent {
    field: '$.minBuyerSpendableUc'
    value: bigint
  }

  export interface QuoteMaxUnpaidUcFieldEvent {
    field: '$.maxUnpaidUc'
    value: bigint
  }

  export interface QuoteTrustedGrantorsFieldEvent {
    field: '$.trustedGrantors[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Quote>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Quote.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Quote>): Quote {
    return decodeMessage(buf, Quote.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Quote>): Generator<QuoteQuoteIdFieldEvent | QuoteBuyerFieldEvent | QuoteRequestNonceFieldEvent | QuoteModelIdFieldEvent | QuoteFingerprintFieldEvent | QuoteFingerprintVerifiedFieldEvent | QuoteParamsFieldEvent | QuotePriceInPerMtokUcFieldEvent | QuotePriceOutPerMtokUcFieldEvent | QuoteValidUntilMsFieldEvent | QuoteSecondPeerAboveUcFieldEvent | QuoteMaxSpendUcFieldEvent | QuoteSessionExpiresAtMsFieldEvent | QuoteOpenWithinMsFieldEvent | QuoteMinBuyerSpendableUcFieldEvent | QuoteMaxUnpaidUcFieldEvent | QuoteTrustedGrantorsFieldEvent> {
    return streamMessage(buf, Quote.codec(), opts)
  }
}

export interface Accept {
  quote: Uint8Array<ArrayBuffer>
  maxSpendUc: bigint
  sessionExpiresAtMs: bigint
}

export namespace Accept {
  let _codec: Codec<Accept>

  export const codec = (): Codec<Accept> => {
    if (_codec == null) {
      _codec = message<Accept>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.quote != null && obj.quote.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.quote)
        }

        if ((obj.maxSpendUc != null && obj.maxSpendUc !== 0n)) {
          w.uint32(16)
          w.uint64(obj.maxSpendUc)
        }

        if ((obj.sessionExpiresAtMs != null && obj.sessionExpiresAtMs !== 0n)) {
          w.uint32(24)
          w.uint64(obj.sessionExpiresAtMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          quote: uint8ArrayAlloc(0),
          maxSpendUc: 0n,
          sessionExpiresAtMs: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.quote = reader.bytes()
              break
            }
            case 2: {
              obj.maxSpendUc = reader.uint64()
              break
            }
            case 3: {
              obj.sessionExpiresAtMs = reader.uint64()
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
                field: `${prefix}.quote`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.maxSpendUc`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.sessionExpiresAtMs`,
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

  export interface AcceptQuoteFieldEvent {
    field: '$.quote'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AcceptMaxSpendUcFieldEvent {
    field: '$.maxSpendUc'
    value: bigint
  }

  export interface AcceptSessionExpiresAtMsFieldEvent {
    field: '$.sessionExpiresAtMs'
    value: bigint
  }

  export function encode (obj: Partial<Accept>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Accept.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Accept>): Accept {
    return decodeMessage(buf, Accept.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Accept>): Generator<AcceptQuoteFieldEvent | AcceptMaxSpendUcFieldEvent | AcceptSessionExpiresAtMsFieldEvent> {
    return streamMessage(buf, Accept.codec(), opts)
  }
}

export interface Contract {
  accept: Uint8Array<ArrayBuffer>
  buyer: Uint8Array<ArrayBuffer>
  seller: Uint8Array<ArrayBuffer>
  modelId: string
  fingerprint: string
  fingerprintVerified: boolean
  params: bigint
  priceInPerMtokUc: bigint
  priceOutPerMtokUc: bigint
  maxSpendUc: bigint
  expiresAtMs: bigint
  acceptId: Uint8Array<ArrayBuffer>
  quoteId: Uint8Array<ArrayBuffer>
  secondPeerAboveUc: bigint
  openWithinMs: bigint
  minBuyerSpendableUc: bigint
  maxUnpaidUc: bigint
  trustedGrantors: Uint8Array<ArrayBuffer>[]
}

export namespace Contract {
  let _codec: Codec<Contract>

  export const codec = (): Codec<Contract> => {
    if (_codec == null) {
      _codec = message<Contract>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.accept != null && obj.accept.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.accept)
        }

        if ((obj.buyer != null && obj.buyer.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.buyer)
        }

        if ((obj.seller != null && obj.seller.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.seller)
        }

        if ((obj.modelId != null && obj.modelId !== '')) {
          w.uint32(34)
          w.string(obj.modelId)
        }

        if ((obj.fingerprint != null && obj.fingerprint !== '')) {
          w.uint32(42)
          w.string(obj.fingerprint)
        }

        if ((obj.fingerprintVerified != null && obj.fingerprintVerified !== false)) {
          w.uint32(48)
          w.bool(obj.fingerprintVerified)
        }

        if ((obj.params != null && obj.params !== 0n)) {
          w.uint32(56)
          w.uint64(obj.params)
        }

        if ((obj.priceInPerMtokUc != null && obj.priceInPerMtokUc !== 0n)) {
          w.uint32(64)
          w.uint64(obj.priceInPerMtokUc)
        }

        if ((obj.priceOutPerMtokUc != null && obj.priceOutPerMtokUc !== 0n)) {
          w.uint32(72)
          w.uint64(obj.priceOutPerMtokUc)
        }

        if ((obj.maxSpendUc != null && obj.maxSpendUc !== 0n)) {
          w.uint32(80)
          w.uint64(obj.maxSpendUc)
        }

        if ((obj.expiresAtMs != null && obj.expiresAtMs !== 0n)) {
          w.uint32(88)
          w.uint64(obj.expiresAtMs)
        }

        if ((obj.acceptId != null && obj.acceptId.byteLength > 0)) {
          w.uint32(98)
          w.bytes(obj.acceptId)
        }

        if ((obj.quoteId != null && obj.quoteId.byteLength > 0)) {
          w.uint32(106)
          w.bytes(obj.quoteId)
        }

        if ((obj.secondPeerAboveUc != null && obj.secondPeerAboveUc !== 0n)) {
          w.uint32(112)
          w.uint64(obj.secondPeerAboveUc)
        }

        if ((obj.openWithinMs != null && obj.openWithinMs !== 0n)) {
          w.uint32(120)
          w.uint64(obj.openWithinMs)
        }

        if ((obj.minBuyerSpendableUc != null && obj.minBuyerSpendableUc !== 0n)) {
          w.uint32(128)
          w.uint64(obj.minBuyerSpendableUc)
        }

        if ((obj.maxUnpaidUc != null && obj.maxUnpaidUc !== 0n)) {
          w.uint32(136)
          w.uint64(obj.maxUnpaidUc)
        }

        if (obj.trustedGrantors != null && obj.trustedGrantors.length > 0) {
          for (const value of obj.trustedGrantors) {
            w.uint32(146)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          accept: uint8ArrayAlloc(0),
          buyer: uint8ArrayAlloc(0),
          seller: uint8ArrayAlloc(0),
          modelId: '',
          fingerprint: '',
          fingerprintVerified: false,
          params: 0n,
          priceInPerMtokUc: 0n,
          priceOutPerMtokUc: 0n,
          maxSpendUc: 0n,
          expiresAtMs: 0n,
          acceptId: uint8ArrayAlloc(0),
          quoteId: uint8ArrayAlloc(0),
          secondPeerAboveUc: 0n,
          openWithinMs: 0n,
          minBuyerSpendableUc: 0n,
          maxUnpaidUc: 0n,
          trustedGrantors: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.accept = reader.bytes()
              break
            }
            case 2: {
              obj.buyer = reader.bytes()
              break
            }
            case 3: {
              obj.seller = reader.bytes()
              break
            }
            case 4: {
              obj.modelId = reader.string()
              break
            }
            case 5: {
              obj.fingerprint = reader.string()
              break
            }
            case 6: {
              obj.fingerprintVerified = reader.bool()
              break
            }
            case 7: {
              obj.params = reader.uint64()
              break
            }
            case 8: {
              obj.priceInPerMtokUc = reader.uint64()
              break
            }
            case 9: {
              obj.priceOutPerMtokUc = reader.uint64()
              break
            }
            case 10: {
              obj.maxSpendUc = reader.uint64()
              break
            }
            case 11: {
              obj.expiresAtMs = reader.uint64()
              break
            }
            case 12: {
              obj.acceptId = reader.bytes()
              break
            }
            case 13: {
              obj.quoteId = reader.bytes()
              break
            }
            case 14: {
              obj.secondPeerAboveUc = reader.uint64()
              break
            }
            case 15: {
              obj.openWithinMs = reader.uint64()
              break
            }
            case 16: {
              obj.minBuyerSpendableUc = reader.uint64()
              break
            }
            case 17: {
              obj.maxUnpaidUc = reader.uint64()
              break
            }
            case 18: {
              if (opts.limits?.trustedGrantors != null && obj.trustedGrantors.length === opts.limits.trustedGrantors) {
                throw new MaxLengthError('Decode error - repeated field "trustedGrantors" had too many elements')
              }

              obj.trustedGrantors.push(reader.bytes())
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
          trustedGrantors: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.accept`,
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
                field: `${prefix}.seller`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.modelId`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.fingerprint`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.fingerprintVerified`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.params`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.priceInPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.priceOutPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.maxSpendUc`,
                value: reader.uint64()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.expiresAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 12: {
              yield {
                field: `${prefix}.acceptId`,
                value: reader.bytes()
              }
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
                field: `${prefix}.secondPeerAboveUc`,
                value: reader.uint64()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.openWithinMs`,
                value: reader.uint64()
              }
              break
            }
            case 16: {
              yield {
                field: `${prefix}.minBuyerSpendableUc`,
                value: reader.uint64()
              }
              break
            }
            case 17: {
              yield {
                field: `${prefix}.maxUnpaidUc`,
                value: reader.uint64()
              }
              break
            }
            case 18: {
              if (opts.limits?.trustedGrantors != null && obj.trustedGrantors === opts.limits.trustedGrantors) {
                throw new MaxLengthError('Streaming decode error - repeated field "trustedGrantors" had too many elements')
              }

              yield {
                field: `${prefix}.trustedGrantors[]`,
                index: obj.trustedGrantors,
                value: reader.bytes()
              }

              obj.trustedGrantors++

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

  export interface ContractAcceptFieldEvent {
    field: '$.accept'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContractBuyerFieldEvent {
    field: '$.buyer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContractSellerFieldEvent {
    field: '$.seller'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContractModelIdFieldEvent {
    field: '$.modelId'
    value: string
  }

  export interface ContractFingerprintFieldEvent {
    field: '$.fingerprint'
    value: string
  }

  export interface ContractFingerprintVerifiedFieldEvent {
    field: '$.fingerprintVerified'
    value: boolean
  }

  export interface ContractParamsFieldEvent {
    field: '$.params'
    value: bigint
  }

  export interface ContractPriceInPerMtokUcFieldEvent {
    field: '$.priceInPerMtokUc'
    value: bigint
  }

  export interface ContractPriceOutPerMtokUcFieldEvent {
    field: '$.priceOutPerMtokUc'
    value: bigint
  }

  export interface ContractMaxSpendUcFieldEvent {
    field: '$.maxSpendUc'
    value: bigint
  }

  export interface ContractExpiresAtMsFieldEvent {
    field: '$.expiresAtMs'
    value: bigint
  }

  export interface ContractAcceptIdFieldEvent {
    field: '$.acceptId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContractQuoteIdFieldEvent {
    field: '$.quoteId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContractSecondPeerAboveUcFieldEvent {
    field: '$.secondPeerAboveUc'
    value: bigint
  }

  export interface ContractOpenWithinMsFieldEvent {
    field: '$.openWithinMs'
    value: bigint
  }

  export interface ContractMinBuyerSpendableUcFieldEvent {
    field: '$.minBuyerSpendableUc'
    value: bigint
  }

  export interface ContractMaxUnpaidUcFieldEvent {
    field: '$.maxUnpaidUc'
    value: bigint
  }

  export interface ContractTrustedGrantorsFieldEvent {
    field: '$.trustedGrantors[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Contract>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Contract.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Contract>): Contract {
    return decodeMessage(buf, Contract.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Contract>): Generator<ContractAcceptFieldEvent | ContractBuyerFieldEvent | ContractSellerFieldEvent | ContractModelIdFieldEvent | ContractFingerprintFieldEvent | ContractFingerprintVerifiedFieldEvent | ContractParamsFieldEvent | ContractPriceInPerMtokUcFieldEvent | ContractPriceOutPerMtokUcFieldEvent | ContractMaxSpendUcFieldEvent | ContractExpiresAtMsFieldEvent | ContractAcceptIdFieldEvent | ContractQuoteIdFieldEvent | ContractSecondPeerAboveUcFieldEvent | ContractOpenWithinMsFieldEvent | ContractMinBuyerSpendableUcFieldEvent | ContractMaxUnpaidUcFieldEvent | ContractTrustedGrantorsFieldEvent> {
    return streamMessage(buf, Contract.codec(), opts)
  }
}

export interface Refusal {
  reason: RefusalReason
  message: string
  retryAfterMs: bigint
}

export namespace Refusal {
  let _codec: Codec<Refusal>

  export const codec = (): Codec<Refusal> => {
    if (_codec == null) {
      _codec = message<Refusal>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.reason != null && __RefusalReasonValues[obj.reason] !== 0) {
          w.uint32(8)
          RefusalReason.codec().encode(obj.reason, w)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if ((obj.retryAfterMs != null && obj.retryAfterMs !== 0n)) {
          w.uint32(24)
          w.uint64(obj.retryAfterMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          reason: RefusalReason.REFUSAL_UNSPECIFIED,
          message: '',
          retryAfterMs: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.reason = RefusalReason.codec().decode(reader)
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            case 3: {
              obj.retryAfterMs = reader.uint64()
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
                field: `${prefix}.reason`,
                value: RefusalReason.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.retryAfterMs`,
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

  export interface RefusalReasonFieldEvent {
    field: '$.reason'
    value: RefusalReason
  }

  export interface RefusalMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface RefusalRetryAfterMsFieldEvent {
    field: '$.retryAfterMs'
    value: bigint
  }

  export function encode (obj: Partial<Refusal>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Refusal.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refusal>): Refusal {
    return decodeMessage(buf, Refusal.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refusal>): Generator<RefusalReasonFieldEvent | RefusalMessageFieldEvent | RefusalRetryAfterMsFieldEvent> {
    return streamMessage(buf, Refusal.codec(), opts)
  }
}

export interface NegotiateFrame {
  quoteRequest?: QuoteRequest
  quote?: Uint8Array<ArrayBuffer>
  accept?: Uint8Array<ArrayBuffer>
  contract?: Uint8Array<ArrayBuffer>
  refusal?: Refusal
}

export namespace NegotiateFrame {
  let _codec: Codec<NegotiateFrame>

  export const codec = (): Codec<NegotiateFrame> => {
    if (_codec == null) {
      _codec = message<NegotiateFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.quoteRequest != null) {
          w.uint32(10)
          QuoteRequest.codec().encode(obj.quoteRequest, w)
        }

        if (obj.quote != null) {
          w.uint32(18)
          w.bytes(obj.quote)
        }

        if (obj.accept != null) {
          w.uint32(26)
          w.bytes(obj.accept)
        }

        if (obj.contract != null) {
          w.uint32(34)
          w.bytes(obj.contract)
        }

        if (obj.refusal != null) {
          w.uint32(42)
          Refusal.codec().encode(obj.refusal, w)
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
              obj.quoteRequest = QuoteRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.quoteRequest
              })
              break
            }
            case 2: {
              obj.quote = reader.bytes()
              break
            }
            case 3: {
              obj.accept = reader.bytes()
              break
            }
            case 4: {
              obj.contract = reader.bytes()
              break
            }
            case 5: {
              obj.refusal = Refusal.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.refusal
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
              yield * QuoteRequest.codec().stream(reader, reader.uint32(), `${prefix}.quoteRequest`, {
                limits: opts.limits?.quoteRequest
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.quote`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.accept`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.contract`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield * Refusal.codec().stream(reader, reader.uint32(), `${prefix}.refusal`, {
                limits: opts.limits?.refusal
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

  export interface NegotiateFrameQuoteRequestModelIdFieldEvent {
    field: '$.quoteRequest.modelId'
    value: string
  }

  export interface NegotiateFrameQuoteRequestExpectedInputTokensFieldEvent {
    field: '$.quoteRequest.expectedInputTokens'
    value: bigint
  }

  export interface NegotiateFrameQuoteRequestExpectedOutputTokensFieldEvent {
    field: '$.quoteRequest.expectedOutputTokens'
    value: bigint
  }

  export interface NegotiateFrameQuoteRequestBuyerFieldEvent {
    field: '$.quoteRequest.buyer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface NegotiateFrameQuoteRequestNonceFieldEvent {
    field: '$.quoteRequest.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface NegotiateFrameQuoteRequestMaxPriceInPerMtokUcFieldEvent {
    field: '$.quoteRequest.maxPriceInPerMtokUc'
    value: bigint
  }

  export interface NegotiateFrameQuoteRequestMaxPriceOutPerMtokUcFieldEvent {
    field: '$.quoteRequest.maxPriceOutPerMtokUc'
    value: bigint
  }

  export interface NegotiateFrameQuoteRequestMaxSpendUcFieldEvent {
    field: '$.quoteRequest.maxSpendUc'
    value: bigint
  }

  export interface NegotiateFrameQuoteRequestSessionExpiresAtMsFieldEvent {
    field: '$.quoteRequest.sessionExpiresAtMs'
    value: bigint
  }

  export interface NegotiateFrameQuoteRequestBidQuoteFieldEvent {
    field: '$.quoteRequest.bidQuote'
    value: Uint8Array<ArrayBuffer>
  }

  export interface NegotiateFrameQuoteFieldEvent {
    field: '$.quote'
    value: Uint8Array<ArrayBuffer>
  }

  export interface NegotiateFrameAcceptFieldEvent {
    field: '$.accept'
    value: Uint8Array<ArrayBuffer>
  }

  export interface NegotiateFrameContractFieldEvent {
    field: '$.contract'
    value: Uint8Array<ArrayBuffer>
  }

  export interface NegotiateFrameRefusalReasonFieldEvent {
    field: '$.refusal.reason'
    value: RefusalReason
  }

  export interface NegotiateFrameRefusalMessageFieldEvent {
    field: '$.refusal.message'
    value: string
  }

  export interface NegotiateFrameRefusalRetryAfterMsFieldEvent {
    field: '$.refusal.retryAfterMs'
    value: bigint
  }

  export function encode (obj: Partial<NegotiateFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, NegotiateFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NegotiateFrame>): NegotiateFrame {
    return decodeMessage(buf, NegotiateFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NegotiateFrame>): Generator<NegotiateFrameQuoteRequestModelIdFieldEvent | NegotiateFrameQuoteRequestExpectedInputTokensFieldEvent | NegotiateFrameQuoteRequestExpectedOutputTokensFieldEvent | NegotiateFrameQuoteRequestBuyerFieldEvent | NegotiateFrameQuoteRequestNonceFieldEvent | NegotiateFrameQuoteRequestMaxPriceInPerMtokUcFieldEvent | NegotiateFrameQuoteRequestMaxPriceOutPerMtokUcFieldEvent | NegotiateFrameQuoteRequestMaxSpendUcFieldEvent | NegotiateFrameQuoteRequestSessionExpiresAtMsFieldEvent | NegotiateFrameQuoteRequestBidQuoteFieldEvent | NegotiateFrameQuoteFieldEvent | NegotiateFrameAcceptFieldEvent | NegotiateFrameContractFieldEvent | NegotiateFrameRefusalReasonFieldEvent | NegotiateFrameRefusalMessageFieldEvent | NegotiateFrameRefusalRetryAfterMsFieldEvent> {
    return streamMessage(buf, NegotiateFrame.codec(), opts)
  }
}

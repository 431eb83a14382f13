import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Offer {
  seq: bigint
  modelId: string
  fingerprint: string
  fingerprintVerified: boolean
  params: bigint
  quantization: string
  contextLength: number
  priceInPerMtokUc: bigint
  priceOutPerMtokUc: bigint
  maxSessions: number
  tokensPerSec: number
  region: string
  multiaddrs: string[]
  expiresAtMs: bigint
  withdrawn: boolean
  capabilities: string[]
  busy: boolean
}

export namespace Offer {
  let _codec: Codec<Offer>

  export const codec = (): Codec<Offer> => {
    if (_codec == null) {
      _codec = message<Offer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(8)
          w.uint64(obj.seq)
        }

        if ((obj.modelId != null && obj.modelId !== '')) {
          w.uint32(18)
          w.string(obj.modelId)
        }

        if ((obj.fingerprint != null && obj.fingerprint !== '')) {
          w.uint32(26)
          w.string(obj.fingerprint)
        }

        if ((obj.fingerprintVerified != null && obj.fingerprintVerified !== false)) {
          w.uint32(32)
          w.bool(obj.fingerprintVerified)
        }

        if ((obj.params != null && obj.params !== 0n)) {
          w.uint32(40)
          w.uint64(obj.params)
        }

        if ((obj.quantization != null && obj.quantization !== '')) {
          w.uint32(50)
          w.string(obj.quantization)
        }

        if ((obj.contextLength != null && obj.contextLength !== 0)) {
          w.uint32(56)
          w.uint32(obj.contextLength)
        }

        if ((obj.priceInPerMtokUc != null && obj.priceInPerMtokUc !== 0n)) {
          w.uint32(64)
          w.uint64(obj.priceInPerMtokUc)
        }

        if ((obj.priceOutPerMtokUc != null && obj.priceOutPerMtokUc !== 0n)) {
          w.uint32(72)
          w.uint64(obj.priceOutPerMtokUc)
        }

        if ((obj.maxSessions != null && obj.maxSessions !== 0)) {
          w.uint32(80)
          w.uint32(obj.maxSessions)
        }

        if ((obj.tokensPerSec != null && obj.tokensPerSec !== 0)) {
          w.uint32(88)
          w.uint32(obj.tokensPerSec)
        }

        if ((obj.region != null && obj.region !== '')) {
          w.uint32(98)
          w.string(obj.region)
        }

        if (obj.multiaddrs != null && obj.multiaddrs.length > 0) {
          for (const value of obj.multiaddrs) {
            w.uint32(106)
            w.string(value)
          }
        }

        if ((obj.expiresAtMs != null && obj.expiresAtMs !== 0n)) {
          w.uint32(112)
          w.uint64(obj.expiresAtMs)
        }

        if ((obj.withdrawn != null && obj.withdrawn !== false)) {
          w.uint32(120)
          w.bool(obj.withdrawn)
        }

        if (obj.capabilities != null && obj.capabilities.length > 0) {
          for (const value of obj.capabilities) {
            w.uint32(130)
            w.string(value)
          }
        }

        if ((obj.busy != null && obj.busy !== false)) {
          w.uint32(136)
          w.bool(obj.busy)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0n,
          modelId: '',
          fingerprint: '',
          fingerprintVerified: false,
          params: 0n,
          quantization: '',
          contextLength: 0,
          priceInPerMtokUc: 0n,
          priceOutPerMtokUc: 0n,
          maxSessions: 0,
          tokensPerSec: 0,
          region: '',
          multiaddrs: [],
          expiresAtMs: 0n,
          withdrawn: false,
          capabilities: [],
          busy: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64()
              break
            }
            case 2: {
              obj.modelId = reader.string()
              break
            }
            case 3: {
              obj.fingerprint = reader.string()
              break
            }
            case 4: {
              obj.fingerprintVerified = reader.bool()
              break
            }
            case 5: {
              obj.params = reader.uint64()
              break
            }
            case 6: {
              obj.quantization = reader.string()
              break
            }
            case 7: {
              obj.contextLength = reader.uint32()
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
              obj.maxSessions = reader.uint32()
              break
            }
            case 11: {
              obj.tokensPerSec = reader.uint32()
              break
            }
            case 12: {
              obj.region = reader.string()
              break
            }
            case 13: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs.length === opts.limits.multiaddrs) {
                throw new MaxLengthError('Decode error - repeated field "multiaddrs" had too many elements')
              }

              obj.multiaddrs.push(reader.string())
              break
            }
            case 14: {
              obj.expiresAtMs = reader.uint64()
              break
            }
            case 15: {
              obj.withdrawn = reader.bool()
              break
            }
            case 16: {
              if (opts.limits?.capabilities != null && obj.capabilities.length === opts.limits.capabilities) {
                throw new MaxLengthError('Decode error - repeated field "capabilities" had too many elements')
              }

              obj.capabilities.push(reader.string())
              break
            }
            case 17: {
              obj.busy = reader.bool()
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
          multiaddrs: 0,
          capabilities: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.modelId`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.fingerprint`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.fingerprintVerified`,
                value: reader.bool()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.params`,
                value: reader.uint64()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.quantization`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.contextLength`,
                value: reader.uint32()
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
                field: `${prefix}.maxSessions`,
                value: reader.uint32()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.tokensPerSec`,
                value: reader.uint32()
              }
              break
            }
            case 12: {
              yield {
                field: `${prefix}.region`,
                value: reader.string()
              }
              break
            }
            case 13: {
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
            case 14: {
              yield {
                field: `${prefix}.expiresAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.withdrawn`,
                value: reader.bool()
              }
              break
            }
            case 16: {
              if (opts.limits?.capabilities != null && obj.capabilities === opts.limits.capabilities) {
                throw new MaxLengthError('Streaming decode error - repeated field "capabilities" had too many elements')
              }

              yield {
                field: `${prefix}.capabilities[]`,
                index: obj.capabilities,
                value: reader.string()
              }

              obj.capabilities++

              break
            }
            case 17: {
              yield {
                field: `${prefix}.busy`,
                value: reader.bool()
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

  export interface OfferSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface OfferModelIdFieldEvent {
    field: '$.modelId'
    value: string
  }

  export interface OfferFingerprintFieldEvent {
    field: '$.fingerprint'
    value: string
  }

  export interface OfferFingerprintVerifiedFieldEvent {
    field: '$.fingerprintVerified'
    value: boolean
  }

  export interface OfferParamsFieldEvent {
    field: '$.params'
    value: bigint
  }

  export interface OfferQuantizationFieldEvent {
    field: '$.quantization'
    value: string
  }

  export interface OfferContextLengthFieldEvent {
    field: '$.contextLength'
    value: number
  }

  export interface OfferPriceInPerMtokUcFieldEvent {
    field: '$.priceInPerMtokUc'
    value: bigint
  }

  export interface OfferPriceOutPerMtokUcFieldEvent {
    field: '$.priceOutPerMtokUc'
    value: bigint
  }

  export interface OfferMaxSessionsFieldEvent {
    field: '$.maxSessions'
    value: number
  }

  export interface OfferTokensPerSecFieldEvent {
    field: '$.tokensPerSec'
    value: number
  }

  export interface OfferRegionFieldEvent {
    field: '$.region'
    value: string
  }

  export interface OfferMultiaddrsFieldEvent {
    field: '$.multiaddrs[]'
    index: number
    value: string
  }

  export interface OfferExpiresAtMsFieldEvent {
    field: '$.expiresAtMs'
    value: bigint
  }

  export interface OfferWithdrawnFieldEvent {
    field: '$.withdrawn'
    value: boolean
  }

  export interface OfferCapabilitiesFieldEvent {
    field: '$.capabilities[]'
    index: number
    value: string
  }

  export interface OfferBusyFieldEvent {
    field: '$.busy'
    value: boolean
  }

  export function encode (obj: Partial<Offer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Offer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Offer>): Offer {
    return decodeMessage(buf, Offer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Offer>): Generator<OfferSeqFieldEvent | OfferModelIdFieldEvent | OfferFingerprintFieldEvent | OfferFingerprintVerifiedFieldEvent | OfferParamsFieldEvent | OfferQuantizationFieldEvent | OfferContextLengthFieldEvent | OfferPriceInPerMtokUcFieldEvent | OfferPriceOutPerMtokUcFieldEvent | OfferMaxSessionsFieldEvent | OfferTokensPerSecFieldEvent | OfferRegionFieldEvent | OfferMultiaddrsFieldEvent | OfferExpiresAtMsFieldEvent | OfferWithdrawnFieldEvent | OfferCapabilitiesFieldEvent | OfferBusyFieldEvent> {
    return streamMessage(buf, Offer.codec(), opts)
  }
}

export interface Bid {
  seq: bigint
  modelId: string
  minParams: bigint
  quantizations: string[]
  maxPriceInPerMtokUc: bigint
  maxPriceOutPerMtokUc: bigint
  expectedInputTokens: bigint
  expectedOutputTokens: bigint
  expiresAtMs: bigint
  deadlineMs: bigint
  auctionEndsAtMs: bigint
  multiaddrs: string[]
  verifiedOnly: boolean
}

export namespace Bid {
  let _codec: Codec<Bid>

  export const codec = (): Codec<Bid> => {
    if (_codec == null) {
      _codec = message<Bid>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(8)
          w.uint64(obj.seq)
        }

        if ((obj.modelId != null && obj.modelId !== '')) {
          w.uint32(18)
          w.string(obj.modelId)
        }

        if ((obj.minParams != null && obj.minParams !== 0n)) {
          w.uint32(24)
          w.uint64(obj.minParams)
        }

        if (obj.quantizations != null && obj.quantizations.length > 0) {
          for (const value of obj.quantizations) {
            w.uint32(34)
            w.string(value)
          }
        }

        if ((obj.maxPriceInPerMtokUc != null && obj.maxPriceInPerMtokUc !== 0n)) {
          w.uint32(40)
          w.uint64(obj.maxPriceInPerMtokUc)
        }

        if ((obj.maxPriceOutPerMtokUc != null && obj.maxPriceOutPerMtokUc !== 0n)) {
          w.uint32(48)
          w.uint64(obj.maxPriceOutPerMtokUc)
        }

        if ((obj.expectedInputTokens != null && obj.expectedInputTokens !== 0n)) {
          w.uint32(56)
          w.uint64(obj.expectedInputTokens)
        }

        if ((obj.expectedOutputTokens != null && obj.expectedOutputTokens !== 0n)) {
          w.uint32(64)
          w.uint64(obj.expectedOutputTokens)
        }

        if ((obj.expiresAtMs != null && obj.expiresAtMs !== 0n)) {
          w.uint32(72)
          w.uint64(obj.expiresAtMs)
        }

        if ((obj.deadlineMs != null && obj.deadlineMs !== 0n)) {
          w.uint32(80)
          w.uint64(obj.deadlineMs)
        }

        if ((obj.auctionEndsAtMs != null && obj.auctionEndsAtMs !== 0n)) {
          w.uint32(88)
          w.uint64(obj.auctionEndsAtMs)
        }

        if (obj.multiaddrs != null && obj.multiaddrs.length > 0) {
          for (const value of obj.multiaddrs) {
            w.uint32(98)
            w.string(value)
          }
        }

        if ((obj.verifiedOnly != null && obj.verifiedOnly !== false)) {
          w.uint32(104)
          w.bool(obj.verifiedOnly)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0n,
          modelId: '',
          minParams: 0n,
          quantizations: [],
          maxPriceInPerMtokUc: 0n,
          maxPriceOutPerMtokUc: 0n,
          expectedInputTokens: 0n,
          expectedOutputTokens: 0n,
          expiresAtMs: 0n,
          deadlineMs: 0n,
          auctionEndsAtMs: 0n,
          multiaddrs: [],
          verifiedOnly: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64()
              break
            }
            case 2: {
              obj.modelId = reader.string()
              break
            }
            case 3: {
              obj.minParams = reader.uint64()
              break
            }
            case 4: {
              if (opts.limits?.quantizations != null && obj.quantizations.length === opts.limits.quantizations) {
                throw new MaxLengthError('Decode error - repeated field "quantizations" had too many elements')
              }

              obj.quantizations.push(reader.string())
              break
            }
            case 5: {
              obj.maxPriceInPerMtokUc = reader.uint64()
              break
            }
            case 6: {
              obj.maxPriceOutPerMtokUc = reader.uint64()
              break
            }
            case 7: {
              obj.expectedInputTokens = reader.uint64()
              break
            }
            case 8: {
              obj.expectedOutputTokens = reader.uint64()
              break
            }
            case 9: {
              obj.expiresAtMs = reader.uint64()
              break
            }
            case 10: {
              obj.deadlineMs = reader.uint64()
              break
            }
            case 11: {
              obj.auctionEndsAtMs = reader.uint64()
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
              obj.verifiedOnly = reader.bool()
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
          quantizations: 0,
          multiaddrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.modelId`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.minParams`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              if (opts.limits?.quantizations != null && obj.quantizations === opts.limits.quantizations) {
                throw new MaxLengthError('Streaming decode error - repeated field "quantizations" had too many elements')
              }

              yield {
                field: `${prefix}.quantizations[]`,
                index: obj.quantizations,
                value: reader.string()
              }

              obj.quantizations++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.maxPriceInPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.maxPriceOutPerMtokUc`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.expectedInputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.expectedOutputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.expiresAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.deadlineMs`,
                value: reader.uint64()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.auctionEndsAtMs`,
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
                field: `${prefix}.verifiedOnly`,
                value: reader.bool()
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

  export interface BidSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface BidModelIdFieldEvent {
    field: '$.modelId'
    value: string
  }

  export interface BidMinParamsFieldEvent {
    field: '$.minParams'
    value: bigint
  }

  export interface BidQuantizationsFieldEvent {
    field: '$.quantizations[]'
    index: number
    value: string
  }

  export interface BidMaxPriceInPerMtokUcFieldEvent {
    field: '$.maxPriceInPerMtokUc'
    value: bigint
  }

  export interface BidMaxPriceOutPerMtokUcFieldEvent {
    field: '$.maxPriceOutPerMtokUc'
    value: bigint
  }

  export interface BidExpectedInputTokensFieldEvent {
    field: '$.expectedInputTokens'
    value: bigint
  }

  export interface BidExpectedOutputTokensFieldEvent {
    field: '$.expectedOutputTokens'
    value: bigint
  }

  export interface BidExpiresAtMsFieldEvent {
    field: '$.expiresAtMs'
    value: bigint
  }

  export interface BidDeadlineMsFieldEvent {
    field: '$.deadlineMs'
    value: bigint
  }

  export interface BidAuctionEndsAtMsFieldEvent {
    field: '$.auctionEndsAtMs'
    value: bigint
  }

  export interface BidMultiaddrsFieldEvent {
    field: '$.multiaddrs[]'
    index: number
    value: string
  }

  export interface BidVerifiedOnlyFieldEvent {
    field: '$.verifiedOnly'
    value: boolean
  }

  export function encode (obj: Partial<Bid>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Bid.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Bid>): Bid {
    return decodeMessage(buf, Bid.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Bid>): Generator<BidSeqFieldEvent | BidModelIdFieldEvent | BidMinParamsFieldEvent | BidQuantizationsFieldEvent | BidMaxPriceInPerMtokUcFieldEvent | BidMaxPriceOutPerMtokUcFieldEvent | BidExpectedInputTokensFieldEvent | BidExpectedOutputTokensFieldEvent | BidExpiresAtMsFieldEvent | BidDeadlineMsFieldEvent | BidAuctionEndsAtMsFieldEvent | BidMultiaddrsFieldEvent | BidVerifiedOnlyFieldEvent> {
    return streamMessage(buf, Bid.codec(), opts)
  }
}

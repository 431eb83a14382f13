import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface InferChatMessage {
  role: string
  content: string
}

export namespace InferChatMessage {
  let _codec: Codec<InferChatMessage>

  export const codec = (): Codec<InferChatMessage> => {
    if (_codec == null) {
      _codec = message<InferChatMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.role != null && obj.role !== '')) {
          w.uint32(10)
          w.string(obj.role)
        }

        if ((obj.content != null && obj.content !== '')) {
          w.uint32(18)
          w.string(obj.content)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          role: '',
          content: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.role = reader.string()
              break
            }
            case 2: {
              obj.content = reader.string()
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
                field: `${prefix}.role`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.content`,
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

  export interface InferChatMessageRoleFieldEvent {
    field: '$.role'
    value: string
  }

  export interface InferChatMessageContentFieldEvent {
    field: '$.content'
    value: string
  }

  export function encode (obj: Partial<InferChatMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferChatMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferChatMessage>): InferChatMessage {
    return decodeMessage(buf, InferChatMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferChatMessage>): Generator<InferChatMessageRoleFieldEvent | InferChatMessageContentFieldEvent> {
    return streamMessage(buf, InferChatMessage.codec(), opts)
  }
}

export interface InferRequest {
  contractId: Uint8Array<ArrayBuffer>
  messages: InferChatMessage[]
  maxTokens?: number
  temperature?: number
  topP?: number
  seed?: number
  stop: string[]
}

export namespace InferRequest {
  let _codec: Codec<InferRequest>

  export const codec = (): Codec<InferRequest> => {
    if (_codec == null) {
      _codec = message<InferRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.contractId != null && obj.contractId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.contractId)
        }

        if (obj.messages != null && obj.messages.length > 0) {
          for (const value of obj.messages) {
            w.uint32(18)
            InferChatMessage.codec().encode(value, w)
          }
        }

        if (obj.maxTokens != null) {
          w.uint32(24)
          w.uint32(obj.maxTokens)
        }

        if (obj.temperature != null) {
          w.uint32(33)
          w.double(obj.temperature)
        }

        if (obj.topP != null) {
          w.uint32(41)
          w.double(obj.topP)
        }

        if (obj.seed != null) {
          w.uint32(48)
          w.uint32(obj.seed)
        }

        if (obj.stop != null && obj.stop.length > 0) {
          for (const value of obj.stop) {
            w.uint32(58)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          contractId: uint8ArrayAlloc(0),
          messages: [],
          stop: []
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
              if (opts.limits?.messages != null && obj.messages.length === opts.limits.messages) {
                throw new MaxLengthError('Decode error - repeated field "messages" had too many elements')
              }

              obj.messages.push(InferChatMessage.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.messages$
              }))
              break
            }
            case 3: {
              obj.maxTokens = reader.uint32()
              break
            }
            case 4: {
              obj.temperature = reader.double()
              break
            }
            case 5: {
              obj.topP = reader.double()
              break
            }
            case 6: {
              obj.seed = reader.uint32()
              break
            }
            case 7: {
              if (opts.limits?.stop != null && obj.stop.length === opts.limits.stop) {
                throw new MaxLengthError('Decode error - repeated field "stop" had too many elements')
              }

              obj.stop.push(reader.string())
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
          messages: 0,
          stop: 0
        }

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
              if (opts.limits?.messages != null && obj.messages === opts.limits.messages) {
                throw new MaxLengthError('Streaming decode error - repeated field "messages" had too many elements')
              }

              for (const evt of InferChatMessage.codec().stream(reader, reader.uint32(), `${prefix}.messages[]`, {
                limits: opts.limits?.messages$
              })) {
                yield {
                  ...evt,
                  index: obj.messages
                }
              }

              obj.messages++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.maxTokens`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.temperature`,
                value: reader.double()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.topP`,
                value: reader.double()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.seed`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              if (opts.limits?.stop != null && obj.stop === opts.limits.stop) {
                throw new MaxLengthError('Streaming decode error - repeated field "stop" had too many elements')
              }

              yield {
                field: `${prefix}.stop[]`,
                index: obj.stop,
                value: reader.string()
              }

              obj.stop++

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

  export interface InferRequestContractIdFieldEvent {
    field: '$.contractId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface InferRequestMessagesRoleFieldEvent {
    field: '$.messages[].role'
    value: string
    index: number
  }

  export interface InferRequestMessagesContentFieldEvent {
    field: '$.messages[].content'
    value: string
    index: number
  }

  export interface InferRequestMaxTokensFieldEvent {
    field: '$.maxTokens'
    value: number
  }

  export interface InferRequestTemperatureFieldEvent {
    field: '$.temperature'
    value: number
  }

  export interface InferRequestTopPFieldEvent {
    field: '$.topP'
    value: number
  }

  export interface InferRequestSeedFieldEvent {
    field: '$.seed'
    value: number
  }

  export interface InferRequestStopFieldEvent {
    field: '$.stop[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<InferRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferRequest>): InferRequest {
    return decodeMessage(buf, InferRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferRequest>): Generator<InferRequestContractIdFieldEvent | InferRequestMessagesRoleFieldEvent | InferRequestMessagesContentFieldEvent | InferRequestMaxTokensFieldEvent | InferRequestTemperatureFieldEvent | InferRequestTopPFieldEvent | InferRequestSeedFieldEvent | InferRequestStopFieldEvent> {
    return streamMessage(buf, InferRequest.codec(), opts)
  }
}

export interface InferClose {
  contractId: Uint8Array<ArrayBuffer>
}

export namespace InferClose {
  let _codec: Codec<InferClose>

  export const codec = (): Codec<InferClose> => {
    if (_codec == null) {
      _codec = message<InferClose>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.contractId != null && obj.contractId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.contractId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          contractId: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.contractId = reader.bytes()
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

  export interface InferCloseContractIdFieldEvent {
    field: '$.contractId'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<InferClose>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferClose.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferClose>): InferClose {
    return decodeMessage(buf, InferClose.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferClose>): Generator<InferCloseContractIdFieldEvent> {
    return streamMessage(buf, InferClose.codec(), opts)
  }
}

export interface BuyerFrame {
  request?: InferRequest
  voucher?: Uint8Array<ArrayBuffer>
  close?: InferClose
}

export namespace BuyerFrame {
  let _codec: Codec<BuyerFrame>

  export const codec = (): Codec<BuyerFrame> => {
    if (_codec == null) {
      _codec = message<BuyerFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.request != null) {
          w.uint32(10)
          InferRequest.codec().encode(obj.request, w)
        }

        if (obj.voucher != null) {
          w.uint32(18)
          w.bytes(obj.voucher)
        }

        if (obj.close != null) {
          w.uint32(26)
          InferClose.codec().encode(obj.close, w)
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
              obj.request = InferRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.request
              })
              break
            }
            case 2: {
              obj.voucher = reader.bytes()
              break
            }
            case 3: {
              obj.close = InferClose.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.close
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
              yield * InferRequest.codec().stream(reader, reader.uint32(), `${prefix}.request`, {
                limits: opts.limits?.request
              })

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
              yield * InferClose.codec().stream(reader, reader.uint32(), `${prefix}.close`, {
                limits: opts.limits?.close
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

  export interface BuyerFrameRequestContractIdFieldEvent {
    field: '$.request.contractId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BuyerFrameRequestMessagesRoleFieldEvent {
    field: '$.request.messages[].role'
    value: string
    index: number
  }

  export interface BuyerFrameRequestMessagesContentFieldEvent {
    field: '$.request.messages[].content'
    value: string
    index: number
  }

  export interface BuyerFrameRequestMaxTokensFieldEvent {
    field: '$.request.maxTokens'
    value: number
  }

  export interface BuyerFrameRequestTemperatureFieldEvent {
    field: '$.request.temperature'
    value: number
  }

  export interface BuyerFrameRequestTopPFieldEvent {
    field: '$.request.topP'
    value: number
  }

  export interface BuyerFrameRequestSeedFieldEvent {
    field: '$.request.seed'
    value: number
  }

  export interface BuyerFrameRequestStopFieldEvent {
    field: '$.request.stop[]'
    index: number
    value: string
  }

  export interface BuyerFrameVoucherFieldEvent {
    field: '$.voucher'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BuyerFrameCloseContractIdFieldEvent {
    field: '$.close.contractId'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<BuyerFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BuyerFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BuyerFrame>): BuyerFrame {
    return decodeMessage(buf, BuyerFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BuyerFrame>): Generator<BuyerFrameRequestContractIdFieldEvent | BuyerFrameRequestMessagesRoleFieldEvent | BuyerFrameRequestMessagesContentFieldEvent | BuyerFrameRequestMaxTokensFieldEvent | BuyerFrameRequestTemperatureFieldEvent | BuyerFrameRequestTopPFieldEvent | BuyerFrameRequestSeedFieldEvent | BuyerFrameRequestStopFieldEvent | BuyerFrameVoucherFieldEvent | BuyerFrameCloseContractIdFieldEvent> {
    return streamMessage(buf, BuyerFrame.codec(), opts)
  }
}

export interface InferChunk {
  text: string
  outputTokens: number
  totalInputTokens: bigint
  totalOutputTokens: bigint
  amountUc: bigint
}

export namespace InferChunk {
  let _codec: Codec<InferChunk>

  export const codec = (): Codec<InferChunk> => {
    if (_codec == null) {
      _codec = message<InferChunk>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.text != null && obj.text !== '')) {
          w.uint32(10)
          w.string(obj.text)
        }

        if ((obj.outputTokens != null && obj.outputTokens !== 0)) {
          w.uint32(16)
          w.uint32(obj.outputTokens)
        }

        if ((obj.totalInputTokens != null && obj.totalInputTokens !== 0n)) {
          w.uint32(24)
          w.uint64(obj.totalInputTokens)
        }

        if ((obj.totalOutputTokens != null && obj.totalOutputTokens !== 0n)) {
          w.uint32(32)
          w.uint64(obj.totalOutputTokens)
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
          text: '',
          outputTokens: 0,
          totalInputTokens: 0n,
          totalOutputTokens: 0n,
          amountUc: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.text = reader.string()
              break
            }
            case 2: {
              obj.outputTokens = reader.uint32()
              break
            }
            case 3: {
              obj.totalInputTokens = reader.uint64()
              break
            }
            case 4: {
              obj.totalOutputTokens = reader.uint64()
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
                field: `${prefix}.text`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.outputTokens`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.totalInputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.totalOutputTokens`,
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

  export interface InferChunkTextFieldEvent {
    field: '$.text'
    value: string
  }

  export interface InferChunkOutputTokensFieldEvent {
    field: '$.outputTokens'
    value: number
  }

  export interface InferChunkTotalInputTokensFieldEvent {
    field: '$.totalInputTokens'
    value: bigint
  }

  export interface InferChunkTotalOutputTokensFieldEvent {
    field: '$.totalOutputTokens'
    value: bigint
  }

  export interface InferChunkAmountUcFieldEvent {
    field: '$.amountUc'
    value: bigint
  }

  export function encode (obj: Partial<InferChunk>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferChunk.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferChunk>): InferChunk {
    return decodeMessage(buf, InferChunk.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferChunk>): Generator<InferChunkTextFieldEvent | InferChunkOutputTokensFieldEvent | InferChunkTotalInputTokensFieldEvent | InferChunkTotalOutputTokensFieldEvent | InferChunkAmountUcFieldEvent> {
    return streamMessage(buf, InferChunk.codec(), opts)
  }
}

export interface InferDone {
  inputTokens: bigint
  outputTokens: bigint
  totalInputTokens: bigint
  totalOutputTokens: bigint
  amountUc: bigint
  finishReason: string
  usageSource: string
  stopReason: string
}

export namespace InferDone {
  let _codec: Codec<InferDone>

  export const codec = (): Codec<InferDone> => {
    if (_codec == null) {
      _codec = message<InferDone>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.inputTokens != null && obj.inputTokens !== 0n)) {
          w.uint32(8)
          w.uint64(obj.inputTokens)
        }

        if ((obj.outputTokens != null && obj.outputTokens !== 0n)) {
          w.uint32(16)
          w.uint64(obj.outputTokens)
        }

        if ((obj.totalInputTokens != null && obj.totalInputTokens !== 0n)) {
          w.uint32(24)
          w.uint64(obj.totalInputTokens)
        }

        if ((obj.totalOutputTokens != null && obj.totalOutputTokens !== 0n)) {
          w.uint32(32)
          w.uint64(obj.totalOutputTokens)
        }

        if ((obj.amountUc != null && obj.amountUc !== 0n)) {
          w.uint32(40)
          w.uint64(obj.amountUc)
        }

        if ((obj.finishReason != null && obj.finishReason !== '')) {
          w.uint32(50)
          w.string(obj.finishReason)
        }

        if ((obj.usageSource != null && obj.usageSource !== '')) {
          w.uint32(58)
          w.string(obj.usageSource)
        }

        if ((obj.stopReason != null && obj.stopReason !== '')) {
          w.uint32(66)
          w.string(obj.stopReason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          inputTokens: 0n,
          outputTokens: 0n,
          totalInputTokens: 0n,
          totalOutputTokens: 0n,
          amountUc: 0n,
          finishReason: '',
          usageSource: '',
          stopReason: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.inputTokens = reader.uint64()
              break
            }
            case 2: {
              obj.outputTokens = reader.uint64()
              break
            }
            case 3: {
              obj.totalInputTokens = reader.uint64()
              break
            }
            case 4: {
              obj.totalOutputTokens = reader.uint64()
              break
            }
            case 5: {
              obj.amountUc = reader.uint64()
              break
            }
            case 6: {
              obj.finishReason = reader.string()
              break
            }
            case 7: {
              obj.usageSource = reader.string()
              break
            }
            case 8: {
              obj.stopReason = reader.string()
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
                field: `${prefix}.inputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.outputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.totalInputTokens`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.totalOutputTokens`,
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
            case 6: {
              yield {
                field: `${prefix}.finishReason`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.usageSource`,
                value: reader.string()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.stopReason`,
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

  export interface InferDoneInputTokensFieldEvent {
    field: '$.inputTokens'
    value: bigint
  }

  export interface InferDoneOutputTokensFieldEvent {
    field: '$.outputTokens'
    value: bigint
  }

  export interface InferDoneTotalInputTokensFieldEvent {
    field: '$.totalInputTokens'
    value: bigint
  }

  export interface InferDoneTotalOutputTokensFieldEvent {
    field: '$.totalOutputTokens'
    value: bigint
  }

  export interface InferDoneAmountUcFieldEvent {
    field: '$.amountUc'
    value: bigint
  }

  export interface InferDoneFinishReasonFieldEvent {
    field: '$.finishReason'
    value: string
  }

  export interface InferDoneUsageSourceFieldEvent {
    field: '$.usageSource'
    value: string
  }

  export interface InferDoneStopReasonFieldEvent {
    field: '$.stopReason'
    value: string
  }

  export function encode (obj: Partial<InferDone>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferDone.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferDone>): InferDone {
    return decodeMessage(buf, InferDone.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferDone>): Generator<InferDoneInputTokensFieldEvent | InferDoneOutputTokensFieldEvent | InferDoneTotalInputTokensFieldEvent | InferDoneTotalOutputTokensFieldEvent | InferDoneAmountUcFieldEvent | InferDoneFinishReasonFieldEvent | InferDoneUsageSourceFieldEvent | InferDoneStopReasonFieldEvent> {
    return streamMessage(buf, InferDone.codec(), opts)
  }
}

export interface InferFailure {
  code: string
  message: string
}

export namespace InferFailure {
  let _codec: Codec<InferFailure>

  export const codec = (): Codec<InferFailure> => {
    if (_codec == null) {
      _codec = message<InferFailure>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.code != null && obj.code !== '')) {
          w.uint32(10)
          w.string(obj.code)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          code: '',
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.code = reader.string()
              break
            }
            case 2: {
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
                field: `${prefix}.code`,
                value: reader.string()
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

  export interface InferFailureCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export interface InferFailureMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<InferFailure>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferFailure.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferFailure>): InferFailure {
    return decodeMessage(buf, InferFailure.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferFailure>): Generator<InferFailureCodeFieldEvent | InferFailureMessageFieldEvent> {
    return streamMessage(buf, InferFailure.codec(), opts)
  }
}

export interface SellerFrame {
  chunk?: InferChunk
  done?: InferDone
  failure?: InferFailure
}

export namespace SellerFrame {
  let _codec: Codec<SellerFrame>

  export const codec = (): Codec<SellerFrame> => {
    if (_codec == null) {
      _codec = message<SellerFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.chunk != null) {
          w.uint32(10)
          InferChunk.codec().encode(obj.chunk, w)
        }

        if (obj.done != null) {
          w.uint32(18)
          InferDone.codec().encode(obj.done, w)
        }

        if (obj.failure != null) {
          w.uint32(26)
          InferFailure.codec().encode(obj.failure, w)
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
              obj.chunk = InferChunk.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.chunk
              })
              break
            }
            case 2: {
              obj.done = InferDone.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.done
              })
              break
            }
            case 3: {
              obj.failure = InferFailure.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.failure
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
              yield * InferChunk.codec().stream(reader, reader.uint32(), `${prefix}.chunk`, {
                limits: opts.limits?.chunk
              })

              break
            }
            case 2: {
              yield * InferDone.codec().stream(reader, reader.uint32(), `${prefix}.done`, {
                limits: opts.limits?.done
              })

              break
            }
            case 3: {
              yield * InferFailure.codec().stream(reader, reader.uint32(), `${prefix}.failure`, {
                limits: opts.limits?.failure
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

  export interface SellerFrameChunkTextFieldEvent {
    field: '$.chunk.text'
    value: string
  }

  export interface SellerFrameChunkOutputTokensFieldEvent {
    field: '$.chunk.outputTokens'
    value: number
  }

  export interface SellerFrameChunkTotalInputTokensFieldEvent {
    field: '$.chunk.totalInputTokens'
    value: bigint
  }

  export interface SellerFrameChunkTotalOutputTokensFieldEvent {
    field: '$.chunk.totalOutputTokens'
    value: bigint
  }

  export interface SellerFrameChunkAmountUcFieldEvent {
    field: '$.chunk.amountUc'
    value: bigint
  }

  export interface SellerFrameDoneInputTokensFieldEvent {
    field: '$.done.inputTokens'
    value: bigint
  }

  export interface SellerFrameDoneOutputTokensFieldEvent {
    field: '$.done.outputTokens'
    value: bigint
  }

  export interface SellerFrameDoneTotalInputTokensFieldEvent {
    field: '$.done.totalInputTokens'
    value: bigint
  }

  export interface SellerFrameDoneTotalOutputTokensFieldEvent {
    field: '$.done.totalOutputTokens'
    value: bigint
  }

  export interface SellerFrameDoneAmountUcFieldEvent {
    field: '$.done.amountUc'
    value: bigint
  }

  export interface SellerFrameDoneFinishReasonFieldEvent {
    field: '$.done.finishReason'
    value: string
  }

  export interface SellerFrameDoneUsageSourceFieldEvent {
    field: '$.done.usageSource'
    value: string
  }

  export interface SellerFrameDoneStopReasonFieldEvent {
    field: '$.done.stopReason'
    value: string
  }

  export interface SellerFrameFailureCodeFieldEvent {
    field: '$.failure.code'
    value: string
  }

  export interface SellerFrameFailureMessageFieldEvent {
    field: '$.failure.message'
    value: string
  }

  export function encode (obj: Partial<SellerFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SellerFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SellerFrame>): SellerFrame {
    return decodeMessage(buf, SellerFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SellerFrame>): Generator<SellerFrameChunkTextFieldEvent | SellerFrameChunkOutputTokensFieldEvent | SellerFrameChunkTotalInputTokensFieldEvent | SellerFrameChunkTotalOutputTokensFieldEvent | SellerFrameChunkAmountUcFieldEvent | SellerFrameDoneInputTokensFieldEvent | SellerFrameDoneOutputTokensFieldEvent | SellerFrameDoneTotalInputTokensFieldEvent | SellerFrameDoneTotalOutputTokensFieldEvent | SellerFrameDoneAmountUcFieldEvent | SellerFrameDoneFinishReasonFieldEvent | SellerFrameDoneUsageSourceFieldEvent | SellerFrameDoneStopReasonFieldEvent | SellerFrameFailureCodeFieldEvent | SellerFrameFailureMessageFieldEvent> {
    return streamMessage(buf, SellerFrame.codec(), opts)
  }
}

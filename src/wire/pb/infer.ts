import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface InferChatMessage {
  role: string
  content: string
  toolCallsJson?: string
  toolCallId?: string
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

        if (obj.toolCallsJson != null) {
          w.uint32(242)
          w.string(obj.toolCallsJson)
        }

        if (obj.toolCallId != null) {
          w.uint32(250)
          w.string(obj.toolCallId)
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
            case 30: {
              obj.toolCallsJson = reader.string()
              break
            }
            case 31: {
              obj.toolCallId = reader.string()
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
            case 30: {
              yield {
                field: `${prefix}.toolCallsJson`,
                value: reader.string()
              }
              break
            }
            case 31: {
              yield {
                field: `${prefix}.toolCallId`,
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

  export interface InferChatMessageToolCallsJsonFieldEvent {
    field: '$.toolCallsJson'
    value: string
  }

  export interface InferChatMessageToolCallIdFieldEvent {
    field: '$.toolCallId'
    value: string
  }

  export function encode (obj: Partial<InferChatMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferChatMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferChatMessage>): InferChatMessage {
    return decodeMessage(buf, InferChatMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferChatMessage>): Generator<InferChatMessageRoleFieldEvent | InferChatMessageContentFieldEvent | InferChatMessageToolCallsJsonFieldEvent | InferChatMessageToolCallIdFieldEvent> {
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
  toolsJson?: string
  toolChoiceJson?: string
  parallelToolCalls?: boolean
  responseFormatJson?: string
  embed?: InferEmbed
  prompt?: string
  logprobs?: boolean
  topLogprobs?: number
  keepOpen?: boolean
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

        if (obj.toolsJson != null) {
          w.uint32(242)
          w.string(obj.toolsJson)
        }

        if (obj.toolChoiceJson != null) {
          w.uint32(250)
          w.string(obj.toolChoiceJson)
        }

        if (obj.parallelToolCalls != null) {
          w.uint32(256)
          w.bool(obj.parallelToolCalls)
        }

        if (obj.responseFormatJson != null) {
          w.uint32(266)
          w.string(obj.responseFormatJson)
        }

        if (obj.embed != null) {
          w.uint32(162)
          InferEmbed.codec().encode(obj.embed, w)
        }

        if (obj.prompt != null) {
          w.uint32(322)
          w.string(obj.prompt)
        }

        if (obj.logprobs != null) {
          w.uint32(328)
          w.bool(obj.logprobs)
        }

        if (obj.topLogprobs != null) {
          w.uint32(336)
          w.uint32(obj.topLogprobs)
        }

        if (obj.keepOpen != null) {
          w.uint32(400)
          w.bool(obj.keepOpen)
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
            case 30: {
              obj.toolsJson = reader.string()
              break
            }
            case 31: {
              obj.toolChoiceJson = reader.string()
              break
            }
            case 32: {
              obj.parallelToolCalls = reader.bool()
              break
            }
            case 33: {
              obj.responseFormatJson = reader.string()
              break
            }
            case 20: {
              obj.embed = InferEmbed.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.embed
              })
              break
            }
            case 40: {
              obj.prompt = reader.string()
              break
            }
            case 41: {
              obj.logprobs = reader.bool()
              break
            }
            case 42: {
              obj.topLogprobs = reader.uint32()
              break
            }
            case 50: {
              obj.keepOpen = reader.bool()
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
            case 30: {
              yield {
                field: `${prefix}.toolsJson`,
                value: reader.string()
              }
              break
            }
            case 31: {
              yield {
                field: `${prefix}.toolChoiceJson`,
                value: reader.string()
              }
              break
            }
            case 32: {
              yield {
                field: `${prefix}.parallelToolCalls`,
                value: reader.bool()
              }
              break
            }
            case 33: {
              yield {
                field: `${prefix}.responseFormatJson`,
                value: reader.string()
              }
              break
            }
            case 20: {
              yield * InferEmbed.codec().stream(reader, reader.uint32(), `${prefix}.embed`, {
                limits: opts.limits?.embed
              })

              break
            }
            case 40: {
              yield {
                field: `${prefix}.prompt`,
                value: reader.string()
              }
              break
            }
            case 41: {
              yield {
                field: `${prefix}.logprobs`,
                value: reader.bool()
              }
              break
            }
            case 42: {
              yield {
                field: `${prefix}.topLogprobs`,
                value: reader.uint32()
              }
              break
            }
            case 50: {
              yield {
                field: `${prefix}.keepOpen`,
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

  export interface InferRequestMessagesToolCallsJsonFieldEvent {
    field: '$.messages[].toolCallsJson'
    value: string
    index: number
  }

  export interface InferRequestMessagesToolCallIdFieldEvent {
    field: '$.messages[].toolCallId'
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

  export interface InferRequestToolsJsonFieldEvent {
    field: '$.toolsJson'
    value: string
  }

  export interface InferRequestToolChoiceJsonFieldEvent {
    field: '$.toolChoiceJson'
    value: string
  }

  export interface InferRequestParallelToolCallsFieldEvent {
    field: '$.parallelToolCalls'
    value: boolean
  }

  export interface InferRequestResponseFormatJsonFieldEvent {
    field: '$.responseFormatJson'
    value: string
  }

  export interface InferRequestEmbedInputsFieldEvent {
    field: '$.embed.inputs[]'
    index: number
    value: string
  }

  export interface InferRequestEmbedDimensionsFieldEvent {
    field: '$.embed.dimensions'
    value: number
  }

  export interface InferRequestPromptFieldEvent {
    field: '$.prompt'
    value: string
  }

  export interface InferRequestLogprobsFieldEvent {
    field: '$.logprobs'
    value: boolean
  }

  export interface InferRequestTopLogprobsFieldEvent {
    field: '$.topLogprobs'
    value: number
  }

  export interface InferRequestKeepOpenFieldEvent {
    field: '$.keepOpen'
    value: boolean
  }

  export function encode (obj: Partial<InferRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferRequest>): InferRequest {
    return decodeMessage(buf, InferRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferRequest>): Generator<InferRequestContractIdFieldEvent | InferRequestMessagesRoleFieldEvent | InferRequestMessagesContentFieldEvent | InferRequestMessagesToolCallsJsonFieldEvent | InferRequestMessagesToolCallIdFieldEvent | InferRequestMaxTokensFieldEvent | InferRequestTemperatureFieldEvent | InferRequestTopPFieldEvent | InferRequestSeedFieldEvent | InferRequestStopFieldEvent | InferRequestToolsJsonFieldEvent | InferRequestToolChoiceJsonFieldEvent | InferRequestParallelToolCallsFieldEvent | InferRequestResponseFormatJsonFieldEvent | InferRequestEmbedInputsFieldEvent | InferRequestEmbedDimensionsFieldEvent | InferRequestPromptFieldEvent | InferRequestLogprobsFieldEvent | InferRequestTopLogprobsFieldEvent | InferRequestKeepOpenFieldEvent> {
    return streamMessage(buf, InferRequest.codec(), opts)
  }
}

export interface InferEmbed {
  inputs: string[]
  dimensions?: number
}

export namespace InferEmbed {
  let _codec: Codec<InferEmbed>

  export const codec = (): Codec<InferEmbed> => {
    if (_codec == null) {
      _codec = message<InferEmbed>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.inputs != null && obj.inputs.length > 0) {
          for (const value of obj.inputs) {
            w.uint32(10)
            w.string(value)
          }
        }

        if (obj.dimensions != null) {
          w.uint32(16)
          w.uint32(obj.dimensions)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          inputs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.inputs != null && obj.inputs.length === opts.limits.inputs) {
                throw new MaxLengthError('Decode error - repeated field "inputs" had too many elements')
              }

              obj.inputs.push(reader.string())
              break
            }
            case 2: {
              obj.dimensions = reader.uint32()
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
          inputs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.inputs != null && obj.inputs === opts.limits.inputs) {
                throw new MaxLengthError('Streaming decode error - repeated field "inputs" had too many elements')
              }

              yield {
                field: `${prefix}.inputs[]`,
                index: obj.inputs,
                value: reader.string()
              }

              obj.inputs++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.dimensions`,
                value: reader.uint32()
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

  export interface InferEmbedInputsFieldEvent {
    field: '$.inputs[]'
    index: number
    value: string
  }

  export interface InferEmbedDimensionsFieldEvent {
    field: '$.dimensions'
    value: number
  }

  export function encode (obj: Partial<InferEmbed>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferEmbed.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferEmbed>): InferEmbed {
    return decodeMessage(buf, InferEmbed.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferEmbed>): Generator<InferEmbedInputsFieldEvent | InferEmbedDimensionsFieldEvent> {
    return streamMessage(buf, InferEmbed.codec(), opts)
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

  export interface BuyerFrameRequestMessagesToolCallsJsonFieldEvent {
    field: '$.request.messages[].toolCallsJson'
    value: string
    index: number
  }

  export interface BuyerFrameRequestMessagesToolCallIdFieldEvent {
    field: '$.request.messages[].toolCallId'
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

  export interface BuyerFrameRequestToolsJsonFieldEvent {
    field: '$.request.toolsJson'
    value: string
  }

  export interface BuyerFrameRequestToolChoiceJsonFieldEvent {
    field: '$.request.toolChoiceJson'
    value: string
  }

  export interface BuyerFrameRequestParallelToolCallsFieldEvent {
    field: '$.request.parallelToolCalls'
    value: boolean
  }

  export interface BuyerFrameRequestResponseFormatJsonFieldEvent {
    field: '$.request.responseFormatJson'
    value: string
  }

  export interface BuyerFrameRequestEmbedInputsFieldEvent {
    field: '$.request.embed.inputs[]'
    index: number
    value: string
  }

  export interface BuyerFrameRequestEmbedDimensionsFieldEvent {
    field: '$.request.embed.dimensions'
    value: number
  }

  export interface BuyerFrameRequestPromptFieldEvent {
    field: '$.request.prompt'
    value: string
  }

  export interface BuyerFrameRequestLogprobsFieldEvent {
    field: '$.request.logprobs'
    value: boolean
  }

  export interface BuyerFrameRequestTopLogprobsFieldEvent {
    field: '$.request.topLogprobs'
    value: number
  }

  export interface BuyerFrameRequestKeepOpenFieldEvent {
    field: '$.request.keepOpen'
    value: boolean
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

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BuyerFrame>): Generator<BuyerFrameRequestContractIdFieldEvent | BuyerFrameRequestMessagesRoleFieldEvent | BuyerFrameRequestMessagesContentFieldEvent | BuyerFrameRequestMessagesToolCallsJsonFieldEvent | BuyerFrameRequestMessagesToolCallIdFieldEvent | BuyerFrameRequestMaxTokensFieldEvent | BuyerFrameRequestTemperatureFieldEvent | BuyerFrameRequestTopPFieldEvent | BuyerFrameRequestSeedFieldEvent | BuyerFrameRequestStopFieldEvent | BuyerFrameRequestToolsJsonFieldEvent | BuyerFrameRequestToolChoiceJsonFieldEvent | BuyerFrameRequestParallelToolCallsFieldEvent | BuyerFrameRequestResponseFormatJsonFieldEvent | BuyerFrameRequestEmbedInputsFieldEvent | BuyerFrameRequestEmbedDimensionsFieldEvent | BuyerFrameRequestPromptFieldEvent | BuyerFrameRequestLogprobsFieldEvent | BuyerFrameRequestTopLogprobsFieldEvent | BuyerFrameRequestKeepOpenFieldEvent | BuyerFrameVoucherFieldEvent | BuyerFrameCloseContractIdFieldEvent> {
    return streamMessage(buf, BuyerFrame.codec(), opts)
  }
}

export interface InferChunk {
  text: string
  outputTokens: number
  totalInputTokens: bigint
  totalOutputTokens: bigint
  amountUc: bigint
  toolCallsJson?: string
  logprobsJson?: string
  windowUc?: bigint
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

        if (obj.toolCallsJson != null) {
          w.uint32(242)
          w.string(obj.toolCallsJson)
        }

        if (obj.logprobsJson != null) {
          w.uint32(330)
          w.string(obj.logprobsJson)
        }

        if (obj.windowUc != null) {
          w.uint32(400)
          w.uint64(obj.windowUc)
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
            case 30: {
              obj.toolCallsJson = reader.string()
              break
            }
            case 41: {
              obj.logprobsJson = reader.string()
              break
            }
            case 50: {
              obj.windowUc = reader.uint64()
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
            case 30: {
              yield {
                field: `${prefix}.toolCallsJson`,
                value: reader.string()
              }
              break
            }
            case 41: {
              yield {
                field: `${prefix}.logprobsJson`,
                value: reader.string()
              }
              break
            }
            case 50: {
              yield {
                field: `${prefix}.windowUc`,
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

  export interface InferChunkToolCallsJsonFieldEvent {
    field: '$.toolCallsJson'
    value: string
  }

  export interface InferChunkLogprobsJsonFieldEvent {
    field: '$.logprobsJson'
    value: string
  }

  export interface InferChunkWindowUcFieldEvent {
    field: '$.windowUc'
    value: bigint
  }

  export function encode (obj: Partial<InferChunk>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferChunk.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferChunk>): InferChunk {
    return decodeMessage(buf, InferChunk.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferChunk>): Generator<InferChunkTextFieldEvent | InferChunkOutputTokensFieldEvent | InferChunkTotalInputTokensFieldEvent | InferChunkTotalOutputTokensFieldEvent | InferChunkAmountUcFieldEvent | InferChunkToolCallsJsonFieldEvent | InferChunkLogprobsJsonFieldEvent | InferChunkWindowUcFieldEvent> {
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
  streamOpen?: boolean
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

        if (obj.streamOpen != null) {
          w.uint32(400)
          w.bool(obj.streamOpen)
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
            case 50: {
              obj.streamOpen = reader.bool()
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
            case 50: {
              yield {
                field: `${prefix}.streamOpen`,
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

  export interface InferDoneStreamOpenFieldEvent {
    field: '$.streamOpen'
    value: boolean
  }

  export function encode (obj: Partial<InferDone>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferDone.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferDone>): InferDone {
    return decodeMessage(buf, InferDone.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferDone>): Generator<InferDoneInputTokensFieldEvent | InferDoneOutputTokensFieldEvent | InferDoneTotalInputTokensFieldEvent | InferDoneTotalOutputTokensFieldEvent | InferDoneAmountUcFieldEvent | InferDoneFinishReasonFieldEvent | InferDoneUsageSourceFieldEvent | InferDoneStopReasonFieldEvent | InferDoneStreamOpenFieldEvent> {
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

export interface InferEmbeddings {
  firstIndex: number
  dimensions: number
  vectors: Uint8Array<ArrayBuffer>
}

export namespace InferEmbeddings {
  let _codec: Codec<InferEmbeddings>

  export const codec = (): Codec<InferEmbeddings> => {
    if (_codec == null) {
      _codec = message<InferEmbeddings>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.firstIndex != null && obj.firstIndex !== 0)) {
          w.uint32(8)
          w.uint32(obj.firstIndex)
        }

        if ((obj.dimensions != null && obj.dimensions !== 0)) {
          w.uint32(16)
          w.uint32(obj.dimensions)
        }

        if ((obj.vectors != null && obj.vectors.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.vectors)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          firstIndex: 0,
          dimensions: 0,
          vectors: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.firstIndex = reader.uint32()
              break
            }
            case 2: {
              obj.dimensions = reader.uint32()
              break
            }
            case 3: {
              obj.vectors = reader.bytes()
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
                field: `${prefix}.firstIndex`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.dimensions`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.vectors`,
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

  export interface InferEmbeddingsFirstIndexFieldEvent {
    field: '$.firstIndex'
    value: number
  }

  export interface InferEmbeddingsDimensionsFieldEvent {
    field: '$.dimensions'
    value: number
  }

  export interface InferEmbeddingsVectorsFieldEvent {
    field: '$.vectors'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<InferEmbeddings>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferEmbeddings.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferEmbeddings>): InferEmbeddings {
    return decodeMessage(buf, InferEmbeddings.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferEmbeddings>): Generator<InferEmbeddingsFirstIndexFieldEvent | InferEmbeddingsDimensionsFieldEvent | InferEmbeddingsVectorsFieldEvent> {
    return streamMessage(buf, InferEmbeddings.codec(), opts)
  }
}

export interface SellerFrame {
  chunk?: InferChunk
  done?: InferDone
  failure?: InferFailure
  embeddings?: InferEmbeddings
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

        if (obj.embeddings != null) {
          w.uint32(162)
          InferEmbeddings.codec().encode(obj.embeddings, w)
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
            case 20: {
              obj.embeddings = InferEmbeddings.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.embeddings
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
            case 20: {
              yield * InferEmbeddings.codec().stream(reader, reader.uint32(), `${prefix}.embeddings`, {
                limits: opts.limits?.embeddings
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

  export interface SellerFrameChunkToolCallsJsonFieldEvent {
    field: '$.chunk.toolCallsJson'
    value: string
  }

  export interface SellerFrameChunkLogprobsJsonFieldEvent {
    field: '$.chunk.logprobsJson'
    value: string
  }

  export interface SellerFrameChunkWindowUcFieldEvent {
    field: '$.chunk.windowUc'
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

  export interface SellerFrameDoneStreamOpenFieldEvent {
    field: '$.done.streamOpen'
    value: boolean
  }

  export interface SellerFrameFailureCodeFieldEvent {
    field: '$.failure.code'
    value: string
  }

  export interface SellerFrameFailureMessageFieldEvent {
    field: '$.failure.message'
    value: string
  }

  export interface SellerFrameEmbeddingsFirstIndexFieldEvent {
    field: '$.embeddings.firstIndex'
    value: number
  }

  export interface SellerFrameEmbeddingsDimensionsFieldEvent {
    field: '$.embeddings.dimensions'
    value: number
  }

  export interface SellerFrameEmbeddingsVectorsFieldEvent {
    field: '$.embeddings.vectors'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SellerFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SellerFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SellerFrame>): SellerFrame {
    return decodeMessage(buf, SellerFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SellerFrame>): Generator<SellerFrameChunkTextFieldEvent | SellerFrameChunkOutputTokensFieldEvent | SellerFrameChunkTotalInputTokensFieldEvent | SellerFrameChunkTotalOutputTokensFieldEvent | SellerFrameChunkAmountUcFieldEvent | SellerFrameChunkToolCallsJsonFieldEvent | SellerFrameChunkLogprobsJsonFieldEvent | SellerFrameChunkWindowUcFieldEvent | SellerFrameDoneInputTokensFieldEvent | SellerFrameDoneOutputTokensFieldEvent | SellerFrameDoneTotalInputTokensFieldEvent | SellerFrameDoneTotalOutputTokensFieldEvent | SellerFrameDoneAmountUcFieldEvent | SellerFrameDoneFinishReasonFieldEvent | SellerFrameDoneUsageSourceFieldEvent | SellerFrameDoneStopReasonFieldEvent | SellerFrameDoneStreamOpenFieldEvent | SellerFrameFailureCodeFieldEvent | SellerFrameFailureMessageFieldEvent | SellerFrameEmbeddingsFirstIndexFieldEvent | SellerFrameEmbeddingsDimensionsFieldEvent | SellerFrameEmbeddingsVectorsFieldEvent> {
    return streamMessage(buf, SellerFrame.codec(), opts)
  }
}

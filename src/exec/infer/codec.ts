/**
 * Frame codecs and limits of /tally/infer/1.0.0: request ⇄ ChatRequest with every field
 * range-checked, and bounded decoding of both sides' frames.
 */
import { BuyerFrame, InferRequest, SellerFrame } from '../../wire/pb/infer.js'
import { MalformedMessageError, MessageTooLargeError } from '../../wire/errors.js'
import type { ChatMessage, ChatRequest, EmbedRequest } from '../backend.js'
import { CONTRACT_ID_LENGTH } from './terms.js'
import { InvalidRequestError } from './errors.js'
import { MAX_RESPONSE_FORMAT_JSON_BYTES, MAX_TOOL_ARGUMENTS_BYTES, MAX_TOOLS_JSON_BYTES, MAX_TOOL_CALLS, parseJsonField, parseResponseFormat, parseToolCallDeltas, parseToolCallId, parseToolCalls, parseToolChoice, parseTools, ToolFieldError, type ToolCallDelta } from '../tools.js'
import type { Uint8ArrayList } from 'uint8arraylist'
import { MAX_TOP_LOGPROBS, parseLogprobs, type TokenLogprob } from '../../wire/logprobs.js'

export const INFER_PROTOCOL = '/tally/infer/1.0.0'

/** the request frame carries the whole prompt: 256 KiB holds a long chat */
export const MAX_REQUEST_FRAME_BYTES = 256 * 1024
/** a voucher frame: one envelope plus framing */
export const MAX_VOUCHER_FRAME_BYTES = 1024
/** one seller frame; the seller splits text so a chunk stays under this */
export const MAX_SELLER_FRAME_BYTES = 64 * 1024
/** text per chunk frame, leaving room for the counters */
export const MAX_CHUNK_TEXT_BYTES = 32 * 1024
export const MAX_MESSAGES = 256
export const MAX_STOP_SEQUENCES = 4
export const MAX_STOP_BYTES = 64
/** a ceiling on max_tokens; sellers' own context limits apply below it */
export const MAX_MAX_TOKENS = 1_000_000
export const MAX_FAILURE_MESSAGE_BYTES = 512
/** inputs of one embeddings request (OpenAI's own limit) */
export const MAX_EMBED_INPUTS = 2048
/** UTF-8 bytes of all inputs of one embeddings request: the request frame stays under 256 KiB */
export const MAX_EMBED_INPUT_BYTES = 240 * 1024
/** longest vector a buyer may ask for or a seller may send */
export const MAX_EMBED_DIMENSIONS = 8192
/** vector bytes in one embeddings frame: the frame stays under MAX_SELLER_FRAME_BYTES */
export const MAX_EMBED_FRAME_VECTOR_BYTES = 48 * 1024

const ROLES = new Set(['system', 'user', 'assistant', 'tool'])
/** an assistant message's tool calls as JSON */
const MAX_TOOL_CALLS_JSON_BYTES = MAX_TOOL_CALLS * 256 + MAX_TOOL_ARGUMENTS_BYTES
/** tool_choice as JSON: a mode or one function name */
const MAX_TOOL_CHOICE_JSON_BYTES = 256

function decodeBounded<T> (codec: { decode: (b: Uint8Array | Uint8ArrayList, o?: any) => T }, bytes: Uint8Array | Uint8ArrayList, max: number, what: string, limits?: Record<string, unknown>): T {
  if (bytes.byteLength > max) throw new MessageTooLargeError(`${what} is ${bytes.byteLength} bytes, limit ${max}`)
  try {
    return codec.decode(bytes, limits == null ? undefined : { limits })
  } catch (err: any) {
    throw new MalformedMessageError(`${what} does not decode: ${err?.message ?? err}`)
  }
}

export function decodeBuyerFrame (bytes: Uint8Array | Uint8ArrayList, first: boolean): BuyerFrame {
  const frame = decodeBounded(BuyerFrame, bytes, first ? MAX_REQUEST_FRAME_BYTES : MAX_VOUCHER_FRAME_BYTES, 'buyer frame',
    { request: { messages: MAX_MESSAGES, stop: MAX_STOP_SEQUENCES, embed: { inputs: MAX_EMBED_INPUTS } } })
  const parts = (frame.request != null ? 1 : 0) + (frame.voucher != null ? 1 : 0) + (frame.close != null ? 1 : 0)
  if (first && (parts !== 1 || frame.voucher != null)) throw new MalformedMessageError('the first buyer frame must carry a request or a close and nothing else')
  if (!first && (parts !== 1 || frame.voucher == null)) throw new MalformedMessageError('after the request, buyer frames carry a voucher only')
  if (frame.close != null && frame.close.contractId.length !== CONTRACT_ID_LENGTH) throw new MalformedMessageError(`close: contract id must be ${CONTRACT_ID_LENGTH} bytes`)
  return frame
}

/**
 * A buyer frame after the request on a stream the seller keeps open (infer.md § Stream reuse):
 * a voucher (≤ MAX_VOUCHER_FRAME_BYTES), or, once `next` allows it, the session's next request or
 * a close. Throws MalformedMessageError / MessageTooLargeError.
 */
export function decodeLaterBuyerFrame (bytes: Uint8Array | Uint8ArrayList, next: boolean): BuyerFrame {
  if (!next || bytes.byteLength <= MAX_VOUCHER_FRAME_BYTES) {
    try {
      return decodeBuyerFrame(bytes, false)
    } catch (err) {
      if (!next) throw err
    }
  }
  return decodeBuyerFrame(bytes, true)
}

export function decodeSellerFrame (bytes: Uint8Array | Uint8ArrayList): SellerFrame {
  const frame = decodeBounded(SellerFrame, bytes, MAX_SELLER_FRAME_BYTES, 'seller frame')
  const parts = (frame.chunk != null ? 1 : 0) + (frame.done != null ? 1 : 0) + (frame.failure != null ? 1 : 0) + (frame.embeddings != null ? 1 : 0)
  if (parts !== 1) throw new MalformedMessageError('a seller frame carries exactly one of chunk, done, failure, embeddings')
  return frame
}

/** `keepOpen`: ask the seller to keep the stream for the session's next request (infer.md § Stream reuse) */
export function encodeRequest (contractId: Uint8Array, r: ChatRequest, keepOpen?: boolean): Uint8Array {
  checkChatRequest(r)
  return BuyerFrame.encode({
    request: {
      contractId: contractId as Uint8Array<ArrayBuffer>,
      messages: r.messages.map(m => ({
        role: m.role,
        content: m.content,
        toolCallsJson: m.toolCalls != null ? JSON.stringify(m.toolCalls) : undefined,
        toolCallId: m.toolCallId
      })),
      maxTokens: r.maxTokens,
      temperature: r.temperature,
      topP: r.topP,
      seed: r.seed,
      stop: r.stop ?? [],
      prompt: r.prompt,
      logprobs: r.logprobs,
      topLogprobs: r.topLogprobs,
      toolsJson: r.tools != null ? JSON.stringify(r.tools) : undefined,
      toolChoiceJson: r.toolChoice != null ? JSON.stringify(r.toolChoice) : undefined,
      parallelToolCalls: r.parallelToolCalls,
      responseFormatJson: r.responseFormat != null ? JSON.stringify(r.responseFormat) : undefined,
      keepOpen: keepOpen === true ? true : undefined
    }
  })
}

/** Range-check a chat request (both ends run it: the buyer before sending, the seller on receipt). */
export function checkChatRequest (r: ChatRequest): ChatRequest {
  if (r.prompt != null) {
    // a text completion: the prompt alone, no chat messages and nothing of tools
    if (typeof r.prompt !== 'string' || r.prompt.length === 0) throw new InvalidRequestError('prompt must be a non-empty string')
    if (r.messages.length > 0 || r.tools != null || r.toolChoice != null || r.parallelToolCalls != null || r.responseFormat != null) throw new InvalidRequestError('a text completion (prompt) carries no messages, tools or response format')
  } else if (!Array.isArray(r.messages) || r.messages.length === 0 || r.messages.length > MAX_MESSAGES) throw new InvalidRequestError(`messages must be 1..${MAX_MESSAGES}`)
  for (const m of r.messages) {
    if (!ROLES.has(m.role)) throw new InvalidRequestError(`message role must be system, user, assistant or tool, got ${JSON.stringify(String(m.role).slice(0, 32))}`)
    if (typeof m.content !== 'string') throw new InvalidRequestError('message content must be a string')
    if (m.toolCalls != null && m.role !== 'assistant') throw new InvalidRequestError('only assistant messages carry tool calls')
    if ((m.toolCallId != null) !== (m.role === 'tool')) throw new InvalidRequestError('a tool message, and only a tool message, carries a tool call id')
  }
  if (r.maxTokens != null && (!Number.isSafeInteger(r.maxTokens) || r.maxTokens < 1 || r.maxTokens > MAX_MAX_TOKENS)) throw new InvalidRequestError(`max_tokens must be 1..${MAX_MAX_TOKENS}`)
  if (r.temperature != null && !(r.temperature >= 0 && r.temperature <= 2)) throw new InvalidRequestError('temperature must be 0..2')
  if (r.topP != null && !(r.topP > 0 && r.topP <= 1)) throw new InvalidRequestError('top_p must be in (0, 1]')
  if (r.seed != null && (!Number.isSafeInteger(r.seed) || r.seed < 0 || r.seed > 0xffffffff)) throw new InvalidRequestError('seed must be a uint32')
  if (r.topLogprobs != null && (!Number.isSafeInteger(r.topLogprobs) || r.topLogprobs < 0 || r.topLogprobs > MAX_TOP_LOGPROBS || r.logprobs !== true)) throw new InvalidRequestError(`top_logprobs must be 0..${MAX_TOP_LOGPROBS}, with logprobs`)
  if (r.stop != null) {
    if (r.stop.length > MAX_STOP_SEQUENCES) throw new InvalidRequestError(`at most ${MAX_STOP_SEQUENCES} stop sequences`)
    for (const s of r.stop) {
      if (typeof s !== 'string' || s.length === 0 || Buffer.byteLength(s) > MAX_STOP_BYTES) throw new InvalidRequestError(`stop sequences must be 1..${MAX_STOP_BYTES} bytes`)
    }
  }
  return r
}

/** The request frame as the seller receives it: contract id plus a validated ChatRequest. */
export function parseRequest (pb: InferRequest): { contractId: Uint8Array, request: ChatRequest } {
  if (pb.contractId.length !== CONTRACT_ID_LENGTH) throw new InvalidRequestError(`contract id must be ${CONTRACT_ID_LENGTH} bytes`)
  try {
    const request: ChatRequest = {
      messages: pb.messages.map((m, i) => {
        const msg: ChatMessage = { role: m.role as ChatMessage['role'], content: m.content }
        if (m.toolCallsJson != null) msg.toolCalls = parseToolCalls(parseJsonField(m.toolCallsJson, `messages[${i}].tool_calls`, MAX_TOOL_CALLS_JSON_BYTES), `messages[${i}].tool_calls`)
        if (m.toolCallId != null) msg.toolCallId = parseToolCallId(m.toolCallId, `messages[${i}].tool_call_id`)
        return msg
      }),
      maxTokens: pb.maxTokens,
      temperature: pb.temperature,
      topP: pb.topP,
      seed: pb.seed,
      stop: pb.stop.length > 0 ? pb.stop : undefined
    }
    if (pb.prompt != null) request.prompt = pb.prompt
    if (pb.logprobs != null) request.logprobs = pb.logprobs
    if (pb.topLogprobs != null) request.topLogprobs = pb.topLogprobs
    const tools = pb.toolsJson != null ? parseTools(parseJsonField(pb.toolsJson, 'tools', MAX_TOOLS_JSON_BYTES)) : undefined
    if (tools != null) request.tools = tools
    const toolChoice = pb.toolChoiceJson != null ? parseToolChoice(parseJsonField(pb.toolChoiceJson, 'tool_choice', MAX_TOOL_CHOICE_JSON_BYTES), tools) : undefined
    if (toolChoice != null) request.toolChoice = toolChoice
    if (pb.parallelToolCalls != null) request.parallelToolCalls = pb.parallelToolCalls
    const responseFormat = pb.responseFormatJson != null ? parseResponseFormat(parseJsonField(pb.responseFormatJson, 'response_format', MAX_RESPONSE_FORMAT_JSON_BYTES)) : undefined
    if (responseFormat != null) request.responseFormat = responseFormat
    return { contractId: pb.contractId, request: checkChatRequest(request) }
  } catch (err) {
    if (err instanceof ToolFieldError) throw new InvalidRequestError(err.message)
    throw err
  }
}

/** a chunk's tool-call deltas as the buyer receives them: valid OpenAI deltas, or a MalformedMessageError */
/** a chunk's token logprobs as the buyer receives them: valid OpenAI entries, or a MalformedMessageError */
export function parseChunkLogprobs (json: string | undefined): TokenLogprob[] {
  if (json == null) return []
  let v: unknown
  try { v = JSON.parse(json) } catch { throw new MalformedMessageError('chunk logprobs are not JSON') }
  return parseLogprobs(v, 'chunk logprobs')
}

export function parseChunkToolCalls (json: string | undefined): ToolCallDelta[] {
  if (json == null) return []
  try {
    return parseToolCallDeltas(parseJsonField(json, 'tool_calls', MAX_SELLER_FRAME_BYTES))
  } catch (err: any) {
    throw new MalformedMessageError(`chunk tool calls: ${err?.message ?? err}`)
  }
}

export function encodeSellerFrame (frame: SellerFrame): Uint8Array {
  return SellerFrame.encode(frame)
}

export function encodeCloseFrame (contractId: Uint8Array): Uint8Array {
  return BuyerFrame.encode({ close: { contractId: contractId as Uint8Array<ArrayBuffer> } })
}

export function encodeVoucherFrame (voucherBytes: Uint8Array): Uint8Array {
  return BuyerFrame.encode({ voucher: voucherBytes as Uint8Array<ArrayBuffer> })
}

/** Range-check an embeddings request (both ends: the buyer before sending, the seller on receipt). */
export function checkEmbedRequest (r: EmbedRequest): EmbedRequest {
  if (!Array.isArray(r.inputs) || r.inputs.length === 0 || r.inputs.length > MAX_EMBED_INPUTS) throw new InvalidRequestError(`embed inputs must be 1..${MAX_EMBED_INPUTS}`)
  let bytes = 0
  for (const input of r.inputs) {
    if (typeof input !== 'string' || input.length === 0) throw new InvalidRequestError('every embed input must be a non-empty string')
    bytes += Buffer.byteLength(input)
  }
  if (bytes > MAX_EMBED_INPUT_BYTES) throw new InvalidRequestError(`embed inputs exceed ${MAX_EMBED_INPUT_BYTES} bytes in total`)
  if (r.dimensions != null && (!Number.isSafeInteger(r.dimensions) || r.dimensions < 1 || r.dimensions > MAX_EMBED_DIMENSIONS)) throw new InvalidRequestError(`dimensions must be 1..${MAX_EMBED_DIMENSIONS}`)
  return r
}

export function encodeEmbedRequest (contractId: Uint8Array, r: EmbedRequest): Uint8Array {
  checkEmbedRequest(r)
  return BuyerFrame.encode({
    request: { contractId: contractId as Uint8Array<ArrayBuffer>, messages: [], stop: [], embed: { inputs: r.inputs, dimensions: r.dimensions } }
  })
}

/** An embeddings request frame carries its inputs and nothing of chat. */
export function parseEmbedRequest (pb: InferRequest): { contractId: Uint8Array, request: EmbedRequest } {
  if (pb.contractId.length !== CONTRACT_ID_LENGTH) throw new InvalidRequestError(`contract id must be ${CONTRACT_ID_LENGTH} bytes`)
  if (pb.embed == null) throw new InvalidRequestError('not an embeddings request')
  if (pb.messages.length > 0 || pb.stop.length > 0 || pb.maxTokens != null || pb.temperature != null || pb.topP != null || pb.seed != null || pb.prompt != null || pb.logprobs != null) {
    throw new InvalidRequestError('an embeddings request carries no chat fields')
  }
  return { contractId: pb.contractId, request: checkEmbedRequest({ inputs: pb.embed.inputs, dimensions: pb.embed.dimensions }) }
}

/** Pack vectors (all of length `dimensions`) as little-endian float32. */
export function packVectors (vectors: readonly Float32Array[], dimensions: number): Uint8Array {
  const out = new Uint8Array(vectors.length * dimensions * 4)
  const view = new DataView(out.buffer)
  let o = 0
  for (const v of vectors) {
    if (v.length !== dimensions) throw new RangeError(`vector of ${v.length} values, expected ${dimensions}`)
    for (let i = 0; i < dimensions; i++) { view.setFloat32(o, v[i], true); o += 4 }
  }
  return out
}

/**
 * The vectors of one embeddings frame, checked: whole vectors of `dimensions` finite floats, at
 * least one. Throws MalformedMessageError.
 */
export function unpackVectors (bytes: Uint8Array, dimensions: number): Float32Array[] {
  if (!Number.isSafeInteger(dimensions) || dimensions < 1 || dimensions > MAX_EMBED_DIMENSIONS) throw new MalformedMessageError(`embeddings dimensions must be 1..${MAX_EMBED_DIMENSIONS}, got ${dimensions}`)
  const size = dimensions * 4
  if (bytes.length === 0 || bytes.length % size !== 0) throw new MalformedMessageError(`embeddings frame holds ${bytes.length} bytes, not a whole number of ${dimensions}-value vectors`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const vectors: Float32Array[] = []
  for (let o = 0; o < bytes.length; o += size) {
    const v = new Float32Array(dimensions)
    for (let i = 0; i < dimensions; i++) {
      const x = view.getFloat32(o + i * 4, true)
      if (!Number.isFinite(x)) throw new MalformedMessageError('embeddings frame holds a value that is not a finite number')
      v[i] = x
    }
    vectors.push(v)
  }
  return vectors
}

/** Split vectors into embeddings frames of at most MAX_EMBED_FRAME_VECTOR_BYTES each (one vector at least). */
export function embeddingsFrames (vectors: readonly Float32Array[], dimensions: number): Uint8Array[] {
  const perFrame = Math.max(1, Math.floor(MAX_EMBED_FRAME_VECTOR_BYTES / (dimensions * 4)))
  const frames: Uint8Array[] = []
  for (let i = 0; i < vectors.length; i += perFrame) {
    const part = vectors.slice(i, i + perFrame)
    frames.push(SellerFrame.encode({ embeddings: { firstIndex: i, dimensions, vectors: packVectors(part, dimensions) as Uint8Array<ArrayBuffer> } }))
  }
  return frames
}

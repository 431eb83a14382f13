/**
 * Frame codecs and limits of /tally/infer/1.0.0: request ⇄ ChatRequest with every field
 * range-checked, and bounded decoding of both sides' frames.
 */
import { BuyerFrame, InferRequest, SellerFrame } from '../../wire/pb/infer.js'
import { MalformedMessageError, MessageTooLargeError } from '../../wire/errors.js'
import type { ChatMessage, ChatRequest } from '../backend.js'
import { CONTRACT_ID_LENGTH } from './terms.js'
import { InvalidRequestError } from './errors.js'
import type { Uint8ArrayList } from 'uint8arraylist'

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

const ROLES = new Set(['system', 'user', 'assistant'])

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
    { request: { messages: MAX_MESSAGES, stop: MAX_STOP_SEQUENCES } })
  const parts = (frame.request != null ? 1 : 0) + (frame.voucher != null ? 1 : 0) + (frame.close != null ? 1 : 0)
  if (first && (parts !== 1 || frame.voucher != null)) throw new MalformedMessageError('the first buyer frame must carry a request or a close and nothing else')
  if (!first && (parts !== 1 || frame.voucher == null)) throw new MalformedMessageError('after the request, buyer frames carry a voucher only')
  if (frame.close != null && frame.close.contractId.length !== CONTRACT_ID_LENGTH) throw new MalformedMessageError(`close: contract id must be ${CONTRACT_ID_LENGTH} bytes`)
  return frame
}

export function decodeSellerFrame (bytes: Uint8Array | Uint8ArrayList): SellerFrame {
  const frame = decodeBounded(SellerFrame, bytes, MAX_SELLER_FRAME_BYTES, 'seller frame')
  const parts = (frame.chunk != null ? 1 : 0) + (frame.done != null ? 1 : 0) + (frame.failure != null ? 1 : 0)
  if (parts !== 1) throw new MalformedMessageError('a seller frame carries exactly one of chunk, done, failure')
  return frame
}

export function encodeRequest (contractId: Uint8Array, r: ChatRequest): Uint8Array {
  checkChatRequest(r)
  return BuyerFrame.encode({
    request: {
      contractId: contractId as Uint8Array<ArrayBuffer>,
      messages: r.messages.map(m => ({ role: m.role, content: m.content })),
      maxTokens: r.maxTokens,
      temperature: r.temperature,
      topP: r.topP,
      seed: r.seed,
      stop: r.stop ?? []
    }
  })
}

/** Range-check a chat request (both ends run it: the buyer before sending, the seller on receipt). */
export function checkChatRequest (r: ChatRequest): ChatRequest {
  if (!Array.isArray(r.messages) || r.messages.length === 0 || r.messages.length > MAX_MESSAGES) throw new InvalidRequestError(`messages must be 1..${MAX_MESSAGES}`)
  for (const m of r.messages) {
    if (!ROLES.has(m.role)) throw new InvalidRequestError(`message role must be system, user or assistant, got ${JSON.stringify(String(m.role).slice(0, 32))}`)
    if (typeof m.content !== 'string') throw new InvalidRequestError('message content must be a string')
  }
  if (r.maxTokens != null && (!Number.isSafeInteger(r.maxTokens) || r.maxTokens < 1 || r.maxTokens > MAX_MAX_TOKENS)) throw new InvalidRequestError(`max_tokens must be 1..${MAX_MAX_TOKENS}`)
  if (r.temperature != null && !(r.temperature >= 0 && r.temperature <= 2)) throw new InvalidRequestError('temperature must be 0..2')
  if (r.topP != null && !(r.topP > 0 && r.topP <= 1)) throw new InvalidRequestError('top_p must be in (0, 1]')
  if (r.seed != null && (!Number.isSafeInteger(r.seed) || r.seed < 0 || r.seed > 0xffffffff)) throw new InvalidRequestError('seed must be a uint32')
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
  const request: ChatRequest = {
    messages: pb.messages.map(m => ({ role: m.role as ChatMessage['role'], content: m.content })),
    maxTokens: pb.maxTokens,
    temperature: pb.temperature,
    topP: pb.topP,
    seed: pb.seed,
    stop: pb.stop.length > 0 ? pb.stop : undefined
  }
  return { contractId: pb.contractId, request: checkChatRequest(request) }
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

/**
 * Token log probabilities as a completion carries them: OpenAI's `choices[].logprobs.content[]`
 * entries, which /tally/infer chunks carry as JSON (protocols/infer.md § Logprobs). The type is
 * shared by the exec and market layers; `parseLogprobs` validates received JSON once, bounded.
 */
import { MalformedMessageError } from './errors.js'

/** OpenAI allows top_logprobs up to 20 */
export const MAX_TOP_LOGPROBS = 20
/** a token's text in a logprob entry: tokens are short; this bounds what a peer can send */
const MAX_LOGPROB_TOKEN_CHARS = 256

export interface TopLogprob { token: string, logprob: number, bytes: number[] | null }

/** one generated token: its text, log probability, UTF-8 bytes, and the most likely alternatives */
export interface TokenLogprob extends TopLogprob { top_logprobs: TopLogprob[] }

function entry (v: unknown, field: string): TopLogprob {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MalformedMessageError(`${field} must be an object`)
  const o = v as Record<string, unknown>
  if (typeof o.token !== 'string' || o.token.length > MAX_LOGPROB_TOKEN_CHARS) throw new MalformedMessageError(`${field}.token must be a string of at most ${MAX_LOGPROB_TOKEN_CHARS} chars`)
  if (typeof o.logprob !== 'number' || !(o.logprob <= 0) || Number.isNaN(o.logprob)) throw new MalformedMessageError(`${field}.logprob must be a number ≤ 0`)
  let bytes: number[] | null = null
  if (o.bytes != null) {
    if (!Array.isArray(o.bytes) || o.bytes.length > MAX_LOGPROB_TOKEN_CHARS * 4 || !o.bytes.every(b => Number.isInteger(b) && b >= 0 && b <= 255)) throw new MalformedMessageError(`${field}.bytes must be a list of bytes`)
    bytes = o.bytes as number[]
  }
  return { token: o.token, logprob: o.logprob, bytes }
}

/** a list of token logprob entries (OpenAI's shape), each with at most MAX_TOP_LOGPROBS alternatives */
export function parseLogprobs (v: unknown, field = 'logprobs'): TokenLogprob[] {
  if (!Array.isArray(v)) throw new MalformedMessageError(`${field} must be a list`)
  return v.map((x, i) => {
    const e = entry(x, `${field}[${i}]`)
    const top = (x as Record<string, unknown>).top_logprobs ?? []
    if (!Array.isArray(top) || top.length > MAX_TOP_LOGPROBS) throw new MalformedMessageError(`${field}[${i}].top_logprobs must be a list of at most ${MAX_TOP_LOGPROBS}`)
    return { ...e, top_logprobs: top.map((t, j) => entry(t, `${field}[${i}].top_logprobs[${j}]`)) }
  })
}

/**
 * The OpenAI surface beyond plain chat, as parsed at the boundary: every field a route does not
 * accept is a 400 naming it, fields Tally does not do are accepted only at their neutral value,
 * n and stream_options, /v1/completions requests, and the shapes of several choices.
 */
import { describe, it, expect } from 'vitest'
import { parseChatRequest, parseCompletionRequest, completionBody, finishChunk, usageChunk, tallyFieldOf, MAX_CHOICES } from '../../../src/api/openai.js'
import { HttpApiError } from '../../../src/api/errors.js'
import type { RoutedResult } from '../../../src/market/router-types.js'
import { parseLogprobs } from '../../../src/wire/logprobs.js'
import { MalformedMessageError } from '../../../src/wire/errors.js'

const chat = { model: 'tiny', messages: [{ role: 'user', content: 'hi' }] }
const text = { model: 'tiny', prompt: 'Once upon' }

function refusal (f: () => unknown): HttpApiError {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(HttpApiError)
    expect((err as HttpApiError).status).toBe(400)
    return err as HttpApiError
  }
  throw new Error('expected a 400')
}

function routed (over: Partial<RoutedResult> = {}): RoutedResult {
  return {
    text: 'abc', finishReason: 'stop', inputTokens: 10, outputTokens: 3, usageSource: 'reported', seller: 's1', model: 'tiny',
    fingerprint: 'f', fingerprintVerified: true, params: 1e9, priceInPerMTokUc: 1n, priceOutPerMTokUc: 2n, costUc: 7n, bpt: '13',
    inputBound: 'bytes', ttftMs: 5, attempts: 1, ...over
  }
}

describe('fields a route does not accept', () => {
  it('a field OpenAI does not define is "Unrecognized request argument supplied", naming it', () => {
    const e = refusal(() => parseChatRequest({ ...chat, foo: 1 }))
    expect(e.message).toBe('Unrecognized request argument supplied: foo')
    expect(e.param).toBe('foo')
    expect(refusal(() => parseCompletionRequest({ ...text, messages: [] })).param).toBe('messages')
    expect(refusal(() => parseChatRequest({ ...chat, stream: true, stream_options: { include_usage: true, extra: 1 } })).param).toBe('stream_options.extra')
  })

  it('a field OpenAI defines and Tally does not do is refused as unsupported', () => {
    for (const f of ['audio', 'modalities', 'prediction', 'functions', 'function_call', 'web_search_options', 'reasoning_effort']) {
      const e = refusal(() => parseChatRequest({ ...chat, [f]: {} }))
      expect(e.param).toBe(f)
      expect(e.message).toMatch(/not supported by Tally/)
    }
  })

  it('fields Tally does not do pass at their neutral value only', () => {
    expect(() => parseChatRequest({ ...chat, frequency_penalty: 0, presence_penalty: 0, logprobs: false, logit_bias: {} })).not.toThrow()
    expect(refusal(() => parseChatRequest({ ...chat, frequency_penalty: 0.5 })).param).toBe('frequency_penalty')
    expect(refusal(() => parseChatRequest({ ...chat, logit_bias: { 50256: -100 } })).param).toBe('logit_bias')
    expect(() => parseCompletionRequest({ ...text, echo: false, best_of: 1, suffix: null, logprobs: null })).not.toThrow()
    for (const [f, v] of [['echo', true], ['suffix', 'end'], ['best_of', 3], ['logprobs', 2], ['logit_bias', { 1: 1 }]] as const) {
      expect(refusal(() => parseCompletionRequest({ ...text, [f]: v })).param).toBe(f)
    }
  })

  it('harmless metadata is accepted (and checked for shape)', () => {
    expect(() => parseChatRequest({ ...chat, user: 'u-1', metadata: { a: 'b' }, store: false, service_tier: 'auto', safety_identifier: 'x', prompt_cache_key: 'k' })).not.toThrow()
    expect(refusal(() => parseChatRequest({ ...chat, user: 5 })).param).toBe('user')
    expect(refusal(() => parseChatRequest({ ...chat, store: 'yes' })).param).toBe('store')
  })
})

describe('logprobs', () => {
  it('logprobs: true (and top_logprobs 0..20 with it) is passed on and needs the logprobs capability', () => {
    const p = parseChatRequest({ ...chat, logprobs: true, top_logprobs: 3 })
    expect(p.request).toMatchObject({ logprobs: true, topLogprobs: 3 })
    expect(p.constraints.capabilities).toEqual(['logprobs'])
    expect(parseChatRequest({ ...chat, logprobs: false }).request.logprobs).toBeUndefined()
    expect(refusal(() => parseChatRequest({ ...chat, logprobs: true, top_logprobs: 21 })).param).toBe('top_logprobs')
    expect(refusal(() => parseChatRequest({ ...chat, top_logprobs: 2 })).param).toBe('top_logprobs')
    expect(refusal(() => parseChatRequest({ ...chat, logprobs: 'yes' })).param).toBe('logprobs')
  })

  it('a peer\'s logprobs JSON is validated once, bounded', () => {
    const ok = [{ token: 'a', logprob: -0.5, bytes: [97], top_logprobs: [{ token: 'b', logprob: -1, bytes: null }] }]
    expect(parseLogprobs(ok)).toEqual(ok)
    expect(parseLogprobs([{ token: 'a', logprob: 0 }])).toEqual([{ token: 'a', logprob: 0, bytes: null, top_logprobs: [] }])
    for (const bad of [{}, [{ token: 1, logprob: -1 }], [{ token: 'a', logprob: 0.5 }], [{ token: 'a', logprob: Number.NaN }], [{ token: 'a', logprob: -1, bytes: [300] }],
      [{ token: 'a', logprob: -1, top_logprobs: Array.from({ length: 21 }, () => ({ token: 'x', logprob: -1 })) }], [{ token: 'x'.repeat(300), logprob: -1 }]]) {
      expect(() => parseLogprobs(bad)).toThrow(MalformedMessageError)
    }
  })
})

describe('n and stream_options', () => {
  it('n is 1..MAX_CHOICES', () => {
    expect(parseChatRequest(chat).n).toBe(1)
    expect(parseChatRequest({ ...chat, n: MAX_CHOICES }).n).toBe(MAX_CHOICES)
    expect(refusal(() => parseChatRequest({ ...chat, n: MAX_CHOICES + 1 })).param).toBe('n')
    expect(refusal(() => parseChatRequest({ ...chat, n: 0 })).param).toBe('n')
  })

  it('include_usage is read only on a stream', () => {
    expect(parseChatRequest({ ...chat, stream: true }).includeUsage).toBe(false)
    expect(parseChatRequest({ ...chat, stream: true, stream_options: { include_usage: true } }).includeUsage).toBe(true)
    expect(parseChatRequest({ ...chat, stream: true, stream_options: { include_usage: false, include_obfuscation: false } }).includeUsage).toBe(false)
    expect(refusal(() => parseChatRequest({ ...chat, stream_options: { include_usage: true } })).param).toBe('stream_options')
    expect(refusal(() => parseChatRequest({ ...chat, stream: true, stream_options: { include_usage: 'yes' } })).param).toBe('stream_options.include_usage')
  })
})

describe('/v1/completions requests', () => {
  it('a string prompt: max_tokens defaults to 16, sampling fields pass on, no messages', () => {
    const p = parseCompletionRequest({ ...text, temperature: 0.5, top_p: 0.9, seed: 3, stop: ['\n'], user: 'u' })
    expect(p.requests).toEqual([{ messages: [], prompt: 'Once upon', maxTokens: 16, temperature: 0.5, topP: 0.9, seed: 3, stop: ['\n'] }])
  })

  it('several prompts × n give one request per choice, in OpenAI\'s order, seeds spread per choice', () => {
    const p = parseCompletionRequest({ ...text, prompt: ['a', 'b'], n: 2, seed: 7, max_tokens: 4 })
    expect(p.requests.map(r => [r.prompt, r.seed])).toEqual([['a', 7], ['a', 8], ['b', 7], ['b', 8]])
  })

  it('refuses token-id and empty prompts, naming prompt', () => {
    expect(refusal(() => parseCompletionRequest({ ...text, prompt: [1, 2, 3] })).param).toBe('prompt')
    expect(refusal(() => parseCompletionRequest({ ...text, prompt: '' })).param).toBe('prompt')
    expect(refusal(() => parseCompletionRequest({ model: 'm' })).param).toBe('prompt')
  })
})

describe('answers of several choices', () => {
  it('choices carry their index; usage, cost and Bpt are summed; each choice keeps its own tally', () => {
    const a = routed()
    const b = routed({ text: 'xy', seller: 's2', costUc: 5n, bpt: '0.5', inputTokens: 10, outputTokens: 2 })
    const body = completionBody('id', 1, [a, b]) as any
    expect(body.choices.map((c: any) => [c.index, c.message.content])).toEqual([[0, 'abc'], [1, 'xy']])
    expect(body.usage).toEqual({ prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 })
    expect(body.tally).toMatchObject({ cost_uc: 12, bpt: '13.5', attempts: 2 })
    expect(body.tally.choices.map((t: any) => t.seller)).toEqual(['s1', 's2'])
    expect(tallyFieldOf([a])).not.toHaveProperty('choices')
    expect(body.tally).not.toHaveProperty('abandoned_cost_uc')
    expect(tallyFieldOf([a, routed({ abandonedCostUc: 4n }), routed({ abandonedCostUc: 5n })])).toMatchObject({ abandoned_cost_uc: 9 })
    const t = completionBody('id', 1, [a], 'text') as any
    expect(t).toMatchObject({ object: 'text_completion', choices: [{ index: 0, text: 'abc', finish_reason: 'stop', logprobs: null }] })
  })

  it('the finish chunk carries tally only when the usage chunk is not asked for', () => {
    const r = routed()
    expect(finishChunk('id', 1, r, 1, false)).toMatchObject({ choices: [{ index: 1, finish_reason: 'stop' }], tally: { seller: 's1' } })
    expect(finishChunk('id', 1, r, 0, true)).not.toHaveProperty('tally')
    expect(usageChunk('id', 1, [r])).toMatchObject({ choices: [], usage: { total_tokens: 13 }, tally: { cost_uc: 7 } })
  })
})

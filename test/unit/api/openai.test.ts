import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { parseChatRequest } from '../../../src/api/openai.js'
import { HttpApiError } from '../../../src/api/errors.js'

const ok = { model: 'tiny', messages: [{ role: 'user', content: 'hi' }] }

function fails (body: unknown, headers: Record<string, string> = {}): HttpApiError {
  try {
    parseChatRequest(body, headers)
  } catch (err) {
    expect(err).toBeInstanceOf(HttpApiError)
    return err as HttpApiError
  }
  throw new Error('expected a 400')
}

describe('OpenAI request parsing', () => {
  it('parses a minimal and a full request (harmless metadata and neutral values accepted)', () => {
    const p = parseChatRequest({ ...ok, user: 'x', frequency_penalty: 0, stream: true, max_tokens: 20, seed: 7, temperature: 0.8, stop: '\n', tally: { max_price: '5000', tag: 'proj', race: 2, quantizations: ['F16'] } })
    expect(p.model).toBe('tiny')
    expect(p.stream).toBe(true)
    expect(p.request).toMatchObject({ maxTokens: 20, seed: 7, temperature: 0.8, stop: ['\n'] })
    expect(p.constraints).toMatchObject({ maxPriceOutPerMTokUc: 5000n, tag: 'proj', race: 2, quantizations: ['F16'] })
  })

  it('reads X-Tally-* headers; the body wins', () => {
    const p = parseChatRequest(ok, { 'x-tally-max-price': '900', 'x-tally-tag': 'h', 'x-tally-exclude': 'a, b', 'x-tally-verified-only': 'true' })
    expect(p.constraints).toMatchObject({ maxPriceOutPerMTokUc: 900n, tag: 'h', excludeSellers: ['a', 'b'], verifiedOnly: true })
    expect(parseChatRequest({ ...ok, tally: { tag: 'body' } }, { 'x-tally-tag': 'h' }).constraints.tag).toBe('body')
  })

  it('accepts content as text parts and maps developer to system', () => {
    const p = parseChatRequest({ model: 'm', messages: [{ role: 'developer', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }] })
    expect(p.request.messages).toEqual([{ role: 'system', content: 'ab' }])
  })

  it('names the bad field', () => {
    expect(fails(null).status).toBe(400)
    expect(fails({ messages: ok.messages }).param).toBe('model')
    expect(fails({ model: 'm', messages: [] }).param).toBe('messages')
    expect(fails({ model: 'm', messages: [{ role: 'function', content: 'x' }] }).param).toBe('messages[0].role')
    expect(fails({ model: 'm', messages: [{ role: 'tool', content: 'x' }] }).param).toBe('messages[0].tool_call_id')
    expect(fails({ model: 'm', messages: [{ role: 'user', content: 5 }] }).param).toBe('messages[0].content')
    expect(fails({ ...ok, max_tokens: -1 }).param).toBe('max_tokens')
    expect(fails({ ...ok, max_tokens: 1.5 }).param).toBe('max_tokens')
    expect(fails({ ...ok, temperature: 'hot' }).param).toBe('temperature')
    expect(fails({ ...ok, stream: 'yes' }).param).toBe('stream')
    expect(fails({ ...ok, n: 9 }).param).toBe('n')
    expect(fails({ ...ok, tally: { max_price: -5 } }).param).toBe('tally.max_price')
    expect(fails({ ...ok, tally: { race: 9 } }).param).toBe('tally.race')
    expect(fails({ ...ok, tally: 'x' }).param).toBe('tally')
    expect(fails(ok, { 'x-tally-min-params': 'lots' }).param).toBe('x-tally-min-params')
    expect(fails({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(600 * 1024) }] }).param).toBe('messages')
  })

  it('property: any JSON value either parses or is a 400, never another error', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      try {
        parseChatRequest(v)
      } catch (err) {
        expect(err).toBeInstanceOf(HttpApiError)
        expect((err as HttpApiError).status).toBe(400)
      }
    }))
  })
})

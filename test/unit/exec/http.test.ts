import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { BackendBusyError, type BackendEvent, type ChatRequest } from '../../../src/exec/backend.js'
import { BackendHttpError, BackendStreamError, BackendTimeoutError, createHttpBackend, estimateTokens } from '../../../src/exec/backends/http/index.js'
import { FIXTURE_TEMPLATE_PREFIX, PROMPT_TOKENS, REPLY_PIECES, REPLY_TEXT, startFixtureServer, type Fixture, type FixtureKind } from '../../fixtures/http/servers.js'

const open: Fixture[] = []
afterEach(async () => { await Promise.all(open.splice(0).map(async f => await f.close())) })

async function fixture (kind: FixtureKind): Promise<Fixture> {
  const f = await startFixtureServer(kind)
  open.push(f)
  return f
}

const request: ChatRequest = { messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hi there' }], maxTokens: 32, temperature: 0.7, seed: 9, stop: ['\n\n'] }

type Chunk = Extract<BackendEvent, { type: 'chunk' }>
type Done = Extract<BackendEvent, { type: 'done' }>
async function collect (stream: AsyncIterable<BackendEvent>, onEvent?: (ev: BackendEvent) => void): Promise<{ chunks: Chunk[], done: Done, text: string }> {
  const chunks: Chunk[] = []
  for await (const ev of stream) {
    onEvent?.(ev)
    if (ev.type === 'chunk') chunks.push(ev)
    else return { chunks, done: ev, text: chunks.map(c => c.text).join('') }
  }
  throw new Error('no done event')
}

const backendFor = (f: Fixture, extra: Record<string, unknown> = {}): ReturnType<typeof createHttpBackend> =>
  createHttpBackend({ baseUrl: f.baseUrl, model: 'qwen2.5-7b-instruct', params: 7.6e9, firstByteTimeoutMs: 2000, idleTimeoutMs: 2000, ...extra })

describe('http backend against recorded server shapes', () => {
  for (const kind of ['vllm', 'llama-server', 'llama-server-split', 'tgi', 'ollama'] as const) {
    it(`${kind}: streams every delta and takes the reported usage`, async () => {
      const f = await fixture(kind)
      const r = await collect(backendFor(f).stream(request, new AbortController().signal))
      expect(r.text).toBe(REPLY_TEXT)
      expect(r.chunks.map(c => c.outputTokens)).toEqual(REPLY_PIECES.map(() => 1))
      expect(r.done.usage).toEqual({ inputTokens: PROMPT_TOKENS, outputTokens: REPLY_PIECES.length, source: 'reported' })
      expect(r.done.finishReason).toBe(kind === 'llama-server' ? 'length' : 'stop')
      expect(f.requests[0]).toMatchObject({
        model: 'qwen2.5-7b-instruct', stream: true, stream_options: { include_usage: true },
        max_tokens: 32, temperature: 0.7, seed: 9, stop: ['\n\n'], messages: request.messages
      })
    })
  }

  it('describes the model as declared and unverified', async () => {
    const f = await fixture('vllm')
    const b = backendFor(f, { modelId: 'qwen2.5-7b', quantization: 'Q4_K_M', contextLength: 32768, maxConcurrency: 8 })
    expect(b.kind).toBe('http')
    expect(b.model).toEqual({ id: 'qwen2.5-7b', fingerprint: 'qwen2.5-7b-instruct', fingerprintVerified: false, params: 7.6e9, quantization: 'Q4_K_M', contextLength: 32768 })
    expect(b.maxConcurrency).toBe(8)
    expect(() => createHttpBackend({ baseUrl: f.baseUrl, model: 'm', params: 0 })).toThrow(RangeError)
  })

  it('counts running usage reported on every chunk', async () => {
    const f = await fixture('running-usage')
    const r = await collect(backendFor(f).stream(request, new AbortController().signal))
    expect(r.chunks.map(c => c.outputTokens)).toEqual(REPLY_PIECES.map(() => 2))
    expect(r.done.usage).toEqual({ inputTokens: PROMPT_TOKENS, outputTokens: 2 * REPLY_PIECES.length, source: 'reported' })
  })

  it('LM Studio without usage and without /tokenize: estimated (chars/4), /tokenize tried once', async () => {
    const f = await fixture('lmstudio')
    const b = backendFor(f)
    const r = await collect(b.stream(request, new AbortController().signal))
    expect(r.text).toBe(REPLY_TEXT)
    expect(r.done.usage).toEqual({
      inputTokens: estimateTokens('Be kind.Hi there'),
      outputTokens: Math.ceil(REPLY_TEXT.length / 4),
      source: 'estimated'
    })
    await collect(b.stream(request, new AbortController().signal))
    expect(f.paths.filter(p => p.includes('/tokenize'))).toHaveLength(1)
  })

  it('no usage but a llama-server style /tokenize: tokenized, prompt through /apply-template', async () => {
    const f = await fixture('lmstudio-tokenize')
    const r = await collect(backendFor(f).stream(request, new AbortController().signal))
    const prompt = request.messages.map(m => FIXTURE_TEMPLATE_PREFIX + m.content).join('')
    expect(r.done.usage).toEqual({ inputTokens: prompt.length, outputTokens: REPLY_TEXT.length, source: 'tokenized' })
  })

  it('an error object mid-stream is a BackendStreamError after the chunks before it', async () => {
    const f = await fixture('error-mid-stream')
    const seen: string[] = []
    const err = await collect(backendFor(f).stream(request, new AbortController().signal), ev => { if (ev.type === 'chunk') seen.push(ev.text) }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(BackendStreamError)
    expect((err as Error).message).toMatch(/CUDA out of memory/)
    expect(seen).toEqual(REPLY_PIECES.slice(0, 3))
  })

  it('an SSE error event is a BackendStreamError', async () => {
    const f = await fixture('error-event')
    await expect(collect(backendFor(f).stream(request, new AbortController().signal))).rejects.toBeInstanceOf(BackendStreamError)
  })

  it('a server that never answers: BackendTimeoutError (first-byte)', async () => {
    const f = await fixture('hang')
    const err = await collect(backendFor(f, { firstByteTimeoutMs: 150 }).stream(request, new AbortController().signal)).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(BackendTimeoutError)
    expect((err as BackendTimeoutError).phase).toBe('first-byte')
  })

  it('a server that stalls mid-stream: BackendTimeoutError (idle)', async () => {
    const f = await fixture('stall')
    const seen: string[] = []
    const err = await collect(backendFor(f, { idleTimeoutMs: 150 }).stream(request, new AbortController().signal), ev => { if (ev.type === 'chunk') seen.push(ev.text) }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(BackendTimeoutError)
    expect((err as BackendTimeoutError).phase).toBe('idle')
    expect(seen).toEqual(['Hel'])
  })

  it('429 is a BackendHttpError with status and Retry-After', async () => {
    const f = await fixture('429')
    const err = await collect(backendFor(f).stream(request, new AbortController().signal)).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(BackendHttpError)
    expect((err as BackendHttpError).name).toBe('BackendHttpError')
    expect((err as BackendHttpError).status).toBe(429)
    expect((err as BackendHttpError).retryAfterMs).toBe(2000)
    expect((err as Error).message).toMatch(/Rate limit/)
  })

  it('5xx is a BackendHttpError; no server at all is status 0', async () => {
    const f = await fixture('500')
    await expect(collect(backendFor(f).stream(request, new AbortController().signal))).rejects.toMatchObject({ name: 'BackendHttpError', status: 500 })
    const gone = await fixture('vllm')
    const url = gone.baseUrl
    await gone.close()
    open.splice(open.indexOf(gone), 1)
    await expect(collect(createHttpBackend({ baseUrl: url, model: 'm', params: 1e9 }).stream(request, new AbortController().signal))).rejects.toMatchObject({ name: 'BackendHttpError', status: 0 })
  })

  it('cancels through the AbortSignal', async () => {
    const f = await fixture('vllm')
    const ac = new AbortController()
    const r = await collect(backendFor(f).stream(request, ac.signal), ev => { if (ev.type === 'chunk') ac.abort() })
    expect(r.done.finishReason).toBe('cancelled')
    expect(r.chunks).toHaveLength(1)
    const pre = new AbortController(); pre.abort()
    const r2 = await collect(backendFor(f).stream(request, pre.signal))
    expect(r2.done).toEqual({ type: 'done', usage: { inputTokens: 0, outputTokens: 0, source: 'estimated' }, finishReason: 'cancelled' })
  })

  it('rejects a request beyond maxConcurrency with BackendBusyError', async () => {
    const f = await fixture('hang')
    const b = backendFor(f, { maxConcurrency: 1 })
    const ac = new AbortController()
    const first = b.stream(request, ac.signal)[Symbol.asyncIterator]()
    const pending = first.next()
    await expect(b.stream(request, new AbortController().signal)[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(BackendBusyError)
    ac.abort()
    const ev = await pending
    expect(ev.done !== true && ev.value.type === 'done' && ev.value.finishReason).toBe('cancelled')
  })

  it('sends the API key as a bearer token', async () => {
    let auth: string | null = null
    const fetchSpy: typeof fetch = async (input, init) => {
      auth = new Headers(init?.headers).get('authorization')
      return await fetch(input, init)
    }
    const f = await fixture('vllm')
    await collect(backendFor(f, { apiKey: 'sk-test', fetch: fetchSpy }).stream(request, new AbortController().signal))
    expect(auth).toBe('Bearer sk-test')
  })
})

describe('SSE parsing', () => {
  function vllmBody (): string {
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' }
    const lines = REPLY_PIECES.map(p => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })}\n\n`)
    lines.push(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: 9 } })}\n\n`, ': keep-alive comment\n\n', 'data: [DONE]\n\n')
    return lines.join('')
  }

  const fakeFetch = (pieces: Uint8Array[]): typeof fetch => async () => new Response(new ReadableStream({
    start (c) { for (const p of pieces) c.enqueue(p); c.close() }
  }), { status: 200, headers: { 'content-type': 'text/event-stream' } })

  it('gives the same events however the bytes are split', async () => {
    const bytes = new TextEncoder().encode(vllmBody())
    await fc.assert(fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), async (cuts) => {
      const points = [0, ...cuts.sort((x, y) => x - y), bytes.length]
      const pieces = points.slice(1).map((end, i) => bytes.slice(points[i], end))
      const b = createHttpBackend({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm', params: 1e9, fetch: fakeFetch(pieces) })
      const r = await collect(b.stream(request, new AbortController().signal))
      expect(r.text).toBe(REPLY_TEXT)
      expect(r.done.usage).toEqual({ inputTokens: 5, outputTokens: 9, source: 'reported' })
    }), { numRuns: 60 })
  })

  it('rejects an event that is not JSON, and a body over the size limit', async () => {
    const enc = new TextEncoder()
    const bad = createHttpBackend({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm', params: 1e9, fetch: fakeFetch([enc.encode('data: {not json\n\n')]) })
    await expect(collect(bad.stream(request, new AbortController().signal))).rejects.toBeInstanceOf(BackendStreamError)
    const big = createHttpBackend({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm', params: 1e9, maxResponseBytes: 100, fetch: fakeFetch([enc.encode(vllmBody())]) })
    await expect(collect(big.stream(request, new AbortController().signal))).rejects.toThrow(/larger than 100 bytes/)
  })
})

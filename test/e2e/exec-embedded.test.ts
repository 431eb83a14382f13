import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BackendBusyError, type BackendEvent, type ChatRequest } from '../../src/exec/backend.js'
import { createEmbeddedBackend, EngineCrashedError, EngineRequestError, EngineStartError, runEngineDirect, type EmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { modelFingerprint } from '../../src/exec/fingerprint.js'
import { InvalidModelError, writeGguf } from '../../src/exec/model/gguf.js'
import { ensureTinyModel, tinyModelParts, tinyTokenCount } from '../../src/exec/model/tiny.js'

let modelPath: string
let a: EmbeddedBackend
let b: EmbeddedBackend
const tmp = mkdtempSync(join(tmpdir(), 'tally-embedded-'))

beforeAll(async () => {
  modelPath = ensureTinyModel()
  ;[a, b] = await Promise.all([
    createEmbeddedBackend({ modelPath, maxConcurrency: 2, allowTestHooks: true }),
    createEmbeddedBackend({ modelPath, maxConcurrency: 1 })
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()])
  rmSync(tmp, { recursive: true, force: true })
})

async function collect (stream: AsyncIterable<BackendEvent>, onChunk?: (ev: BackendEvent) => void): Promise<{ text: string, chunks: Array<Extract<BackendEvent, { type: 'chunk' }>>, done: Extract<BackendEvent, { type: 'done' }> }> {
  const chunks: Array<Extract<BackendEvent, { type: 'chunk' }>> = []
  for await (const ev of stream) {
    onChunk?.(ev)
    if (ev.type === 'chunk') chunks.push(ev)
    else return { text: chunks.map(c => c.text).join(''), chunks, done: ev }
  }
  throw new Error('stream ended without done')
}

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [{ role: 'user', content }], temperature: 0.8, seed: 42, maxTokens: 60, ...extra
})

/** GeneralChatWrapper prompt: BOS + "### Human\n" + msg + "\n\n### Assistant\n" */
const promptTokens = (msg: string): number => 1 + tinyTokenCount(`### Human\n${msg}\n\n### Assistant\n`)

describe('embedded backend (tiny model, engine in a child process)', () => {
  it('describes the model: id, verified fingerprint, real parameter count', async () => {
    expect(a.kind).toBe('embedded')
    expect(a.model.id).toBe('tiny-char-v1')
    expect(a.model.fingerprint).toBe(await modelFingerprint(modelPath))
    expect(a.model.fingerprintVerified).toBe(true)
    expect(a.model.params).toBe(168_832)
    expect(a.model.quantization).toBe('F16')
    expect(a.maxConcurrency).toBe(2)
    expect(a.pid).not.toBe(process.pid)
  })

  it('streams chunks whose token counts add up to exact usage', async () => {
    const r = await collect(a.stream(ask('Who is Alice?'), new AbortController().signal))
    expect(r.chunks.length).toBeGreaterThan(1)
    const sum = r.chunks.reduce((s, c) => s + c.outputTokens, 0)
    expect(r.done.usage).toEqual({ inputTokens: promptTokens('Who is Alice?'), outputTokens: sum, source: 'reported' })
    expect(sum).toBe(tinyTokenCount(r.text))
    expect(sum).toBeGreaterThan(0)
    expect(['stop', 'length']).toContain(r.done.finishReason)
  })

  it('counts a system message and non-ASCII input exactly', async () => {
    const req: ChatRequest = { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Café €' }], seed: 1, temperature: 0.8, maxTokens: 5 }
    const r = await collect(a.stream(req, new AbortController().signal))
    // "BOS" + "Be brief.\n\n### Human\nCafé €\n\n### Assistant\n"
    expect(r.done.usage.inputTokens).toBe(1 + tinyTokenCount('Be brief.\n\n### Human\nCafé €\n\n### Assistant\n'))
  })

  it('same seed gives the same output across two backend instances and the direct engine', async () => {
    const req = ask('Tell me about the rabbit.', { seed: 1234, maxTokens: 80 })
    const [ra, rb, direct] = await Promise.all([
      collect(a.stream(req, new AbortController().signal)),
      collect(b.stream(req, new AbortController().signal)),
      runEngineDirect(modelPath, req)
    ])
    expect(ra.text.length).toBeGreaterThan(0)
    expect(rb.text).toBe(ra.text)
    expect(direct.text).toBe(ra.text)
    expect(direct.usage).toEqual(ra.done.usage)
    const other = await collect(a.stream({ ...req, seed: 99 }, new AbortController().signal))
    expect(other.text).not.toBe(ra.text)
    // the direct run inside the engine child gives the same completion, chunk for chunk
    const inChild = await b.runDirect(req)
    expect(inChild.text).toBe(ra.text)
    expect(inChild.chunks.map(c => c.outputTokens)).toEqual(ra.chunks.map(c => c.outputTokens))
    expect(inChild.usage).toEqual(ra.done.usage)
    expect(inChild.ttftMs).toBeLessThanOrEqual(inChild.durationMs)
  }, 30_000)

  it('maxTokens ends with finishReason length and exactly that many tokens', async () => {
    // seed 5 produces no end-of-text within 30 tokens (checked by the assertion on finishReason)
    const r = await collect(a.stream(ask('Go on.', { maxTokens: 30, seed: 5 }), new AbortController().signal))
    expect(r.done.finishReason).toBe('length')
    expect(r.done.usage.outputTokens).toBe(30)
    expect(tinyTokenCount(r.text)).toBe(30)
  })

  it('refuses bad requests with EngineRequestError and keeps serving', async () => {
    await expect(collect(a.stream(ask('x', { maxTokens: 0 }), new AbortController().signal))).rejects.toBeInstanceOf(EngineRequestError)
    await expect(collect(a.stream(ask('x'.repeat(3000)), new AbortController().signal))).rejects.toThrow(/exceeds the context size/)
    const r = await collect(a.stream(ask('ok', { maxTokens: 4 }), new AbortController().signal))
    expect(r.done.usage.inputTokens).toBe(promptTokens('ok'))
  })

  it('stops at a stop string without emitting it', async () => {
    const r = await collect(a.stream(ask('Go on.', { maxTokens: 200, stop: ['e'] }), new AbortController().signal))
    expect(r.text).not.toContain('e')
    expect(r.done.finishReason).toBe('stop')
    expect(r.done.usage.outputTokens).toBe(tinyTokenCount(r.text))
  })

  it('cancels through the AbortSignal', async () => {
    const ac = new AbortController()
    let seen = 0
    const r = await collect(a.stream(ask('Go on.', { maxTokens: 1500, seed: 3 }), ac.signal), (ev) => {
      if (ev.type === 'chunk' && ++seen === 3) ac.abort()
    })
    expect(r.done.finishReason).toBe('cancelled')
    expect(r.done.usage.outputTokens).toBeLessThan(1500)
    expect(r.done.usage.outputTokens).toBe(tinyTokenCount(r.text))
    const pre = new AbortController(); pre.abort()
    const r2 = await collect(a.stream(ask('x'), pre.signal))
    expect(r2.done.finishReason).toBe('cancelled')
    expect(r2.chunks).toHaveLength(0)
  })

  it('rejects a request beyond maxConcurrency with BackendBusyError', async () => {
    const ac = new AbortController()
    const first = b.stream(ask('Go on.', { maxTokens: 1500 }), ac.signal)[Symbol.asyncIterator]()
    const ev = await first.next()
    expect(ev.done).toBe(false)
    const second = b.stream(ask('x'), new AbortController().signal)[Symbol.asyncIterator]()
    await expect(second.next()).rejects.toBeInstanceOf(BackendBusyError)
    ac.abort()
    let last = await first.next()
    while (last.done !== true && last.value.type !== 'done') last = await first.next()
    expect(last.done !== true && last.value.type === 'done' && last.value.finishReason).toBe('cancelled')
    // the slot is free again once the first request has ended
    const r = await collect(b.stream(ask('again', { maxTokens: 5 }), new AbortController().signal))
    expect(r.done.usage.outputTokens).toBeLessThanOrEqual(5)
  })

  it('survives an engine abort: in-flight request fails with EngineCrashedError, the next one is served', async () => {
    const pid = a.pid
    const err = await collect(a.stream(ask('Go on.', { maxTokens: 1500, seed: 3 }), new AbortController().signal), (ev) => {
      if (ev.type === 'chunk') a.crashEngineForTest()
    }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(EngineCrashedError)
    expect((err as EngineCrashedError).name).toBe('EngineCrashedError')
    expect((err as EngineCrashedError).signal).toBe('SIGABRT')
    const r = await collect(a.stream(ask('Still there?'), new AbortController().signal))
    expect(r.done.usage.inputTokens).toBe(promptTokens('Still there?'))
    expect(a.restarts).toBe(1)
    expect(a.pid).not.toBe(pid)
  }, 30_000)

  it('ignores the crash hook unless test hooks were enabled', async () => {
    const pid = b.pid
    b.crashEngineForTest()
    const r = await collect(b.stream(ask('hi', { maxTokens: 3 }), new AbortController().signal))
    expect(r.done.usage.outputTokens).toBeLessThanOrEqual(3)
    expect(b.pid).toBe(pid)
    expect(b.restarts).toBe(0)
  })

  it('refuses a model file that would abort llama.cpp before starting any engine', async () => {
    const parts = tinyModelParts()
    const bad = join(tmp, 'no-ff.gguf')
    writeFileSync(bad, writeGguf(parts.kvs.filter(k => k.key !== 'llama.feed_forward_length'), parts.tensors))
    await expect(createEmbeddedBackend({ modelPath: bad })).rejects.toBeInstanceOf(InvalidModelError)
  })

  it('a model that passes the header checks but fails to load is an EngineStartError', async () => {
    const parts = tinyModelParts()
    const embd = parts.tensors.find(t => t.name === 'token_embd.weight')!
    embd.ne = [...embd.ne].reverse() // row-major dims: llama.cpp refuses the shape (a catchable failure)
    const bad = join(tmp, 'swapped.gguf')
    writeFileSync(bad, writeGguf(parts.kvs, parts.tensors))
    const err = await createEmbeddedBackend({ modelPath: bad }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(EngineStartError)
    expect((err as Error).message).toMatch(/load/)
  }, 30_000)
})

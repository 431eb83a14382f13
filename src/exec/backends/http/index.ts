/**
 * The HTTP backend: any OpenAI-compatible chat completions server (llama-server, vLLM, Ollama,
 * LM Studio, TGI, cloud APIs) behind the Backend seam, streamed over SSE.
 *
 * Metering: the server's own `usage` (requested with stream_options.include_usage, taken from
 * whichever chunk carries it: a final chunk with empty choices (vLLM, Ollama, OpenAI), the last
 * content chunk (TGI) or the finish chunk with timings (llama-server)) → source 'reported'.
 * Without usage: the server's llama-server style `/tokenize` (and `/apply-template` for the exact
 * prompt) → 'tokenized'; without those: ⌈chars / 4⌉ of the prompt contents and of the reply →
 * 'estimated'. Chunks count 1 output token per content delta unless the server reports a larger
 * running completion count; the final usage is authoritative.
 *
 * Timeouts: `firstByteTimeoutMs` until the first bytes of the response body, `idleTimeoutMs`
 * between reads after that. Time the consumer spends between chunks does not count.
 *
 * Connections: undici's pooled client (transport.ts), keep-alive, `maxConcurrency` connections to
 * the server, so a warm seller pays no TCP handshake per request; a cancelled request's
 * connection is dropped, a completed one's goes back to the pool.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { deadline } from '../../../wire/deadline.js'
import { BackendBusyError, type Backend, type BackendEvent, type ChatRequest, type EmbedRequest, type EmbedResult, type FinishReason, type ModelInfo, type Usage, type UsageSource } from '../../backend.js'
import { ErrorCode, TallyError } from '../../../errors/index.js'
import { parseToolCallDeltas, type ToolCallDelta } from '../../tools.js'
import { parseLogprobs, type TokenLogprob } from '../../../wire/logprobs.js'
import { fetchClient, pooledClient, type UpstreamClient } from './transport.js'

export const DEFAULT_HTTP_MAX_CONCURRENCY = 4
export const DEFAULT_FIRST_BYTE_TIMEOUT_MS = 60_000
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000
export const DEFAULT_TOKENIZE_TIMEOUT_MS = 5_000
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
export const DEFAULT_HTTP_CONTEXT_LENGTH = 4096
/** chars per token of the 'estimated' fallback */
export const ESTIMATE_CHARS_PER_TOKEN = 4
const ERROR_BODY_EXCERPT = 500

/** The server answered with a non-2xx status, or no HTTP response came at all (status 0). */
export class BackendHttpError extends TallyError {
  override name = 'BackendHttpError'
  override readonly code: ErrorCode = ErrorCode.backendError
  constructor (readonly status: number, message: string, readonly retryAfterMs?: number) {
    super(message)
  }
}

/** The server sent nothing for too long: before the first byte, or between two reads. */
export class BackendTimeoutError extends TallyError {
  override name = 'BackendTimeoutError'
  override readonly code: ErrorCode = ErrorCode.backendTimeout
  constructor (readonly phase: 'first-byte' | 'idle', readonly timeoutMs: number) {
    super(`no ${phase === 'first-byte' ? 'response' : 'data'} from the server within ${timeoutMs} ms`)
  }
}

/** The stream itself reported an error, or carried something that is not an OpenAI chunk. */
export class BackendStreamError extends TallyError {
  override name = 'BackendStreamError'
  override readonly code: ErrorCode = ErrorCode.backendError
}

export interface HttpBackendInit {
  /** OpenAI-style base URL including /v1, e.g. "http://127.0.0.1:8080/v1" */
  baseUrl: string
  /** model name sent to the server; also the declared (unverified) fingerprint */
  model: string
  /** market model id (default: `model`) */
  modelId?: string
  apiKey?: string
  /** parameter count of the served model (the server cannot prove it) */
  params: number
  quantization?: string
  contextLength?: number
  maxConcurrency?: number
  firstByteTimeoutMs?: number
  idleTimeoutMs?: number
  tokenizeTimeoutMs?: number
  maxResponseBytes?: number
  /** llama-server style tokenizer root (default: baseUrl without a trailing /v1); false = never tokenize */
  tokenizerUrl?: string | false
  /** a fetch to use instead of the pooled undici client (tests, a caller's own proxy) */
  fetch?: typeof fetch
  /**
   * what the upstream serves, as its offers list it (market.md § Capabilities; default ['chat']:
   * whether a server supports tools or JSON schemas cannot be known from outside)
   */
  capabilities?: string[]
}

interface OpenAiUsage { prompt_tokens?: number, completion_tokens?: number }

function positiveInt (v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined
}

function mapFinish (reason: unknown): FinishReason | undefined {
  if (reason == null) return undefined
  if (reason === 'length') return 'length'
  if (reason === 'tool_calls') return 'tool_calls'
  return 'stop'
}

function retryAfterMs (header: string | null): number | undefined {
  if (header == null) return undefined
  const s = Number(header)
  if (Number.isFinite(s) && s >= 0) return Math.round(s * 1000)
  const d = Date.parse(header)
  return Number.isNaN(d) ? undefined : Math.max(0, d - Date.now())
}

export function estimateTokens (text: string): number {
  return Math.ceil(text.length / ESTIMATE_CHARS_PER_TOKEN)
}

class HttpBackendImpl implements Backend {
  readonly kind = 'http' as const
  readonly model: ModelInfo
  readonly maxConcurrency: number
  readonly capabilities: string[]
  private active = 0
  private closed = false
  private tokenizeSupported: boolean | undefined
  private readonly client: UpstreamClient
  private readonly url: string
  /** the upstream's legacy text completions, for a request with a raw prompt (infer.md § Text completion) */
  private readonly completionsUrl: string
  /** the upstream's `/v1/embeddings` (used only when the operator lists `embeddings`) */
  private readonly embeddingsUrl: string
  private readonly tokenizerRoot: string | undefined

  constructor (private readonly init: HttpBackendInit) {
    if (!Number.isFinite(init.params) || init.params <= 0) throw new RangeError(`params must be a positive number, got ${init.params}`)
    const base = init.baseUrl.replace(/\/+$/, '')
    this.url = `${base}/chat/completions`
    this.completionsUrl = `${base}/completions`
    this.embeddingsUrl = `${base}/embeddings`
    this.tokenizerRoot = init.tokenizerUrl === false ? undefined : (init.tokenizerUrl ?? base.replace(/\/v1$/, '')).replace(/\/+$/, '')
    if (this.tokenizerRoot == null) this.tokenizeSupported = false
    this.capabilities = init.capabilities != null && init.capabilities.length > 0 ? [...init.capabilities] : ['chat']
    this.maxConcurrency = init.maxConcurrency ?? DEFAULT_HTTP_MAX_CONCURRENCY
    if (!Number.isInteger(this.maxConcurrency) || this.maxConcurrency < 1) throw new RangeError(`maxConcurrency must be a positive integer, got ${this.maxConcurrency}`)
    this.client = init.fetch != null ? fetchClient(init.fetch) : pooledClient(this.maxConcurrency)
    this.model = {
      id: init.modelId ?? init.model,
      fingerprint: init.model,
      fingerprintVerified: false,
      params: init.params,
      quantization: init.quantization ?? 'unknown',
      contextLength: init.contextLength ?? DEFAULT_HTTP_CONTEXT_LENGTH
    }
  }

  private headers (): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' }
    if (this.init.apiKey != null) h.authorization = `Bearer ${this.init.apiKey}`
    return h
  }

  private async postJson (path: string, body: unknown): Promise<any> {
    const res = await this.client.post(`${this.tokenizerRoot ?? ''}${path}`, this.headers(), JSON.stringify(body), AbortSignal.timeout(this.init.tokenizeTimeoutMs ?? DEFAULT_TOKENIZE_TIMEOUT_MS))
    if (res.status < 200 || res.status > 299) { await res.release(true); throw new BackendHttpError(res.status, `${path} answered ${res.status}`) }
    return JSON.parse(await res.text())
  }

  private async tokenize (content: string, addSpecial: boolean): Promise<number> {
    const r = await this.postJson('/tokenize', { content, add_special: addSpecial })
    if (!Array.isArray(r?.tokens)) throw new BackendStreamError('/tokenize answered without a tokens array')
    return r.tokens.length
  }

  /** usage counted without the server's report: tokenized when the server can, else estimated */
  private async countUsage (request: ChatRequest, text: string): Promise<Usage> {
    if (this.tokenizeSupported !== false) {
      try {
        let prompt: string | undefined = request.prompt
        if (prompt == null) {
          try {
            const t = await this.postJson('/apply-template', { messages: request.messages })
            if (typeof t?.prompt === 'string') prompt = t.prompt
          } catch {}
        }
        const inputTokens = prompt != null
          ? await this.tokenize(prompt, true)
          : await this.tokenize(request.messages.map(m => m.content).join('\n'), true)
        const outputTokens = text.length === 0 ? 0 : await this.tokenize(text, false)
        this.tokenizeSupported = true
        return { inputTokens, outputTokens, source: 'tokenized' }
      } catch {
        if (this.tokenizeSupported !== true) this.tokenizeSupported = false
      }
    }
    return {
      inputTokens: estimateTokens(request.prompt ?? request.messages.map(m => m.content).join('')),
      outputTokens: estimateTokens(text),
      source: 'estimated'
    }
  }

  async * stream (request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent> {
    if (this.closed) throw new BackendHttpError(0, 'backend is closed')
    if (this.active >= this.maxConcurrency) throw new BackendBusyError(`backend runs ${this.active} of ${this.maxConcurrency} requests`)
    this.active++
    const ac = new AbortController()
    const onAbort = (): void => { ac.abort() }
    signal.addEventListener('abort', onAbort, { once: true })
    let timer: ReturnType<typeof setTimeout> | undefined
    let timeout: BackendTimeoutError | undefined
    const arm = (phase: 'first-byte' | 'idle'): void => {
      clearTimeout(timer)
      const ms = phase === 'first-byte' ? (this.init.firstByteTimeoutMs ?? DEFAULT_FIRST_BYTE_TIMEOUT_MS) : (this.init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS)
      timer = setTimeout(() => { timeout = new BackendTimeoutError(phase, ms); ac.abort() }, ms)
    }
    const disarm = (): void => { clearTimeout(timer); timer = undefined }
    let text = ''
    /** names and arguments of the streamed tool calls: output the fallback counts too */
    let toolText = ''
    let counted = 0
    let reported: OpenAiUsage | undefined
    let finish: FinishReason | undefined
    let cancelled = signal.aborted
    try {
      if (!cancelled) {
        try {
          const body: Record<string, unknown> = {
            model: this.init.model,
            ...(request.prompt != null ? { prompt: request.prompt } : { messages: request.messages.map(openAiMessage) }),
            stream: true,
            stream_options: { include_usage: true }
          }
          if (request.maxTokens != null) body.max_tokens = request.maxTokens
          if (request.temperature != null) body.temperature = request.temperature
          if (request.topP != null) body.top_p = request.topP
          if (request.seed != null) body.seed = request.seed
          if (request.logprobs === true) body.logprobs = true
          if (request.topLogprobs != null) body.top_logprobs = request.topLogprobs
          if (request.stop != null && request.stop.length > 0) body.stop = request.stop
          // tool calling and structured output go to the server as the buyer sent them
          if (request.tools != null) body.tools = request.tools
          if (request.toolChoice != null) body.tool_choice = request.toolChoice
          if (request.parallelToolCalls != null) body.parallel_tool_calls = request.parallelToolCalls
          if (request.responseFormat != null) body.response_format = request.responseFormat
          arm('first-byte')
          const res = await this.client.post(request.prompt != null ? this.completionsUrl : this.url, this.headers(), JSON.stringify(body), ac.signal)
          if (res.status < 200 || res.status > 299) {
            const excerpt = (await res.text().catch(() => '')).slice(0, ERROR_BODY_EXCERPT)
            throw new BackendHttpError(res.status, `server answered ${res.status} ${res.statusText}: ${excerpt}`, retryAfterMs(res.header('retry-after')))
          }
          if (!res.hasBody) throw new BackendStreamError('server answered without a body')
          const events: EventSourceMessage[] = []
          const parser = createParser({ onEvent: e => { events.push(e) } })
          const decoder = new TextDecoder()
          const maxBytes = this.init.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
          let bytes = 0
          let sawDone = false
          try {
            while (!sawDone) {
              const value = await res.next()
              disarm()
              if (value == null) break
              bytes += value.byteLength
              if (bytes > maxBytes) throw new BackendStreamError(`response larger than ${maxBytes} bytes`)
              parser.feed(decoder.decode(value, { stream: true }))
              while (events.length > 0) {
                const e = events.shift() as EventSourceMessage
                if (e.event === 'error') throw new BackendStreamError(`server sent an error event: ${e.data.slice(0, ERROR_BODY_EXCERPT)}`)
                if (e.data.trim() === '[DONE]') { sawDone = true; break }
                let obj: any
                try { obj = JSON.parse(e.data) } catch { throw new BackendStreamError(`event is not JSON: ${e.data.slice(0, 100)}`) }
                if (obj == null || typeof obj !== 'object') throw new BackendStreamError('event is not a JSON object')
                if (obj.error != null) {
                  const msg = typeof obj.error === 'string' ? obj.error : String(obj.error.message ?? JSON.stringify(obj.error))
                  throw new BackendStreamError(`server reported an error mid-stream: ${msg.slice(0, ERROR_BODY_EXCERPT)}`)
                }
                const usage = obj.usage as OpenAiUsage | null | undefined
                if (usage != null && typeof usage === 'object') reported = usage
                const choices = Array.isArray(obj.choices) ? obj.choices : []
                for (const choice of choices) {
                  if (choice?.index != null && choice.index !== 0) continue
                  // a text completion's chunks carry `text`, a chat completion's `delta.content`
                  const content = request.prompt != null ? choice?.text : choice?.delta?.content
                  if (typeof content === 'string' && content.length > 0) {
                    let n = 1
                    const running = positiveInt(usage?.completion_tokens)
                    if (running != null && running > counted + 1) n = running - counted
                    counted += n
                    text += content
                    // the server's logprobs for these tokens (OpenAI's choice.logprobs.content), when asked for
                    const rawLogprobs = request.logprobs === true && request.prompt == null ? choice?.logprobs?.content : undefined
                    let logprobs: TokenLogprob[] | undefined
                    if (rawLogprobs != null) {
                      try { logprobs = parseLogprobs(rawLogprobs, 'logprobs.content') } catch (err: any) { throw new BackendStreamError(`server sent malformed logprobs: ${String(err?.message ?? err)}`) }
                    }
                    yield logprobs != null && logprobs.length > 0 ? { type: 'chunk', text: content, outputTokens: n, logprobs } : { type: 'chunk', text: content, outputTokens: n }
                    if (signal.aborted) { cancelled = true; break }
                  }
                  const rawCalls = request.prompt != null ? undefined : choice?.delta?.tool_calls
                  if (rawCalls != null && !(Array.isArray(rawCalls) && rawCalls.length === 0)) {
                    let toolCalls: ToolCallDelta[]
                    try { toolCalls = parseToolCallDeltas(rawCalls, 'delta.tool_calls') } catch (err: any) { throw new BackendStreamError(`server sent malformed tool calls: ${String(err?.message ?? err)}`) }
                    // a delta carries at least one token unless the server's running count says more
                    let n = 1
                    const running = positiveInt(usage?.completion_tokens)
                    if (running != null && running > counted + 1) n = running - counted
                    counted += n
                    for (const d of toolCalls) toolText += (d.function?.name ?? '') + (d.function?.arguments ?? '')
                    yield { type: 'chunk', text: '', outputTokens: n, toolCalls }
                    if (signal.aborted) { cancelled = true; break }
                  }
                  finish = mapFinish(choice?.finish_reason) ?? finish
                }
                if (cancelled) break
              }
              if (cancelled) break
              arm('idle')
            }
          } finally {
            disarm()
            await res.release(sawDone)
          }
        } catch (err: any) {
          if (signal.aborted) cancelled = true
          else if (timeout != null) throw timeout
          else if (err instanceof BackendHttpError || err instanceof BackendStreamError) throw err
          else throw new BackendHttpError(0, `no usable response from ${this.url}: ${String(err?.cause?.message ?? err?.message ?? err)}`)
        }
      }
      const promptTokens = positiveInt(reported?.prompt_tokens)
      const completionTokens = positiveInt(reported?.completion_tokens)
      let usage: Usage
      if (promptTokens != null && completionTokens != null) {
        usage = { inputTokens: promptTokens, outputTokens: completionTokens, source: 'reported' as UsageSource }
      } else if (cancelled && text.length === 0) {
        usage = { inputTokens: 0, outputTokens: 0, source: 'estimated' }
      } else {
        usage = await this.countUsage(request, text + toolText)
      }
      yield { type: 'done', usage, finishReason: cancelled ? 'cancelled' : (finish ?? 'stop') }
    } finally {
      disarm()
      signal.removeEventListener('abort', onAbort)
      ac.abort()
      this.active--
    }
  }

  /**
   * Embeddings from the upstream's `/v1/embeddings` (float encoding), offered only when the
   * operator lists `embeddings` in the backend's capabilities. Usage: the server's
   * `usage.prompt_tokens` ('reported'), else ⌈chars / 4⌉ per input ('estimated').
   */
  async embed (request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult> {
    if (this.closed) throw new BackendHttpError(0, 'backend is closed')
    if (this.active >= this.maxConcurrency) throw new BackendBusyError(`backend runs ${this.active} of ${this.maxConcurrency} requests`)
    this.active++
    const timer = deadline(this.init.firstByteTimeoutMs ?? DEFAULT_FIRST_BYTE_TIMEOUT_MS, signal)
    try {
      const body: Record<string, unknown> = { model: this.init.model, input: request.inputs, encoding_format: 'float' }
      if (request.dimensions != null) body.dimensions = request.dimensions
      let text: string
      let status: number
      let retryAfter: string | null
      try {
        const res = await this.client.post(this.embeddingsUrl, { ...this.headers(), accept: 'application/json' }, JSON.stringify(body), timer.signal)
        status = res.status
        retryAfter = res.header('retry-after')
        text = await res.text()
      } catch (err: any) {
        if (timer.expired) throw new BackendTimeoutError('first-byte', this.init.firstByteTimeoutMs ?? DEFAULT_FIRST_BYTE_TIMEOUT_MS)
        throw new BackendHttpError(0, `embeddings request failed: ${err?.message ?? err}`)
      }
      if (status < 200 || status > 299) throw new BackendHttpError(status, `the server answered ${status} to /embeddings: ${text.slice(0, ERROR_BODY_EXCERPT)}`, retryAfterMs(retryAfter))
      if (text.length > (this.init.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES)) throw new BackendStreamError('the embeddings response exceeds the response size limit')
      let json: any
      try { json = JSON.parse(text) } catch { throw new BackendStreamError('the embeddings response is not JSON') }
      const data: unknown[] = Array.isArray(json?.data) ? json.data : []
      const vectors: Float32Array[] = new Array(request.inputs.length)
      for (const d of data as any[]) {
        const i = d?.index
        if (!Number.isInteger(i) || i < 0 || i >= vectors.length || vectors[i] != null || !Array.isArray(d?.embedding) || !d.embedding.every((x: unknown) => typeof x === 'number' && Number.isFinite(x))) {
          throw new BackendStreamError('the embeddings response holds an entry that is not {index, embedding: number[]} for one of the inputs')
        }
        vectors[i] = Float32Array.from(d.embedding as number[])
      }
      for (let i = 0; i < vectors.length; i++) if (vectors[i] == null) throw new BackendStreamError(`the embeddings response has no vector for input ${i}`)
      const reported = positiveInt(json?.usage?.prompt_tokens)
      return reported != null
        ? { vectors, usage: { inputTokens: reported, source: 'reported' } }
        : { vectors, usage: { inputTokens: request.inputs.reduce((n, s) => n + estimateTokens(s), 0), source: 'estimated' } }
    } finally {
      timer.clear()
      this.active--
    }
  }

  async close (): Promise<void> {
    this.closed = true
    await this.client.close()
  }
}

/** a message in OpenAI's request shape: tool calls and the answered call's id in their snake_case fields */
function openAiMessage (m: ChatRequest['messages'][number]): Record<string, unknown> {
  if (m.toolCalls != null) return { role: m.role, content: m.content === '' ? null : m.content, tool_calls: m.toolCalls }
  if (m.toolCallId != null) return { role: m.role, content: m.content, tool_call_id: m.toolCallId }
  return { role: m.role, content: m.content }
}

export function createHttpBackend (init: HttpBackendInit): Backend {
  return new HttpBackendImpl(init)
}

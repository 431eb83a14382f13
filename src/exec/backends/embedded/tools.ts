/**
 * Tool calling and structured output in the embedded engine (node-llama-cpp), inside the engine
 * child. How a request is run:
 * - `response_format` json_object: node-llama-cpp's JSON grammar; json_schema: a grammar built
 *   from the schema (`createGrammarForJsonSchema`), so even the tiny model answers JSON that parses
 *   and matches it.
 * - tools with `tool_choice` "required" or naming a tool: a grammar over
 *   `{"name": <a declared tool>, "arguments": <that tool's parameters schema>}`, the tools listed in
 *   a system message; the answer streams as one tool call (name first, then its arguments'
 *   text as it is generated).
 * - tools with `tool_choice` "auto" (or unset): node-llama-cpp's function calling (the chat
 *   wrapper documents the functions; LlamaChat returns the calls it generated, not executed).
 * Prompt building is one function for counting and generating, so input tokens stay exact.
 */
import { randomBytes } from 'node:crypto'
import type { ChatHistoryItem, ChatModelFunctions, ChatWrapper, Llama, LlamaChat, LlamaGrammar, LlamaModel } from 'node-llama-cpp'
import type { ChatRequest, FinishReason, ToolCall, ToolCallDelta, ToolDefinition } from '../../backend.js'
import type { EngineResult } from './engine.js'

/** OpenAI's default sampling temperature */
export const DEFAULT_TEMPERATURE = 1
import { InvalidRequestError } from '../../infer/errors.js'

/** how a request's reply is constrained */
export type ReplyMode =
  | { kind: 'text' }
  | { kind: 'json', schema?: Record<string, unknown> }
  | { kind: 'tool-grammar', tools: ToolDefinition[] }
  | { kind: 'functions', functions: ChatModelFunctions }

const EMPTY_PARAMS = { type: 'object', properties: {} }

export function replyMode (request: ChatRequest): ReplyMode {
  const tools = request.tools ?? []
  const choice = request.toolChoice
  if (tools.length > 0 && choice !== 'none') {
    if (choice === 'required') return { kind: 'tool-grammar', tools }
    if (typeof choice === 'object') return { kind: 'tool-grammar', tools: tools.filter(t => t.function.name === choice.function.name) }
    const functions: Record<string, ChatModelFunctions[string]> = {}
    for (const t of tools) functions[t.function.name] = { description: t.function.description, params: (t.function.parameters ?? EMPTY_PARAMS) as any }
    return { kind: 'functions', functions }
  }
  const rf = request.responseFormat
  if (rf?.type === 'json_object') return { kind: 'json' }
  if (rf?.type === 'json_schema') return { kind: 'json', schema: rf.json_schema.schema }
  return { kind: 'text' }
}

/** the system message that lists the tools when a grammar makes the model call one */
function toolGrammarInstruction (tools: ToolDefinition[]): string {
  return 'Call one of these functions. Answer only with JSON {"name": <function name>, "arguments": <its arguments>}.\n' +
    tools.map(t => JSON.stringify(t.function)).join('\n')
}

/**
 * The chat history node-llama-cpp runs: tool calls of assistant messages become function-call
 * items carrying the results of the tool messages that answer them; a tool message no call
 * matches is given to the model as a user message.
 */
export function toolChatHistory (request: ChatRequest, mode: ReplyMode): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = []
  if (mode.kind === 'tool-grammar') history.push({ type: 'system', text: toolGrammarInstruction(mode.tools) })
  const answered = new Map<string, string>()
  for (const m of request.messages) if (m.role === 'tool' && m.toolCallId != null) answered.set(m.toolCallId, m.content)
  const used = new Set<string>()
  for (const m of request.messages) {
    if (m.role === 'system') history.push({ type: 'system', text: m.content })
    else if (m.role === 'user') history.push({ type: 'user', text: m.content })
    else if (m.role === 'tool') {
      if (m.toolCallId == null || !used.has(m.toolCallId)) history.push({ type: 'user', text: `Result of tool call ${m.toolCallId ?? ''}: ${m.content}` })
    } else {
      const response: Array<string | any> = m.content !== '' ? [m.content] : []
      for (const c of m.toolCalls ?? []) {
        let params: unknown
        try { params = JSON.parse(c.function.arguments) } catch { params = c.function.arguments }
        response.push({ type: 'functionCall', name: c.function.name, params, result: answered.get(c.id) ?? '' })
        used.add(c.id)
      }
      history.push({ type: 'model', response })
    }
  }
  history.push({ type: 'model', response: [] })
  return history
}

/** the prompt's tokens as generation evaluates them (functions documented when the mode has them) */
export function countPromptTokens (model: LlamaModel, wrapper: ChatWrapper, request: ChatRequest): number {
  const mode = replyMode(request)
  const state = wrapper.generateContextState({
    chatHistory: toolChatHistory(request, mode),
    ...(mode.kind === 'functions' ? { availableFunctions: mode.functions, documentFunctionParams: true } : {})
  })
  return state.contextText.tokenize(model.tokenizer).length
}

/** the grammar a mode needs; a schema llama.cpp's grammar builder refuses is the buyer's bad request */
export async function grammarFor (llama: Llama, mode: ReplyMode): Promise<LlamaGrammar | undefined> {
  try {
    if (mode.kind === 'json') return mode.schema != null ? await llama.createGrammarForJsonSchema(mode.schema as any) : await llama.getGrammarFor('json')
    if (mode.kind === 'tool-grammar') {
      const options = mode.tools.map(t => ({ type: 'object', properties: { name: { const: t.function.name }, arguments: t.function.parameters ?? EMPTY_PARAMS }, required: ['name', 'arguments'] }))
      return await llama.createGrammarForJsonSchema((options.length === 1 ? options[0] : { oneOf: options }) as any)
    }
  } catch (err: any) {
    throw new InvalidRequestError(`the JSON schema cannot be turned into a grammar: ${String(err?.message ?? err).slice(0, 200)}`)
  }
  return undefined
}

export function newToolCallId (): string {
  return `call_${randomBytes(12).toString('hex')}`
}

/** the grammar-constrained answer `{"name", "arguments"}` as one tool call, or undefined when it is not one (cut short) */
export function toolCallOfAnswer (text: string, tools: ToolDefinition[]): ToolCall | undefined {
  let parsed: any
  try { parsed = JSON.parse(text) } catch { return undefined }
  if (parsed == null || typeof parsed.name !== 'string' || !tools.some(t => t.function.name === parsed.name)) return undefined
  return { id: newToolCallId(), type: 'function', function: { name: parsed.name, arguments: JSON.stringify(parsed.arguments ?? {}) } }
}

/** calls as the one delta each that carries it whole (index, id, type, name, arguments) */
export function wholeCallDeltas (calls: ToolCall[]): ToolCallDelta[] {
  return calls.map((c, index) => ({ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }))
}

/**
 * Output tokens billed for tool calls: the tokens the engine generated for them, never more than
 * the bytes of the deltas as delivered (the buyer's bound, infer.md § Tools); whitespace the
 * grammar let the model emit beyond that is the seller's.
 */
export function billedToolTokens (generated: number, deltas: ToolCallDelta[]): number {
  return Math.min(generated, Buffer.byteLength(JSON.stringify(deltas)))
}

/** the request needs this module: tools, a response format, or a tool-call history */
export function usesTools (request: ChatRequest): boolean {
  return request.tools != null || request.responseFormat != null || request.messages.some(m => m.toolCalls != null || m.toolCallId != null)
}

export interface StructuredRun {
  llama: Llama
  chat: LlamaChat
  maxTokens: number
  inputTokens: number
  signal: AbortSignal
  onChunk: (text: string, outputTokens: number, toolCalls?: ToolCallDelta[]) => void
}

/** the request's sampling and stop settings as node-llama-cpp's chat and completion both take them */
export function sampling (request: ChatRequest, maxTokens: number, signal: AbortSignal): { maxTokens: number, temperature: number, topP?: number, seed?: number, customStopTriggers?: string[], signal: AbortSignal, stopOnAbortSignal: true } {
  return {
    maxTokens,
    temperature: request.temperature ?? DEFAULT_TEMPERATURE,
    topP: request.topP,
    seed: request.seed,
    customStopTriggers: request.stop != null && request.stop.length > 0 ? request.stop : undefined,
    signal,
    stopOnAbortSignal: true
  }
}

/** node-llama-cpp's stop reason as an OpenAI finish reason */
export function finishOf (reason: string | undefined): FinishReason {
  return reason === 'maxTokens' ? 'length' : reason === 'abort' ? 'cancelled' : 'stop'
}


/**
 * One completion in a reply mode: JSON text streams as it is generated; a grammar's tool call
 * streams as OpenAI streams one (ToolCallStreamer; finish 'tool_calls' once the answer is
 * complete); the calls of the `functions` mode leave whole, after any text.
 */
export async function generateStructured (request: ChatRequest, run: StructuredRun): Promise<EngineResult> {
  const mode = replyMode(request)
  const history = toolChatHistory(request, mode)
  const grammar = await grammarFor(run.llama, mode)
  let outputTokens = 0
  const holding = mode.kind === 'tool-grammar'
  const streamer = new ToolCallStreamer(run.onChunk)
  const common = {
    ...sampling(request, run.maxTokens, run.signal),
    onResponseChunk: (chunk: { type?: string, text: string, tokens: readonly unknown[] }) => {
      if (chunk.type != null || chunk.text.length === 0) return
      if (holding) { streamer.add(chunk.text, chunk.tokens.length); return }
      outputTokens += chunk.tokens.length
      run.onChunk(chunk.text, chunk.tokens.length)
    }
  }
  const result = mode.kind === 'functions'
    ? await run.chat.generateResponse(history, { ...common, functions: mode.functions, documentFunctionParams: true, maxParallelFunctionCalls: request.parallelToolCalls === false ? 1 : undefined })
    : await run.chat.generateResponse(history, { ...common, grammar })
  const finish = finishOf(result.metadata.stopReason)
  if (mode.kind === 'tool-grammar') {
    const complete = finish === 'stop' && toolCallOfAnswer(streamer.text, mode.tools) != null
    return { usage: { inputTokens: run.inputTokens, outputTokens: streamer.finish(complete), source: 'reported' }, finishReason: complete ? 'tool_calls' : finish }
  }
  const calls = (result.functionCalls ?? []) as Array<{ functionName: string, params: unknown }>
  if (mode.kind === 'functions' && calls.length > 0) {
    const deltas = wholeCallDeltas(calls.map(c => ({ id: newToolCallId(), type: 'function' as const, function: { name: c.functionName, arguments: JSON.stringify(c.params ?? {}) } })))
    // the call's tokens: its name and arguments as the model wrote them, within the buyer's bound
    const generated = calls.reduce((n, c) => n + run.chat.model.tokenize(c.functionName + JSON.stringify(c.params ?? {})).length, 0)
    const billed = billedToolTokens(generated, deltas)
    run.onChunk('', billed, deltas)
    return { usage: { inputTokens: run.inputTokens, outputTokens: outputTokens + billed, source: 'reported' }, finishReason: 'tool_calls' }
  }
  return { usage: { inputTokens: run.inputTokens, outputTokens, source: 'reported' }, finishReason: finish }
}

/** the head of a grammar answer, up to where the arguments begin */
const ANSWER_HEAD = /^\s*\{\s*"name"\s*:\s*"([a-zA-Z0-9_-]{1,64})"\s*,\s*"arguments"\s*:\s*/

/**
 * Streams a grammar answer `{"name": …, "arguments": {…}}` as OpenAI streams a tool call: once the
 * name is known, a first delta with id, type and name; then the arguments' text as it comes, held
 * back from its last `}` on (the answer's own closing brace comes last and is not part of them).
 * Each delta bills the tokens generated since the previous one, within the bytes it carries.
 */
export class ToolCallStreamer {
  text = ''
  private tokens = 0
  private billed = 0
  private argsStart = -1
  private released = 0
  private started = false

  constructor (private readonly onChunk: (text: string, outputTokens: number, toolCalls?: ToolCallDelta[]) => void) {}

  add (text: string, tokens: number): void {
    this.text += text
    this.tokens += tokens
    if (!this.started) {
      const m = ANSWER_HEAD.exec(this.text)
      if (m == null) return
      this.started = true
      this.argsStart = m[0].length
      this.emit({ index: 0, id: newToolCallId(), type: 'function', function: { name: m[1], arguments: '' } })
    }
    const args = this.text.slice(this.argsStart)
    const upTo = args.lastIndexOf('}')
    this.release(upTo < 0 ? args.length : upTo)
  }

  private release (upTo: number): void {
    if (upTo <= this.released) return
    const piece = this.text.slice(this.argsStart + this.released, this.argsStart + upTo)
    this.released = upTo
    this.emit({ index: 0, function: { arguments: piece } })
  }

  private emit (delta: ToolCallDelta): void {
    const n = billedToolTokens(this.tokens, [delta])
    this.tokens = 0
    this.billed += n
    this.onChunk('', n, [delta])
  }

  /**
   * The answer ended: a complete call releases the rest of its arguments (without the closing
   * brace); an answer cut short before any call began is the reply's text. Returns the output
   * tokens billed.
   */
  finish (complete: boolean): number {
    if (complete) {
      const args = this.text.slice(this.argsStart).replace(/\s*\}\s*$/, '')
      if (args.length > this.released || this.tokens > 0) {
        const piece = args.slice(this.released)
        this.released = args.length
        this.emit({ index: 0, function: { arguments: piece } })
      }
    } else if (!this.started && this.text !== '') {
      this.billed += this.tokens
      this.onChunk(this.text, this.tokens)
      this.tokens = 0
    }
    return this.billed
  }
}

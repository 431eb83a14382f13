/**
 * Tool calling and structured output in OpenAI's JSON shapes: the typed values, their bounds, and
 * one validator that every boundary runs (the gateway on the HTTP body, both ends of
 * /tally/infer on the wire's JSON strings), plus the capabilities a request needs from a seller.
 * Pure: no I/O.
 */
import { ErrorCode, TallyError } from '../errors/index.js'
import type { ToolCall, ToolCallDelta } from '../wire/tool-calls.js'

/** OpenAI's own limit on tools per request */
export const MAX_TOOLS = 128
/** OpenAI's function-name rule */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/
/** the whole `tools` list as JSON: room for rich schemas, small beside the 256 KiB request frame */
export const MAX_TOOLS_JSON_BYTES = 64 * 1024
/** response_format as JSON (the schema dominates) */
export const MAX_RESPONSE_FORMAT_JSON_BYTES = 64 * 1024
/** tool calls in one assistant message */
export const MAX_TOOL_CALLS = 128
/** a tool call's id (OpenAI's are ~30 chars) */
export const MAX_TOOL_CALL_ID_CHARS = 128
/** one tool call's arguments (a JSON text) */
export const MAX_TOOL_ARGUMENTS_BYTES = 64 * 1024
/** description strings of tools and schemas */
export const MAX_DESCRIPTION_CHARS = 4096

export interface ToolFunction {
  name: string
  description?: string
  /** a JSON schema object */
  parameters?: Record<string, unknown>
  strict?: boolean
}

export interface ToolDefinition { type: 'function', function: ToolFunction }

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function', function: { name: string } }

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema', json_schema: { name: string, description?: string, schema?: Record<string, unknown>, strict?: boolean } }

export type { ToolCall, ToolCallDelta } from '../wire/tool-calls.js'

/** A tool or response_format field is malformed: `field` names it as OpenAI's request does. */
export class ToolFieldError extends TallyError {
  override name = 'ToolFieldError'
  override readonly code: ErrorCode = ErrorCode.invalidRequest
  constructor (readonly field: string, message: string) { super(message) }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function jsonBytes (v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v) ?? '')
}

function optDescription (v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string' || v.length > MAX_DESCRIPTION_CHARS) throw new ToolFieldError(field, `${field} must be a string of at most ${MAX_DESCRIPTION_CHARS} chars`)
  return v
}

function optBool (v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'boolean') throw new ToolFieldError(field, `${field} must be a boolean`)
  return v
}

function schemaObject (v: unknown, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined
  if (!isObject(v)) throw new ToolFieldError(field, `${field} must be a JSON schema object`)
  return v
}

/** `tools`: a list of 1..128 function tools with unique valid names, at most 64 KiB as JSON */
export function parseTools (v: unknown, field = 'tools'): ToolDefinition[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_TOOLS) throw new ToolFieldError(field, `${field} must be a list of 1..${MAX_TOOLS} tools`)
  if (jsonBytes(v) > MAX_TOOLS_JSON_BYTES) throw new ToolFieldError(field, `${field} exceed ${MAX_TOOLS_JSON_BYTES} bytes as JSON`)
  const names = new Set<string>()
  return v.map((t, i) => {
    const f = `${field}[${i}]`
    if (!isObject(t)) throw new ToolFieldError(f, `${f} must be an object`)
    if (t.type !== 'function') throw new ToolFieldError(`${f}.type`, `${f}.type must be "function"`)
    const fn = t.function
    if (!isObject(fn)) throw new ToolFieldError(`${f}.function`, `${f}.function must be an object`)
    if (typeof fn.name !== 'string' || !TOOL_NAME.test(fn.name)) throw new ToolFieldError(`${f}.function.name`, `${f}.function.name must match ${TOOL_NAME.source}`)
    if (names.has(fn.name)) throw new ToolFieldError(`${f}.function.name`, `${f}.function.name ${JSON.stringify(fn.name)} is declared twice`)
    names.add(fn.name)
    const out: ToolFunction = { name: fn.name }
    const description = optDescription(fn.description, `${f}.function.description`)
    if (description !== undefined) out.description = description
    const parameters = schemaObject(fn.parameters, `${f}.function.parameters`)
    if (parameters !== undefined) out.parameters = parameters
    const strict = optBool(fn.strict, `${f}.function.strict`)
    if (strict !== undefined) out.strict = strict
    return { type: 'function', function: out }
  })
}

/** `tool_choice`: none | auto | required | {type:"function", function:{name}} naming a declared tool */
export function parseToolChoice (v: unknown, tools: ToolDefinition[] | undefined, field = 'tool_choice'): ToolChoice | undefined {
  if (v === undefined || v === null) return undefined
  if (v === 'none' || v === 'auto' || v === 'required') {
    if (v === 'required' && tools === undefined) throw new ToolFieldError(field, `${field} "required" needs tools`)
    return v
  }
  if (!isObject(v) || v.type !== 'function' || !isObject(v.function) || typeof v.function.name !== 'string') {
    throw new ToolFieldError(field, `${field} must be "none", "auto", "required" or {"type":"function","function":{"name"}}`)
  }
  const name = v.function.name
  if (tools?.some(t => t.function.name === name) !== true) throw new ToolFieldError(`${field}.function.name`, `${field}.function.name ${JSON.stringify(name.slice(0, 64))} is not one of the declared tools`)
  return { type: 'function', function: { name } }
}

/** `response_format`: {type:"text"} | {type:"json_object"} | {type:"json_schema", json_schema:{name, schema?, strict?, description?}} */
export function parseResponseFormat (v: unknown, field = 'response_format'): ResponseFormat | undefined {
  if (v === undefined || v === null) return undefined
  if (!isObject(v)) throw new ToolFieldError(field, `${field} must be an object`)
  if (jsonBytes(v) > MAX_RESPONSE_FORMAT_JSON_BYTES) throw new ToolFieldError(field, `${field} exceeds ${MAX_RESPONSE_FORMAT_JSON_BYTES} bytes as JSON`)
  if (v.type === 'text') return { type: 'text' }
  if (v.type === 'json_object') return { type: 'json_object' }
  if (v.type !== 'json_schema') throw new ToolFieldError(`${field}.type`, `${field}.type must be "text", "json_object" or "json_schema"`)
  const js = v.json_schema
  const f = `${field}.json_schema`
  if (!isObject(js)) throw new ToolFieldError(f, `${f} must be an object`)
  if (typeof js.name !== 'string' || !TOOL_NAME.test(js.name)) throw new ToolFieldError(`${f}.name`, `${f}.name must match ${TOOL_NAME.source}`)
  const out: { name: string, description?: string, schema?: Record<string, unknown>, strict?: boolean } = { name: js.name }
  const description = optDescription(js.description, `${f}.description`)
  if (description !== undefined) out.description = description
  const schema = schemaObject(js.schema, `${f}.schema`)
  if (schema !== undefined) out.schema = schema
  const strict = optBool(js.strict, `${f}.strict`)
  if (strict !== undefined) out.strict = strict
  return { type: 'json_schema', json_schema: out }
}

/** an assistant message's `tool_calls`: 1..128 complete function calls */
export function parseToolCalls (v: unknown, field: string): ToolCall[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_TOOL_CALLS) throw new ToolFieldError(field, `${field} must be a list of 1..${MAX_TOOL_CALLS} tool calls`)
  return v.map((c, i) => {
    const f = `${field}[${i}]`
    if (!isObject(c)) throw new ToolFieldError(f, `${f} must be an object`)
    const id = parseToolCallId(c.id, `${f}.id`)
    if (c.type !== 'function') throw new ToolFieldError(`${f}.type`, `${f}.type must be "function"`)
    const fn = c.function
    if (!isObject(fn)) throw new ToolFieldError(`${f}.function`, `${f}.function must be an object`)
    if (typeof fn.name !== 'string' || !TOOL_NAME.test(fn.name)) throw new ToolFieldError(`${f}.function.name`, `${f}.function.name must match ${TOOL_NAME.source}`)
    if (typeof fn.arguments !== 'string' || Buffer.byteLength(fn.arguments) > MAX_TOOL_ARGUMENTS_BYTES) throw new ToolFieldError(`${f}.function.arguments`, `${f}.function.arguments must be a string (JSON text) of at most ${MAX_TOOL_ARGUMENTS_BYTES} bytes`)
    return { id, type: 'function', function: { name: fn.name, arguments: fn.arguments } }
  })
}

export function parseToolCallId (v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TOOL_CALL_ID_CHARS) throw new ToolFieldError(field, `${field} must be a string of 1..${MAX_TOOL_CALL_ID_CHARS} chars`)
  return v
}

/** streamed tool-call deltas (a seller's chunk, an HTTP server's `delta.tool_calls`) */
export function parseToolCallDeltas (v: unknown, field = 'tool_calls'): ToolCallDelta[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_TOOL_CALLS) throw new ToolFieldError(field, `${field} must be a list of 1..${MAX_TOOL_CALLS} tool-call deltas`)
  return v.map((d, i) => {
    const f = `${field}[${i}]`
    if (!isObject(d)) throw new ToolFieldError(f, `${f} must be an object`)
    if (typeof d.index !== 'number' || !Number.isInteger(d.index) || d.index < 0 || d.index >= MAX_TOOL_CALLS) throw new ToolFieldError(`${f}.index`, `${f}.index must be an integer 0..${MAX_TOOL_CALLS - 1}`)
    const out: ToolCallDelta = { index: d.index }
    if (d.id !== undefined && d.id !== null) out.id = parseToolCallId(d.id, `${f}.id`)
    if (d.type !== undefined && d.type !== null) {
      if (d.type !== 'function') throw new ToolFieldError(`${f}.type`, `${f}.type must be "function"`)
      out.type = 'function'
    }
    if (d.function !== undefined && d.function !== null) {
      const fn = d.function
      if (!isObject(fn)) throw new ToolFieldError(`${f}.function`, `${f}.function must be an object`)
      const o: { name?: string, arguments?: string } = {}
      if (fn.name !== undefined && fn.name !== null) {
        if (typeof fn.name !== 'string' || !TOOL_NAME.test(fn.name)) throw new ToolFieldError(`${f}.function.name`, `${f}.function.name must match ${TOOL_NAME.source}`)
        o.name = fn.name
      }
      if (fn.arguments !== undefined && fn.arguments !== null) {
        if (typeof fn.arguments !== 'string' || Buffer.byteLength(fn.arguments) > MAX_TOOL_ARGUMENTS_BYTES) throw new ToolFieldError(`${f}.function.arguments`, `${f}.function.arguments must be a string of at most ${MAX_TOOL_ARGUMENTS_BYTES} bytes`)
        o.arguments = fn.arguments
      }
      out.function = o
    }
    return out
  })
}

/** JSON text to a value, or a ToolFieldError naming `field` */
export function parseJsonField (s: string, field: string, maxBytes: number): unknown {
  if (Buffer.byteLength(s) > maxBytes) throw new ToolFieldError(field, `${field} exceeds ${maxBytes} bytes`)
  try {
    return JSON.parse(s)
  } catch {
    throw new ToolFieldError(field, `${field} is not JSON`)
  }
}

/** Adjacent deltas of the same call merge into one (arguments appended), so a coalesced chunk holds one delta per call. */
export function mergeToolCallDeltas (deltas: readonly ToolCallDelta[]): ToolCallDelta[] {
  const out: ToolCallDelta[] = []
  for (const d of deltas) {
    const last = out[out.length - 1]
    if (last != null && last.index === d.index && d.id == null && d.function?.name == null) {
      if (d.function?.arguments != null) last.function = { ...last.function, arguments: (last.function?.arguments ?? '') + d.function.arguments }
      continue
    }
    out.push({ ...d, function: d.function != null ? { ...d.function } : undefined })
    if (d.function == null) delete out[out.length - 1].function
  }
  return out
}

/** Fold streamed deltas into complete calls (by index: id, type and name are set, arguments appended). */
export function accumulateToolCalls (calls: ToolCall[], deltas: readonly ToolCallDelta[]): void {
  for (const d of deltas) {
    let c = calls[d.index]
    if (c == null) {
      c = { id: '', type: 'function', function: { name: '', arguments: '' } }
      calls[d.index] = c
    }
    if (d.id != null) c.id = d.id
    if (d.function?.name != null) c.function.name = d.function.name
    if (d.function?.arguments != null) c.function.arguments += d.function.arguments
  }
}

/**
 * The most output tokens a buyer signs for on tool-call deltas: the UTF-8 bytes of their JSON as
 * the chunk carried it (every token carries at least one byte of what was delivered).
 */
export function toolCallDeltaBytes (deltas: readonly ToolCallDelta[]): number {
  return deltas.length === 0 ? 0 : jsonBytes(deltas)
}

/** What a request needs from the seller's offer (market.md § Capabilities). */
export function requiredCapabilities (r: { tools?: ToolDefinition[], toolChoice?: ToolChoice, responseFormat?: ResponseFormat, prompt?: string, logprobs?: boolean }): string[] {
  const needs: string[] = []
  if (r.logprobs === true) needs.push('logprobs')
  // a raw text completion (infer.md § Text completion)
  if (r.prompt != null) needs.push('completions')
  if (r.tools != null && r.tools.length > 0 && r.toolChoice !== 'none') needs.push('tools')
  if (r.responseFormat != null && r.responseFormat.type !== 'text') needs.push('json_schema')
  return needs
}

/** the request field that asks for a capability, for errors that name it */
export function capabilityField (capability: string): string {
  return capability === 'tools' ? 'tools' : capability === 'json_schema' ? 'response_format' : capability === 'completions' ? 'prompt' : capability
}

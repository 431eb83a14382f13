/**
 * The tool-calling and structured-output parts of OpenAI's chat API at the gateway: `tools`,
 * `tool_choice`, `parallel_tool_calls`, `response_format`, tool-call histories (assistant
 * `tool_calls`, `role: "tool"` messages), and the `tool_calls` of answers. Validation is
 * exec/tools.ts's, the same the sellers run; a malformed field is a 400 naming it.
 */
import { badRequest } from './errors.js'
import type { ChatMessage, ChatRequest } from '../exec/backend.js'
import { parseResponseFormat, parseToolCallId, parseToolCalls, parseToolChoice, parseTools, ToolFieldError, type ToolCall } from '../exec/tools.js'
import type { RoutedResult } from '../market/router-types.js'

function at<T> (fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof ToolFieldError) throw badRequest(err.message, err.field)
    throw err
  }
}

/** the request's tool and structured-output fields, validated */
export function parseToolFields (body: Record<string, unknown>): Pick<ChatRequest, 'tools' | 'toolChoice' | 'parallelToolCalls' | 'responseFormat'> {
  return at(() => {
    const tools = parseTools(body.tools)
    const toolChoice = parseToolChoice(body.tool_choice, tools)
    const p = body.parallel_tool_calls
    if (p !== undefined && p !== null && typeof p !== 'boolean') throw new ToolFieldError('parallel_tool_calls', 'parallel_tool_calls must be a boolean')
    const out: Pick<ChatRequest, 'tools' | 'toolChoice' | 'parallelToolCalls' | 'responseFormat'> = {}
    if (tools !== undefined) out.tools = tools
    if (toolChoice !== undefined) out.toolChoice = toolChoice
    if (typeof p === 'boolean') out.parallelToolCalls = p
    const responseFormat = parseResponseFormat(body.response_format)
    if (responseFormat !== undefined) out.responseFormat = responseFormat
    return out
  })
}

/**
 * One message of a history: an assistant message may carry `tool_calls` (its content then may be
 * null or absent); a `tool` message answers one call by `tool_call_id`. Other roles carry neither.
 */
export function parseChatMessage (m: Record<string, unknown>, field: string, role: ChatMessage['role'], content: (v: unknown, field: string) => string): ChatMessage {
  return at(() => {
    if (role !== 'assistant' && m.tool_calls !== undefined && m.tool_calls !== null) throw new ToolFieldError(`${field}.tool_calls`, `${field}.tool_calls: only assistant messages carry tool calls`)
    if (role !== 'tool' && m.tool_call_id !== undefined && m.tool_call_id !== null) throw new ToolFieldError(`${field}.tool_call_id`, `${field}.tool_call_id: only tool messages answer a tool call`)
    if (role === 'assistant') {
      const toolCalls = parseToolCalls(m.tool_calls, `${field}.tool_calls`)
      if (toolCalls !== undefined) return { role, content: m.content === undefined || m.content === null ? '' : content(m.content, `${field}.content`), toolCalls }
    }
    if (role === 'tool') return { role, content: content(m.content, `${field}.content`), toolCallId: parseToolCallId(m.tool_call_id, `${field}.tool_call_id`) }
    return { role, content: content(m.content, `${field}.content`) }
  })
}

/** characters a message adds to the request's total (its content and its calls' names and arguments) */
export function messageChars (m: ChatMessage): number {
  return m.content.length + (m.toolCalls ?? []).reduce((n, c) => n + c.function.name.length + c.function.arguments.length, 0)
}

/** the answer's `message`: tool calls (content null when there is no text), as OpenAI answers */
export function assistantMessage (r: Pick<RoutedResult, 'text' | 'toolCalls'>): Record<string, unknown> {
  const calls: ToolCall[] = r.toolCalls ?? []
  if (calls.length === 0) return { role: 'assistant', content: r.text, refusal: null }
  return { role: 'assistant', content: r.text === '' ? null : r.text, refusal: null, tool_calls: calls }
}

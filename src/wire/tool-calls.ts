/**
 * Tool calls as a completion carries them (OpenAI's JSON shapes, also what /tally/infer chunks
 * carry as JSON, protocols/infer.md § Tools), as types: the exec and market layers share them
 * without importing each other.
 */

/** a complete tool call, as in an assistant message */
export interface ToolCall { id: string, type: 'function', function: { name: string, arguments: string } }

/** one streamed piece of a tool call, exactly as OpenAI streams `delta.tool_calls[]` */
export interface ToolCallDelta {
  index: number
  id?: string
  type?: 'function'
  function?: { name?: string, arguments?: string }
}

import { describe, it, expect } from 'vitest'
import { ToolCallStreamer } from '../../../src/exec/backends/embedded/tools.js'
import { accumulateToolCalls, type ToolCall, type ToolCallDelta } from '../../../src/exec/tools.js'

function feed (pieces: string[], complete: boolean): { chunks: Array<{ text: string, tokens: number, deltas?: ToolCallDelta[] }>, billed: number } {
  const chunks: Array<{ text: string, tokens: number, deltas?: ToolCallDelta[] }> = []
  const s = new ToolCallStreamer((text, tokens, deltas) => { chunks.push({ text, tokens, deltas }) })
  for (const p of pieces) s.add(p, p.length)
  return { chunks, billed: s.finish(complete) }
}

describe('the embedded engine streams a grammar answer as a tool call', () => {
  const answer = ' {"name": "get_weather", "arguments": {"city": "Pa}ris", "days": {"n": 2}} } '
  const pieces = answer.match(/.{1,3}/gs)!

  it('a first delta with id and name, then the arguments in pieces, without the closing brace', () => {
    const { chunks, billed } = feed(pieces, true)
    expect(chunks[0].deltas![0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '' } })
    expect(chunks[0].deltas![0].id).toMatch(/^call_/)
    expect(chunks.length).toBeGreaterThan(3)
    const calls: ToolCall[] = []
    for (const c of chunks) accumulateToolCalls(calls, c.deltas!)
    expect(JSON.parse(calls[0].function.arguments)).toEqual({ city: 'Pa}ris', days: { n: 2 } })
    // every generated token is billed once, each delta within the bytes it carries
    expect(billed).toBe(answer.length)
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(Buffer.byteLength(JSON.stringify(c.deltas)))
  })

  it('an answer cut short before the name is known is text', () => {
    const { chunks, billed } = feed([' {"na', 'me": "get'], false)
    expect(chunks).toEqual([{ text: ' {"name": "get', tokens: 14, deltas: undefined }])
    expect(billed).toBe(14)
  })
})

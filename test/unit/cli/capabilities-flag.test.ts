import { describe, it, expect } from 'vitest'
import { httpCapabilities, sellPlan } from '../../../src/cli/start/serve.js'
import { UsageError } from '../../../src/cli/io.js'

describe('tally start --capabilities (a --serve-http upstream\'s)', () => {
  it('defaults to chat, always includes chat, accepts repeats and commas', () => {
    expect(httpCapabilities(undefined)).toEqual(['chat'])
    expect(httpCapabilities(['tools,json_schema', 'tools'])).toEqual(['chat', 'tools', 'json_schema'])
  })

  it('refuses unknown names and --capabilities without --serve-http (usage errors: exit 2)', async () => {
    expect(() => httpCapabilities(['tools', 'vision'])).toThrow(UsageError)
    expect(() => httpCapabilities(['tools', 'vision'])).toThrow(/"vision" is not a capability/)
    await expect(sellPlan({ serve: 'tiny', capabilities: ['tools'] }, {})).rejects.toThrow(/--capabilities needs --serve-http/)
  })

  it('the HTTP backend, and so its offers, list them', async () => {
    const plan = await sellPlan({ serveHttp: 'http://127.0.0.1:9/v1', modelId: 'm', params: '1000000', capabilities: ['tools'] }, {})
    expect(plan?.backend.capabilities).toEqual(['chat', 'tools'])
    const plain = await sellPlan({ serveHttp: 'http://127.0.0.1:9/v1', modelId: 'm', params: '1000000' }, {})
    expect(plain?.backend.capabilities).toEqual(['chat'])
  })
})

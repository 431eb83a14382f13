import { describe, it, expect } from 'vitest'
import { ServiceRegistry, DuplicateServiceError } from '../../../src/node/services.js'

describe('service registry', () => {
  it('starts in order, stops in reverse, unwinds when one fails to start', async () => {
    const log: string[] = []
    const r = new ServiceRegistry()
    r.add('a', { start: () => { log.push('start a') }, stop: () => { log.push('stop a') } })
    r.add('b', { start: async () => { log.push('start b') }, stop: async () => { log.push('stop b') } })
    r.add('c', { start: () => { throw new Error('c cannot start') }, stop: () => { log.push('stop c') } })
    await expect(r.start()).rejects.toThrow('c cannot start')
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a'])
    expect(() => r.add('a', { start () {}, stop () {} })).toThrow(DuplicateServiceError)
    expect(r.get('b')).toBeDefined()
  })

  it('stops every service even when one throws, then rethrows the first error', async () => {
    const log: string[] = []
    const r = new ServiceRegistry()
    r.add('a', { start () {}, stop: () => { log.push('stop a') } })
    r.add('b', { start () {}, stop: () => { throw new Error('b stop failed') } })
    await r.start()
    await expect(r.stop()).rejects.toThrow('b stop failed')
    expect(log).toEqual(['stop a'])
    await r.stop()
    expect(log).toEqual(['stop a'])
  })
})

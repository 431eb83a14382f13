/**
 * The gateway bind rule (src/node/config.ts): only a host whose every address is loopback serves
 * without a bearer token, decided by address and never by spelling; and gateway.allowOrigins.
 */
import { describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, checkGatewayBind, isLoopbackAddress, loadConfig, parseConfig, resolveGatewayHost, type HostResolver } from '../../../src/node/config.js'

const to = (...addresses: string[]): HostResolver => async () => addresses.map(address => ({ address }))
const fails: HostResolver = async () => { throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }) }

describe('isLoopbackAddress', () => {
  it('127.0.0.0/8 and ::1 in any spelling; names and other addresses are not', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a), a).toBe(true)
    for (const a of ['localhost', '127.0.0.1.evil.example', '0.0.0.0', '128.0.0.1', '::', '::2', '::ffff:8.8.8.8', '10.0.0.1']) expect(isLoopbackAddress(a), a).toBe(false)
  })
})

describe('resolveGatewayHost / checkGatewayBind', () => {
  it('a name is loopback only when every address it resolves to is', async () => {
    expect(await resolveGatewayHost('localhost', to('127.0.0.1', '::1'))).toEqual({ addresses: ['127.0.0.1', '::1'], loopback: true })
    expect((await resolveGatewayHost('127.0.0.1.evil.example', to('203.0.113.9'))).loopback).toBe(false)
    expect((await resolveGatewayHost('half.example', to('127.0.0.1', '203.0.113.9'))).loopback).toBe(false)
    // an IP literal is its own address: the resolver is not asked
    expect(await resolveGatewayHost('127.0.0.2', fails)).toEqual({ addresses: ['127.0.0.2'], loopback: true })
  })

  it('an unresolvable name is a config error naming gateway.host', async () => {
    const err = await resolveGatewayHost('nowhere.invalid', fails).catch(e => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err.field).toBe('gateway.host')
    expect(err.code).toBe('invalid-config')
    expect(err.message).toMatch(/cannot resolve "nowhere.invalid" \(ENOTFOUND\)/)
    expect((await resolveGatewayHost('empty.example', to()).catch(e => e)).field).toBe('gateway.host')
  })

  it('a token is required unless the host is all-loopback', async () => {
    const spoof = parseConfig({ gateway: '127.0.0.1.evil.example:8080' })
    const err = await checkGatewayBind(spoof, to('203.0.113.9')).catch(e => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err.field).toBe('gateway.token')
    await expect(checkGatewayBind({ ...spoof, gateway: { ...spoof.gateway!, token: 'x'.repeat(16) } }, to('203.0.113.9'))).resolves.toBeUndefined()
    await expect(checkGatewayBind(parseConfig({ gateway: 'tally.test:8080' }), to('127.0.0.1'))).resolves.toBeUndefined()
    // IP literals are decided already by the synchronous parse
    expect(() => parseConfig({ gateway: '[::ffff:8.8.8.8]:8080' })).toThrow(/gateway.token/)
    expect(parseConfig({ gateway: '[::ffff:127.0.0.1]:8080' }).gateway?.host).toBe('::ffff:127.0.0.1')
  })

  it('loadConfig applies the rule to names with the system resolver', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-bind-'))
    try {
      // this name resolves to a public address or to nothing: never exempt
      const err = await loadConfig({ gateway: '127.0.0.1.evil.example:8080' }, { TALLY_DATA_DIR: dir }).catch(e => e)
      expect(err).toBeInstanceOf(ConfigError)
      expect(['gateway.host', 'gateway.token']).toContain(err.field)
      expect((await loadConfig({ gateway: '127.0.0.1:8080' }, { TALLY_DATA_DIR: dir })).gateway).toEqual({ host: '127.0.0.1', port: 8080 })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('gateway.allowOrigins', () => {
  it('takes exact origins and refuses anything else', () => {
    expect(parseConfig({ gateway: { host: '127.0.0.1', port: 1, allowOrigins: ['http://localhost:3000', 'https://app.example'] } }).gateway?.allowOrigins).toEqual(['http://localhost:3000', 'https://app.example'])
    for (const bad of ['*', 'http://localhost:3000/', 'localhost:3000', 'http://a.example/path', 'ftp://a.example', '', 'HTTP://A.example']) {
      expect(() => parseConfig({ gateway: { host: '127.0.0.1', port: 1, allowOrigins: [bad] } }), bad).toThrow(/gateway.allowOrigins\[0\]/)
    }
    expect(() => parseConfig({ gateway: { host: '127.0.0.1', port: 1, allowOrigins: 'http://a.example' } })).toThrow(/gateway.allowOrigins/)
  })
})

/** `tally testnet`: its flags (bad values exit 2), the layout a count stands for, the NAT rules, and no-root → exit 2. */
import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { resolve } from 'node:path'
import { parseTestnetUpFlags } from '../../../src/cli/testnet/options.js'
import { miniupnpdConfig, natRuleset, nodeSpecs } from '../../../src/cli/testnet/testnet.js'
import { UsageError } from '../../../src/cli/io.js'
import { main } from '../../../src/cli/main.js'

const BIN = resolve(import.meta.dirname, '../../../bin/tally.js')
const exec = promisify(execFile)

function captured (): { io: any, lines: string[] } {
  const lines: string[] = []
  return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), env: {} } }
}

describe('tally testnet flags', () => {
  it('parses counts with defaults: one seller, no NAT, .testnet', () => {
    expect(parseTestnetUpFlags({ nodes: '6' })).toEqual({ nodes: 6, nat: 0, sellers: 1, dir: '.testnet', latencyMs: 0, upnp: false, json: false })
    expect(parseTestnetUpFlags({ nodes: '5', nat: '2', sellers: '3', dir: 'x', latency: '20', upnp: true, json: true })).toEqual({ nodes: 5, nat: 2, sellers: 3, dir: 'x', latencyMs: 20, upnp: true, json: true })
    expect(() => parseTestnetUpFlags({ nodes: '4', upnp: true })).toThrow(/--upnp: .* --nat of 1 or more/)
  })

  it('refuses bad values naming the flag (node 0 is the public bootstrap: at most N-1 NATed or selling)', () => {
    expect(() => parseTestnetUpFlags({ nodes: '0' })).toThrow(/--nodes: must be 1\.\.200, got 0/)
    expect(() => parseTestnetUpFlags({ nodes: '201' })).toThrow(UsageError)
    expect(() => parseTestnetUpFlags({ nodes: '3.5' })).toThrow(/--nodes: expected a whole number/)
    expect(() => parseTestnetUpFlags({ nodes: '4', nat: '4' })).toThrow(/--nat: must be 0\.\.3, got 4/)
    expect(() => parseTestnetUpFlags({ nodes: '4', sellers: '-1' })).toThrow(/--sellers: expected a whole number/)
    expect(() => parseTestnetUpFlags({ nodes: '4', latency: '1e3' })).toThrow(/--latency/)
  })

  it('bad flags exit 2 through the program', async () => {
    const { io, lines } = captured()
    expect(await main(['node', 'tally', 'testnet', 'up', '--nodes', 'many'], { io })).toBe(2)
    expect(lines.join('\n')).toMatch(/--nodes: expected a whole number/)
    expect(await main(['node', 'tally', 'testnet', 'up'], { io })).toBe(2)
    expect(await main(['node', 'tally', 'testnet', 'down', '--bogus'], { io })).toBe(2)
  })
})

describe('testnet layout', () => {
  it('a count: node 0 public and not selling; the last k behind NAT, the last s selling', () => {
    const specs = nodeSpecs({ nodes: 5, nat: 2, sellers: 3 })
    expect(specs.map(s => s.nat ?? '-')).toEqual(['-', '-', '-', 'cone', 'cone'])
    expect(specs.map(s => s.sell)).toEqual([false, false, true, true, true])
    expect(() => nodeSpecs({ nodes: [{ nat: 'cone' }] })).toThrow(/node 0 is the public bootstrap/)
    expect(() => nodeSpecs({ nodes: 3, nat: 3 })).toThrow(RangeError)
    // --upnp: the NATed nodes' routers run miniupnpd; a public node has no router to run it on
    expect(nodeSpecs({ nodes: 4, nat: 2, upnp: true }).map(s => s.upnp === true)).toEqual([false, false, true, true])
    expect(() => nodeSpecs({ nodes: [{}, { upnp: true }] })).toThrow(/node 1: upnp needs a NAT router/)
  })

  it('a NAT router masquerades out of wan and lets in only the harness; symmetric randomises ports', () => {
    const cone = natRuleset('cone', '11.7.0.1')
    expect(cone).toMatch(/oifname "wan" masquerade\n/)
    expect(cone).toMatch(/policy drop;/)
    expect(cone).toMatch(/iifname "wan" ip saddr 11\.7\.0\.1 accept/)
    expect(natRuleset('symmetric', '11.7.0.1')).toMatch(/masquerade random,fully-random/)
    // unsolicited packets to the router itself are dropped, not answered with a RST (a hole
    // punch's early SYN would otherwise end the other side's attempt)
    expect(cone).toMatch(/hook input[^}]*iifname "wan" ct state new drop/)
    // a UPnP router lets in what miniupnpd DNATs, nothing else new
    expect(cone).not.toMatch(/ct status dnat accept/)
    expect(natRuleset('cone', '11.7.0.1', true)).toMatch(/ct status dnat accept/)
    expect(miniupnpdConfig({ ip: '10.7.3.2' }, 'u')).toMatch(/^ext_ifname=wan$[\s\S]*^secure_mode=yes$[\s\S]*^allow 1024-65535 10\.7\.3\.2\/32 1024-65535$/m)
  })
})

describe.skipIf(!existsSync('/usr/bin/setpriv') || process.getuid?.() !== 0)('tally testnet without root', () => {
  it('says what is missing and exits 2', async () => {
    const err: any = await exec('/usr/bin/setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, BIN, 'testnet', 'up', '--nodes', '2', '--dir', '/tmp/tally-testnet-noroot'], { env: { ...process.env, TALLY_CONFIG: '' } }).catch(e => e)
    expect(err.code).toBe(2)
    expect(err.stderr).toMatch(/^tally: testnet needs root \(/)
  }, 30_000)
})

import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as fc from 'fast-check'
import { parseConfig, loadConfig, ConfigError, parseGatewayAddress, hasGenesis, resolveGenesis } from '../../../src/node/config.js'
import { netId } from '../../../src/ledger/genesis.js'
import { DEV_GENESIS, developmentNotice } from '../../../src/node/defaults.js'
import { createSigner } from '../../../src/identity/ed25519.js'
import { accountIdFromPublicKey } from '../../../src/identity/account.js'

const PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const ISSUER = accountIdFromPublicKey(createSigner(new Uint8Array(32).fill(5)).publicKey)

function fieldOf (fn: () => unknown): string {
  try { fn() } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).field
  }
  throw new Error('expected a ConfigError')
}

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tally-cfg-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('config', () => {
  it('defaults: tcp, noise, dev genesis, no bootstrap', () => {
    const c = parseConfig({ dataDir: dir })
    expect(c.transport).toBe('tcp')
    expect(c.encryption).toBe('noise')
    expect(c.simulation).toBe(false)
    expect(c.listen).toEqual(['/ip4/0.0.0.0/tcp/0'])
    expect(c.bootstrap).toEqual([])
    expect(c.genesis).toEqual({ ...DEV_GENESIS, issuers: [] })
    expect(c.genesis.defaultCreditLimitUc).toBe(10_000_000n)
    expect(c.gateway).toBeUndefined()
  })

  it('genesis from decimal strings to bigint, issuers by account id', () => {
    const c = parseConfig({ genesis: { name: 'net', issuers: [{ account: ISSUER, capUc: '1000000000000' }], defaultCreditLimitUc: '5', maxSessionLockUc: '7', development: true, minTransferUc: '3' } })
    expect(c.genesis.issuers[0].capUc).toBe(1_000_000_000_000n)
    expect(c.genesis.issuers[0].publicKey.length).toBe(32)
    expect(c.genesis.maxSessionLockUc).toBe(7n)
    expect(c.genesis).toMatchObject({ development: true, minTransferUc: 3n })
  })

  it('a default credit line only on a development network (ConfigError naming the field)', () => {
    const pub = { name: 'net', issuers: [{ account: ISSUER, capUc: '9' }], maxSessionLockUc: '7' }
    expect(fieldOf(() => parseConfig({ genesis: { ...pub, defaultCreditLimitUc: '5' } }))).toBe('genesis.defaultCreditLimitUc')
    expect(fieldOf(() => parseConfig({ genesis: { ...pub, defaultCreditLimitUc: '5', development: false } }))).toBe('genesis.defaultCreditLimitUc')
    expect(fieldOf(() => parseConfig({ genesis: { ...pub, defaultCreditLimitUc: '5', development: 'yes' } }))).toBe('genesis.development')
    expect(fieldOf(() => parseConfig({ genesis: { ...pub, defaultCreditLimitUc: '0', minTransferUc: -1 } }))).toBe('genesis.minTransferUc')
    expect(parseConfig({ genesis: { ...pub, defaultCreditLimitUc: '0' } }).genesis).toMatchObject({ development: false, minTransferUc: 0n })
    expect(parseConfig({}).genesis.development).toBe(true)
    // `tally start` prints this line on a development network, nothing on a public one
    expect(developmentNotice(DEV_GENESIS)).toBe('development network "tally-dev": every key may spend 10 credits on credit (not a public network\'s rules)')
    expect(developmentNotice(parseConfig({ genesis: { ...pub, defaultCreditLimitUc: '0' } }).genesis)).toBeUndefined()
  })

  it('bad values name the field', () => {
    expect(fieldOf(() => parseConfig({ listen: ['/ip4/127.0.0.1/tcp/0', 'nope'] }))).toBe('listen[1]')
    expect(fieldOf(() => parseConfig({ listen: '/ip4/127.0.0.1/tcp/0' }))).toBe('listen')
    expect(fieldOf(() => parseConfig({ listen: ['/memory/a'] }))).toBe('listen[0]')
    expect(fieldOf(() => parseConfig({ transport: 'memory', listen: ['/ip4/127.0.0.1/tcp/1'] }))).toBe('listen[0]')
    expect(fieldOf(() => parseConfig({ bootstrap: ['/ip4/127.0.0.1/tcp/4001'] }))).toBe('bootstrap[0]')
    expect(fieldOf(() => parseConfig({ transport: 'udp' }))).toBe('transport')
    expect(fieldOf(() => parseConfig({ encryption: 'tls' }))).toBe('encryption')
    expect(fieldOf(() => parseConfig({ encryption: 'plaintext' }))).toBe('encryption')
    expect(fieldOf(() => parseConfig({ simulation: 'yes' }))).toBe('simulation')
    expect(fieldOf(() => parseConfig({ dataDir: '' }))).toBe('dataDir')
    expect(fieldOf(() => parseConfig({ passphrase: 'x' }))).toBe('passphrase')
    expect(fieldOf(() => parseConfig({ listne: [] }))).toBe('listne')
    expect(fieldOf(() => parseConfig({ genesis: { name: 'n', defaultCreditLimitUc: '1.5', maxSessionLockUc: '1' } }))).toBe('genesis.defaultCreditLimitUc')
    expect(fieldOf(() => parseConfig({ genesis: { name: 'n', defaultCreditLimitUc: '-1', maxSessionLockUc: '1' } }))).toBe('genesis.defaultCreditLimitUc')
    expect(fieldOf(() => parseConfig({ genesis: { name: 'n', defaultCreditLimitUc: '1', maxSessionLockUc: '0' } }))).toBe('genesis.maxSessionLockUc')
    expect(fieldOf(() => parseConfig({ genesis: { defaultCreditLimitUc: '1', maxSessionLockUc: '1' } }))).toBe('genesis.name')
    expect(fieldOf(() => parseConfig({ genesis: { name: 'n', issuers: [{ account: 'bob', capUc: '1' }], defaultCreditLimitUc: '1', maxSessionLockUc: '1' } }))).toBe('genesis.issuers[0].account')
    expect(fieldOf(() => parseConfig({ genesis: { name: 'n', issuers: [{ account: ISSUER, capUc: 1.5 }], defaultCreditLimitUc: '1', maxSessionLockUc: '1' } }))).toBe('genesis.issuers[0].capUc')
    expect(fieldOf(() => parseConfig({ gateway: 'localhost:99999' }))).toBe('gateway')
    expect(fieldOf(() => parseConfig({ gateway: '0.0.0.0:8080' }))).toBe('gateway.token')
    expect(fieldOf(() => parseConfig({ gateway: { host: '127.0.0.1', port: 'x' } }))).toBe('gateway.port')
    expect(fieldOf(() => parseConfig([]))).toBe('(config)')
  })

  it('plaintext is allowed in simulation on memory', () => {
    const c = parseConfig({ simulation: true, encryption: 'plaintext', transport: 'memory', listen: ['/memory/n1'], bootstrap: [`/memory/n0/p2p/${PEER}`] })
    expect(c.encryption).toBe('plaintext')
    expect(c.bootstrap).toHaveLength(1)
  })

  it('gateway addresses', () => {
    expect(parseGatewayAddress('8080')).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(parseGatewayAddress('[::1]:80')).toEqual({ host: '::1', port: 80 })
    expect(parseConfig({ gateway: { host: '0.0.0.0', port: 1, token: 't' } }).gateway).toEqual({ host: '0.0.0.0', port: 1, token: 't' })
  })

  it('precedence: file < env < flags; passphrase from env only', async () => {
    const file = join(dir, 'tally.json')
    await writeFile(file, JSON.stringify({ dataDir: join(dir, 'file'), listen: ['/ip4/127.0.0.1/tcp/1'], transport: 'tcp' }))
    const env = { TALLY_DATA_DIR: join(dir, 'env'), TALLY_LISTEN: '/ip4/127.0.0.1/tcp/2,/ip4/127.0.0.1/tcp/3', TALLY_PASSPHRASE: 'secret' }
    const c = await loadConfig({ config: file, listen: ['/ip4/127.0.0.1/tcp/4'] }, env)
    expect(c.dataDir).toBe(join(dir, 'env'))
    expect(c.listen).toEqual(['/ip4/127.0.0.1/tcp/4'])
    expect(c.passphrase).toBe('secret')
    const d = await loadConfig({}, { TALLY_CONFIG: file })
    expect(d.dataDir).toBe(join(dir, 'file'))
    expect(d.passphrase).toBeUndefined()
    const g = await loadConfig({ gateway: '0.0.0.0:8080' }, { TALLY_GATEWAY_TOKEN: 'tok', TALLY_DATA_DIR: dir })
    expect(g.gateway).toEqual({ host: '0.0.0.0', port: 8080, token: 'tok' })
  })

  it('bad files and env values name the source', async () => {
    const bad = join(dir, 'bad.json')
    await writeFile(bad, '{ nope')
    await expect(loadConfig({ config: bad }, {})).rejects.toMatchObject({ name: 'ConfigError', field: 'config' })
    await expect(loadConfig({ config: join(dir, 'missing.json') }, {})).rejects.toMatchObject({ field: 'config' })
    await writeFile(bad, JSON.stringify({ passphrase: 'x' }))
    await expect(loadConfig({ config: bad }, {})).rejects.toMatchObject({ field: 'passphrase' })
    await expect(loadConfig({}, { TALLY_SIMULATION: 'maybe' })).rejects.toMatchObject({ field: 'TALLY_SIMULATION' })
    await expect(loadConfig({}, { TALLY_GATEWAY_TOKEN: 't' })).rejects.toMatchObject({ field: 'TALLY_GATEWAY_TOKEN' })
    await expect(loadConfig({ transport: 'carrier-pigeon' }, {})).rejects.toMatchObject({ field: 'transport' })
  })

  it('net: 64 lowercase hex from the file, TALLY_NET or --net; agrees with a given genesis; without one it is fetched', async () => {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
    const devNet = hex(netId(DEV_GENESIS))
    const custom = { name: 'net', issuers: [{ account: ISSUER, capUc: '9' }], defaultCreditLimitUc: '5', maxSessionLockUc: '7', development: true }
    const customNet = hex(netId(parseConfig({ genesis: custom }).genesis))
    expect(parseConfig({}).net).toBeUndefined()
    expect(hasGenesis(parseConfig({}))).toBe(true)
    const dev = parseConfig({ net: devNet })
    expect(dev.net).toBe(devNet)
    expect(hasGenesis(dev)).toBe(true)
    expect(await resolveGenesis(dev)).toBe(dev)
    const both = parseConfig({ net: customNet, genesis: custom })
    expect(both.genesis.name).toBe('net')
    expect(hasGenesis(both)).toBe(true)
    for (const bad of [customNet.toUpperCase(), customNet.slice(2), `${customNet}00`, `0x${customNet.slice(2)}`, 12, '', ' '.repeat(64)]) {
      expect(fieldOf(() => parseConfig({ net: bad })), String(bad)).toBe('net')
    }
    // a genesis that hashes to another net
    expect(fieldOf(() => parseConfig({ net: devNet, genesis: custom }))).toBe('net')
    expect(fieldOf(() => parseConfig({ net: customNet, genesis: { ...custom, name: 'other' } }))).toBe('net')
    // only a net: the genesis is not known yet, and without a bootstrap peer it cannot be fetched
    const only = parseConfig({ net: customNet })
    expect(hasGenesis(only)).toBe(false)
    await expect(resolveGenesis(only)).rejects.toMatchObject({ name: 'ConfigError', field: 'net' })
    // precedence: file < TALLY_NET < --net
    const file = join(dir, 'tally.json')
    await writeFile(file, JSON.stringify({ net: customNet, genesis: custom }))
    expect((await loadConfig({ config: file }, {})).net).toBe(customNet)
    expect((await loadConfig({}, { TALLY_NET: devNet })).net).toBe(devNet)
    expect((await loadConfig({ net: customNet }, { TALLY_NET: devNet })).net).toBe(customNet)
    await expect(loadConfig({ config: file }, { TALLY_NET: devNet })).rejects.toMatchObject({ field: 'net' })
    await expect(loadConfig({}, { TALLY_NET: 'nope' })).rejects.toMatchObject({ field: 'net' })
  })

  it('any JSON value parses or fails with a ConfigError (property)', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      try { parseConfig(v) } catch (err) { expect(err).toBeInstanceOf(ConfigError) }
    }), { numRuns: 300 })
    fc.assert(fc.property(fc.record({ listen: fc.array(fc.string()), bootstrap: fc.array(fc.string()), gateway: fc.string() }, { requiredKeys: [] }), (v) => {
      try { parseConfig(v) } catch (err) { expect(err).toBeInstanceOf(ConfigError) }
    }), { numRuns: 300 })
  })
})

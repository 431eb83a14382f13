/** How the CLI finds a node's API, and `api` as the config name of the node's HTTP address. */
import { describe, expect, it, afterAll } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiBase, DEFAULT_API_URL } from '../../../src/cli/api.js'
import { loadConfig, parseConfig } from '../../../src/node/config.js'
import type { CliIO } from '../../../src/cli/io.js'

const dir = mkdtempSync(join(tmpdir(), 'tally-api-disc-'))
const empty = mkdtempSync(join(tmpdir(), 'tally-api-disc-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }); rmSync(empty, { recursive: true, force: true }) })
writeFileSync(join(dir, 'api.json'), JSON.stringify({ url: 'http://127.0.0.1:9999', pid: 1 }))

const io = (env: Record<string, string | undefined>): CliIO => ({ env, out: () => {}, err: () => {} })

describe('finding the node API', () => {
  it('--api, then TALLY_API, then the api.json of --data-dir or TALLY_DATA_DIR, then the default', () => {
    expect(apiBase({ api: 'http://h:1', dataDir: dir }, io({ TALLY_API: 'http://e:2' })).href).toBe('http://h:1/')
    expect(apiBase({ dataDir: dir }, io({ TALLY_API: 'http://e:2' })).href).toBe('http://e:2/')
    expect(apiBase({ dataDir: dir }, io({ TALLY_API: '' })).href).toBe('http://127.0.0.1:9999/')
    expect(apiBase({}, io({ TALLY_DATA_DIR: dir })).href).toBe('http://127.0.0.1:9999/')
    expect(apiBase({ dataDir: empty }, io({})).href).toBe(`${DEFAULT_API_URL}/`)
  })

  it('an api.json that is not a node\'s is an error naming the file', () => {
    const bad = mkdtempSync(join(tmpdir(), 'tally-api-disc-'))
    try {
      writeFileSync(join(bad, 'api.json'), 'nope')
      expect(() => apiBase({ dataDir: bad }, io({}))).toThrow(/api\.json is not the JSON a node writes/)
    } finally { rmSync(bad, { recursive: true, force: true }) }
  })

  it('config `api` (and TALLY_API_LISTEN) is the address `gateway` named; both at once is an error', async () => {
    expect(parseConfig({ api: '127.0.0.1:9000' }).gateway).toEqual({ host: '127.0.0.1', port: 9000 })
    expect(() => parseConfig({ api: '127.0.0.1:9000', gateway: '127.0.0.1:9001' })).toThrow(/api or its older name gateway/)
    expect((await loadConfig({}, { TALLY_DATA_DIR: dir, TALLY_API_LISTEN: '127.0.0.1:9002' })).gateway).toEqual({ host: '127.0.0.1', port: 9002 })
    await expect(loadConfig({}, { TALLY_DATA_DIR: dir, TALLY_API_LISTEN: '127.0.0.1:9002', TALLY_GATEWAY: '127.0.0.1:9003' })).rejects.toMatchObject({ field: 'TALLY_API_LISTEN' })
    // a flag replaces a config file's api
    const file = join(dir, 'config.json')
    writeFileSync(file, JSON.stringify({ api: '127.0.0.1:9004' }))
    expect((await loadConfig({ config: file }, { TALLY_DATA_DIR: dir })).gateway?.port).toBe(9004)
    expect((await loadConfig({ config: file, gateway: '127.0.0.1:9005' }, { TALLY_DATA_DIR: dir })).gateway?.port).toBe(9005)
  })
})

/**
 * `tally` under a low open-file limit (issue 15.9): `--version` and `--help` load little enough
 * for macOS's default of 256, and where the limit is truly too low the CLI says so (the limit,
 * how to raise it, code open-file-limit) instead of a misleading ERR_MODULE_NOT_FOUND. Spawns
 * the built bin (dist/, as `npm test` builds it) under `ulimit -n` set by bash (soft and hard).
 */
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { isOpenFileExhaustion } from '../../src/cli/fd-limit.js'

const BIN = resolve(import.meta.dirname, '../../bin/tally.js')
const VERSION = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')).version

function underLimit (limit: number, args: string, env: Record<string, string> = {}): { status: number | null, stdout: string, stderr: string } {
  return spawnSync('bash', ['-c', `ulimit -n ${limit} && exec "${process.execPath}" "${BIN}" ${args}`], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 })
}

describe('tally under a low open-file limit', () => {
  it('--version and --help work at ulimit -n 256 (macOS default)', () => {
    const v = underLimit(256, '--version')
    expect(v.stderr).toBe('')
    expect(v.status).toBe(0)
    expect(v.stdout.trim()).toBe(VERSION)
    const h = underLimit(256, '--help')
    expect(h.status).toBe(0)
    expect(h.stdout).toMatch(/start/)
  })

  it('a limit too low to load the CLI is named, with how to raise it', () => {
    const r = underLimit(24, '--version')
    expect(r.status).toBe(1)
    expect(r.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^tally: OpenFileLimitError \(open-file-limit\): too many open files: the open-file limit \(ulimit -n\) is 24, too low .*ulimit -n 4096/)
  })

  it('a command whose modules need more than the limit says so too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-fd-'))
    try {
      const r = underLimit(100, 'start --listen /ip4/127.0.0.1/tcp/0', { TALLY_DATA_DIR: dir })
      expect(r.status).toBe(1)
      expect(r.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/)
      expect(r.stderr).toMatch(/open-file-limit.*is 100, too low/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('isOpenFileExhaustion', () => {
  it('EMFILE, and a module "not found" that is there; not a module that is really missing', () => {
    expect(isOpenFileExhaustion(Object.assign(new Error('too many open files'), { code: 'EMFILE' }))).toBe(true)
    expect(isOpenFileExhaustion(Object.assign(new Error(`Cannot find package '${BIN}' imported from /x.js`), { code: 'ERR_MODULE_NOT_FOUND' }))).toBe(true)
    expect(isOpenFileExhaustion(Object.assign(new Error("Cannot find package '/nowhere/index.js' imported from /x.js"), { code: 'ERR_MODULE_NOT_FOUND' }))).toBe(false)
    expect(isOpenFileExhaustion(Object.assign(new Error("Cannot find package 'left-pad' imported from /x.js"), { code: 'ERR_MODULE_NOT_FOUND' }))).toBe(false)
    expect(isOpenFileExhaustion(new Error('EMFILE'))).toBe(false)
    expect(isOpenFileExhaustion(undefined)).toBe(false)
  })
})

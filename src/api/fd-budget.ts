/**
 * The process's file-descriptor budget: the soft RLIMIT_NOFILE (`ulimit -n`) and the share of it
 * the gateway may spend on HTTP connections. Node 20 has no `process.getrlimit`, so Linux reads
 * /proc/self/limits, other Unix systems ask `sh -c 'ulimit -n'` (a child inherits this process's
 * limit), and anything else assumes macOS's default.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** assumed when the limit cannot be read: macOS's default soft limit, the lowest in common use */
export const FALLBACK_OPEN_FILE_LIMIT = 256
/** descriptors kept for everything but HTTP: libp2p connections, the store, model files, engine pipes */
export const RESERVED_FDS = 128
/** the gateway never holds more connections than this, however high the limit */
export const MAX_GATEWAY_CONNECTIONS = 4096
/** and always accepts at least this many (a limit this low fails elsewhere first) */
export const MIN_GATEWAY_CONNECTIONS = 16

/** the soft limit of open files in a /proc/<pid>/limits text, or undefined */
export function parseProcLimits (text: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith('Max open files'))
  const m = line == null ? null : /^Max open files\s+(\d+|unlimited)\s/.exec(line)
  if (m == null) return undefined
  return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1])
}

/** the soft limit from /proc/self/limits: Linux only, one small read; undefined elsewhere */
export function procOpenFileLimit (): number | undefined {
  if (process.platform !== 'linux') return undefined
  try {
    return parseProcLimits(readFileSync('/proc/self/limits', 'utf8'))
  } catch {
    return undefined
  }
}

/** the soft RLIMIT_NOFILE of this process (`ulimit -n`), or undefined when it cannot be read */
export function readOpenFileLimit (): number | undefined {
  const n = procOpenFileLimit()
  if (n != null || process.platform === 'win32') return n
  try {
    const out = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 }).trim()
    if (out === 'unlimited') return Number.MAX_SAFE_INTEGER
    if (/^\d+$/.test(out)) return Number(out)
  } catch {}
  return undefined
}

/** the soft RLIMIT_NOFILE of this process, or FALLBACK_OPEN_FILE_LIMIT when it cannot be read */
export function openFileLimit (): number {
  return readOpenFileLimit() ?? FALLBACK_OPEN_FILE_LIMIT
}

/**
 * How many HTTP connections the gateway may hold under a limit of `fdLimit` open files: half of
 * what is left after the reserve, within [MIN, MAX]. 256 → 64, 512 → 192, 1024 → 448.
 */
export function gatewayConnectionBudget (fdLimit: number): number {
  const share = Math.floor((fdLimit - RESERVED_FDS) / 2)
  return Math.max(MIN_GATEWAY_CONNECTIONS, Math.min(MAX_GATEWAY_CONNECTIONS, share))
}

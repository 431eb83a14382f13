/**
 * What the CLI says when the open-file limit is too low to load it. Node's ESM loader reads a
 * module graph's files in parallel, so with a low `ulimit -n` (macOS's default is 256) loading
 * fails with EMFILE or, worse, a misleading ERR_MODULE_NOT_FOUND for a file that exists. This
 * module loads almost nothing itself: bin/tally.js imports it before the CLI.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { ErrorCode, TallyError } from '../errors/index.js'
import { readOpenFileLimit } from '../api/fd-budget.js'

/** `tally start` loads about 200 files at once (measured); this leaves room for its sockets */
export const RECOMMENDED_OPEN_FILES = 4096

export class OpenFileLimitError extends TallyError {
  override name = 'OpenFileLimitError'
  override readonly code: ErrorCode = ErrorCode.openFileLimit
}

/** whether `err` is what running out of file descriptors looks like while importing modules */
export function isOpenFileExhaustion (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown } | null | undefined
  if (e?.code === 'EMFILE' || e?.code === 'ENFILE') return true
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || typeof e.message !== 'string') return false
  // "Cannot find package '/…/index.js' imported from …" for a file that is there: it could not be opened
  const m = /Cannot find (?:package|module) '([^']+)'/.exec(e.message)
  if (m == null) return false
  let path = m[1]
  try {
    if (path.startsWith('file:')) path = fileURLToPath(path)
  } catch {
    return false
  }
  // or, when the package's manifest could not be read, its legacy main ('<package>/index.js') that
  // is not there: the package is, with a package.json the loader failed to open
  return path.startsWith('/') && (existsSync(path) || existsSync(join(dirname(path), 'package.json')))
}

/**
 * The error to report instead of `cause`: what is wrong, the current limit, how to raise it.
 * Read the limit before loading (`knownLimit`) where possible: once descriptors have run out,
 * reading it may fail too.
 */
export function openFileLimitError (cause?: unknown, knownLimit?: number): OpenFileLimitError {
  const limit = knownLimit ?? readOpenFileLimit()
  const is = limit == null ? 'is' : `is ${limit},`
  return new OpenFileLimitError(`too many open files: the open-file limit (ulimit -n) ${is} too low to load tally. ` +
    `Raise it in this shell and run again, e.g. \`ulimit -n ${RECOMMENDED_OPEN_FILES}\` ` +
    '(at most the hard limit, `ulimit -Hn`; on macOS also `sudo launchctl limit maxfiles`)', { cause })
}

/** the one line the CLI prints for it */
export function openFileLimitLine (cause?: unknown, knownLimit?: number): string {
  const e = openFileLimitError(cause, knownLimit)
  return `tally: ${e.name} (${e.code}): ${e.message}`
}

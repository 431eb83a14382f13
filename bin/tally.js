#!/usr/bin/env node
// Entry point of the `tally` CLI: the polyfill first, then the compiled CLI. A low open-file
// limit breaks loading itself (EMFILE, or a misleading ERR_MODULE_NOT_FOUND), so the small
// module that explains it is loaded before the rest and turns that failure into one clear line.
import { isOpenFileExhaustion, openFileLimitLine } from '../dist/cli/fd-limit.js'
import { procOpenFileLimit } from '../dist/api/fd-budget.js'

// read now: once loading has run out of descriptors, reading the limit fails too (Linux: one small read)
const limit = procOpenFileLimit()
let main
try {
  await import('../dist/polyfill.js')
  ;({ main } = await import('../dist/cli/main.js'))
} catch (err) {
  if (!isOpenFileExhaustion(err)) throw err
  process.stderr.write(openFileLimitLine(err, limit) + '\n')
  process.exitCode = 1
}
if (main != null) await main(process.argv)

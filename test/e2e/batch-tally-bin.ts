/**
 * `tally` from the sources (bin/tally.js runs dist/): the polyfill first, then the CLI, for the batch tests' child processes.
 * With TALLY_BIN_WAIT_FOR set, the CLI's modules are loaded first and `main` runs only once that
 * file exists: a test starts the process that will replace a killed one ahead of the kill (the
 * module loading is most of a start), and the new `tally start` opens the data dir after it.
 */
await import('../../src/polyfill.js')
const { main } = await import('../../src/cli/main.js')
const waitFor = process.env.TALLY_BIN_WAIT_FOR
if (waitFor != null && waitFor !== '') {
  const { existsSync } = await import('node:fs')
  while (!existsSync(waitFor)) await new Promise(resolve => setTimeout(resolve, 20))
}
await main(process.argv)

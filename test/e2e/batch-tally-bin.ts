/** `tally` from the sources (bin/tally.js runs dist/): the polyfill first, then the CLI, for the batch tests' child processes. */
await import('../../src/polyfill.js')
const { main } = await import('../../src/cli/main.js')
await main(process.argv)

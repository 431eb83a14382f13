#!/usr/bin/env node
// Entry point of the `tally` CLI: the polyfill first, then the compiled CLI.
import '../dist/polyfill.js'
const { main } = await import('../dist/cli/main.js')
await main(process.argv)

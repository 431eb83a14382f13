/** `tally <args>` from source, for benches that run Tally in its own process (proxy.bench.ts). */
import '../../../src/polyfill.js'
import { main } from '../../../src/cli/main.js'

process.exitCode = await main(process.argv)

/**
 * A seller in its own process for openai-compat.test.ts: the embedded engine on the tiny model,
 * on TCP, at the price given. Prints `ready <multiaddr>`; stops when its stdin closes.
 *
 *   node --import tsx test/e2e/openai-compat-seller.ts <dataDir> <priceOut µc/1M>
 */
import '../../src/polyfill.js'
import { createTallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { createEmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'

const [dataDir, price] = process.argv.slice(2)
const priceOut = BigInt(price)
const backend = await createEmbeddedBackend({ modelPath: ensureTinyModel(), threads: 1, maxConcurrency: 2 })
const node = await createTallyNode(parseConfig({ dataDir, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'] }), {
  memoryLedger: true,
  sell: { backend, priceInPerMTokUc: priceOut / 2n, priceOutPerMTokUc: priceOut }
})
await node.start()
process.stdout.write(`ready ${node.addrs()[0]}\n`)
process.stdin.resume()
process.stdin.on('end', () => { void node.stop().finally(() => process.exit(0)) })

/**
 * Sell inference: a node that serves a GGUF file (default: the repo's tiny model) through the
 * embedded engine at your price, on TCP. Others join with the printed bootstrap address.
 *
 *   npx tsx examples/sell-a-model.ts [model.gguf] [price-out µc per 1M tokens]
 */
import 'tally/polyfill'
import { accountIdFromPublicKey, createTallyNode, createEmbeddedBackend, ensureTinyModel, parseConfig } from 'tally'

const modelPath = process.argv[2] ?? ensureTinyModel()
const priceOut = BigInt(process.argv[3] ?? '2000000')

const backend = await createEmbeddedBackend({ modelPath, threads: 1, maxConcurrency: 2 })
const node = await createTallyNode(parseConfig({ dataDir: process.env.TALLY_DATA_DIR ?? './.tally-seller', listen: ['/ip4/127.0.0.1/tcp/0'] }), {
  sell: { backend, priceInPerMTokUc: priceOut / 2n, priceOutPerMTokUc: priceOut }
})
// a meter record holds the buyer's public key in hex; its account id (12D3KooW…) is the name to show
node.on('meter', (m) => { console.log(`sold ${m.outputTokens} tokens to ${accountIdFromPublicKey(Buffer.from(m.buyer, 'hex'))} for ${m.amountUc} µc (${m.bpt} Bpt)`) })
await node.start()
console.log(`selling ${backend.model.id} (${backend.model.params} params, fingerprint ${backend.model.fingerprint.slice(0, 16)}…) at ${priceOut} µc per 1M output tokens`)
console.log(`bootstrap: ${node.addrs()[0]}`)
if (process.env.TALLY_EXAMPLE_ONCE === '1') await node.stop()
else process.once('SIGINT', () => { void node.stop().then(() => process.exit(0)) })

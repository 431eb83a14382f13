/**
 * Buy inference with the official OpenAI client: two sellers at different prices and one buyer
 * with the gateway, all in this process. The client talks to http://127.0.0.1:<port>/v1 exactly
 * as it would to OpenAI; Tally routes to the cheapest seller and pays it by voucher.
 *
 *   npx tsx examples/buy-with-openai.ts
 */
import 'tally/polyfill'
import OpenAI from 'openai'
import { createTallyNode, createEmbeddedBackend, ensureTinyModel, parseConfig, startGateway } from 'tally'

const modelPath = ensureTinyModel()
const dir = `./.tally-example-${process.pid}`
const sellerA = await createTallyNode(parseConfig({ dataDir: `${dir}/a`, transport: 'memory' }), {
  memoryLedger: true,
  sell: { backend: await createEmbeddedBackend({ modelPath }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 2_000_000n }
})
await sellerA.start()
const sellerB = await createTallyNode(parseConfig({ dataDir: `${dir}/b`, transport: 'memory', bootstrap: sellerA.addrs() }), {
  memoryLedger: true,
  sell: { backend: await createEmbeddedBackend({ modelPath }), priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: 3_000_000n }
})
await sellerB.start()
const buyer = await createTallyNode(parseConfig({ dataDir: `${dir}/buyer`, transport: 'memory', bootstrap: sellerA.addrs() }), { memoryLedger: true })
await buyer.start()
const gateway = await startGateway(buyer, { port: 0 })
while (buyer.offerList('tiny-char-v1').length < 2) await new Promise(resolve => setTimeout(resolve, 50))

const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused-on-loopback' })
const stream = await client.chat.completions.create({
  model: 'tiny-char-v1',
  messages: [{ role: 'user', content: 'Tell me about the White Rabbit.' }],
  max_tokens: 60,
  stream: true,
  stream_options: { include_usage: true },
  // optional routing constraints: max price per 1M output tokens, a cost tag
  tally: { max_price: 5_000_000, tag: 'example' }
} as any)
let answer = ''
for await (const chunk of stream as any) {
  answer += chunk.choices[0]?.delta?.content ?? ''
  if (chunk.tally != null) console.log('tally:', chunk.tally)
}
console.log('answer:', JSON.stringify(answer))
console.log('report:', (await buyer.report({ by: 'tag' })).rows)

await gateway.close()
for (const n of [buyer, sellerB, sellerA]) await n.stop()
const { rm } = await import('node:fs/promises')
await rm(dir, { recursive: true, force: true })

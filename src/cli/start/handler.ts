/**
 * `tally start`: loads the config, creates and starts a node (selling when given a backend,
 * serving the gateway when asked), prints its account and addresses, reports peers and sales,
 * and stops when the signal aborts.
 */
import { createTallyNode } from '../../node/tally.js'
import { loadConfig, resolveGenesis } from '../../node/config.js'
import { startGateway, type Gateway } from '../../api/gateway.js'
import type { CliIO } from '../io.js'
import type { StartOptions } from './options.js'
import { sellPlan } from './serve.js'
import { accountIdFromPublicKey } from '../../identity/account.js'
import { ensureTinyModel } from '../../exec/model/tiny.js'
import { developmentNotice } from '../../node/defaults.js'

/** meter records carry hex keys; everything the CLI prints names an account by its id (12D3KooW…) */
const accountOf = (keyHex: string): string => accountIdFromPublicKey(Buffer.from(keyHex, 'hex'))

export async function startHandler (opts: StartOptions, io: CliIO, signal: AbortSignal): Promise<void> {
  // a node is built on its genesis: one named only by --net is fetched from a bootstrap peer first
  const config = await resolveGenesis(await loadConfig({
    config: opts.config,
    dataDir: opts.dataDir,
    listen: opts.listen,
    bootstrap: opts.bootstrap,
    transport: opts.transport,
    gateway: opts.gateway,
    net: opts.net
  }, io.env), { signal })
  const sell = await sellPlan(opts, io.env)
  const tokenizers = (opts.tokenizer ?? []).map(t => t === 'tiny' ? ensureTinyModel() : t)
  const node = await createTallyNode(config, { sell, tokenizers })
  const json = opts.json === true
  const say = (obj: Record<string, unknown>, text: string): void => { io.out(json ? JSON.stringify(obj, (_k, v) => typeof v === 'bigint' ? v.toString() : v) : text) }
  node.base.on('gossip-peer', ({ peerId, topic }) => { say({ event: 'gossip-peer', peerId, topic }, `gossip peer ${peerId} joined ${topic}`) })
  node.base.on('gossip-peer-left', ({ peerId, topic }) => { say({ event: 'gossip-peer-left', peerId, topic }, `gossip peer ${peerId} left ${topic}`) })
  node.on('meter', (m) => {
    const buyer = accountOf(m.buyer)
    say({ event: 'sold', buyer, model: m.modelId, inputTokens: m.inputTokens, outputTokens: m.outputTokens, amountUc: m.amountUc, bpt: m.bpt }, `sold ${m.outputTokens} tokens of ${m.modelId} to ${buyer} for ${m.amountUc} µc (${m.bpt} Bpt)`)
  })
  await node.start()
  let gateway: Gateway | undefined
  try {
    if (config.gateway != null) gateway = await startGateway(node, { host: config.gateway.host, port: config.gateway.port, token: config.gateway.token, allowOrigins: config.gateway.allowOrigins })
  } catch (err) {
    await node.stop()
    throw err
  }
  const stopped = new Promise<void>(resolve => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
  const offer = sell != null ? { model: sell.backend.model.id, params: sell.backend.model.params, priceInPerMTokUc: sell.priceInPerMTokUc, priceOutPerMTokUc: sell.priceOutPerMTokUc } : undefined
  if (json) {
    say({ account: node.account, peerId: node.libp2p.peerId.toString(), addrs: node.addrs(), net: Buffer.from(node.net).toString('hex'), topics: node.base.topics, gateway: gateway?.url, selling: offer }, '')
  } else {
    io.out(`account ${node.account}`)
    io.out(`network ${node.base.genesis.name} (net ${Buffer.from(node.net).toString('hex').slice(0, 8)})`)
    const dev = developmentNotice(node.base.genesis)
    if (dev != null) io.out(dev)
    for (const a of node.addrs()) io.out(`listening on ${a}`)
    if (offer != null) io.out(`selling ${offer.model} (${offer.params} params) at ${offer.priceInPerMTokUc}/${offer.priceOutPerMTokUc} µc per 1M tokens in/out`)
    if (gateway != null) io.out(`gateway ${gateway.url}/v1 (OpenAI-compatible)`)
  }
  await stopped
  await gateway?.close()
  await node.stop()
  say({ event: 'stopped' }, 'stopped')
}

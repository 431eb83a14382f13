/**
 * `tally start`: loads the config, creates and starts a node (selling when given a backend),
 * serves its HTTP API (unless --no-api) and names it in `<dataDir>/api.json`, prints its
 * account and addresses, reports peers and sales, and stops when the signal aborts.
 */
import { createTallyNode, type TallyNode } from '../../node/tally.js'
import { loadConfig, parseGatewayAddress, resolveGenesis } from '../../node/config.js'
import type { Gateway } from '../../api/gateway.js'
import { UsageError, type CliIO } from '../io.js'
import { removeApiFile, serveApi, writeApiFile } from './api.js'
import { networkFlags, type StartOptions } from './options.js'
import { OPEN_NETWORK } from '../../node/network/config.js'
import { sellPlan } from './serve.js'
import { accountIdFromPublicKey } from '../../identity/account.js'
import { ensureTinyModel } from '../../exec/model/tiny.js'
import { developmentNotice } from '../../node/defaults.js'

/** meter records carry hex keys; everything the CLI prints names an account by its id (12D3KooW…) */
const accountOf = (keyHex: string): string => accountIdFromPublicKey(Buffer.from(keyHex, 'hex'))

/** the API address the flags name: --api or its older name --gateway; false for --no-api */
function apiFlag (opts: StartOptions): string | false | undefined {
  if (opts.api === false) {
    if (opts.gateway != null) throw new UsageError('--no-api and --gateway exclude each other')
    return false
  }
  const api = typeof opts.api === 'string' ? opts.api : undefined
  if (api != null && opts.gateway != null && api !== opts.gateway) throw new UsageError('--api and --gateway (its older name) name different addresses: give one')
  // checked here too, so that the error names the flag given
  if (api != null) parseGatewayAddress(api, '--api')
  return api ?? opts.gateway
}

/** what the node runs of the open network, as the start line reports it (docs/network.md) */
function networkSummary (node: TallyNode): Record<string, unknown> {
  const p = node.base.network
  const c = p.config
  return {
    dht: c.dht,
    connections: { min: c.minConnections, max: c.maxConnections },
    mdns: p.mdns,
    autonat: c.autonat,
    relayServer: p.relayServer ? { maxReservations: c.relayMaxReservations, dataLimitBytes: c.relayDataLimitBytes, durationLimitMs: c.relayDurationLimitMs } : false,
    relayClient: p.relayClient,
    dcutr: c.dcutr,
    upnp: c.upnp,
    dialPort: p.dialPort ?? false,
    publicHost: p.publicHost
  }
}

function networkLine (n: Record<string, unknown>): string {
  const relay = n.relayServer as false | { maxReservations: number, dataLimitBytes: number, durationLimitMs: number }
  const conns = n.connections as { min: number, max: number }
  return `network: dht ${String(n.dht)}, connections ${conns.min}-${conns.max}, mdns ${n.mdns === true ? 'on' : 'off'}, autonat ${n.autonat === true ? 'on' : 'off'}, ` +
    `relay server ${relay === false ? 'off' : `on (${relay.maxReservations} slots, ${relay.dataLimitBytes} bytes / ${relay.durationLimitMs} ms per circuit)`}, ` +
    `relay client ${n.relayClient === true ? 'on' : 'off'}, dcutr ${n.dcutr === true ? 'on' : 'off'}, upnp ${n.upnp === true ? 'on' : 'off'}, ` +
    `dial port ${n.dialPort === false ? 'off (a fresh port per dial)' : String(n.dialPort)}`
}

export async function startHandler (opts: StartOptions, io: CliIO, signal: AbortSignal): Promise<void> {
  const api = apiFlag(opts)
  // a node is built on its genesis: one named only by --net is fetched from a bootstrap peer first
  const config = await resolveGenesis(await loadConfig({
    config: opts.config,
    dataDir: opts.dataDir,
    listen: opts.listen,
    bootstrap: opts.bootstrap,
    transport: opts.transport,
    gateway: api === false ? undefined : api,
    net: opts.net,
    network: networkFlags(opts),
    // a node started from the command line joins the open network (the in-process API does not)
    networkDefaults: OPEN_NETWORK
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
  let apiNote: string | undefined
  try {
    if (api !== false) {
      const served = await serveApi(node, config.gateway)
      gateway = served.gateway
      apiNote = served.note
      writeApiFile(config.dataDir, gateway.url)
    }
  } catch (err) {
    await gateway?.close()
    await node.stop()
    throw err
  }
  const stopped = new Promise<void>(resolve => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
  const offer = sell != null ? { model: sell.backend.model.id, params: sell.backend.model.params, priceInPerMTokUc: sell.priceInPerMTokUc, priceOutPerMTokUc: sell.priceOutPerMTokUc } : undefined
  if (json) {
    say({ account: node.account, peerId: node.libp2p.peerId.toString(), addrs: node.addrs(), net: Buffer.from(node.net).toString('hex'), topics: node.base.topics, api: gateway?.url, gateway: gateway?.url, apiNote, selling: offer, network: networkSummary(node) }, '')
  } else {
    io.out(`account ${node.account}`)
    io.out(`network ${node.base.genesis.name} (net ${Buffer.from(node.net).toString('hex').slice(0, 8)})`)
    const dev = developmentNotice(node.base.genesis)
    if (dev != null) io.out(dev)
    for (const a of node.addrs()) io.out(`listening on ${a}`)
    io.out(networkLine(networkSummary(node)))
    if (offer != null) io.out(`selling ${offer.model} (${offer.params} params) at ${offer.priceInPerMTokUc}/${offer.priceOutPerMTokUc} µc per 1M tokens in/out`)
    if (apiNote != null) io.out(apiNote)
    if (gateway != null) {
      io.out(`dashboard ${gateway.url}/`)
      io.out(`gateway ${gateway.url}/v1 (OpenAI-compatible)`)
      io.out(`api ${gateway.url} (tally balance, offers, doctor … find it through ${config.dataDir}/api.json)`)
    }
  }
  // a relay slot reserved, an address confirmed by AutoNAT: one line each time the addresses change
  let lastAddrs = node.addrs().join(' ')
  const onAddrs = (): void => {
    const addrs = node.addrs()
    if (addrs.join(' ') === lastAddrs) return
    lastAddrs = addrs.join(' ')
    const r = node.reachability()
    say({ event: 'addresses', addrs, reachability: r.status, publicAddrs: r.publicAddrs, relayAddrs: r.relayAddrs }, `addresses now ${addrs.join(', ')} (reachability ${r.status}${r.relayAddrs.length > 0 ? `, ${r.relayAddrs.length} relay address(es)` : ''})`)
  }
  node.libp2p.addEventListener('self:peer:update', onAddrs)
  await stopped
  node.libp2p.removeEventListener('self:peer:update', onAddrs)
  if (gateway != null) removeApiFile(config.dataDir)
  await gateway?.close()
  await node.stop()
  say({ event: 'stopped' }, 'stopped')
}

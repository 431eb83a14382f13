/**
 * `tally start`: loads the config, creates and starts a node, prints its account and addresses,
 * reports gossip peers joining and leaving, and stops when the signal aborts.
 */
import { createBaseNode, type BaseNode } from '../../node/node.js'
import { loadConfig } from '../../node/config.js'
import type { CliIO } from '../io.js'
import type { StartOptions } from './options.js'

export async function startHandler (opts: StartOptions, io: CliIO, signal: AbortSignal): Promise<void> {
  const config = await loadConfig({
    config: opts.config,
    dataDir: opts.dataDir,
    listen: opts.listen,
    bootstrap: opts.bootstrap,
    transport: opts.transport
  }, io.env)
  const node: BaseNode = await createBaseNode(config)
  const json = opts.json === true
  node.on('gossip-peer', ({ peerId, topic }) => {
    io.out(json ? JSON.stringify({ event: 'gossip-peer', peerId, topic }) : `gossip peer ${peerId} joined ${topic}`)
  })
  node.on('gossip-peer-left', ({ peerId, topic }) => {
    io.out(json ? JSON.stringify({ event: 'gossip-peer-left', peerId, topic }) : `gossip peer ${peerId} left ${topic}`)
  })
  await node.start()
  const stopped = new Promise<void>(resolve => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
  if (json) {
    io.out(JSON.stringify({ account: node.account, peerId: node.libp2p.peerId.toString(), addrs: node.addrs(), net: Buffer.from(node.net).toString('hex'), topics: node.topics }))
  } else {
    io.out(`account ${node.account}`)
    io.out(`network ${node.genesis.name} (net ${Buffer.from(node.net).toString('hex').slice(0, 8)})`)
    for (const a of node.addrs()) io.out(`listening on ${a}`)
  }
  await stopped
  await node.stop()
  io.out(json ? JSON.stringify({ event: 'stopped' }) : 'stopped')
}

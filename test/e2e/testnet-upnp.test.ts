/**
 * UPnP on real hosts (issue 16.2, docs/network.md § UPnP): n1, a seller behind a cone-like NAT
 * whose router runs miniupnpd (UPnP IGD and NAT-PMP, the nftables build), starts with `--upnp`:
 * @libp2p/upnp-nat finds the router by SSDP, maps its listen port, AutoNAT v2 has n0 dial the
 * mapped address back (an inbound, unrelayed connection from n0's own address, through the
 * router's mapping: the router lets in nothing unmapped), and the node turns public. n2, a public
 * buyer that never met n1, buys from it. Without the mapping n1 stays private, reached only
 * through a relay. Needs root, ip, nft, miniupnpd (Debian package miniupnpd-nftables;
 * skipped with the reason printed otherwise) and dist/ (`npm run build`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait.js'
import { buyChat, startTestnet, stopTestnet, upnpSkipReason, type Testnet } from '../helpers/testnet.js'

const REASON = upnpSkipReason()
if (REASON != null) console.log(`testnet-upnp: skipped: ${REASON}`)
/** processes start, find the router, map a port and get it confirmed on a loaded 2-core machine */
const TIMEOUT_MS = 60_000

describe.skipIf(REASON != null)('testnet: a NATed seller maps a port by UPnP', () => {
  let t: Testnet | undefined
  beforeAll(async () => {
    t = await startTestnet({
      nodes: [
        { args: ['--relay', 'on'] },
        // no connection of its own beyond the bootstrap: the buyer's connection must come in
        { nat: 'cone', upnp: true, sell: true, args: ['--dht', 'off', '--min-connections', '0'] },
        { args: ['--min-connections', '0'] }
      ]
    })
  }, 240_000)
  afterAll(async () => { await stopTestnet(t) }, 60_000)

  it('gets a mapping, is dialled back through it and confirmed public, and sells to a stranger', async () => {
    const net = t!
    const seller = net.nodes[1]
    const mapped = `/ip4/${seller.wanIp}/tcp/4001`
    await waitFor(async () => ((await net.api(1, '/tally/network')).addrs.public as string[]).some(a => a.startsWith(mapped)), 'the router\'s mapping confirmed as a public address', TIMEOUT_MS)
    const view = await net.api(1, '/tally/network')
    expect(view.reachability.status).toBe('public')
    expect(view.services.upnp).toBe(true)
    // AutoNAT v2's confirmation is a public peer's dial through the mapping: an inbound,
    // unrelayed connection from n0's own address (the router lets in nothing unmapped)
    const inbound = (view.history as any[]).filter(e => e.event === 'open' && e.direction === 'inbound' && e.relayed === false)
    expect(inbound.some(e => String(e.remoteAddr).startsWith(`/ip4/${net.nodes[0].wanIp}/`)), JSON.stringify(view.history)).toBe(true)

    // a buyer that never met the seller buys from it; their connection ends up direct
    await waitFor(async () => ((await net.api(2, '/tally/offers')).offers as any[]).some(o => o.seller === seller.account), 'the seller\'s offer at the buyer', TIMEOUT_MS)
    await waitFor(async () => (await buyChat(net, 2).catch(() => undefined))?.choices?.[0]?.message?.content != null, 'a purchase from the UPnP-mapped seller', TIMEOUT_MS)
    await waitFor(async () => ((await net.api(1, '/tally/network')).history as any[]).some(e => e.peer === net.nodes[2].peerId && e.event === 'open' && e.relayed === false), 'a direct connection between buyer and seller', TIMEOUT_MS)
  }, 200_000)
})

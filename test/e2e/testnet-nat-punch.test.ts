/**
 * Hole punching between two NATs (issue 16.2, docs/network.md § Hole punching), on real hosts:
 * n0 the public bootstrap serving circuit relay v2; n1 a seller behind a cone-like NAT (nftables
 * masquerade); n2 a buyer behind another cone-like NAT; n3 a buyer behind a symmetric NAT
 * (masquerade random,fully-random). None of them can be dialled: the buyers reach the seller over
 * n0's relay. Every outbound dial of a NATed node leaves from its dial port (listen port + 1), so
 * its NAT shows peers one mapping; DCUtR sends that observed mapping and both sides dial each
 * other at once from the dial port (a TCP simultaneous open through both NATs).
 * - cone ↔ cone: the seller's history with n2 is relayed first, then direct from n2's NAT's
 *   address and dial port, and the purchase completes.
 * - symmetric: n3's NAT gave the relay's connection a random port, not the dial port, so the
 *   address DCUtR sends is a mapping the punch's new flow does not get: its purchases complete
 *   over the relay and no direct connection to n3 appears.
 * Each NATed node runs with no connection of its own beyond the bootstrap (--dht off,
 * --min-connections 0). Needs root, ip and nft (skipped with the reason printed otherwise) and
 * dist/ (`npm run build`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait.js'
import { buyChat, skipTestnet, startTestnet, stopTestnet, type Testnet } from '../helpers/testnet.js'

const SKIP = skipTestnet('testnet-nat-punch')
/** processes start, reserve a relay slot and hole punch on a loaded 2-core machine */
const TIMEOUT_MS = 60_000
/** each node listens on 4001 (the testnet's port); auto puts the dial port one above */
const DIAL_PORT = 4002
const QUIET = ['--relay-client', 'on', '--dht', 'off', '--min-connections', '0']

describe.skipIf(SKIP)('testnet: hole punching between two NATs', () => {
  let t: Testnet | undefined
  beforeAll(async () => {
    t = await startTestnet({
      nodes: [
        { args: ['--relay', 'on'] },
        { nat: 'cone', sell: true, args: QUIET },
        { nat: 'cone', args: QUIET },
        { nat: 'symmetric', args: QUIET }
      ]
    })
  }, 240_000)
  afterAll(async () => { await stopTestnet(t) }, 60_000)

  const opensWith = async (net: Testnet, peer: string): Promise<any[]> =>
    ((await net.api(1, '/tally/network')).history as any[]).filter(e => e.peer === peer && e.event === 'open')

  it('cone ↔ cone: relayed first, then a direct connection from the other NAT\'s dial port', async () => {
    const net = t!
    const seller = net.nodes[1]
    const buyer = net.nodes[2]
    await waitFor(async () => (await net.api(1, '/tally/network')).addrs.relay.length > 0, 'the seller\'s relay reservation', TIMEOUT_MS)
    // the relay saw the seller at its NAT's mapping of the dial port: the address DCUtR sends
    const view = await net.api(1, '/tally/network')
    expect(view.services.holePunch).toEqual({ dialPort: DIAL_PORT, observedAddrs: [`/ip4/${seller.wanIp}/tcp/${DIAL_PORT}`] })
    expect(view.addrs.public).toEqual([])

    await waitFor(async () => ((await net.api(2, '/tally/offers')).offers as any[]).some(o => o.seller === seller.account), 'the seller\'s offer at the NATed buyer', TIMEOUT_MS)
    await waitFor(async () => (await buyChat(net, 2).catch(() => undefined))?.choices?.[0]?.message?.content != null, 'a purchase between two cone NATs', TIMEOUT_MS)

    await waitFor(async () => (await opensWith(net, buyer.peerId!)).some(e => e.relayed === false), 'a direct connection between the two NATs', TIMEOUT_MS)
    const opens = await opensWith(net, buyer.peerId!)
    const firstRelayed = opens.findIndex(e => e.relayed === true)
    const firstDirect = opens.findIndex(e => e.relayed === false)
    expect(firstRelayed, JSON.stringify(opens)).toBe(0)
    expect(firstDirect, JSON.stringify(opens)).toBeGreaterThan(firstRelayed)
    expect(opens[firstRelayed].remoteAddr).toContain('/p2p-circuit')
    // straight from the buyer's NAT, from its dial port: no relay in between
    expect(opens[firstDirect].remoteAddr).toContain(`/ip4/${buyer.wanIp}/tcp/${DIAL_PORT}/`)
    expect((await net.api(1, '/tally/network')).upgrades.upgradedToDirect).toBeGreaterThanOrEqual(1)
  }, 200_000)

  it('symmetric: the relay saw a random port, the punch finds no mapping, the session stays relayed', async () => {
    const net = t!
    const seller = net.nodes[1]
    const buyer = net.nodes[3]
    await waitFor(async () => (await net.api(3, '/tally/network')).services.holePunch.observedAddrs.length > 0, 'the symmetric NAT\'s mapping as the relay saw it', TIMEOUT_MS)
    const observed: string[] = (await net.api(3, '/tally/network')).services.holePunch.observedAddrs
    expect(observed.every(a => a.startsWith(`/ip4/${buyer.wanIp}/tcp/`) && !a.endsWith(`/tcp/${DIAL_PORT}`)), JSON.stringify(observed)).toBe(true)

    await waitFor(async () => ((await net.api(3, '/tally/offers')).offers as any[]).some(o => o.seller === seller.account), 'the seller\'s offer at the symmetric buyer', TIMEOUT_MS)
    // two purchases, the second after DCUtR had the first one's relayed connection to try on
    for (let i = 0; i < 2; i++) {
      await waitFor(async () => (await buyChat(net, 3).catch(() => undefined))?.choices?.[0]?.message?.content != null, `purchase ${i + 1} from behind a symmetric NAT`, TIMEOUT_MS)
    }
    await waitFor(async () => ((await net.api(1, '/tally/receipts')) as any[]).filter(r => r.role === 'seller' && r.counterparty === buyer.account).length >= 2, 'both purchases in the seller\'s receipts', TIMEOUT_MS)
    const opens = await opensWith(net, buyer.peerId!)
    expect(opens.length).toBeGreaterThan(0)
    expect(opens.every(e => e.relayed === true), JSON.stringify(opens)).toBe(true)
  }, 200_000)
})

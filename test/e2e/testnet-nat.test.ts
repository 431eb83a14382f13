/**
 * A seller behind a NAT sells (issue 16.2, 16.5), on real hosts: 3 real `tally start` processes
 * in network namespaces: n0 the public bootstrap serving circuit relay v2, n1 a seller behind an
 * nftables masquerade router (cone-like) that reserves a slot on n0, n2 a public buyer given only
 * n0's address. The seller cannot be dialled directly: its offer carries its relay address; the
 * buyer's first connection to it goes through the relay, then DCUtR makes a direct one (the
 * NATed side dials out, which its NAT lets through), and the buyer's purchase completes. Both
 * connections are observed on the seller's operator API (/tally/network: the connection history,
 * the relay-to-direct upgrades), and `tally doctor`'s view says the seller is behind a NAT and
 * reachable through its relay address. n3, a buyer behind another NAT, buys from the same seller
 * over the relay first (its purchase is the point here; the hole punch that then makes their
 * connection direct is test/e2e/testnet-nat-punch.test.ts, docs/network.md § Hole punching).
 * Needs root, ip and nft (skipped with the reason printed otherwise) and dist/ (`npm run build`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait.js'
import { buyChat, skipTestnet, startTestnet, stopTestnet, type Testnet } from '../helpers/testnet.js'

const SKIP = skipTestnet('testnet-nat')
/** processes start, reserve a relay slot and hole punch on a loaded 2-core machine */
const NAT_TIMEOUT_MS = 60_000

describe.skipIf(SKIP)('testnet: a seller behind a NAT', () => {
  let t: Testnet | undefined
  beforeAll(async () => {
    t = await startTestnet({
      nodes: [
        { args: ['--relay', 'on'] },
        // the seller makes no outbound connection of its own beyond the bootstrap (no DHT, no
        // connection target): in a mesh it would otherwise find the public buyer and dial it
        // directly, and the buyer's first connection would not be the relayed one this test is about
        { nat: 'cone', sell: true, args: ['--relay-client', 'on', '--dht', 'off', '--min-connections', '0'] },
        {},
        { nat: 'cone', args: ['--relay-client', 'on'] }
      ]
    })
  }, 240_000)
  afterAll(async () => { await stopTestnet(t) }, 60_000)

  it('is reached over the relay first, then directly after DCUtR, and sells', async () => {
    const net = t!
    const seller = net.nodes[1]
    const buyerPeer = net.nodes[2].peerId!

    // the seller sees itself behind a NAT, reachable through a relay address on n0
    await waitFor(async () => (await net.api(1, '/tally/network')).addrs.relay.length > 0, 'the seller\'s relay reservation', NAT_TIMEOUT_MS)
    const before = await net.api(1, '/tally/network')
    expect(before.reachability.status).toBe('private')
    expect(before.addrs.public).toEqual([])
    expect(before.addrs.relay[0]).toContain(`/p2p/${net.nodes[0].peerId!}/p2p-circuit/p2p/${seller.peerId!}`)
    const reachable = (await net.api(1, '/tally/diagnosis')).find((c: any) => c.check === 'reachable')
    expect(reachable).toMatchObject({ ok: true, detail: expect.stringMatching(/relay address/) })

    // the buyer's book holds the seller's offer, with the relay address to dial
    await waitFor(async () => ((await net.api(2, '/tally/offers')).offers as any[]).some(o => o.seller === seller.account), 'the NATed seller\'s offer at the buyer', NAT_TIMEOUT_MS)

    // buy until a purchase completes (the first may meet only the relayed connection)
    let bought: any
    await waitFor(async () => {
      bought = await buyChat(net, 2).catch(() => undefined)
      return bought?.choices?.[0]?.message?.content != null
    }, 'a purchase from the NATed seller', NAT_TIMEOUT_MS)
    expect(bought.tally?.seller ?? seller.account).toBe(seller.account)

    // relay first, then direct: the seller's connection history with the buyer
    await waitFor(async () => (await net.api(1, '/tally/network')).upgrades.upgradedToDirect >= 1, 'a direct connection after the relayed one', NAT_TIMEOUT_MS)
    const after = await net.api(1, '/tally/network')
    const withBuyer = (after.history as any[]).filter(e => e.peer === buyerPeer && e.event === 'open')
    const firstRelayed = withBuyer.findIndex(e => e.relayed === true)
    const firstDirect = withBuyer.findIndex(e => e.relayed === false)
    expect(firstRelayed, JSON.stringify(withBuyer)).toBeGreaterThanOrEqual(0)
    expect(firstDirect, JSON.stringify(withBuyer)).toBeGreaterThan(firstRelayed)
    expect(withBuyer[firstRelayed].remoteAddr).toContain('/p2p-circuit')
    // the direct connection comes from the buyer's own address, not the relay's
    expect(withBuyer[firstDirect].remoteAddr).toContain(`/ip4/${net.nodes[2].wanIp}/`)
    expect(after.nat.type).toBe('cone-like')

    // the sale is on the seller's books
    await waitFor(async () => ((await net.api(1, '/tally/receipts')) as any[]).some(r => r.role === 'seller'), 'the sale in the seller\'s receipts', NAT_TIMEOUT_MS)
  }, 200_000)

  it('sells to a buyer behind another NAT over the relay', async () => {
    const net = t!
    const buyerAccount = net.nodes[3].account!
    await waitFor(async () => ((await net.api(3, '/tally/offers')).offers as any[]).some(o => o.seller === net.nodes[1].account), 'the NATed seller\'s offer at the NATed buyer', NAT_TIMEOUT_MS)
    await waitFor(async () => (await buyChat(net, 3).catch(() => undefined))?.choices?.[0]?.message?.content != null, 'a purchase between two NATs', NAT_TIMEOUT_MS)
    await waitFor(async () => ((await net.api(1, '/tally/receipts')) as any[]).some(r => r.role === 'seller' && r.counterparty === buyerAccount), 'the NATed buyer\'s purchase in the seller\'s receipts', NAT_TIMEOUT_MS)
    const opens = ((await net.api(1, '/tally/network')).history as any[]).filter(e => e.peer === net.nodes[3].peerId && e.event === 'open')
    expect(opens.length).toBeGreaterThan(0)
    expect(opens[0]).toMatchObject({ relayed: true, remoteAddr: expect.stringContaining('/p2p-circuit') })
  }, 120_000)
})

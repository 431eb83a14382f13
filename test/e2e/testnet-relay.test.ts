/**
 * Relay limits on real hosts (issue 16.5, its bad input): n0 is the public bootstrap serving
 * circuit relay v2 with one reservation slot (--relay-max-reservations 1); n1 and n2 are sellers
 * behind their own nftables masquerade NATs, both asking for a slot. The relay holds exactly one
 * reservation however often the other asks: one NATed seller announces a relay address, the other
 * none, and its `tally doctor` view says it cannot be dialled from outside and what to change.
 * (The byte and time limits of a relayed connection are tested on loopback TCP in
 * test/e2e/network-relay.test.ts.) Needs root, ip and nft (skipped with the reason printed otherwise)
 * and dist/ (`npm run build`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait.js'
import { skipTestnet, startTestnet, stopTestnet, type Testnet } from '../helpers/testnet.js'

const SKIP = skipTestnet('testnet-relay')
const TIMEOUT_MS = 60_000

describe.skipIf(SKIP)('testnet: a relay\'s reservation cap', () => {
  let t: Testnet | undefined
  beforeAll(async () => {
    t = await startTestnet({
      nodes: [
        { args: ['--relay', 'on', '--relay-max-reservations', '1'] },
        { nat: 'cone', sell: true, args: ['--relay-client', 'on'] },
        { nat: 'cone', sell: true, args: ['--relay-client', 'on'] }
      ]
    })
  }, 240_000)
  afterAll(async () => { await stopTestnet(t) }, 60_000)

  it('holds one reservation for two NATed sellers; the one refused is told it is unreachable', async () => {
    const net = t!
    const relayAddrs = async (i: number): Promise<string[]> => (await net.api(i, '/tally/network')).addrs.relay
    await waitFor(async () => (await relayAddrs(1)).length + (await relayAddrs(2)).length > 0, 'a relay reservation', TIMEOUT_MS)
    // both keep asking; the relay's slot count is what bounds them
    const relay = await net.api(0, '/tally/network')
    expect(relay.services?.relayServer).toMatchObject({ reservations: 1, maxReservations: 1 })
    const [a, b] = [await relayAddrs(1), await relayAddrs(2)]
    expect([a.length > 0, b.length > 0].filter(Boolean), JSON.stringify({ a, b })).toHaveLength(1)
    const refused = a.length > 0 ? 2 : 1
    const held = a.length > 0 ? 1 : 2
    expect((a.length > 0 ? a : b)[0]).toContain(`/p2p/${net.nodes[0].peerId!}/p2p-circuit/p2p/${net.nodes[held].peerId!}`)

    const view = await net.api(refused, '/tally/network')
    expect(view.reachability.status).toBe('private')
    expect(view.addrs.relay).toEqual([])
    const reachable = (await net.api(refused, '/tally/diagnosis')).find((c: any) => c.check === 'reachable')
    expect(reachable).toMatchObject({ ok: false, detail: expect.stringMatching(/no relay address/), fix: expect.stringMatching(/relay/) })
    // the one that holds the slot is reachable through it
    const ok = (await net.api(held, '/tally/diagnosis')).find((c: any) => c.check === 'reachable')
    expect(ok).toMatchObject({ ok: true, detail: expect.stringMatching(/relay address/) })
    expect((await net.api(0, '/tally/network')).services.relayServer.reservations).toBe(1)
  }, 120_000)
})

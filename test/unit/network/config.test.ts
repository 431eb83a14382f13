/** The `network` config and `tally start`'s network flags: defaults, and every bad value named by its field. */
import { describe, expect, it } from 'vitest'
import { loadConfig, parseConfig } from '../../../src/node/config.js'
import { CLOSED_NETWORK, OPEN_NETWORK, parseNetworkConfig } from '../../../src/node/network/config.js'
import { planNetwork, hasPublicAddress } from '../../../src/node/network/services.js'
import { networkFlags } from '../../../src/cli/start/options.js'

const dataDir = '/tmp/tally-unit-network'

describe('network config', () => {
  it('the in-process API is closed unless asked; tally start defaults to the open network', () => {
    expect(parseConfig({ dataDir }).network).toBeUndefined()
    expect(parseConfig({ dataDir }, { networkDefaults: OPEN_NETWORK }).network).toEqual(OPEN_NETWORK)
    expect(parseConfig({ dataDir, network: { dht: 'server' } }).network).toEqual({ ...CLOSED_NETWORK, dht: 'server' })
  })

  it('a file sets fields over the defaults, flags (strings) over the file', async () => {
    const c = await loadConfig({ dataDir, network: { relay: 'on', relayDataLimitBytes: '65536', minConnections: '3' }, networkDefaults: OPEN_NETWORK }, {})
    expect(c.network).toEqual({ ...OPEN_NETWORK, relay: 'on', relayDataLimitBytes: 65536, minConnections: 3 })
  })

  it('tally start\'s flags map onto the fields, and a bad flag value is refused naming its field', async () => {
    const c = await loadConfig({ dataDir, network: networkFlags({ relay: 'on', mdns: false, autonat: false, dcutr: true, relayDurationLimit: '5000', upnp: true }), networkDefaults: OPEN_NETWORK }, {})
    expect(c.network).toEqual({ ...OPEN_NETWORK, relay: 'on', mdns: 'off', autonat: false, relayDurationLimitMs: 5000, upnp: true })
    for (const [flags, field] of [[{ relayDataLimit: '10' }, 'network.relayDataLimitBytes'], [{ minConnections: 'many' }, 'network.minConnections'], [{ relayMaxReservations: '0' }, 'network.relayMaxReservations'], [{ minConnections: '40', maxConnections: '32' }, 'network.minConnections']] as const) {
      await expect(loadConfig({ dataDir, network: networkFlags(flags), networkDefaults: OPEN_NETWORK }, {}), JSON.stringify(flags)).rejects.toMatchObject({ name: 'ConfigError', field })
    }
  })

  it('refuses bad values, naming the field', () => {
    const bad: Array<[unknown, string]> = [
      [{ dht: 'maybe' }, 'network.dht'],
      [{ relay: 'sometimes' }, 'network.relay'],
      [{ mdns: 3 }, 'network.mdns'],
      [{ minConnections: -1 }, 'network.minConnections'],
      [{ minConnections: '8x' }, 'network.minConnections'],
      [{ maxConnections: 1.5 }, 'network.maxConnections'],
      [{ minConnections: 10, maxConnections: 5 }, 'network.minConnections'],
      [{ relayMaxReservations: 0 }, 'network.relayMaxReservations'],
      [{ relayDataLimitBytes: 10 }, 'network.relayDataLimitBytes'],
      [{ relayDurationLimitMs: 2 ** 60 }, 'network.relayDurationLimitMs'],
      [{ autonat: 'yes' }, 'network.autonat'],
      [{ relays: 'on' }, 'network.relays'],
      ['on', 'network']
    ]
    for (const [raw, field] of bad) {
      expect(() => parseConfig({ dataDir, network: raw }), JSON.stringify(raw)).toThrow(expect.objectContaining({ name: 'ConfigError', code: 'invalid-config', field }))
    }
    expect(() => parseNetworkConfig({ upnp: 'on' })).toThrow(expect.objectContaining({ field: 'network.upnp' }))
  })

  it('auto resolves from the host: a public host relays and does not reserve; a private one reserves', () => {
    const noIfaces = {}
    expect(hasPublicAddress(['/ip4/127.0.0.1/tcp/0'], noIfaces)).toBe(false)
    expect(hasPublicAddress(['/ip4/11.2.3.4/tcp/0'], noIfaces)).toBe(true)
    expect(hasPublicAddress(['/ip4/0.0.0.0/tcp/0'], { eth0: [{ address: '10.0.0.2', family: 'IPv4', internal: false } as any] })).toBe(false)
    expect(hasPublicAddress(['/ip4/0.0.0.0/tcp/0'], { eth0: [{ address: '11.0.0.2', family: 'IPv4', internal: false } as any] })).toBe(true)
    const priv = planNetwork(OPEN_NETWORK, ['/ip4/127.0.0.1/tcp/0'], 'tcp')
    expect(priv).toMatchObject({ publicHost: false, relayServer: false, relayClient: true, mdns: false })
    // mDNS is for a LAN: on for a private node listening beyond loopback, off on loopback only
    expect(planNetwork(OPEN_NETWORK, ['/ip4/192.168.1.5/tcp/0'], 'tcp').mdns).toBe(true)
    const pub = planNetwork(OPEN_NETWORK, ['/ip4/11.2.3.4/tcp/0'], 'tcp')
    expect(pub).toMatchObject({ publicHost: true, relayServer: true, relayClient: false, mdns: false })
    const relayOn = planNetwork({ ...OPEN_NETWORK, relay: 'on' }, ['/ip4/127.0.0.1/tcp/0'], 'tcp')
    expect(relayOn).toMatchObject({ relayServer: true, relayClient: false })
    expect(planNetwork(OPEN_NETWORK, [], 'memory').mdns).toBe(false)
  })
})

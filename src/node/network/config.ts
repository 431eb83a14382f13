/**
 * The open-network settings of a node (docs/network.md): which libp2p services it runs to find
 * peers (Kademlia DHT, mDNS, a connection target) and to be reached behind NAT (AutoNAT v2,
 * circuit relay v2 server and client, DCUtR, UPnP/NAT-PMP), with their limits, validated once.
 */
import { ConfigError } from '../config.js'

/** `auto`: on a public host libp2p's rule (server once a public address is confirmed); on a private one server until it holds a relay address */
export type DhtMode = 'off' | 'auto' | 'server' | 'client'
/** `auto`: decided when the node is built, from whether its host has a public address */
export type AutoSwitch = 'auto' | 'on' | 'off'

export interface NetworkConfig {
  /** Kademlia DHT (peer routing, finding peers by random walk) on the network's own protocol id */
  dht: DhtMode
  /** below this many connections the node dials more (peer store, DHT random walk); 0: never */
  minConnections: number
  /** libp2p's connection manager prunes above this many */
  maxConnections: number
  /** multicast DNS on the LAN; `auto`: on when the node has no public address and listens beyond loopback */
  mdns: AutoSwitch
  /** AutoNAT v2: asks peers to dial its addresses back, so it knows which are reachable */
  autonat: boolean
  /** circuit relay v2 server; `auto`: on when the node has a public address */
  relay: AutoSwitch
  /** relay client (listens on /p2p-circuit: reserves a slot, advertises it); `auto`: on when not public and not a relay */
  relayClient: AutoSwitch
  /** relay server: reservations held at once; the rest are refused */
  relayMaxReservations: number
  /** relay server: bytes one relayed connection may carry in each direction before it is cut */
  relayDataLimitBytes: number
  /** relay server: how long one relayed connection may stay open before it is cut */
  relayDurationLimitMs: number
  /** DCUtR: upgrade a relayed connection to a direct one by hole punching */
  dcutr: boolean
  /** UPnP IGD / NAT-PMP port mapping on the home router */
  upnp: boolean
  /**
   * the one local TCP port every outbound dial leaves from, so a NAT maps all of them to one
   * external port and DCUtR's hole punch meets an existing mapping (docs/network.md § Hole
   * punching); `auto`: on (listen port + 1) when the host has no public address
   */
  dialPort: 'auto' | 'off' | number
}

/**
 * A session of a few thousand tokens streams well under 1 MiB of frames and vouchers
 * (protocols/infer.md); 8 MiB each way carries several such sessions over one relayed connection.
 */
export const DEFAULT_RELAY_DATA_LIMIT_BYTES = 8 * 1024 * 1024
/** a long generation on a slow CPU seller takes minutes; DCUtR usually moves the connection within seconds */
export const DEFAULT_RELAY_DURATION_LIMIT_MS = 10 * 60_000
/** a relay is a public node doing a favour: a few dozen private neighbours, not the whole network */
export const DEFAULT_RELAY_MAX_RESERVATIONS = 32
/** enough for a gossipsub mesh (D = 6) plus the buyer/seller connections of the moment */
export const DEFAULT_MIN_CONNECTIONS = 8
/** a node, the bootstrap included, holds no more: no hub */
export const DEFAULT_MAX_CONNECTIONS = 32

/**
 * The in-process API's defaults (TallyNode, tests, the simulator, the demo): no discovery and no
 * NAT services, so nodes of one test never find those of another and a test's topology is the
 * one it dials. `tally start` uses OPEN_NETWORK instead.
 */
export const CLOSED_NETWORK: Readonly<NetworkConfig> = Object.freeze({
  dht: 'off',
  minConnections: 0,
  maxConnections: 0,
  mdns: 'off',
  autonat: false,
  relay: 'off',
  relayClient: 'off',
  relayMaxReservations: DEFAULT_RELAY_MAX_RESERVATIONS,
  relayDataLimitBytes: DEFAULT_RELAY_DATA_LIMIT_BYTES,
  relayDurationLimitMs: DEFAULT_RELAY_DURATION_LIMIT_MS,
  dcutr: false,
  upnp: false,
  dialPort: 'off'
})

/** `tally start`'s defaults: a node among strangers on the internet */
export const OPEN_NETWORK: Readonly<NetworkConfig> = Object.freeze({
  dht: 'auto',
  minConnections: DEFAULT_MIN_CONNECTIONS,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  mdns: 'auto',
  autonat: true,
  relay: 'auto',
  relayClient: 'auto',
  relayMaxReservations: DEFAULT_RELAY_MAX_RESERVATIONS,
  relayDataLimitBytes: DEFAULT_RELAY_DATA_LIMIT_BYTES,
  relayDurationLimitMs: DEFAULT_RELAY_DURATION_LIMIT_MS,
  dcutr: true,
  upnp: false,
  dialPort: 'auto'
})

const KEYS = Object.keys(OPEN_NETWORK) as Array<keyof NetworkConfig>
const MAX_CONNECTIONS_CAP = 10_000
const MAX_RESERVATIONS_CAP = 10_000
/** 1 TiB: larger is a typo */
const MAX_DATA_LIMIT = 2 ** 40
/** one day */
const MAX_DURATION_LIMIT_MS = 86_400_000

function oneOf<T extends string> (v: unknown, field: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new ConfigError(field, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`)
  return v as T
}

function autoSwitch (v: unknown, field: string): AutoSwitch {
  if (v === true) return 'on'
  if (v === false) return 'off'
  return oneOf(v, field, ['auto', 'on', 'off'] as const)
}

function flag (v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(field, 'expected true or false')
  return v
}

/** integers arrive from JSON as numbers and from flags and the environment as decimal strings */
function int (v: unknown, field: string, min: number, max: number): number {
  const n = typeof v === 'string' && /^[0-9]{1,16}$/.test(v) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(field, `expected an integer ${min}..${max}, got ${JSON.stringify(v)}`)
  return n
}

function dialPort (v: unknown): NetworkConfig['dialPort'] {
  if (v === 'auto' || v === 'off') return v
  const n = typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError('network.dialPort', `expected auto, off or a port 1..65535, got ${JSON.stringify(v)}`)
  return n
}

/**
 * Validates a raw `network` object (config file, environment, flags, merged) over `base`.
 * Unknown keys are refused; every problem names its field, e.g. `network.relayDataLimitBytes`.
 */
export function parseNetworkConfig (raw: unknown, base: Readonly<NetworkConfig> = CLOSED_NETWORK): NetworkConfig {
  if (raw == null) return { ...base }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('network', 'expected an object')
  const r = raw as Record<string, unknown>
  for (const k of Object.keys(r)) {
    if (!(KEYS as string[]).includes(k)) throw new ConfigError(`network.${k}`, `unknown field (known: ${KEYS.join(', ')})`)
  }
  const v = <K extends keyof NetworkConfig>(k: K): unknown => r[k] ?? base[k]
  const n: NetworkConfig = {
    dht: oneOf(v('dht'), 'network.dht', ['off', 'auto', 'server', 'client'] as const),
    minConnections: int(v('minConnections'), 'network.minConnections', 0, MAX_CONNECTIONS_CAP),
    maxConnections: int(v('maxConnections'), 'network.maxConnections', 0, MAX_CONNECTIONS_CAP),
    mdns: autoSwitch(v('mdns'), 'network.mdns'),
    autonat: flag(v('autonat'), 'network.autonat'),
    relay: autoSwitch(v('relay'), 'network.relay'),
    relayClient: autoSwitch(v('relayClient'), 'network.relayClient'),
    relayMaxReservations: int(v('relayMaxReservations'), 'network.relayMaxReservations', 1, MAX_RESERVATIONS_CAP),
    relayDataLimitBytes: int(v('relayDataLimitBytes'), 'network.relayDataLimitBytes', 1024, MAX_DATA_LIMIT),
    relayDurationLimitMs: int(v('relayDurationLimitMs'), 'network.relayDurationLimitMs', 1000, MAX_DURATION_LIMIT_MS),
    dcutr: flag(v('dcutr'), 'network.dcutr'),
    upnp: flag(v('upnp'), 'network.upnp'),
    dialPort: dialPort(v('dialPort'))
  }
  // 0 means "libp2p's default" for maxConnections; a target range must be a range
  if (n.maxConnections > 0 && n.minConnections > n.maxConnections) throw new ConfigError('network.minConnections', `must not exceed network.maxConnections (${n.maxConnections}), got ${n.minConnections}`)
  return n
}

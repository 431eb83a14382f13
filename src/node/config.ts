/**
 * Node configuration: one typed `TallyConfig`, built from a JSON file, then `TALLY_*`
 * environment variables, then CLI flags (later wins), and validated once at this boundary.
 * Every failure is a `ConfigError` naming the bad field, e.g. `listen[1]: not a multiaddr`.
 */
import { readFile } from 'node:fs/promises'
import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'
import { resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { genesisCreditProblem, MAX_GENESIS_ISSUERS, MAX_GENESIS_NAME_CHARS, NET_HEX_PATTERN, netId, type Genesis, type Issuer } from '../ledger/genesis.js'
import { fetchGenesisFrom } from '../ledger/genesis-exchange.js'
import { publicKeyFromAccountId } from '../identity/account.js'
import { DEFAULT_GATEWAY_HOST, DEFAULT_MEMORY_LISTEN, DEFAULT_TCP_LISTEN, DEV_GENESIS, defaultDataDir } from './defaults.js'
import { ErrorCode, TallyError } from '../errors/index.js'
import { parseNetworkConfig, CLOSED_NETWORK, type NetworkConfig } from './network/config.js'

export type TransportName = 'tcp' | 'memory'
export type EncryptionName = 'noise' | 'plaintext'

export interface GatewayConfig {
  host: string
  port: number
  /** bearer token; required when host is not loopback */
  token?: string
  /** browser origins (`scheme://host[:port]`) allowed to call the gateway besides its own */
  allowOrigins?: string[]
}

export interface TallyConfig {
  dataDir: string
  listen: string[]
  /** multiaddrs that end in /p2p/<peer id> */
  bootstrap: string[]
  transport: TransportName
  encryption: EncryptionName
  /** many nodes in one process: allows plaintext, turns the connection monitor off */
  simulation: boolean
  genesis: Genesis
  /**
   * the network to join, 64 lowercase hex. With a genesis, the two must agree; without one,
   * `genesis` is only the dev placeholder until resolveGenesis fetches the real one from a peer
   */
  net?: string
  gateway?: GatewayConfig
  /** opens a sealed identity file; from TALLY_PASSPHRASE only, never from a file or a flag */
  passphrase?: string
  /** discovery and NAT traversal (docs/network.md); absent: CLOSED_NETWORK, the in-process API's */
  network?: NetworkConfig
}

/** what a CLI passes in; undefined means "not given" */
export interface ConfigFlags {
  config?: string
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  transport?: string
  encryption?: string
  simulation?: boolean
  gateway?: string
  net?: string
  /** `network` fields given as flags (strings or booleans), over the file's */
  network?: Record<string, unknown>
  /** the defaults under the file's `network` (tally start: OPEN_NETWORK) */
  networkDefaults?: NetworkConfig
}

export class ConfigError extends TallyError {
  override name = 'ConfigError'
  override readonly code: ErrorCode = ErrorCode.invalidConfig
  readonly field: string
  constructor (field: string, problem: string) {
    super(`${field}: ${problem}`)
    this.field = field
  }
}

/** a config file is a few KiB */
const MAX_CONFIG_BYTES = 1024 * 1024
const MAX_ADDRS = 64
const UC_PATTERN = /^(0|[1-9][0-9]{0,29})$/
const FILE_KEYS = new Set(['dataDir', 'listen', 'bootstrap', 'transport', 'encryption', 'simulation', 'genesis', 'gateway', 'api', 'net', 'network'])

type Raw = Record<string, unknown>

function isObject (v: unknown): v is Raw {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

function str (v: unknown, field: string, maxLen = 4096): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLen) throw new ConfigError(field, `expected a non-empty string of at most ${maxLen} chars`)
  return v
}

function bool (v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(field, 'expected true or false')
  return v
}

function multiaddrList (v: unknown, field: string, needPeer: boolean): string[] {
  if (!Array.isArray(v)) throw new ConfigError(field, 'expected an array of multiaddr strings')
  if (v.length > MAX_ADDRS) throw new ConfigError(field, `at most ${MAX_ADDRS} addresses`)
  return v.map((a, i) => {
    const f = `${field}[${i}]`
    if (typeof a !== 'string') throw new ConfigError(f, 'not a multiaddr (expected a string)')
    let components
    try {
      components = multiaddr(a).getComponents()
    } catch {
      throw new ConfigError(f, `not a multiaddr: ${JSON.stringify(a.slice(0, 100))}`)
    }
    if (needPeer && !components.some(c => c.name === 'p2p')) throw new ConfigError(f, 'a bootstrap address must end in /p2p/<peer id>')
    return a
  })
}

function uc (v: unknown, field: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v)
  if (typeof v !== 'string' || !UC_PATTERN.test(v)) throw new ConfigError(field, 'expected micro-credits as a decimal string, e.g. "10000000"')
  return BigInt(v)
}

function genesis (v: unknown): Genesis {
  if (!isObject(v)) throw new ConfigError('genesis', 'expected an object')
  const issuersRaw = v.issuers ?? []
  if (!Array.isArray(issuersRaw) || issuersRaw.length > MAX_GENESIS_ISSUERS) throw new ConfigError('genesis.issuers', `expected an array of at most ${MAX_GENESIS_ISSUERS} issuers`)
  const issuers: Issuer[] = issuersRaw.map((it, i) => {
    const f = `genesis.issuers[${i}]`
    if (!isObject(it)) throw new ConfigError(f, 'expected {account, capUc}')
    let publicKey: Uint8Array
    try {
      publicKey = publicKeyFromAccountId(str(it.account, `${f}.account`, 128))
    } catch (err) {
      if (err instanceof ConfigError) throw err
      throw new ConfigError(`${f}.account`, 'not an account id (expected 12D3KooW…)')
    }
    return { publicKey, capUc: uc(it.capUc, `${f}.capUc`) }
  })
  const g: Genesis = {
    name: str(v.name, 'genesis.name', MAX_GENESIS_NAME_CHARS),
    issuers,
    defaultCreditLimitUc: uc(v.defaultCreditLimitUc, 'genesis.defaultCreditLimitUc'),
    maxSessionLockUc: uc(v.maxSessionLockUc, 'genesis.maxSessionLockUc'),
    development: v.development == null ? false : bool(v.development, 'genesis.development'),
    minTransferUc: v.minTransferUc == null ? 0n : uc(v.minTransferUc, 'genesis.minTransferUc')
  }
  if (g.maxSessionLockUc === 0n) throw new ConfigError('genesis.maxSessionLockUc', 'must be greater than 0')
  const credit = genesisCreditProblem(g)
  if (credit != null) throw new ConfigError('genesis.defaultCreditLimitUc', credit)
  return g
}

/** "host:port", "[::1]:port" or "port" (binds 127.0.0.1) */
export function parseGatewayAddress (v: string, field = 'gateway'): { host: string, port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?([0-9]{1,5})$/.exec(v)
  if (m == null) throw new ConfigError(field, `expected host:port or a port, got ${JSON.stringify(v.slice(0, 100))}`)
  const port = Number(m[2])
  if (port > 65535) throw new ConfigError(field, `port must be 0..65535, got ${port}`)
  const host = m[1] == null ? DEFAULT_GATEWAY_HOST : m[1].replace(/^\[|\]$/g, '')
  return { host, port }
}

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** whether `ip` is an IP address in 127.0.0.0/8 or ::1 (IPv4-mapped forms included); names are not */
export function isLoopbackAddress (ip: string): boolean {
  const family = isIP(ip)
  return family !== 0 && LOOPBACK.check(ip, family === 4 ? 'ipv4' : 'ipv6')
}

/** resolves a host name to all its addresses (dns.lookup's shape); tests pass their own */
export type HostResolver = (host: string) => Promise<Array<{ address: string }>>

const systemResolver: HostResolver = async (host) => await lookup(host, { all: true, verbatim: true })

/**
 * The bind rule: every address `host` resolves to (an IP literal is its own), and whether all of
 * them are loopback, the only case a gateway may serve without a bearer token. A name is decided
 * by its addresses, never by how it is spelled (`127.0.0.1.example.com` is not loopback).
 */
export async function resolveGatewayHost (host: string, resolver: HostResolver = systemResolver, field = 'gateway.host'): Promise<{ addresses: string[], loopback: boolean }> {
  let addresses: string[]
  if (isIP(host) !== 0) {
    addresses = [host]
  } else {
    try {
      addresses = (await resolver(host)).map(a => a.address)
    } catch (err: any) {
      throw new ConfigError(field, `cannot resolve ${JSON.stringify(host)} (${err?.code ?? err?.message ?? err}): give an IP address or a name this machine resolves`)
    }
    if (addresses.length === 0) throw new ConfigError(field, `${JSON.stringify(host)} resolves to no address`)
  }
  return { addresses, loopback: addresses.every(isLoopbackAddress) }
}

/** the bind rule for a parsed config: a gateway whose host is not all-loopback needs a token */
export async function checkGatewayBind (config: TallyConfig, resolver?: HostResolver): Promise<void> {
  if (config.gateway == null) return
  const { addresses, loopback } = await resolveGatewayHost(config.gateway.host, resolver)
  if (!loopback && config.gateway.token == null) {
    throw new ConfigError('gateway.token', `required when the gateway binds to ${config.gateway.host} (${addresses.join(', ')}: not only loopback)`)
  }
}

const MAX_ALLOWED_ORIGINS = 64

/** a list of exact browser origins, as a browser sends them in `Origin` */
function origins (v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.length > MAX_ALLOWED_ORIGINS) throw new ConfigError(field, `expected an array of at most ${MAX_ALLOWED_ORIGINS} origins`)
  return v.map((o, i) => {
    const f = `${field}[${i}]`
    let origin: string | undefined
    try {
      origin = new URL(str(o, f, 512)).origin
    } catch (err) {
      if (err instanceof ConfigError) throw err
    }
    if (origin !== o || !/^https?:\/\//.test(o)) throw new ConfigError(f, `expected an origin like "http://localhost:3000" (scheme, host, optional port; no path, no trailing slash), got ${JSON.stringify(String(o).slice(0, 100))}`)
    return o
  })
}

function gateway (v: unknown): GatewayConfig {
  let g: GatewayConfig
  if (typeof v === 'string' || typeof v === 'number') {
    g = parseGatewayAddress(String(v))
  } else if (isObject(v)) {
    const host = v.host == null ? DEFAULT_GATEWAY_HOST : str(v.host, 'gateway.host', 255)
    const port = v.port
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('gateway.port', 'expected an integer 0..65535')
    g = { host, port }
    if (v.token != null) g.token = str(v.token, 'gateway.token', 512)
    if (v.allowOrigins != null) g.allowOrigins = origins(v.allowOrigins, 'gateway.allowOrigins')
  } else {
    throw new ConfigError('gateway', 'expected "host:port" or {host, port, token, allowOrigins}')
  }
  return g
}

/**
 * Validates a merged raw object into a TallyConfig. Fields left out take their defaults;
 * unknown fields are refused so a typo never silently does nothing.
 */
export function parseConfig (raw: unknown, opts: { networkDefaults?: NetworkConfig } = {}): TallyConfig {
  if (!isObject(raw)) throw new ConfigError('(config)', 'expected a JSON object')
  for (const k of Object.keys(raw)) {
    if (k === 'passphrase') throw new ConfigError('passphrase', 'set it with the TALLY_PASSPHRASE environment variable, never in a file or flag')
    if (!FILE_KEYS.has(k)) throw new ConfigError(k, `unknown field (known: ${[...FILE_KEYS].join(', ')})`)
  }
  const transport = raw.transport ?? 'tcp'
  if (transport !== 'tcp' && transport !== 'memory') throw new ConfigError('transport', `expected "tcp" or "memory", got ${JSON.stringify(transport)}`)
  const simulation = raw.simulation ?? false
  if (typeof simulation !== 'boolean') throw new ConfigError('simulation', 'expected true or false')
  const encryption = raw.encryption ?? 'noise'
  if (encryption !== 'noise' && encryption !== 'plaintext') throw new ConfigError('encryption', `expected "noise" or "plaintext", got ${JSON.stringify(encryption)}`)
  if (encryption === 'plaintext' && !simulation) throw new ConfigError('encryption', '"plaintext" is only allowed with simulation: true')
  const listen = multiaddrList(raw.listen ?? (transport === 'tcp' ? DEFAULT_TCP_LISTEN : DEFAULT_MEMORY_LISTEN), 'listen', false)
  listen.forEach((a, i) => {
    const names = multiaddr(a).getComponents().map(c => c.name)
    if (transport === 'tcp' && !names.includes('tcp')) throw new ConfigError(`listen[${i}]`, 'the tcp transport listens on /ip4|ip6/…/tcp/<port> addresses')
    if (transport === 'memory' && names[0] !== 'memory') throw new ConfigError(`listen[${i}]`, 'the memory transport listens on /memory/<name> addresses')
  })
  const config: TallyConfig = {
    dataDir: resolve(str(raw.dataDir ?? defaultDataDir(), 'dataDir')),
    listen,
    bootstrap: multiaddrList(raw.bootstrap ?? [], 'bootstrap', true),
    transport,
    encryption,
    simulation,
    genesis: raw.genesis == null ? { ...DEV_GENESIS, issuers: [] } : genesis(raw.genesis)
  }
  if (raw.network != null || opts.networkDefaults != null) config.network = parseNetworkConfig(raw.network, opts.networkDefaults ?? CLOSED_NETWORK)
  if (raw.net != null) {
    if (typeof raw.net !== 'string' || !NET_HEX_PATTERN.test(raw.net)) throw new ConfigError('net', `expected a network id of 64 lowercase hex characters, got ${JSON.stringify(String(raw.net).slice(0, 100))}`)
    config.net = raw.net
    const own = hex(netId(config.genesis))
    if (raw.genesis != null && own !== raw.net) throw new ConfigError('net', `the configured genesis "${config.genesis.name}" is net ${own}, not ${raw.net}`)
  }
  // `api` is the node's HTTP API; `gateway` its older name
  if (raw.api != null && raw.gateway != null) throw new ConfigError('api', 'give api or its older name gateway, not both')
  if (raw.api != null || raw.gateway != null) config.gateway = gateway(raw.api ?? raw.gateway)
  // IP literals are decided here; names only by their addresses, in loadConfig (checkGatewayBind)
  if (config.gateway != null && isIP(config.gateway.host) !== 0 && !isLoopbackAddress(config.gateway.host) && config.gateway.token == null) {
    throw new ConfigError('gateway.token', `required when the gateway binds to ${config.gateway.host} (not loopback)`)
  }
  return config
}

function list (v: string): string[] {
  return v.split(',').map(s => s.trim()).filter(s => s.length > 0)
}

/** reads TALLY_* variables into the raw shape; TALLY_PASSPHRASE is returned separately */
export function configFromEnv (env: Record<string, string | undefined>): { raw: Raw, passphrase?: string, configFile?: string, gatewayToken?: string } {
  const raw: Raw = {}
  if (env.TALLY_DATA_DIR != null && env.TALLY_DATA_DIR !== '') raw.dataDir = env.TALLY_DATA_DIR
  if (env.TALLY_LISTEN != null && env.TALLY_LISTEN !== '') raw.listen = list(env.TALLY_LISTEN)
  if (env.TALLY_BOOTSTRAP != null && env.TALLY_BOOTSTRAP !== '') raw.bootstrap = list(env.TALLY_BOOTSTRAP)
  if (env.TALLY_TRANSPORT != null && env.TALLY_TRANSPORT !== '') raw.transport = env.TALLY_TRANSPORT
  if (env.TALLY_ENCRYPTION != null && env.TALLY_ENCRYPTION !== '') raw.encryption = env.TALLY_ENCRYPTION
  if (env.TALLY_SIMULATION != null && env.TALLY_SIMULATION !== '') {
    if (!['1', '0', 'true', 'false'].includes(env.TALLY_SIMULATION)) throw new ConfigError('TALLY_SIMULATION', 'expected true, false, 1 or 0')
    raw.simulation = env.TALLY_SIMULATION === '1' || env.TALLY_SIMULATION === 'true'
  }
  if (env.TALLY_GATEWAY != null && env.TALLY_GATEWAY !== '') raw.gateway = env.TALLY_GATEWAY
  if (env.TALLY_API_LISTEN != null && env.TALLY_API_LISTEN !== '') {
    if (raw.gateway != null && raw.gateway !== env.TALLY_API_LISTEN) throw new ConfigError('TALLY_API_LISTEN', 'differs from TALLY_GATEWAY, its older name: set one')
    raw.gateway = env.TALLY_API_LISTEN
  }
  if (env.TALLY_NET != null && env.TALLY_NET !== '') raw.net = env.TALLY_NET
  return {
    raw,
    passphrase: env.TALLY_PASSPHRASE === '' ? undefined : env.TALLY_PASSPHRASE,
    configFile: env.TALLY_CONFIG === '' ? undefined : env.TALLY_CONFIG,
    gatewayToken: env.TALLY_GATEWAY_TOKEN === '' ? undefined : env.TALLY_GATEWAY_TOKEN
  }
}

/** reads a JSON config file; errors name the file */
export async function readConfigFile (path: string): Promise<Raw> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    throw new ConfigError('config', `cannot read ${path}: ${err?.code ?? err}`)
  }
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError('config', `${path} is larger than ${MAX_CONFIG_BYTES} bytes`)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err: any) {
    throw new ConfigError('config', `${path} is not valid JSON: ${err?.message ?? err}`)
  }
  if (!isObject(json)) throw new ConfigError('config', `${path} must hold a JSON object`)
  return json
}

/** file < env < flags; then validated. The passphrase comes from the environment only. */
export async function loadConfig (flags: ConfigFlags = {}, env: Record<string, string | undefined> = process.env): Promise<TallyConfig> {
  const fromEnv = configFromEnv(env)
  const file = flags.config ?? fromEnv.configFile
  const raw: Raw = file == null ? {} : await readConfigFile(file)
  if (raw.api != null) {
    // one key from here on, so a later layer's address replaces the file's
    if (raw.gateway != null) throw new ConfigError('api', 'give api or its older name gateway, not both')
    raw.gateway = raw.api
    delete raw.api
  }
  Object.assign(raw, fromEnv.raw)
  const fromFlags: Raw = {
    dataDir: flags.dataDir,
    listen: flags.listen,
    bootstrap: flags.bootstrap,
    transport: flags.transport,
    encryption: flags.encryption,
    simulation: flags.simulation,
    gateway: flags.gateway,
    net: flags.net
  }
  for (const [k, v] of Object.entries(fromFlags)) if (v !== undefined) raw[k] = v
  if (flags.network != null) {
    const given = Object.fromEntries(Object.entries(flags.network).filter(([, v]) => v !== undefined))
    if (Object.keys(given).length > 0) {
      if (raw.network != null && (typeof raw.network !== 'object' || Array.isArray(raw.network))) throw new ConfigError('network', 'expected an object')
      raw.network = { ...(raw.network as Raw | undefined), ...given }
    }
  }
  if (fromEnv.gatewayToken != null) {
    if (raw.gateway == null) throw new ConfigError('TALLY_GATEWAY_TOKEN', 'set, but no gateway is configured')
    raw.gateway = { ...gateway(raw.gateway), token: fromEnv.gatewayToken }
  }
  const config = parseConfig(raw, { networkDefaults: flags.networkDefaults })
  await checkGatewayBind(config)
  if (fromEnv.passphrase != null) config.passphrase = fromEnv.passphrase
  return config
}

function hex (b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

/** whether `config.genesis` is the network's (false: `net` names a genesis the config does not hold) */
export function hasGenesis (config: TallyConfig): boolean {
  return config.net == null || hex(netId(config.genesis)) === config.net
}

/**
 * The config with the genesis of `config.net`, fetched over /tally/genesis from the bootstrap
 * peers when the config does not hold it (protocols/genesis.md); the config as given otherwise.
 */
export async function resolveGenesis (config: TallyConfig, options: { signal?: AbortSignal } = {}): Promise<TallyConfig> {
  if (config.net == null || hasGenesis(config)) return config
  if (config.bootstrap.length === 0) throw new ConfigError('net', `no genesis for net ${config.net}: give the genesis in the config, or a bootstrap peer to fetch it from`)
  const genesis = await fetchGenesisFrom(config.bootstrap, config.net, {
    transport: config.transport,
    encryption: config.encryption === 'plaintext' && config.simulation ? 'plaintext' : 'noise',
    signal: options.signal
  })
  return { ...config, genesis }
}

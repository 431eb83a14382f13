/** Flags of `tally start`. */
import { Option, type Command } from 'commander'
import { collect } from '../io.js'
import type { ServeFlags } from './serve.js'

export interface StartOptions extends ServeFlags {
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  config?: string
  transport?: string
  gateway?: string
  /** an address, or false for --no-api (commander's true: not given) */
  api?: string | boolean
  net?: string
  tokenizer?: string[]
  json?: boolean
  // open network (docs/network.md)
  dht?: string
  minConnections?: string
  maxConnections?: string
  mdns?: boolean
  autonat?: boolean
  relay?: string
  relayClient?: string
  relayMaxReservations?: string
  relayDataLimit?: string
  relayDurationLimit?: string
  dcutr?: boolean
  upnp?: boolean
  dialPort?: string
}

export function startOptions (cmd: Command): Command {
  return cmd
    .description('run a node: join the network, relay gossip, keep the ledger, serve its HTTP API (dashboard, OpenAI-compatible /v1, /tally/*); sell with --serve')
    .option('--data-dir <dir>', 'where the identity and ledger live (default ~/.tally, env TALLY_DATA_DIR)')
    .option('--listen <multiaddr>', 'address to listen on; repeat or comma-separate (default /ip4/0.0.0.0/tcp/0)', collect)
    .option('--bootstrap <multiaddr>', 'peer to join through, ending in /p2p/<peer id>; repeat or comma-separate', collect)
    .option('--config <file>', 'JSON config file (env TALLY_CONFIG)')
    .option('--net <id>', 'network id (64 hex) to join; without a genesis in the config it is fetched from a --bootstrap peer and checked against this id (env TALLY_NET)')
    .addOption(new Option('--transport <name>', 'tcp or memory').choices(['tcp', 'memory']))
    .option('--api <host:port>', 'serve the node\'s HTTP API here (default 127.0.0.1:8080, or a free port when that is taken; port 0 takes a free port; the start line names it) (env TALLY_API_LISTEN)')
    .option('--no-api', 'serve no HTTP API')
    .option('--gateway <host:port>', 'the older name of --api (env TALLY_GATEWAY)')
    .option('--serve <model>', 'sell inference of a GGUF file through the embedded engine; "tiny" = the generated test model')
    .option('--serve-http <url>', 'sell inference of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1')
    .option('--model-id <id>', 'market model id (with --serve-http: the name the server knows)')
    .option('--params <n>', 'parameter count of the --serve-http model (Bpt = tokens × params / 1e9)')
    .option('--api-key-env <VAR>', 'environment variable holding the --serve-http server\'s API key')
    .option('--capabilities <list>', 'what the --serve-http server serves, listed in its offers: chat, tools, json_schema, embeddings, logprobs, completions; repeat or comma-separate (default chat: a server\'s support cannot be known from outside)', collect)
    .option('--price-in <uc>', 'µc per 1M input tokens (default: par, 1 µc per Bpt)')
    .option('--price-out <uc>', 'µc per 1M output tokens (default: par)')
    .option('--max-sessions <n>', 'concurrent sessions offered')
    .option('--max-unpaid <uc>', 'most µc served ahead of one buyer\'s vouchers, across its sessions (default 50000; young accounts 10000)')
    .option('--max-unpaid-total <uc>', 'most µc served ahead of vouchers across all sessions (default 1000000)')
    .option('--refuse-credit', 'serve no buyer whose lock rests on a credit line or a grant rather than its own funds')
    .option('--trust-grantor <account>', 'serve a buyer whose lock rests on granted lines only when they come from this account; repeat or comma-separate, at most 16 (env TALLY_TRUST_GRANTORS; default: any grantor)', collect)
    .option('--batch-discount <pct>', 'reverse auction: % off posted prices when answering a bid whose deadline is 10 min or more ahead (default 30)')
    .option('--idle-discount <pct>', 'reverse auction: % off posted prices when every slot is free, scaled by the share of free slots (default 20)')
    .option('--no-auction', 'answer no bid (reverse auctions, protocols/auction.md; default: answer matching bids)')
    .option('--threads <n>', 'CPU threads of the embedded engine (default 1)')
    .option('--gpu', 'let the embedded engine use a GPU when present')
    .option('--tokenizer <gguf>', 'a GGUF file whose tokenizer counts your prompts exactly when an offer\'s verified fingerprint matches it ("tiny" = the generated test model); repeat for several', collect)
    .option('--json', 'print one JSON line at start and one per event')
    // open network: discovery and NAT traversal (docs/network.md)
    .addOption(new Option('--dht <mode>', 'Kademlia DHT on this network\'s protocol id: auto (public host: server once a public address is confirmed; private host: server until it holds a relay address), server, client, off (default auto)').choices(['auto', 'server', 'client', 'off']))
    .option('--min-connections <n>', 'dial more peers (peer store, DHT random walk) below this many; 0: never (default 8)')
    .option('--max-connections <n>', 'prune connections above this many (default 32)')
    .option('--mdns', 'find peers on the LAN by multicast DNS (default: on when the host has no public address and listens beyond loopback)')
    .option('--no-mdns', 'no multicast DNS')
    .option('--no-autonat', 'do not ask peers to dial this node back (AutoNAT v2; default on)')
    .addOption(new Option('--relay <mode>', 'serve circuit relay v2 to private peers: auto (when the host has a public address), on, off (default auto)').choices(['auto', 'on', 'off']))
    .addOption(new Option('--relay-client <mode>', 'reserve a slot on a relay and advertise it: auto (when the host has no public address and is no relay), on, off (default auto)').choices(['auto', 'on', 'off']))
    .option('--relay-max-reservations <n>', 'relay: slots held at once, the rest refused (default 32)')
    .option('--relay-data-limit <bytes>', 'relay: bytes one relayed connection carries each way before it is cut (default 8388608)')
    .option('--relay-duration-limit <ms>', 'relay: how long one relayed connection stays open (default 600000)')
    .option('--no-dcutr', 'do not upgrade relayed connections by hole punching (DCUtR; default on)')
    .option('--upnp', 'map a port on the router by UPnP / NAT-PMP (default off)')
    .option('--dial-port <port>', 'leave from this one local TCP port on every outbound dial, so a NAT maps them all to one port and hole punching between two NATs works: a port, auto (listen port + 1 when the host has no public address) or off (default auto)')
}

/** the `network` config fields the flags give (undefined: not given, the file or default holds) */
export function networkFlags (o: StartOptions): Record<string, unknown> {
  return {
    dht: o.dht,
    minConnections: o.minConnections,
    maxConnections: o.maxConnections,
    mdns: o.mdns == null ? undefined : o.mdns ? 'on' : 'off',
    // commander's --no-x sets x true by default: only false was given
    autonat: o.autonat === false ? false : undefined,
    relay: o.relay,
    relayClient: o.relayClient,
    relayMaxReservations: o.relayMaxReservations,
    relayDataLimitBytes: o.relayDataLimit,
    relayDurationLimitMs: o.relayDurationLimit,
    dcutr: o.dcutr === false ? false : undefined,
    upnp: o.upnp,
    dialPort: o.dialPort
  }
}

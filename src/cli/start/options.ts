/** Flags of `tally start`. */
import { Option, type Command } from 'commander'
import { collect } from '../io.js'

export interface StartOptions {
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  config?: string
  transport?: string
  json?: boolean
}

export function startOptions (cmd: Command): Command {
  return cmd
    .description('run a node: join the network, relay gossip, keep the ledger')
    .option('--data-dir <dir>', 'where the identity and ledger live (default ~/.tally, env TALLY_DATA_DIR)')
    .option('--listen <multiaddr>', 'address to listen on; repeat or comma-separate (default /ip4/0.0.0.0/tcp/0)', collect)
    .option('--bootstrap <multiaddr>', 'peer to join through, ending in /p2p/<peer id>; repeat or comma-separate', collect)
    .option('--config <file>', 'JSON config file (env TALLY_CONFIG)')
    .addOption(new Option('--transport <name>', 'tcp or memory').choices(['tcp', 'memory']))
    .option('--json', 'print one JSON line at start and one per event')
}

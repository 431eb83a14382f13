/** Flags of `tally keys new|show`. */
import type { Command } from 'commander'

export interface KeysOptions {
  dataDir?: string
  json?: boolean
}

export function keysOptions (cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'where identity.json lives (default ~/.tally, env TALLY_DATA_DIR)')
    .option('--json', 'print JSON')
}

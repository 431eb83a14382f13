/** `tally sim` for the program: registerSimCommand wires the flags to the handler. */
import type { Command } from 'commander'
import type { CliIO } from '../io.js'
import { simOptions, type SimFlags } from './options.js'

export function registerSimCommand (program: Command, io: CliIO, signal: AbortSignal): Command {
  return simOptions(program.command('sim'))
    // the simulator (and its chart renderer) loads only when `tally sim` runs
    .action(async (flags: SimFlags) => { await (await import('./handler.js')).simHandler(flags, io, signal) })
}

export { parseSimFlags, parseDuration, type SimOptions, type SimFlags } from './options.js'

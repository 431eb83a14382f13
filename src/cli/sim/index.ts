/** `tally sim` for the program: registerSimCommand wires the flags to the handler. */
import type { Command } from 'commander'
import type { CliIO } from '../io.js'
import { simOptions, type SimFlags } from './options.js'
import { simHandler } from './handler.js'

export function registerSimCommand (program: Command, io: CliIO, signal: AbortSignal): Command {
  return simOptions(program.command('sim'))
    .action(async (flags: SimFlags) => { await simHandler(flags, io, signal) })
}

export { simHandler, simSummary } from './handler.js'
export { parseSimFlags, parseDuration, type SimOptions, type SimFlags } from './options.js'

/**
 * CLI entry: builds the commander program, dispatches to one command handler, and maps
 * failures to exit codes (2: wrong flags, bad values or config; 1: anything else). Handlers are
 * imported when their command runs, so `--version` and `--help` load only commander and the
 * option definitions (a node imports hundreds of files: see bin/tally.js on `ulimit -n`).
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { processIO, UsageError, type CliIO } from './io.js'
import { startOptions, type StartOptions } from './start/options.js'
import { keysOptions, type KeysOptions } from './keys/options.js'
import { ErrorCode } from '../errors/index.js'
import { isOpenFileExhaustion, openFileLimitLine } from './fd-limit.js'
import { procOpenFileLimit } from '../api/fd-budget.js'
import { registerBalance } from './balance/index.js'
import { registerPay } from './pay/index.js'
import { registerGrant } from './grant/index.js'
import { registerHistory } from './history/index.js'
import { registerOffers } from './offers/index.js'
import { registerReport } from './report/index.js'
import { registerDoctor } from './doctor/index.js'
import { registerDemo } from './demo/index.js'
import { registerSimCommand } from './sim/index.js'
import { registerBatch } from './batch/index.js'
import { registerTestnet } from './testnet/index.js'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** src/cli and dist/cli both sit two levels below the package root */
function packageVersion (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  return String(pkg.version)
}

export interface MainOptions {
  io?: CliIO
  /** aborts long-running commands (start); the bin wires SIGINT/SIGTERM to it */
  signal?: AbortSignal
}

export function buildProgram (io: CliIO, signal: AbortSignal): Command {
  const program = new Command('tally')
    .description('Tally: a peer-to-peer market where inference compute is the money')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => { io.out(s.replace(/\n$/, '')) },
      writeErr: (s) => { io.err(s.replace(/\n$/, '')) },
      outputError: (s, write) => { write(s.split('\n').filter(l => l.trim() !== '').join(' ')) }
    })

  startOptions(program.command('start'))
    .action(async (opts: StartOptions) => { await (await import('./start/handler.js')).startHandler(opts, io, signal) })

  const keys = program.command('keys').description('the node identity: one ed25519 key = PeerId = ledger account')
  keysOptions(keys.command('new').description('create identity.json in the data dir (sealed when TALLY_PASSPHRASE is set)'))
    .action(async (opts: KeysOptions) => { await (await import('./keys/handler.js')).keysNewHandler(opts, io) })
  keysOptions(keys.command('show').description('print the account held in identity.json'))
    .action(async (opts: KeysOptions) => { await (await import('./keys/handler.js')).keysShowHandler(opts, io) })

  registerDemo(program, io, signal)
  registerBalance(program, io)
  registerPay(program, io)
  registerGrant(program, io)
  registerHistory(program, io)
  registerOffers(program, io)
  registerReport(program, io)
  registerDoctor(program, io)
  registerSimCommand(program, io, signal)
  registerBatch(program, io, signal)
  registerTestnet(program, io)

  for (const cmd of [program, keys, ...program.commands, ...keys.commands]) {
    cmd.exitOverride().configureOutput(program.configureOutput())
  }
  return program
}

/** Runs the CLI; returns the exit code (and sets process.exitCode when io is the process's). */
export async function main (argv: string[], opts: MainOptions = {}): Promise<number> {
  const io = opts.io ?? processIO
  let signal = opts.signal
  let detach = (): void => {}
  if (signal == null) {
    const controller = new AbortController()
    const onSignal = (): void => { controller.abort() }
    // `on`, not `once`: a module that loads later (node-llama-cpp's signal-exit) re-raises the
    // signal when it finds itself the only listener, which killed the node mid-stop
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    detach = () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal) }
    signal = controller.signal
  }
  let code = EXIT_OK
  // read before a command loads its modules: once descriptors run out, reading it fails too
  const fdLimit = procOpenFileLimit()
  try {
    await buildProgram(io, signal).parseAsync(argv)
  } catch (err: any) {
    code = exitCodeFor(err, io, fdLimit)
  } finally {
    detach()
  }
  if (opts.io == null) process.exitCode = code
  return code
}

function exitCodeFor (err: any, io: CliIO, fdLimit: number | undefined): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK
    // commander already printed its one-line message
    return EXIT_USAGE
  }
  if (isOpenFileExhaustion(err)) {
    // a command's modules load when it runs: a low `ulimit -n` shows up here, not as a bug
    io.err(openFileLimitLine(err, fdLimit))
    return EXIT_FAILURE
  }
  const message = String(err?.message ?? err).split('\n')[0]
  // by code, not class: importing ConfigError would load the node for every command
  if (err?.code === ErrorCode.invalidConfig || err instanceof UsageError) {
    io.err(`tally: ${message}`)
    return EXIT_USAGE
  }
  io.err(`tally: ${err?.name ?? 'Error'}: ${message}`)
  return EXIT_FAILURE
}

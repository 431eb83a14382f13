/** `tally testnet` for the program; the library (testnetUp, Testnet, testnetDown) for tests and benches. */
import type { Command } from 'commander'
import type { CliIO } from '../io.js'
import { testnetDirOptions, testnetUpOptions, type TestnetDirFlags, type TestnetUpFlags } from './options.js'

export function registerTestnet (program: Command, io: CliIO): Command {
  const testnet = program.command('testnet').description('a multi-host testnet on this machine: real nodes in network namespaces, some behind NAT (root)')
  // the testnet's modules load only when a testnet command runs
  testnetUpOptions(testnet.command('up'))
    .action(async (f: TestnetUpFlags) => { await (await import('./handler.js')).testnetUpHandler(f, io) })
  testnetDirOptions(testnet.command('down').description('stop every node and remove every namespace and link of the testnet in --dir (also after a crash; idempotent)'))
    .action(async (f: TestnetDirFlags) => { await (await import('./handler.js')).testnetDownHandler(f, io) })
  testnetDirOptions(testnet.command('status').description('each node of the testnet in --dir: alive, connected peers, offers seen'))
    .action(async (f: TestnetDirFlags) => { await (await import('./handler.js')).testnetStatusHandler(f, io) })
  // main's loop reaches the program's direct commands only
  for (const cmd of testnet.commands) cmd.exitOverride().configureOutput(program.configureOutput())
  return testnet
}

/**
 * `tally keys new` creates the identity file (sealed when TALLY_PASSPHRASE is set);
 * `tally keys show` prints the account it holds.
 */
import { createIdentity, loadIdentity, type Identity } from '../../identity/keystore.js'
import { loadConfig } from '../../node/config.js'
import type { CliIO } from '../io.js'
import type { KeysOptions } from './options.js'

function print (id: Identity, opts: KeysOptions, io: CliIO): void {
  const info = { account: id.account, publicKey: Buffer.from(id.publicKey).toString('hex'), path: id.path, encrypted: id.encrypted }
  if (opts.json === true) {
    io.out(JSON.stringify(info))
  } else {
    io.out(`account    ${info.account}`)
    io.out(`public key ${info.publicKey}`)
    io.out(`file       ${info.path}${info.encrypted ? ' (passphrase)' : ''}`)
  }
}

export async function keysNewHandler (opts: KeysOptions, io: CliIO): Promise<void> {
  const config = await loadConfig({ dataDir: opts.dataDir }, io.env)
  print(await createIdentity(config.dataDir, { passphrase: config.passphrase }), opts, io)
}

export async function keysShowHandler (opts: KeysOptions, io: CliIO): Promise<void> {
  const config = await loadConfig({ dataDir: opts.dataDir }, io.env)
  print(await loadIdentity(config.dataDir, { passphrase: config.passphrase }), opts, io)
}

/**
 * Defaults for a node: the development network's genesis and the listen addresses and data dir
 * used when neither a config file, the environment nor a flag says otherwise.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Genesis } from '../ledger/genesis.js'

/**
 * The network a node joins when it is given no genesis: a development network (it says so),
 * no issuers, 10 credits of credit line for every key. Never a public network's rules.
 */
export const DEV_GENESIS: Readonly<Genesis> = Object.freeze({
  name: 'tally-dev',
  issuers: [],
  /** 10 credits: enough to buy a few thousand tokens from a 7B model on a fresh dev account */
  defaultCreditLimitUc: 10_000_000n,
  /** one session may lock at most 5 credits */
  maxSessionLockUc: 5_000_000n,
  /** the only kind of network that may have a default credit line */
  development: true
})

/** the line a node prints on a development network, so nobody mistakes it for hard money */
export function developmentNotice (g: Genesis): string | undefined {
  if (g.development !== true) return undefined
  const credits = Number(g.defaultCreditLimitUc) / 1e6
  return `development network "${g.name}": every key may spend ${credits} credits on credit (not a public network's rules)`
}

/** all interfaces, a port the OS picks; set `listen` for a stable address others can bootstrap to */
export const DEFAULT_TCP_LISTEN = ['/ip4/0.0.0.0/tcp/0']
/** memory transport nodes need a unique name; createBaseNode derives one from the account */
export const DEFAULT_MEMORY_LISTEN: string[] = []
export const DEFAULT_GATEWAY_HOST = '127.0.0.1'

export function defaultDataDir (): string {
  return join(homedir(), '.tally')
}

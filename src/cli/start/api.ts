/**
 * The node's HTTP API as `tally start` serves it: on the address asked for, or by default on
 * 127.0.0.1:8080 (a free port when that one is taken), and announced to the CLI through
 * `<dataDir>/api.json` ({url, pid}, owner-only) while the node runs.
 */
import { readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { startGateway, type Gateway, type GatewayBuyer } from '../../api/gateway.js'
import type { GatewayConfig } from '../../node/config.js'
import { UsageError } from '../io.js'

/** where the API listens unless told otherwise */
export const DEFAULT_API_HOST = '127.0.0.1'
export const DEFAULT_API_PORT = 8080
/** the file in the data dir that tells the CLI where this node's API is */
export const API_FILE = 'api.json'

export interface ServedApi {
  gateway: Gateway
  /** set when the default port was taken and another was used */
  note?: string
}

function inUse (err: unknown): boolean {
  return (err as { code?: string })?.code === 'EADDRINUSE'
}

/**
 * `address` given (flag, env or config): that address or an error (exit 2) when taken.
 * Not given: the default, or a free port on the same host when the default is taken.
 */
export async function serveApi (node: GatewayBuyer, address: GatewayConfig | undefined): Promise<ServedApi> {
  if (address != null) {
    try {
      return { gateway: await startGateway(node, { host: address.host, port: address.port, token: address.token, allowOrigins: address.allowOrigins }) }
    } catch (err) {
      if (inUse(err)) throw new UsageError(`--api ${address.host}:${address.port}: that address is in use (another node or program listens there); choose another port (0 takes a free one) or --no-api`)
      throw err
    }
  }
  try {
    return { gateway: await startGateway(node, { host: DEFAULT_API_HOST, port: DEFAULT_API_PORT }) }
  } catch (err) {
    if (!inUse(err)) throw err
  }
  const gateway = await startGateway(node, { host: DEFAULT_API_HOST, port: 0 })
  return { gateway, note: `${DEFAULT_API_HOST}:${DEFAULT_API_PORT} is taken (another node?): the API serves on ${gateway.url} instead` }
}

/** write `<dataDir>/api.json`, readable by the owner only */
export function writeApiFile (dataDir: string, url: string): void {
  const file = join(dataDir, API_FILE)
  writeFileSync(file, JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o600 })
  // an older file keeps its mode through writeFileSync
  chmodSync(file, 0o600)
}

/** remove `<dataDir>/api.json` if it is still this process's */
export function removeApiFile (dataDir: string): void {
  const file = join(dataDir, API_FILE)
  try {
    if (JSON.parse(readFileSync(file, 'utf8'))?.pid === process.pid) rmSync(file, { force: true })
  } catch {
    // gone already, or not ours to remove
  }
}

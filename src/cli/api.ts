/**
 * The CLI's client for a running node's local HTTP API (its /tally/* routes), so `tally
 * balance`, `pay`, `history`, `offers`, `report` and `doctor` act through the node that holds
 * the ledger and the market. The node is found by --api, TALLY_API, the `api.json` a running
 * node writes in its data dir (--data-dir, TALLY_DATA_DIR, ~/.tally), then the default URL.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError, type CliIO } from './io.js'
import { ErrorCode, TallyError } from '../errors/index.js'
import { defaultDataDir } from '../node/defaults.js'

/** where `tally start` serves its API unless told otherwise */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080'
/** what a running node writes in its data dir (src/cli/start/api.ts) */
const API_FILE = 'api.json'
const API_TIMEOUT_MS = 10_000

export class NodeApiError extends TallyError {
  override name = 'NodeApiError'
  override readonly code: ErrorCode = ErrorCode.nodeApi
}

export interface ApiFlags { api?: string, dataDir?: string }

/** help of --api and --data-dir, the two ways a command names the node it talks to */
export const API_FLAG_HELP = `the node's API (default: env TALLY_API, else the running node's <data dir>/api.json, else ${DEFAULT_API_URL})`
export const DATA_DIR_FLAG_HELP = 'the data dir of the node to talk to (default ~/.tally, env TALLY_DATA_DIR): its api.json names its API'

const given = (v: string | undefined): string | undefined => v != null && v !== '' ? v : undefined

/** the URL in `<dataDir>/api.json`, if a node wrote one */
export function apiFromDataDir (dataDir: string): string | undefined {
  let text: string
  try { text = readFileSync(join(dataDir, API_FILE), 'utf8') } catch { return undefined }
  try {
    const url = JSON.parse(text)?.url
    return typeof url === 'string' ? url : undefined
  } catch {
    throw new NodeApiError(`${join(dataDir, API_FILE)} is not the JSON a node writes ({url, pid}); remove it or pass --api`)
  }
}

export function apiBase (flags: ApiFlags, io: CliIO): URL {
  const raw = given(flags.api) ?? given(io.env.TALLY_API) ?? apiFromDataDir(given(flags.dataDir) ?? given(io.env.TALLY_DATA_DIR) ?? defaultDataDir()) ?? DEFAULT_API_URL
  let url: URL
  try { url = new URL(raw) } catch { throw new UsageError(`--api must be a URL such as ${DEFAULT_API_URL}, got ${JSON.stringify(raw)}`) }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--api must be http(s), got ${url.protocol}`)
  return url
}

export async function callApi (flags: ApiFlags, io: CliIO, path: string, init: { method?: string, body?: unknown } = {}): Promise<any> {
  const base = apiBase(flags, io)
  const url = new URL(path, base)
  const headers: Record<string, string> = {}
  const token = io.env.TALLY_GATEWAY_TOKEN
  if (token != null && token !== '') headers.authorization = `Bearer ${token}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: AbortSignal.timeout(API_TIMEOUT_MS) })
  } catch (err: any) {
    throw new NodeApiError(`no node API at ${base.origin} (${err?.cause?.code ?? err?.message}); start a node with: tally start (or name one with --api <url> or --data-dir <dir>)`)
  }
  const text = await res.text()
  let body: any
  try { body = JSON.parse(text) } catch { throw new NodeApiError(`${url.pathname}: the node answered ${res.status} with non-JSON`) }
  if (!res.ok) throw new NodeApiError(`${url.pathname}: ${res.status} ${body?.error?.message ?? text.slice(0, 200)}`)
  return body
}

/** µc from "12345" (µc) or "1.5c" (credits, up to 6 decimals) */
export function parseAmountUc (v: string): bigint {
  const m = /^([0-9]{1,13})(?:\.([0-9]{1,6}))?c$/.exec(v)
  if (m != null) return BigInt(m[1]) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0') || '0')
  if (/^[1-9][0-9]{0,18}$/.test(v)) return BigInt(v)
  throw new UsageError(`amount must be µc (e.g. 250000) or credits with a c (e.g. 0.25c), got ${JSON.stringify(v)}`)
}

/** µc as credits for people: 1234567 → "1.234567" */
export function formatCredits (uc: bigint | number | string): string {
  const v = BigInt(uc)
  const neg = v < 0n
  const a = neg ? -v : v
  const frac = (a % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${a / 1_000_000n}${frac === '' ? '' : '.' + frac}`
}

/** a fixed-width text table */
export function table (rows: Array<Record<string, string | number>>): string[] {
  if (rows.length === 0) return ['(none)']
  const cols = Object.keys(rows[0])
  const width = cols.map(c => Math.max(c.length, ...rows.map(r => String(r[c]).length)))
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(width[i])).join('  ').trimEnd()
  return [line(cols), line(width.map(w => '-'.repeat(w))), ...rows.map(r => line(cols.map(c => String(r[c]))))]
}

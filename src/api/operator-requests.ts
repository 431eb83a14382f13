/** The operator routes' query inputs, pure: raw query in, a typed value (or a 400 naming the field) out. */
import { badRequest } from './errors.js'
import type { Query } from './tally-requests.js'

/** `/tally/receipts?limit=N`: 1..1000, default 50 */
export function parseReceiptsQuery (q: Query): { limit: number } {
  if (q.limit === undefined) return { limit: 50 }
  if (!/^[0-9]{1,4}$/.test(q.limit) || Number(q.limit) < 1 || Number(q.limit) > 1000) throw badRequest('limit must be an integer 1..1000', 'limit')
  return { limit: Number(q.limit) }
}

/** `/tally/network?probe=offers`: also ask peers whether they hold my offer (default no) */
export function parseNetworkQuery (q: Query): { probe: boolean } {
  if (q.probe === undefined) return { probe: false }
  if (q.probe !== 'offers') throw badRequest('probe must be "offers" (or absent)', 'probe')
  return { probe: true }
}

/** `/tally/timeseries?sinceMs=<unix ms>`: points at or after it (default all) */
export function parseTimeseriesQuery (q: Query): { sinceMs: number } {
  if (q.sinceMs === undefined) return { sinceMs: 0 }
  if (!/^[0-9]{1,16}$/.test(q.sinceMs) || !Number.isSafeInteger(Number(q.sinceMs))) throw badRequest('sinceMs must be a unix time in ms (a non-negative integer)', 'sinceMs')
  return { sinceMs: Number(q.sinceMs) }
}

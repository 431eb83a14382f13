/**
 * Model fingerprints: hex SHA-256 of a model file, streamed (never the whole file in memory) and
 * cached by path + mtime + size so a seller re-announcing its offer does not rehash gigabytes.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'

interface CacheEntry { mtimeMs: number, size: number, hash: Promise<string> }

const cache = new Map<string, CacheEntry>()

async function hashFile (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** hex SHA-256 of the file at `path`; recomputed only when its mtime or size changed */
export async function modelFingerprint (path: string): Promise<string> {
  const abs = resolve(path)
  const st = await stat(abs)
  const hit = cache.get(abs)
  if (hit != null && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return await hit.hash
  const entry: CacheEntry = { mtimeMs: st.mtimeMs, size: st.size, hash: hashFile(abs) }
  cache.set(abs, entry)
  try {
    return await entry.hash
  } catch (err) {
    if (cache.get(abs) === entry) cache.delete(abs)
    throw err
  }
}

/** how many fingerprints are cached (for tests and metrics) */
export function fingerprintCacheSize (): number {
  return cache.size
}

/**
 * A TypeScript child entry bundled once per test process (esbuild, which tsx brings), so each
 * start of the child is plain `node file.mjs`: ~0.7 s to ready instead of ~2 s through the
 * `--import tsx` loader, on the same sources. Packages stay external (resolved from the repo's
 * node_modules, where the bundle lives).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { basename, join } from 'node:path'
import { build } from 'esbuild'

const CACHE_DIR = join(import.meta.dirname, '../../node_modules/.cache/tally-test')
const built = new Map<string, Promise<string>>()

/** the path of `entry` bundled as ESM for node; built on the first call in this process */
export async function bundledChild (entry: string): Promise<string> {
  let out = built.get(entry)
  if (out == null) {
    out = bundle(entry)
    built.set(entry, out)
  }
  return await out
}

async function bundle (entry: string): Promise<string> {
  const r = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', packages: 'external', write: false, logLevel: 'warning' })
  const code = r.outputFiles[0].contents
  // named by content: one file per version of the sources, however many runs (no litter); written
  // whole then renamed, so a worker never starts a file another worker is still writing
  const file = join(CACHE_DIR, `${basename(entry, '.ts')}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`)
  mkdirSync(CACHE_DIR, { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, code)
  renameSync(tmp, file)
  return file
}

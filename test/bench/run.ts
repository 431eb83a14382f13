/**
 * Runs every benchmark in test/bench/*.bench.ts and prints one JSON object:
 * `{ machine, results: { <bench name>: {...figures} } }`. Never fails on time.
 * Usage: npm run bench [-- --only name1,name2] [-- --out bench/results.json]
 */
import '../../src/polyfill.js'
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem, platform, arch } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const onlyArg = args.indexOf('--only')
const only = onlyArg >= 0 ? new Set(args[onlyArg + 1].split(',')) : undefined
const outArg = args.indexOf('--out')
const out = outArg >= 0 ? args[outArg + 1] : undefined

const files = readdirSync(here).filter(f => f.endsWith('.bench.ts')).sort()
const results: Record<string, unknown> = {}
for (const f of files) {
  const name = f.replace(/\.bench\.ts$/, '')
  if (only != null && !only.has(name)) continue
  process.stderr.write(`bench ${name} ...\n`)
  const mod = await import(pathToFileURL(join(here, f)).href)
  const started = Date.now()
  try {
    results[name] = await mod.default()
  } catch (err: any) {
    results[name] = { error: String(err?.stack ?? err) }
  }
  process.stderr.write(`bench ${name} done in ${Date.now() - started} ms\n`)
}
const report = {
  machine: { node: process.version, platform: platform(), arch: arch(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) },
  at: new Date().toISOString(),
  results
}
const json = JSON.stringify(report, null, 2)
if (out != null) {
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, json + '\n')
}
process.stdout.write(json + '\n')
process.exit(0)

/**
 * The benchmark suite's runner: runs every test/bench/*.bench.ts (each exports a default async
 * function returning its figures) and produces one JSON report, each figure set tagged with the
 * machine and the time it ran. Never fails on time; a benchmark that throws reports its error.
 *
 * Usage: npm run bench [-- --only name1,name2] [-- --json] [-- --out path]
 *   default: writes bench/results.json and prints the same JSON
 *   --json:  prints the JSON to stdout only, writes no file
 *   --out:   writes to this path instead of bench/results.json
 * Progress goes to stderr, so stdout is always exactly the JSON.
 */
import '../../src/polyfill.js'
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem, platform, arch } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const DEFAULT_OUT = resolve(here, '../../bench/results.json')

const args = process.argv.slice(2)
const valueOf = (flag: string): string | undefined => {
  const i = args.indexOf(flag)
  if (i < 0) return undefined
  const v = args[i + 1]
  if (v == null || v.startsWith('--')) {
    process.stderr.write(`${flag} needs a value\n`)
    process.exit(2)
  }
  return v
}
const onlyArg = valueOf('--only')
const only = onlyArg != null ? new Set(onlyArg.split(',').map(s => s.trim()).filter(s => s.length > 0)) : undefined
const jsonOnly = args.includes('--json')
const out = jsonOnly ? undefined : (valueOf('--out') ?? DEFAULT_OUT)

const files = readdirSync(here).filter(f => f.endsWith('.bench.ts')).sort()
const names = files.map(f => f.replace(/\.bench\.ts$/, ''))
if (only != null) {
  const unknown = [...only].filter(n => !names.includes(n))
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')} (known: ${names.join(', ')})\n`)
    process.exit(2)
  }
}

const machine = {
  node: process.version,
  platform: platform(),
  arch: arch(),
  cpuModel: cpus()[0]?.model,
  cores: cpus().length,
  memGiB: Math.round(totalmem() / 2 ** 30)
}

const results: Record<string, unknown> = {}
for (const name of names) {
  if (only != null && !only.has(name)) continue
  process.stderr.write(`bench ${name} ...\n`)
  const at = new Date().toISOString()
  const started = performance.now()
  let figures: unknown
  try {
    const mod = await import(pathToFileURL(join(here, `${name}.bench.ts`)).href)
    figures = await mod.default()
  } catch (err: any) {
    figures = { error: String(err?.stack ?? err) }
  }
  const durationMs = Math.round(performance.now() - started)
  results[name] = { at, durationMs, machine, figures }
  process.stderr.write(`bench ${name} done in ${durationMs} ms\n`)
}

const report = { machine, at: new Date().toISOString(), results }
const json = JSON.stringify(report, (_k, v) => typeof v === 'bigint' ? v.toString() : v, 2)
if (out != null) {
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, json + '\n')
  process.stderr.write(`wrote ${out}\n`)
}
process.stdout.write(json + '\n')
process.exit(0)

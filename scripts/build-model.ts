/**
 * Writes the tiny test model (tiny-char-v1.gguf) and prints its path, size and fingerprint.
 * Usage: npx tsx scripts/build-model.ts [dir]   (default <repo>/.cache/models)
 */
import '../src/polyfill.js'
import { statSync } from 'node:fs'
import { modelFingerprint } from '../src/exec/fingerprint.js'
import { validateGguf } from '../src/exec/model/gguf.js'
import { defaultModelDir, ensureTinyModel } from '../src/exec/model/tiny.js'

const dir = process.argv[2] ?? defaultModelDir()
const started = performance.now()
const path = ensureTinyModel(dir)
const ms = performance.now() - started
const summary = await validateGguf(path)
process.stdout.write(JSON.stringify({
  path,
  bytes: statSync(path).size,
  params: summary.params,
  quantization: summary.quantization,
  fingerprint: await modelFingerprint(path),
  ms: Math.round(ms * 10) / 10
}) + '\n')

/**
 * The examples a newcomer copies from keep running (they import the built package as `tally`).
 * Each runs in a fresh temporary directory, so what an example writes (identities, ledgers)
 * never lands in the checkout.
 */
import { afterEach, describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const exec = promisify(execFile)
const ROOT = resolve(import.meta.dirname, '../..')
/** tsx's loader by path: from a temporary cwd the bare name `tsx` would not resolve */
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

async function runExample (name: string, env: Record<string, string> = {}): Promise<{ stdout: string, cwd: string }> {
  const cwd = await mkdtemp(join(tmpdir(), 'tally-example-'))
  dirs.push(cwd)
  const { TALLY_DATA_DIR: _ignored, ...inherited } = process.env // so an example's own default dir applies
  const { stdout } = await exec(process.execPath, ['--import', TSX, join(ROOT, 'examples', name)], { cwd, env: { ...inherited, ...env }, timeout: 90_000 })
  return { stdout, cwd }
}

describe('examples/', () => {
  it('agent-pays-agent: the payment lands in both ledgers and both reports', async () => {
    const { stdout: out } = await runExample('agent-pays-agent.ts')
    expect(out).toContain("alice sees: -250000n µc; bob sees: 250000n µc")
    expect(out).toContain('paymentsReceivedUc: 250000n')
    expect(out).toContain('ledgers agree: true')
  })

  it('buy-with-openai: the OpenAI client buys from the cheaper seller and the report books it', async () => {
    const { stdout: out } = await runExample('buy-with-openai.ts')
    expect(out).toMatch(/out_per_mtok_uc: 2000000/)
    expect(out).toMatch(/key: 'example',\s+requests: 1/)
  })

  it('sell-a-model: starts a seller of the tiny model and prints its bootstrap address', async () => {
    const { stdout: out, cwd } = await runExample('sell-a-model.ts', { TALLY_EXAMPLE_ONCE: '1' })
    expect(out).toMatch(/selling tiny-char-v1 \(168832 params/)
    expect(out).toMatch(/bootstrap: \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
    // its private key went to the working directory it was started in, not to the checkout
    expect(existsSync(join(cwd, '.tally-seller', 'identity.json'))).toBe(true)
  })
})

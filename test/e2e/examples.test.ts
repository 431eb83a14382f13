/** The examples a newcomer copies from keep running (they import the built package as `tally`). */
import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { resolve } from 'node:path'

const exec = promisify(execFile)
const ROOT = resolve(import.meta.dirname, '../..')

async function runExample (name: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await exec(process.execPath, ['--import', 'tsx', `examples/${name}`], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 90_000 })
  return stdout
}

describe('examples/', () => {
  it('agent-pays-agent: the payment lands in both ledgers and both reports', async () => {
    const out = await runExample('agent-pays-agent.ts')
    expect(out).toContain("alice sees: -250000n µc; bob sees: 250000n µc")
    expect(out).toContain('paymentsReceivedUc: 250000n')
    expect(out).toContain('ledgers agree: true')
  })

  it('buy-with-openai: the OpenAI client buys from the cheaper seller and the report books it', async () => {
    const out = await runExample('buy-with-openai.ts')
    expect(out).toMatch(/out_per_mtok_uc: 2000000/)
    expect(out).toMatch(/key: 'example',\s+requests: 1/)
  })

  it('sell-a-model: starts a seller of the tiny model and prints its bootstrap address', async () => {
    const out = await runExample('sell-a-model.ts', { TALLY_EXAMPLE_ONCE: '1' })
    expect(out).toMatch(/selling tiny-char-v1 \(168832 params/)
    expect(out).toMatch(/bootstrap: \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
  })
})

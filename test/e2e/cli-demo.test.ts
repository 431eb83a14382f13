/** `tally demo --json`, the README's first command, as a user runs it (needs dist/). */
import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { resolve } from 'node:path'

const exec = promisify(execFile)
const BIN = resolve(import.meta.dirname, '../../bin/tally.js')

describe('tally demo', () => {
  it('runs a small real market: every request completes, the cheapest seller serves the most, ledgers agree, Σ = 0', async () => {
    const { stdout } = await exec(process.execPath, [BIN, 'demo', '--json', '--sellers', '3', '--requests', '6'], { timeout: 120_000 })
    const r = JSON.parse(stdout)
    expect(r.completed).toBe(6)
    expect(r.balancesAgree).toBe(true)
    expect(r.sumOfBalancesUc).toBe('0')
    const byPrice = [...r.sellers].sort((a: any, b: any) => Number(a.priceOutPerMTokUc) - Number(b.priceOutPerMTokUc))
    expect(byPrice[0].served).toBeGreaterThanOrEqual(Math.max(...r.sellers.map((s: any) => s.served)))
    const earned = r.sellers.reduce((s: bigint, x: any) => s + BigInt(x.earnedUc), 0n)
    expect(earned).toBe(BigInt(r.buyer.spentUc))
    expect(earned).toBeGreaterThan(0n)
  })

  it('refuses bad flags with exit code 2', async () => {
    await expect(exec(process.execPath, [BIN, 'demo', '--sellers', '0'])).rejects.toMatchObject({ code: 2 })
    await expect(exec(process.execPath, [BIN, 'demo', '--nope'])).rejects.toMatchObject({ code: 2 })
  })
})

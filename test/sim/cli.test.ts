/** `tally sim`: flags are checked (UsageError → exit 2 in main), a small run prints JSON and writes the HTML report. */
import { describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { registerSimCommand } from '../../src/cli/sim/index.js'
import { parseDuration, parseSimFlags } from '../../src/cli/sim/options.js'
import type { CliIO } from '../../src/cli/io.js'

function memIO (): CliIO & { lines: string[], errs: string[] } {
  const lines: string[] = []; const errs: string[] = []
  return { lines, errs, out: (l) => { lines.push(l) }, err: (l) => { errs.push(l) }, env: {} }
}

describe('tally sim flags', () => {
  it.each([
    [{ peers: '1', scenario: 'steady' }, /--peers/],
    [{ peers: 'ten', scenario: 'steady' }, /--peers/],
    [{ peers: '99999', scenario: 'steady' }, /--peers/],
    [{ peers: '10', scenario: 'nope' }, /--scenario: unknown/],
    [{ peers: '10', scenario: 'steady', duration: '5 minutes' }, /--duration/],
    [{ peers: '10', scenario: 'steady', duration: '10ms' }, /--duration/],
    [{ peers: '10', scenario: 'steady', sellers: '1.5' }, /--sellers/],
    [{ peers: '10', scenario: 'steady', latency: '-3' }, /--latency/],
    [{ peers: '10', scenario: 'steady', loss: '0.9' }, /--loss/],
    [{ peers: '10', scenario: 'steady', loss: 'some' }, /--loss/],
    [{ peers: '10', scenario: 'steady', jitter: '2' }, /--jitter/],
    [{ peers: '10', scenario: 'steady', embeddedSellers: '9' }, /--embedded-sellers/],
    [{ peers: '10', scenario: 'steady', embeddedSellers: 'two' }, /--embedded-sellers/],
    [{ peers: '10', scenario: 'steady', jitter: '-0.1' }, /--jitter/],
    [{ peers: '10', scenario: 'steady', seed: '' }, /--seed/],
    [{ peers: '10', scenario: 'steady', clock: 'wall' }, /--clock: expected one of real, virtual/],
    [{ peers: '10', scenario: 'steady', tokensPerSec: '0' }, /--tokens-per-sec/],
    [{ peers: '10', scenario: 'steady', bootstrapNodes: '0' }, /--bootstrap-nodes/],
    [{ peers: '10', scenario: 'steady', rate: '0' }, /--rate/],
    [{ peers: '10', scenario: 'steady', rate: 'fast' }, /--rate/],
    [{ peers: '10', scenario: 'steady', rate: '5000' }, /--rate/],
    [{ peers: '10', scenario: 'steady', bootstrapNodes: '17' }, /--bootstrap-nodes/],
    [{ peers: '10', scenario: 'steady', tokensPerSec: '2.5' }, /--tokens-per-sec/],
    [{ peers: '10', scenario: 'steady', ttft: '-1' }, /--ttft/],
    [{ peers: '10', scenario: 'steady', ttft: '90000' }, /--ttft/],
    [{ peers: '10', scenario: 'steady', clock: 'virtual', embeddedSellers: '1' }, /--clock virtual: embedded sellers/]
  ])('refuses %o with a UsageError', (flags, msg) => {
    expect(() => parseSimFlags(flags)).toThrow(msg)
    try { parseSimFlags(flags) } catch (err: any) { expect(err.name).toBe('UsageError') }
  })

  it('--clock picks the clock; absent leaves the default', () => {
    expect(parseSimFlags({ peers: '10', scenario: 'steady', clock: 'virtual' }).clock).toBe('virtual')
    expect(parseSimFlags({ peers: '10', scenario: 'steady', clock: 'real' }).clock).toBe('real')
    expect(parseSimFlags({ peers: '10', scenario: 'steady' }).clock).toBeUndefined()
    expect(parseSimFlags({ peers: '10', scenario: 'steady', tokensPerSec: '30', ttft: '400', bootstrapNodes: '2', rate: '2.5' })).toMatchObject({ tokensPerSec: 30, ttftMs: 400, bootstrapNodes: 2, requestsPerSec: 2.5 })
  })

  it('parses durations', () => {
    expect(parseDuration('60s')).toBe(60_000)
    expect(parseDuration('2m')).toBe(120_000)
    expect(parseDuration('1500ms')).toBe(1_500)
    expect(parseDuration('1500')).toBe(1_500)
  })

  it('a bad flag through the command rejects before any node starts', async () => {
    const program = new Command('tally').exitOverride()
    registerSimCommand(program, memIO(), new AbortController().signal)
    await expect(program.parseAsync(['node', 'tally', 'sim', '--peers', 'x', '--scenario', 'steady'])).rejects.toMatchObject({ name: 'UsageError' })
  })

  it('runs on the virtual clock by default and says so in its summary', async () => {
    const io = memIO()
    const program = new Command('tally').exitOverride()
    registerSimCommand(program, io, new AbortController().signal)
    await program.parseAsync(['node', 'tally', 'sim', '--peers', '5', '--scenario', 'steady', '--duration', '2s'])
    expect(io.lines[0]).toMatch(/^scenario steady: 5 peers .* on the virtual clock$/)
    expect(io.lines.join('\n')).toMatch(/ms wall for \d+ ms simulated/)
  })

  it('runs a small simulation, prints JSON and writes an HTML report with plots', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-sim-cli-'))
    try {
      const io = memIO()
      const program = new Command('tally').exitOverride()
      registerSimCommand(program, io, new AbortController().signal)
      const report = join(dir, 'out.html')
      await program.parseAsync(['node', 'tally', 'sim', '--peers', '6', '--scenario', 'steady', '--seed', 'cli', '--duration', '2s', '--latency', '15', '--loss', '0.01', '--embedded-sellers', '1', '--json', '--report', report])
      expect(io.lines).toHaveLength(1)
      const r = JSON.parse(io.lines[0])
      expect(r).toMatchObject({ scenario: 'steady', peers: 6, seed: 'cli', durationMs: 2_000, latencyMs: 15 })
      expect(r.links).toMatchObject({ latencyMs: 15, lossRate: 0.01, jitter: 0.5 })
      expect(r.links.buffers).toBeGreaterThan(0)
      // one seller runs the real engine: its offer is the tiny model's, and the report says so
      expect(r.embedded).toMatchObject({ sellers: 1, model: 'tiny-char-v1' })
      // the real engine answers on wall time: with embedded sellers the default clock is real
      expect(r.clock).toBe('real')
      expect(r.backend).toContain('real embedded engine')
      expect(r.requests.completed).toBeGreaterThan(0)
      const html = await readFile(report, 'utf8')
      expect(html).toContain('<svg')
      expect(html).toContain('Tally simulation: steady, 6 peers')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('the same flags in another order give the identical result, figure for figure', async () => {
    const run = async (args: string[]): Promise<string> => {
      const io = memIO()
      const program = new Command('tally').exitOverride()
      registerSimCommand(program, io, new AbortController().signal)
      await program.parseAsync(['node', 'tally', 'sim', ...args])
      // resources are the host's (CPU, RSS, wall time); everything else is the simulation's
      const { resources, ...rest } = JSON.parse(io.lines[0])
      expect(resources.simulatedMs).toBeGreaterThan(0)
      return JSON.stringify(rest)
    }
    const a = await run(['--peers', '8', '--scenario', 'sybil-drain', '--seed', 'order', '--duration', '1500ms', '--sellers', '0.4', '--latency', '12', '--jitter', '0.3', '--rate', '4', '--clock', 'virtual', '--json'])
    const b = await run(['--json', '--clock', 'virtual', '--rate', '4', '--jitter', '0.3', '--latency', '12', '--sellers', '0.4', '--duration', '1500ms', '--seed', 'order', '--scenario', 'sybil-drain', '--peers', '8'])
    const r = JSON.parse(a)
    expect(r).toMatchObject({ scenario: 'sybil-drain', peers: 8, seed: 'order', durationMs: 1_500, latencyMs: 12 })
    expect(r.figures.sybilAttempts).toBeGreaterThan(0)
    expect(r.requests.sent).toBeGreaterThan(0)
    expect(b).toBe(a)
  })
})

/**
 * `tally demo --keep-running` (in process): after the demo's requests the market stays up, the
 * printed dashboard URL serves the page and /tally/status, every seller's printed API answers,
 * the buyer keeps buying, and the abort (Ctrl-C) stops it with exit 0.
 */
import { describe, it, expect } from 'vitest'
import { main } from '../../src/cli/main.js'
import type { CliIO } from '../../src/cli/io.js'
import { waitFor } from '../helpers/wait.js'

describe('tally demo --keep-running', () => {
  it('prints the dashboard and seller API URLs, serves them until stopped', async () => {
    const stdout: string[] = []
    const stderr: string[] = []
    const io: CliIO = { env: {}, out: (l) => { stdout.push(l) }, err: (l) => { stderr.push(l) } }
    const controller = new AbortController()
    const running = main(['node', 'tally', 'demo', '--keep-running', '--sellers', '1', '--requests', '1'], { io, signal: controller.signal })
    try {
      await waitFor(() => stdout.some(l => l.startsWith('dashboard ')) || stderr.length > 0, 'the dashboard line', 90_000)
      expect(stderr).toEqual([])
      const dashboard = /^dashboard (http:\/\/127\.0\.0\.1:\d+\/) /.exec(stdout.find(l => l.startsWith('dashboard '))!)![1]
      const page = await fetch(dashboard)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toMatch(/text\/html/)
      const status: any = await (await fetch(`${dashboard}tally/status`)).json()
      const buyerLine = stdout.find(l => l.startsWith('buyer '))!
      expect(buyerLine).toContain(status.account)
      expect(status.balance.spentUc).toBeGreaterThan(0)
      const sellers = stdout.filter(l => /^seller \S+ API http/.test(l)).map(l => /^seller (\S+) API (\S+)$/.exec(l)!.slice(1))
      expect(sellers).toHaveLength(1)
      for (const [account, url] of sellers) {
        const s: any = await (await fetch(`${url}/tally/status`)).json()
        expect(s.account).toBe(account)
        expect(s.selling).toHaveLength(1)
      }
      // the market moves: the buyer buys on
      await waitFor(() => stdout.some(l => /^request 2: /.test(l)), 'a request after the demo\'s own', 30_000)
    } finally {
      controller.abort()
    }
    expect(await running).toBe(0)
    expect(stdout.at(-1)).toBe('demo market stopped')
  }, 120_000)
})

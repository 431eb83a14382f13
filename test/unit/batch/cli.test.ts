/** `tally batch run`'s bad flags and inputs: exit 2 with one line naming the flag, before any node is asked. */
import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../../src/cli/main.js'
import { costReport } from '../../../src/cli/batch/handler.js'

async function run (...args: string[]): Promise<{ code: number, err: string }> {
  const err: string[] = []
  const code = await main(['node', 'tally', ...args], { io: { out: () => {}, err: (l) => { err.push(l) }, env: { TALLY_API: 'http://127.0.0.1:9' } }, signal: new AbortController().signal })
  return { code, err: err.join('\n') }
}

describe('tally batch run', () => {
  it('refuses bad flags with exit 2, naming the flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-batch-cli-'))
    try {
      const input = join(dir, 'in.jsonl')
      writeFileSync(input, '{}\n')
      const cases: Array<[string[], RegExp]> = [
        [['batch', 'run', join(dir, 'missing.jsonl')], /no input file/],
        [['batch', 'run', input, '--deadline', 'soon'], /--deadline/],
        [['batch', 'run', input, '--deadline', '30d'], /--deadline/],
        [['batch', 'run', input, '--concurrency', '0'], /--concurrency/],
        [['batch', 'run', input, '--max-price', '1.5'], /--max-price/],
        [['batch', 'run', input, '--budget', 'lots'], /amount/],
        [['batch', 'run', input, '--poll-ms', '1'], /--poll-ms/],
        [['batch', 'run'], /missing required argument/]
      ]
      for (const [args, message] of cases) {
        const r = await run(...args)
        expect(r.code, args.join(' ')).toBe(2)
        expect(r.err, args.join(' ')).toMatch(message)
      }
      // good flags and no node listening: exit 1, saying where it looked
      const r = await run('batch', 'run', input, '--poll-ms', '100')
      expect(r.code).toBe(1)
      expect(r.err).toMatch(/no node API at http:\/\/127\.0\.0\.1:9/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('the cost report sums Bpt exactly and credits in µc, per seller', () => {
    const line = (id: string, seller: string, bpt: string, cost: number): any => ({ id: 'x', custom_id: id, error: null, response: { status_code: 200, request_id: 'r', body: { usage: { prompt_tokens: 10, completion_tokens: 5 }, tally: { seller, bpt, cost_uc: cost } } } })
    const r = costReport({ id: 'batch-1', status: 'completed' } as any, [line('a', 's1', '0.1', 7), line('b', 's1', '0.2', 8), line('c', 's2', '0.000000001', 1)], 2)
    expect(r).toMatchObject({ completed: 3, failed: 2, bpt: '0.300000001', cost_uc: '16' })
    expect(r.sellers).toEqual([{ seller: 's1', lines: 2, bpt: '0.3', cost_uc: '15' }, { seller: 's2', lines: 1, bpt: '0.000000001', cost_uc: '1' }])
  })
})

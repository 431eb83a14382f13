/**
 * Issue 15.2: a real seller node resets silent /tally/infer, /tally/sync, /tally/fetch,
 * /tally/negotiate, /tally/offers and /tally/genesis streams after their deadlines although garbage is collected in between. The
 * check runs in a child started with --expose-gc (vitest's workers are not), which reports the
 * streams the seller still holds once every deadline (and the infer stream's closing deadline)
 * has passed, giving up at ten deadlines.
 */
import { runTsChild } from '../helpers/child.js'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const CHILD = join(import.meta.dirname, '../fixtures/wire/silent-streams.ts')
/** every stream deadline of the child's seller */
const DEADLINE_MS = 3_000

interface Report { deadlineMs: number, gcDoneAfterMs: number, endedAfterMs: number, protocols: Record<string, { opened: number, stillHeld: number }> }

async function runChild (): Promise<Report> {
  const { code, out, err } = await runTsChild(['--expose-gc'], CHILD, [String(DEADLINE_MS)])
  expect(code, err).toBe(0)
  return JSON.parse(out.trim().split('\n').pop()!)
}

describe('stream deadlines survive garbage collection', () => {
  it('a seller node resets every silent stream after its deadline, with gc() forced in between', async () => {
    const r = await runChild()
    console.log(`silent streams: gc done ${r.gcDoneAfterMs} ms after opening (deadline ${r.deadlineMs} ms), all ended after ${r.endedAfterMs} ms`)
    for (const p of ['/tally/infer/1.0.0', '/tally/sync/1.0.0', '/tally/fetch/1.0.0', '/tally/negotiate/1.0.0', '/tally/offers/1.0.0', '/tally/genesis/1.0.0']) {
      expect(r.protocols[p].opened, p).toBeGreaterThan(0)
      expect(r.protocols[p].stillHeld, `${p}: streams the seller still holds`).toBe(0)
    }
  }, 90_000)
})

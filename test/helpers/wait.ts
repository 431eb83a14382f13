/**
 * The one way a test waits for something to become true: vitest's expect.poll, which re-reads the
 * condition every POLL_INTERVAL_MS and fails naming `what` when it does not hold in time. Where
 * the awaited thing is a value, call `expect.poll(() => value).toBe(expected)` directly instead:
 * its failure shows the last value seen. Benchmarks run outside vitest and keep their own loop.
 */
import { expect } from 'vitest'

/** how often a condition is re-read: short next to any network round trip in these tests */
const POLL_INTERVAL_MS = 25
/** long enough for gossip meshes and sync rounds on two shared cores; a test that needs longer says so */
const DEFAULT_TIMEOUT_MS = 30_000

/** `what` names the awaited state in the failure; without it the condition's own source does */
export async function waitFor (cond: () => boolean | Promise<boolean>, what = cond.toString(), timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  await expect.poll(cond, { timeout: timeoutMs, interval: POLL_INTERVAL_MS, message: `timed out waiting for ${what}` }).toBe(true)
}

/**
 * Deadlines the node owns: a signal that aborts when a real timer, held until the deadline is
 * cleared or fires, runs out, or when a parent signal aborts. Every protocol's read deadline is
 * one of these (protocols/*.md, "Deadlines and limits").
 *
 * Not `AbortSignal.any([..., AbortSignal.timeout(ms)])`: on Node 20 the combined signal is held
 * only weakly by its sources, so a garbage collection between start and deadline can drop it
 * with its timeout, and the deadline never comes (a silent peer then holds its stream forever).
 * Here the timer's callback holds the controller, and Node's timer list holds the timer.
 */
import type { Stream } from '@libp2p/interface'
import { ErrorCode, TallyError } from '../errors/index.js'

/** a deadline ran out before the work it bounds finished */
export class DeadlineExceededError extends TallyError {
  override name = 'DeadlineExceededError'
  override readonly code: ErrorCode = ErrorCode.deadlineExceeded
}

export interface Deadline {
  /** aborts with the deadline's reason when the time is up, or with a parent's reason */
  readonly signal: AbortSignal
  /** the timer ran out (a parent's abort is not expiry) */
  readonly expired: boolean
  /** stops the timer and lets go of the parents; idempotent. Call it on every path. */
  clear: () => void
}

/**
 * A deadline `ms` from now, also aborted by any of `parents` (undefined entries are ignored).
 * `reason` builds the abort reason when the time is up; default a DeadlineExceededError. The
 * timer does not keep the process alive (like AbortSignal.timeout), and is cleared as soon as
 * the deadline fires, a parent aborts or `clear` is called, so a finished exchange leaves no timer.
 */
export function deadline (ms: number, parents?: AbortSignal | ReadonlyArray<AbortSignal | undefined>, reason?: (ms: number) => Error): Deadline {
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`a deadline is a finite number of ms >= 0, got ${ms}`)
  const controller = new AbortController()
  const live = (parents == null ? [] : Array.isArray(parents) ? parents : [parents]).filter((p): p is AbortSignal => p != null)
  let timer: ReturnType<typeof setTimeout> | undefined
  let expired = false
  const release = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    for (const p of live) children.get(p)?.delete(onParentAbort)
  }
  const onParentAbort = (why: unknown): void => {
    release()
    controller.abort(why)
  }
  const early = live.find(p => p.aborted)
  if (early != null) {
    controller.abort(early.reason)
  } else {
    for (const p of live) follow(p, onParentAbort)
    timer = setTimeout(() => {
      timer = undefined
      expired = true
      release()
      controller.abort(reason != null ? reason(ms) : new DeadlineExceededError(`deadline of ${ms} ms passed`))
    }, ms)
    // the globals may be a simulator's virtual timers: unref only where there is one
    if (typeof timer === 'object' && typeof timer.unref === 'function') timer.unref()
  }
  return {
    signal: controller.signal,
    get expired () { return expired },
    clear: release
  }
}

/**
 * The deadlines following each parent. A parent gets one abort listener however many deadlines
 * follow it (a service's shutdown signal is the parent of every stream's deadline; one listener
 * each would trip Node's listener-leak warning), and lets go of a deadline when it is cleared.
 */
const children = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>()

function follow (parent: AbortSignal, onAbort: (reason: unknown) => void): void {
  let set = children.get(parent)
  if (set == null) {
    const s = new Set<(reason: unknown) => void>()
    children.set(parent, s)
    parent.addEventListener('abort', () => {
      children.delete(parent)
      for (const f of [...s]) f(parent.reason)
    }, { once: true })
    set = s
  }
  set.add(onAbort)
}

/**
 * Ends a stream this node is done with: closes our side, then gives the peer until the same
 * deadline (`ms`, or a parent's abort) to close its side, and resets the stream if it has not. A
 * half-closed stream is otherwise held for as long as the peer likes (a silent peer would keep
 * its inbound stream slots and the node's state for it). Resolves true when the stream closed
 * cleanly, false when it was reset; never throws.
 */
export async function endStream (stream: Stream, ms: number, parent?: AbortSignal, reason?: (ms: number) => Error): Promise<boolean> {
  const d = deadline(ms, parent, reason)
  try {
    await stream.close({ signal: d.signal })
    if (stream.status === 'open') {
      await new Promise<void>((resolve, reject) => {
        const onClose = (): void => {
          d.signal.removeEventListener('abort', onAbort)
          resolve()
        }
        const onAbort = (): void => {
          stream.removeEventListener('close', onClose)
          // a parent that aborts because the stream closed (a handler's own 'close' listener) is no failure
          if (stream.status === 'open') reject(d.signal.reason)
          else resolve()
        }
        stream.addEventListener('close', onClose, { once: true })
        if (d.signal.aborted) onAbort()
        else d.signal.addEventListener('abort', onAbort, { once: true })
      })
    }
    return true
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    return false
  } finally {
    d.clear()
  }
}

/** A level-free wake-up: waiters registered before notify() resume; no value, no queue. */
export class Notifier {
  private current = Promise.withResolvers<void>()

  notify (): void {
    this.current.resolve()
    this.current = Promise.withResolvers<void>()
  }

  wait (): Promise<void> {
    return this.current.promise
  }
}

/** Resolve when `p` does, reject when `signal` aborts. */
export async function raceSignal<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw signal.reason
  const aborted = Promise.withResolvers<never>()
  const onAbort = (): void => { aborted.reject(signal.reason) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await Promise.race([p, aborted.promise])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

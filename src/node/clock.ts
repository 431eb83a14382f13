/**
 * The node's one clock: created once by createTallyNode and handed to every service that reads
 * time (market expiries, quotes, sessions, ledger metadata, the re-gossip window). Pure cores
 * never read it; they take the time as an argument.
 */
export interface Clock {
  /** milliseconds since the Unix epoch */
  now(): number
}

/**
 * Reads Date.now() on every call rather than holding a reference to it, so a clock installed
 * process-wide later (the simulator's virtual clock replaces Date) is the one read.
 */
export const systemClock: Clock = { now: () => Date.now() }

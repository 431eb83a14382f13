/**
 * The node's registry of domain services (market, ledger, exec, gateway…): each has start/stop;
 * the node starts them in insertion order after libp2p and stops them in reverse before it.
 */
import { ErrorCode, TallyError } from '../errors/index.js'

export interface TallyService {
  start(): void | Promise<void>
  stop(): void | Promise<void>
}

export class DuplicateServiceError extends TallyError {
  override name = 'DuplicateServiceError'
  override readonly code: ErrorCode = ErrorCode.duplicateService
}

export class ServiceRegistry {
  private readonly entries = new Map<string, TallyService>()
  private started: string[] = []

  add (name: string, service: TallyService): void {
    if (this.entries.has(name)) throw new DuplicateServiceError(`a service named ${JSON.stringify(name)} is already registered`)
    this.entries.set(name, service)
  }

  get<T extends TallyService = TallyService> (name: string): T | undefined {
    return this.entries.get(name) as T | undefined
  }

  names (): string[] {
    return [...this.entries.keys()]
  }

  /** starts every service; if one fails, stops those already started and rethrows */
  async start (): Promise<void> {
    for (const [name, svc] of this.entries) {
      try {
        await svc.start()
      } catch (err) {
        await this.stop()
        throw err
      }
      this.started.push(name)
    }
  }

  /** stops started services in reverse order; every one is stopped even if one throws */
  async stop (): Promise<void> {
    const toStop = this.started.reverse()
    this.started = []
    let first: unknown
    for (const name of toStop) {
      try {
        await this.entries.get(name)?.stop()
      } catch (err) {
        first ??= err
      }
    }
    if (first !== undefined) throw first
  }
}

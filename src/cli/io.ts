/** What a command handler may touch of the outside world, so tests run handlers in-process. */
import { ErrorCode, TallyError } from '../errors/index.js'
export interface CliIO {
  out: (line: string) => void
  err: (line: string) => void
  env: Record<string, string | undefined>
}

export const processIO: CliIO = {
  out: (line) => { process.stdout.write(line + '\n') },
  err: (line) => { process.stderr.write(line + '\n') },
  env: process.env
}

/** a bad flag value or bad config: exit code 2, one line on stderr */
export class UsageError extends TallyError {
  override name = 'UsageError'
  override readonly code: ErrorCode = ErrorCode.invalidUsage
}

/** repeatable flag that also accepts comma-separated values */
export function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map(s => s.trim()).filter(s => s.length > 0)]
}

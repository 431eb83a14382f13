/**
 * Whether the embedded backend's IPC could cap its token rate (issue 17.4): the engine child
 * reports chunks to the parent over a JSON IPC channel (fork, serialization 'json'), one
 * 'chunks' message per event-loop turn of the child. This measures how many tokens/s that
 * channel carries with no model behind it: one token per message (the worst case: a model
 * slower than one event-loop turn per token) and 8 per message (a burst within one turn), parent
 * and child CPU included. Compare with `engine`: the tiny model's own rate in and out of the child.
 */
import { fork } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const MESSAGES = 50_000
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d

async function run (perMessage: number): Promise<Record<string, number>> {
  const child = fork(join(here, 'procs/ipc-child.ts'), [], { execArgv: ['--import', 'tsx'], serialization: 'json', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  try {
    // one small run first so both processes are warm
    for (const n of [1000, MESSAGES]) {
      let tokens = 0
      const t0 = performance.now()
      const cpu0 = process.cpuUsage()
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: any): void => {
          if (m.t === 'chunks') for (const it of m.items) tokens += it[1]
          else if (m.t === 'done') { child.off('message', onMessage); resolve() }
        }
        child.on('message', onMessage)
        child.once('exit', () => { reject(new Error('the IPC child exited')) })
        child.send({ n, perMessage })
      })
      const ms = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      if (n === MESSAGES) {
        return { messages: n, tokens_per_message: perMessage, tokens_per_s: round(tokens / (ms / 1000), 0), messages_per_s: round(n / (ms / 1000), 0), parent_cpu_us_per_message: round((cpu.user + cpu.system) / n, 2) }
      }
    }
    throw new Error('unreachable')
  } finally {
    child.kill()
  }
}

export default async function (): Promise<Record<string, unknown>> {
  return {
    note: 'tokens/s the engine child\'s JSON IPC channel carries with no model behind it; compare engine.backend_tokens_per_s (the tiny model through the child) and engine.direct_tokens_per_s (in-process)',
    one_token_per_message: await run(1),
    eight_tokens_per_message: await run(8)
  }
}

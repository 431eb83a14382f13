/** Runs a TypeScript fixture in a child `node --import tsx` (extra node flags first) and collects its output. */
import { spawn } from 'node:child_process'

export interface ChildRun { code: number | null, out: string, err: string }

export async function runTsChild (nodeFlags: string[], script: string, args: string[]): Promise<ChildRun> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  return { code, out, err }
}

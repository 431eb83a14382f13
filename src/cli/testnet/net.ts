/**
 * The kernel side of the testnet: network namespaces, veth pairs, a bridge and nftables rules,
 * driven through `ip` and `nft` (iproute2, nftables). Every call names its command and stderr
 * when it fails; nothing here knows about Tally nodes.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { UsageError } from '../io.js'
import { ErrorCode, TallyError } from '../../errors/index.js'

const execFileAsync = promisify(execFile)

/** a command of the testnet's kernel setup failed: which one, and what it said */
export class TestnetCommandError extends TallyError {
  override name = 'TestnetCommandError'
  override readonly code: ErrorCode = ErrorCode.testnetCommand
  constructor (readonly command: string, readonly stderr: string) {
    super(`${command} failed: ${String(stderr).trim().split('\n')[0] ?? ''}`)
  }
}

/** the testnet cannot run here (not root, or `ip`/`nft` missing): exit code 2 */
export class TestnetUnavailableError extends UsageError {
  override name = 'TestnetUnavailableError'
  constructor (readonly missing: readonly string[] | string) {
    super(`testnet needs ${[missing].flat().join(', ')} (network namespaces, veth pairs and nftables rules are made with root's ip and nft)`)
  }
}

/** where the Debian packages put `ip` and `nft`, even when PATH lacks the sbin folders */
const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin']

function which (name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...SBIN]) {
    if (dir === '') continue
    try {
      accessSync(join(dir, name), constants.X_OK)
      return join(dir, name)
    } catch {}
  }
  return undefined
}

/**
 * What is missing for a testnet on this machine, each in words ("root", "ip (Debian package
 * iproute2)", "nft (Debian package nftables)"); empty when it can run.
 */
export function testnetMissing (): string[] {
  const missing: string[] = []
  if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root')
  if (which('ip') == null) missing.push('ip (Debian package iproute2)')
  if (which('nft') == null) missing.push('nft (Debian package nftables)')
  return missing
}

/** the UPnP IGD / NAT-PMP daemon a testnet router runs for `upnp` nodes (Debian package miniupnpd-nftables), or undefined */
export function miniupnpdPath (): string | undefined {
  return which('miniupnpd')
}

/** throws TestnetUnavailableError naming what is missing */
export function assertTestnetAvailable (): void {
  const missing = testnetMissing()
  if (missing.length > 0) throw new TestnetUnavailableError(missing)
}

/** runs a command, returns stdout; a non-zero exit throws TestnetCommandError */
export async function sh (cmd: string, args: string[], input?: string): Promise<string> {
  const bin = which(cmd) ?? cmd
  try {
    if (input == null) return (await execFileAsync(bin, args, { maxBuffer: 16 << 20 })).stdout
    return await new Promise<string>((resolve, reject) => {
      const child = execFile(bin, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err != null) reject(Object.assign(err, { stderr }))
        else resolve(stdout)
      })
      child.stdin?.end(input)
    })
  } catch (err: any) {
    throw new TestnetCommandError(`${cmd} ${args.join(' ')}`, String(err?.stderr ?? err?.message ?? err))
  }
}

/** `ip` in namespace `ns` (the root namespace when undefined) */
export async function ip (ns: string | undefined, ...args: string[]): Promise<string> {
  return await sh('ip', ns == null ? args : ['-n', ns, ...args])
}

/** loads an nftables ruleset into namespace `ns` */
export async function nft (ns: string, ruleset: string): Promise<void> {
  await sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], ruleset)
}

/** names of the network namespaces that exist now */
export async function listNamespaces (): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list'])
  return out.split('\n').map(l => l.trim().split(/\s+/)[0]).filter((n): n is string => n != null && n !== '')
}

/** process ids running in namespace `ns` (none when it is gone) */
export async function namespacePids (ns: string): Promise<number[]> {
  try {
    return (await sh('ip', ['netns', 'pids', ns])).split('\n').map(Number).filter(n => Number.isInteger(n) && n > 0)
  } catch {
    return []
  }
}

/** whether a network link of this name exists in the root namespace */
export async function rootLinkExists (name: string): Promise<boolean> {
  try {
    await sh('ip', ['link', 'show', 'dev', name])
    return true
  } catch {
    return false
  }
}

/**
 * Whether the kernel has the netem queueing discipline (link latency): tried on a throwaway
 * dummy link in namespace `ns`. These machines answer "unknown qdisc".
 */
export async function hasNetem (ns: string): Promise<boolean> {
  try {
    await ip(ns, 'link', 'add', 'netemprobe', 'type', 'dummy')
    await sh('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'netemprobe', 'root', 'netem', 'delay', '1ms'])
    return true
  } catch {
    return false
  } finally {
    await ip(ns, 'link', 'del', 'netemprobe').catch(() => {})
  }
}

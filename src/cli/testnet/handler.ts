/** `tally testnet up|down|status`: the thin CLI over ./testnet.ts. */
import type { CliIO } from '../io.js'
import { parseTestnetUpFlags, DEFAULT_TESTNET_DIR, type TestnetDirFlags, type TestnetUpFlags } from './options.js'
import { assertTestnetAvailable } from './net.js'
import { testnetDown, testnetStatus, testnetUp } from './testnet.js'

export async function testnetUpHandler (flags: TestnetUpFlags, io: CliIO): Promise<void> {
  const o = parseTestnetUpFlags(flags)
  const t = await testnetUp({ dir: o.dir, nodes: o.nodes, nat: o.nat, sellers: o.sellers, upnp: o.upnp, latencyMs: o.latencyMs, log: o.json ? undefined : io.out })
  const s = t.state
  if (o.json) {
    const { token: _token, ...shown } = s
    io.out(JSON.stringify({ ...shown, bootstrap: t.bootstrapAddr }))
    return
  }
  io.out(`testnet ${s.prefix} up: ${s.nodes.length} nodes in ${s.dir} (bootstrap ${t.bootstrapAddr})`)
  io.out(`APIs need the bearer token in ${s.dir}/testnet.json; \`tally testnet status --dir ${s.dir}\` reads them all; \`tally testnet down --dir ${s.dir}\` removes it`)
}

export async function testnetDownHandler (flags: TestnetDirFlags, io: CliIO): Promise<void> {
  assertTestnetAvailable()
  const dir = flags.dir ?? DEFAULT_TESTNET_DIR
  const r = await testnetDown(dir)
  if (flags.json === true) { io.out(JSON.stringify(r)); return }
  if (r.prefix == null) io.out(`no testnet up in ${dir}`)
  else io.out(`testnet ${r.prefix} down: ${r.processes} processes stopped, ${r.namespaces.length} namespaces and ${r.links.length} root link removed`)
}

export async function testnetStatusHandler (flags: TestnetDirFlags, io: CliIO): Promise<void> {
  const dir = flags.dir ?? DEFAULT_TESTNET_DIR
  const s = await testnetStatus(dir)
  if (flags.json === true) { io.out(JSON.stringify(s ?? null)); return }
  if (s == null) { io.out(`no testnet up in ${dir}`); return }
  io.out(`testnet ${s.prefix} in ${s.dir}: internet ${s.internet}${s.notes.length > 0 ? ` (${s.notes.join('; ')})` : ''}`)
  const rows = [['node', 'role', 'address', 'internet', 'alive', 'peers', 'offers'], ...s.nodes.map(n => [n.name, n.role, n.ip, n.wanIp, n.alive ? 'yes' : 'NO', String(n.peers ?? '-'), String(n.offers ?? '-')])]
  const widths = rows[0].map((_, c) => Math.max(...rows.map(r => r[c].length)) + 2)
  rows.forEach((r, i) => {
    const error = i > 0 ? s.nodes[i - 1].error : undefined
    io.out((r.map((v, c) => v.padEnd(widths[c])).join('').trimEnd()) + (error != null ? `  ${error}` : ''))
  })
}

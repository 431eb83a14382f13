/** `tally doctor`: the running node's status and, for a seller, why it is or is not getting jobs. */
import type { Command } from 'commander'
import { API_FLAG_HELP, DATA_DIR_FLAG_HELP, callApi, formatCredits, type ApiFlags } from '../api.js'
import type { CliIO } from '../io.js'

interface Flags extends ApiFlags { json?: boolean }

function duration (ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 120) return `${s} s`
  if (s < 7200) return `${Math.floor(s / 60)} min`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

/** the reachability part (`/tally/network`) in plain words */
export function networkLines (net: any): string[] {
  const out: string[] = []
  const r = net.reachability
  const how = r.status === 'public' ? 'REACHABLE from the internet' : r.status === 'private' ? 'NOT directly reachable (behind a NAT or on a LAN)' : 'reachability UNKNOWN so far'
  out.push(`reachability: ${how}: ${String(r.detail)}${r.source === 'autonat' ? '' : ' (judged from its addresses)'}`)
  for (const a of net.addrs.public as string[]) out.push(`  public address ${a}`)
  for (const a of net.addrs.relay as string[]) out.push(`  relay address ${a}`)
  for (const a of net.addrs.unverified as string[]) out.push(`  seen by peers at ${a} (not confirmed by AutoNAT)`)
  if ((net.addrs.relay as string[]).length === 0 && r.status === 'private') out.push('  no relay address: only peers on your own network can dial you')
  out.push(`NAT: ${String(net.nat.type)} (${String(net.nat.detail)})`)
  const c = net.connections
  out.push(`connections: ${String(c.total)} (${String(c.inbound)} inbound, ${String(c.outbound)} outbound; ${String(c.direct)} direct, ${String(c.relayed)} relayed) to ${String(net.peers.connected)} peer(s)`)
  const mesh = Object.entries(net.peers.byTopic as Record<string, number>).map(([t, n]) => `${t} ${n} of ${String(net.peers.subscribersByTopic?.[t] ?? '?')}`).join(', ')
  out.push(`gossip mesh peers per topic (of subscribers): ${mesh}`)
  const s = net.services
  if (s != null) {
    if (s.relayServer != null) out.push(`relay: serving ${String(s.relayServer.reservations)} of ${String(s.relayServer.maxReservations)} slots (each relayed connection cut after ${String(s.relayServer.dataLimitBytes)} bytes or ${String(Math.round(Number(s.relayServer.durationLimitMs) / 1000))} s)`)
    else out.push(`relay: not serving${s.relayClient === true ? '; reserves a slot on a relay' : ''}`)
    out.push(`AutoNAT ${s.autonat === true ? 'on' : 'off'}, hole punching (DCUtR) ${s.dcutr === true ? 'on' : 'off'}, DHT ${String(s.dht.mode)} (${String(s.dht.routingTablePeers)} peers in its table)${s.connectionTarget != null ? `, connection target ${String(s.connectionTarget.min)}-${String(s.connectionTarget.max)}` : ''}, mDNS ${s.mdns === true ? 'on' : 'off'}, UPnP ${s.upnp === true ? 'on' : 'off'}`)
  }
  if (net.upgrades.relayedPeers > 0) out.push(`hole punching: ${String(net.upgrades.upgradedToDirect)} of ${String(net.upgrades.relayedPeers)} peer(s) first reached over a relay later connected directly`)
  const p = net.offerSeen
  if (p != null) {
    out.push(`offer seen: ${String(p.holding)} of ${String(p.asked)} peer(s) asked hold your current offer in their book`)
    for (const x of p.peers as any[]) out.push(`  ${String(x.peer)}: ${x.error != null ? `not asked (${String(x.error)})` : x.holds === true ? `holds it (${String(x.offersInBook)} offers in its book)` : `does not hold it${(x.stale as string[]).length > 0 ? ` (an older version of ${(x.stale as string[]).join(', ')})` : ''}`}`)
  }
  return out
}

/** the status and the checks in plain words */
export function doctorLines (status: any, diagnosis: any[], network?: any): string[] {
  const out: string[] = []
  const net = status.network
  out.push(`account ${String(status.account)}`)
  out.push(`network ${String(net.name)} (net ${String(net.net).slice(0, 8)})${net.development === true ? ', a development network' : ''}; up ${duration(Number(status.uptimeMs))}`)
  const topics = Object.entries(status.peers.byTopic as Record<string, number>).map(([t, n]) => `${t} ${n}`).join(', ')
  out.push(`peers ${String(status.peers.connected)} connected; gossip mesh: ${topics}`)
  for (const a of status.addrs as string[]) out.push(`listening on ${a}`)
  const b = status.balance
  out.push(`balance ${formatCredits(b.balanceUc)} credits (available ${formatCredits(b.availableUc)}, locked ${formatCredits(b.lockedUc)}, credit limit ${formatCredits(b.creditLimitUc)})`)
  out.push(`earned ${formatCredits(b.earnedUc)} credits, spent ${formatCredits(b.spentUc)} credits`)
  for (const s of status.selling as any[]) {
    out.push(`selling ${String(s.model)} at ${String(s.priceInPerMTokUc)}/${String(s.priceOutPerMTokUc)} µc per 1M tokens in/out; ${String(s.sessionsOpen)} of ${String(s.maxSessions)} sessions open; ${(s.capabilities as string[]).join(', ')}`)
  }
  const l = status.ledger
  out.push(`ledger ${String(l.records)} records, ${String(l.pending)} awaited, ${String(l.forks)} forks seen${l.flagged === true ? '; THIS ACCOUNT IS FLAGGED' : ''}`)
  if (network != null) out.push('', ...networkLines(network))
  out.push('')
  const bad = diagnosis.filter(c => c.ok !== true)
  out.push(bad.length === 0 ? 'checks: all good' : `checks: ${bad.length} of ${diagnosis.length} need attention`)
  for (const c of diagnosis) {
    out.push(`${c.ok === true ? 'ok  ' : 'FAIL'} ${String(c.check)}: ${String(c.detail)}`)
    if (c.ok !== true && c.fix !== '') out.push(`     fix: ${String(c.fix)}`)
  }
  return out
}

export function registerDoctor (program: Command, io: CliIO): void {
  program.command('doctor')
    .description('the running node\'s status, its reachability (AutoNAT, public and relay addresses, NAT, connections, mesh, whether peers hold its offer), and for a seller why it is or is not getting jobs (price rank, capacity, reachability, offer seen, flagged, backend)')
    .option('--api <url>', API_FLAG_HELP)
    .option('--data-dir <dir>', DATA_DIR_FLAG_HELP)
    .option('--json', 'print {status, network, diagnosis} as JSON')
    .action(async (f: Flags) => {
      // the network view first: its offer probe (peers asked for their book) feeds the diagnosis
      const network = await callApi(f, io, '/tally/network?probe=offers')
      const [status, diagnosis] = await Promise.all([callApi(f, io, '/tally/status'), callApi(f, io, '/tally/diagnosis')])
      if (f.json === true) { io.out(JSON.stringify({ status, network, diagnosis })); return }
      for (const l of doctorLines(status, diagnosis, network)) io.out(l)
    })
}

/**
 * A seller's "why am I not getting jobs", pure: the facts a node knows about itself in, one
 * check per cause out (price rank, capacity, reachability, offer seen, flagged, backend), each
 * with a one-sentence fix. No I/O and no clock: the operator (operator.ts) gathers the facts.
 */
import { isIP } from 'node:net'

export interface DiagnosisCheck {
  /** stable name: selling, price-rank, capacity, reachable, offer-seen, flagged, backend */
  check: string
  ok: boolean
  /** what the node knows, in plain words */
  detail: string
  /** one plain sentence; empty when ok */
  fix: string
}

export interface OfferStanding {
  model: string
  priceOutPerMTokUc: bigint
  /** 1 = first pick of the router among this model's live offers (mine included) */
  rank: number
  of: number
  /** the cheapest other offer's price out, when there is another offer */
  cheapestOtherPriceOutPerMTokUc?: bigint
  /** sessions running a request now (max_sessions counts these; idle open sessions hold no slot) */
  sessionsOpen: number
  maxSessions: number
}

export interface DiagnosisFacts {
  selling: boolean
  offers: OfferStanding[]
  /** the multiaddrs this node announces (its offer carries them) */
  addrs: string[]
  /** remote addresses of the peers connected now */
  peerAddrs: string[]
  /** inbound connections since start */
  inboundConnections: number
  connectedPeers: number
  /** peers subscribed to the offers topic, and of them in this node's gossip mesh */
  offersTopicPeers: number
  offersTopicMeshPeers: number
  /** the reachability verdict (src/node/operator-network.ts), when the node has one */
  reachability?: { status: 'public' | 'private' | 'unknown', detail: string, relayAddrs: number, publicAddrs: number, relayedConnections: number }
  /** the last offer probe: peers on the offers topic asked for their book, and of them those holding my current offer */
  offerProbe?: { asked: number, holding: number }
  flagged: boolean
  backend: { failures: number, successes: number, lastError?: string, lastFailureAtMs?: number, lastSuccessAtMs?: number }
}

/** the IP in a multiaddr string (/ip4/… or /ip6/…), or undefined for a name or another transport */
function ipOf (addr: string): string | undefined {
  const m = /^\/ip[46]\/([^/]+)/.exec(addr)
  return m != null && isIP(m[1]) !== 0 ? m[1] : undefined
}

/** loopback, private (RFC 1918, CGNAT, link-local, ULA), or public */
export function addressScope (addr: string): 'loopback' | 'private' | 'public' | 'unknown' {
  if (addr.startsWith('/memory/')) return 'loopback'
  const ip = ipOf(addr)
  if (ip == null) return 'unknown'
  if (isIP(ip) === 4) {
    const [a, b] = ip.split('.').map(Number)
    if (a === 127) return 'loopback'
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127) || a === 0) return 'private'
    return 'public'
  }
  const v6 = ip.toLowerCase()
  if (v6 === '::1') return 'loopback'
  if (v6.startsWith('fe80') || v6.startsWith('fc') || v6.startsWith('fd') || v6 === '::') return 'private'
  return 'public'
}

function priceRank (o: OfferStanding): DiagnosisCheck {
  if (o.of <= 1) return { check: 'price-rank', ok: true, detail: `${o.model}: yours is the only offer at ${o.priceOutPerMTokUc} µc per 1M output tokens`, fix: '' }
  const cheapest = o.cheapestOtherPriceOutPerMTokUc
  const detail = `${o.model}: your ${o.priceOutPerMTokUc} µc per 1M output tokens ranks ${o.rank} of ${o.of}${cheapest != null ? ` (cheapest other: ${cheapest})` : ''}`
  if (o.rank === 1) return { check: 'price-rank', ok: true, detail, fix: '' }
  const target = cheapest != null && cheapest > 1n ? cheapest - 1n : 1n
  return { check: 'price-rank', ok: false, detail: `${detail}: buyers pick the cheapest offer first, so you get work only when the cheaper sellers are busy`, fix: `Lower --price-out to ${target} µc per 1M tokens or less to be the first pick for ${o.model}.` }
}

function capacity (o: OfferStanding): DiagnosisCheck {
  const detail = `${o.model}: ${o.sessionsOpen} of ${o.maxSessions} slots running a request`
  if (o.sessionsOpen < o.maxSessions) return { check: 'capacity', ok: true, detail, fix: '' }
  return { check: 'capacity', ok: false, detail: `${detail}: the offer is marked busy while full, so buyers queue or go elsewhere`, fix: 'Raise --max-sessions if the hardware can run more requests at once, or add a second node.' }
}

function reachable (f: DiagnosisFacts): DiagnosisCheck {
  const scopes = f.addrs.map(addressScope)
  if (f.addrs.length === 0) {
    return { check: 'reachable', ok: false, detail: 'this node announces no address: buyers cannot dial it', fix: 'Start the node with --listen /ip4/0.0.0.0/tcp/<port> so it has an address to announce.' }
  }
  const onlyLocal = scopes.every(s => s === 'loopback' || s === 'private')
  const publicPeers = f.peerAddrs.filter(a => addressScope(a) === 'public').length
  const r = f.reachability
  if (r?.status === 'public') {
    return { check: 'reachable', ok: true, detail: `publicly reachable (${r.detail}); ${f.inboundConnections} inbound connection(s) since start`, fix: '' }
  }
  if (r?.status === 'private' && r.relayAddrs > 0) {
    return { check: 'reachable', ok: true, detail: `behind a NAT, reachable through ${r.relayAddrs} relay address(es): buyers connect over the relay, then hole punching (DCUtR) tries a direct connection; ${r.relayedConnections} relayed connection(s) now`, fix: '' }
  }
  if (r?.status === 'private' && publicPeers > 0) {
    return { check: 'reachable', ok: false, detail: `behind a NAT or firewall (${r.detail}) with no relay address, while ${publicPeers} connected peer(s) are on public addresses: buyers outside your network cannot dial you`, fix: 'Connect to a public node that runs a relay (--bootstrap <its address>; this node then reserves a slot and announces a relay address), or forward the listen port on your router (or try --upnp).' }
  }
  if (onlyLocal && publicPeers > 0) {
    return { check: 'reachable', ok: false, detail: `this node announces only loopback or private addresses (${f.addrs.slice(0, 3).join(', ')}) while ${publicPeers} connected peer(s) are on public addresses`, fix: 'Forward the listen port on your router (or listen on a public address) so buyers outside your network can dial you.' }
  }
  if (f.inboundConnections === 0 && f.connectedPeers > 0) {
    return { check: 'reachable', ok: false, detail: 'no peer has dialled this node since it started (all its connections are outbound): whether others can reach it is unknown', fix: 'Check that the listen port is open in the firewall and forwarded by the router.' }
  }
  return { check: 'reachable', ok: true, detail: `${f.inboundConnections} inbound connection(s) since start; announces ${f.addrs.length} address(es)`, fix: '' }
}

function offerSeen (f: DiagnosisFacts): DiagnosisCheck {
  const p = f.offerProbe
  if (p != null && p.asked > 0) {
    if (p.holding === 0) return { check: 'offer-seen', ok: false, detail: `none of the ${p.asked} peer(s) asked holds your current offer in its book (${f.offersTopicPeers} on the offers topic)`, fix: 'Wait a few seconds and run the doctor again; if it stays so, check that peers can reach your announced addresses (see reachable) and that your clock is right (offers expire).' }
    return { check: 'offer-seen', ok: true, detail: `${p.holding} of ${p.asked} peer(s) asked hold your current offer in their book; ${f.offersTopicPeers} peer(s) on the offers topic, ${f.offersTopicMeshPeers} in your gossip mesh`, fix: '' }
  }
  if (f.offersTopicPeers === 0) {
    return { check: 'offer-seen', ok: false, detail: `no peer subscribes to the offers topic (${f.connectedPeers} connected): nobody receives your offer`, fix: 'Start the node with --bootstrap <a peer of the network> so your offer is gossiped to buyers.' }
  }
  return { check: 'offer-seen', ok: true, detail: `${f.offersTopicPeers} peer(s) on the offers topic, ${f.offersTopicMeshPeers} in your gossip mesh`, fix: '' }
}

function flagged (f: DiagnosisFacts): DiagnosisCheck {
  if (!f.flagged) return { check: 'flagged', ok: true, detail: 'the ledger does not flag this account', fix: '' }
  return { check: 'flagged', ok: false, detail: 'the ledger flags this account: it signed two records for one seq, and buyers skip flagged sellers', fix: 'Run one node per identity and sell from a new identity (tally keys new in a fresh --data-dir).' }
}

function backend (f: DiagnosisFacts): DiagnosisCheck {
  const b = f.backend
  const failing = b.failures > 0 && (b.lastSuccessAtMs == null || (b.lastFailureAtMs ?? 0) > b.lastSuccessAtMs)
  const detail = `${b.successes} request(s) served, ${b.failures} failed${b.lastError != null ? `; last error: ${b.lastError}` : ''}`
  if (!failing) return { check: 'backend', ok: true, detail, fix: '' }
  return { check: 'backend', ok: false, detail: `the backend's last request failed: ${detail}`, fix: 'Check the model backend (the server behind --serve-http, or the GGUF file and free memory): its requests fail.' }
}

export function diagnose (f: DiagnosisFacts): DiagnosisCheck[] {
  const out: DiagnosisCheck[] = []
  if (!f.selling) {
    out.push({ check: 'selling', ok: false, detail: 'this node sells nothing', fix: 'Start the node with --serve <model.gguf> or --serve-http <url> to sell inference.' })
    out.push(flagged(f))
    return out
  }
  for (const o of f.offers) out.push(priceRank(o))
  for (const o of f.offers) out.push(capacity(o))
  out.push(reachable(f), offerSeen(f), flagged(f), backend(f))
  return out
}

/** Test helper: a seller and buyers running the negotiate service on plain libp2p nodes, and a raw client. */
import { defaultLogger } from '@libp2p/logger'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { negotiate, NEGOTIATE_PROTOCOL, type NegotiateComponents, type NegotiateInit, type Negotiator, type SellerTerms } from '../../src/contract/negotiate.js'
import { NegotiateFrame } from '../../src/wire/pb/negotiate.js'
import { createPeer, testNet, type PeerOptions, type TestPeer } from './market-helpers.js'

export const MODEL: SellerTerms = {
  modelId: 'tiny-7b',
  fingerprint: 'f'.repeat(64),
  fingerprintVerified: true,
  params: 7_000_000_000n,
  priceInPerMTokUc: 3_000_000n,
  priceOutPerMTokUc: 7_000_000n,
  maxSessions: 2
}

export interface NegotiatingPeer {
  peer: TestPeer
  svc: Negotiator
}

export async function negotiatingPeer (init: NegotiateInit = {}, extra: Partial<NegotiateComponents> = {}, peerOpts: PeerOptions = {}): Promise<NegotiatingPeer> {
  const peer = await createPeer(peerOpts)
  const svc = negotiate(init)({ libp2p: peer.libp2p, signer: peer.signer, net: testNet, logger: defaultLogger(), ...extra })
  await svc.start()
  return { peer, svc }
}

/** a raw client stream on /tally/negotiate for hostile cases */
export async function rawStream (from: TestPeer, to: TestPeer): Promise<{ stream: Stream, lp: LengthPrefixedStream<Stream> }> {
  const stream = await from.libp2p.dialProtocol(to.libp2p.getMultiaddrs(), NEGOTIATE_PROTOCOL)
  return { stream, lp: lpStream(stream, { maxDataLength: 1 << 20 }) }
}

export async function send (lp: LengthPrefixedStream<Stream>, frame: Partial<NegotiateFrame>): Promise<void> {
  await lp.write(NegotiateFrame.encode(frame))
}

export async function receive (lp: LengthPrefixedStream<Stream>, timeoutMs = 10_000): Promise<NegotiateFrame> {
  return NegotiateFrame.decode((await lp.read({ signal: AbortSignal.timeout(timeoutMs) })).subarray())
}

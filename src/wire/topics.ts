/**
 * The gossip topic names of a network, defined once: `tally/<net8>/<kind>/1`, where net8 is the
 * first 4 bytes of the network id in hex. The node subscribes to them, the market and the ledger
 * validate on them.
 */

export type TopicKind = 'offers' | 'bids' | 'records'
export const TOPIC_KINDS: readonly TopicKind[] = ['offers', 'bids', 'records']

/** the short hex form of a network id used in topic names and logs: its first 4 bytes */
export function net8 (net: Uint8Array): string {
  return Buffer.from(net.subarray(0, 4)).toString('hex')
}

/** `tally/<net8>/<kind>/1` */
export function topicName (net: Uint8Array, kind: TopicKind): string {
  return `tally/${net8(net)}/${kind}/1`
}

export function offersTopic (net: Uint8Array): string {
  return topicName(net, 'offers')
}

export function bidsTopic (net: Uint8Array): string {
  return topicName(net, 'bids')
}

export function recordsTopic (net: Uint8Array): string {
  return topicName(net, 'records')
}

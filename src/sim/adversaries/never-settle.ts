/**
 * A lock griefer: a seller that serves and takes the buyer's vouchers like an honest one but
 * never publishes a settle, so the buyer's lock would stay counted against it forever. Its node
 * is a real seller whose ledger refuses to write settles.
 */
import type { TallyNode } from '../../node/tally.js'

/** make `node`'s seller keep every lock: its settles are never written; returns how many it withheld */
export function neverSettle (node: TallyNode): { withheld: () => number } {
  let withheld = 0
  node.ledger.settleSession = async () => {
    withheld++
    throw new Error('this seller never settles')
  }
  return { withheld: () => withheld }
}

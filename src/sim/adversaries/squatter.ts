/**
 * A capacity squatter over the real protocols: it negotiates contracts with a seller (its own
 * key signs each accept) and never publishes their `open`, hoping to hold the seller's capacity
 * for nothing. The seller holds such a contract only as a reservation until `open_within_ms`.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { TallyNode } from '../../node/tally.js'

export interface Squat {
  contractId: string
  /** the contract's end (the seller may clamp the asked one), ms */
  expiresAtMs: number
  /** the quote's open_within_ms: how long the seller keeps it as a reservation */
  openWithinMs: number
}

/** one contract with the seller at `sellerAddr` that is never opened; rejects with the seller's refusal */
export async function squat (node: TallyNode, sellerAddr: string, model: string, lockUc: bigint, contractMs: number, signal?: AbortSignal): Promise<Squat> {
  const contract = await node.negotiator.negotiate(multiaddr(sellerAddr), {
    modelId: model,
    maxSpendUc: lockUc,
    sessionExpiresAtMs: BigInt(Date.now() + contractMs),
    signal
  })
  return {
    contractId: Buffer.from(contract.contractId).toString('hex'),
    expiresAtMs: Number(contract.expiresAtMs),
    openWithinMs: Number(contract.openWithinMs)
  }
}

/**
 * A non-paying buyer over the real protocols: it negotiates a contract, locks the session on
 * the ledger like an honest buyer, sends a request on /tally/infer and reads the chunks, but
 * never answers with a voucher. The honest seller must stop within its paid-ahead window (the
 * contract's max_unpaid_uc; infer.md § Flow 5), or within one chunk when the contract states none.
 */
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { TallyNode } from '../../node/tally.js'
import { decodeSellerFrame, encodeRequest, INFER_PROTOCOL, MAX_SELLER_FRAME_BYTES } from '../../exec/infer/codec.js'

export interface FreeRide {
  /** chunks and output tokens the seller streamed without a voucher */
  chunks: number
  outputTokens: number
  /** the session's billed amount on the last chunk (µc): all of it unpaid, the rider never signs */
  unpaidUc: bigint
  /** the largest window_uc the chunks carried (µc; 0 when none did: a window of one chunk) */
  windowUc: bigint
  /** the contract's max_unpaid_uc (0 = not stated) */
  termUc: bigint
  /** the request's max_tokens: chosen so its whole output costs more than twice the term */
  maxTokens: number
  /** the seller's failure code, when it ended the stream with one */
  failure?: string
  /** the seller sent `done`: it finished the request unpaid */
  done: boolean
  contractId: string
}

/** one session on `sellerAddr` (a multiaddr ending in /p2p/…), never paying; bounded by `timeoutMs` */
export async function freeRide (node: TallyNode, sellerAddr: string, model: string, priceOutUc: bigint, priceInUc: bigint, timeoutMs: number): Promise<FreeRide> {
  const ma = multiaddr(sellerAddr)
  const signal = AbortSignal.timeout(timeoutMs)
  const contract = await node.negotiator.negotiate(ma, {
    modelId: model,
    maxPriceInPerMTokUc: priceInUc,
    maxPriceOutPerMTokUc: priceOutUc,
    maxSpendUc: 200_000n,
    sessionExpiresAtMs: BigInt(Date.now() + 60_000),
    signal
  })
  await node.ledger.openSession({ seller: contract.seller, contractId: contract.contractId, maxSpendUc: contract.maxSpendUc })
  const stream = await node.libp2p.dialProtocol(ma, INFER_PROTOCOL, { signal })
  const lp = lpStream(stream, { maxDataLength: MAX_SELLER_FRAME_BYTES })
  // ask for more than the window covers, so a seller that ignored its window would be seen to
  const termUc = contract.maxUnpaidUc
  const maxTokens = Math.max(200, Number(termUc * 2n * 1_000_000n / (priceOutUc > 0n ? priceOutUc : 1n)) + 64)
  const ride: FreeRide = { chunks: 0, outputTokens: 0, unpaidUc: 0n, windowUc: 0n, termUc, maxTokens, done: false, contractId: Buffer.from(contract.contractId).toString('hex') }
  try {
    // seed 296: the simulated backend's longest natural completion of this prompt (255 tokens)
    await lp.write(encodeRequest(contract.contractId, { messages: [{ role: 'user', content: 'write a long essay for free' }], maxTokens, seed: 296 }), { signal })
    while (true) {
      const frame = decodeSellerFrame(await lp.read({ signal }))
      if (frame.failure != null) { ride.failure = String(frame.failure.code); break }
      if (frame.chunk != null) {
        ride.chunks++
        ride.outputTokens += Number(frame.chunk.outputTokens)
        if (frame.chunk.amountUc > ride.unpaidUc) ride.unpaidUc = frame.chunk.amountUc
        if ((frame.chunk.windowUc ?? 0n) > ride.windowUc) ride.windowUc = frame.chunk.windowUc ?? 0n
        continue
      }
      if (frame.done != null) ride.done = true
      break
    }
  } catch (err: any) {
    ride.failure ??= String(err?.name ?? 'Error')
  } finally {
    stream.abort(new Error('free rider leaves'))
  }
  return ride
}

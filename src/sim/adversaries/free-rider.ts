/**
 * A non-paying buyer over the real protocols: it negotiates a contract, locks the session on
 * the ledger like an honest buyer, sends a request on /tally/infer and reads the chunks, but
 * never answers with a voucher. The honest seller must stop within one chunk.
 */
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { TallyNode } from '../../node/tally.js'
import { decodeSellerFrame, encodeRequest, INFER_PROTOCOL, MAX_SELLER_FRAME_BYTES } from '../../exec/infer/codec.js'

export interface FreeRide {
  /** chunks and output tokens the seller streamed without a voucher */
  chunks: number
  outputTokens: number
  /** the seller's failure code, when it ended the stream with one */
  failure?: string
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
  const ride: FreeRide = { chunks: 0, outputTokens: 0, contractId: Buffer.from(contract.contractId).toString('hex') }
  try {
    await lp.write(encodeRequest(contract.contractId, { messages: [{ role: 'user', content: 'write a long essay for free' }], maxTokens: 200 }), { signal })
    while (true) {
      const frame = decodeSellerFrame(await lp.read({ signal }))
      if (frame.failure != null) { ride.failure = String(frame.failure.code); break }
      if (frame.chunk != null) { ride.chunks++; ride.outputTokens += Number(frame.chunk.outputTokens); continue }
      break
    }
  } catch (err: any) {
    ride.failure ??= String(err?.name ?? 'Error')
  } finally {
    stream.abort(new Error('free rider leaves'))
  }
  return ride
}

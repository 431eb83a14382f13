/**
 * A history line names the other party of each record from the asking account's point of view:
 * the buyer's open and the seller's settle name each other, never the account itself.
 */
import { describe, expect, it } from 'vitest'
import { LedgerService } from '../../../src/ledger/service.js'
import { signVoucher } from '../../../src/ledger/record.js'
import { World } from './world.js'

describe('ledger history counterparties', () => {
  it('an open names the seller for the buyer and the buyer for the seller; so does the settle', async () => {
    const w = new World(3)
    const buyer = new LedgerService({ genesis: w.genesis, signer: w.actors[1].signer })
    const seller = new LedgerService({ genesis: w.genesis, signer: w.actors[2].signer })
    await Promise.all([buyer.start(), seller.start()])
    await w.sign(0, { type: 'credit', to: w.key(1), amountUc: 50_000n })
    for (const s of [buyer, seller]) s.add(w.records[0])
    const contractId = new Uint8Array(32).fill(4)
    const open = await buyer.openSession({ seller: w.key(2), contractId, maxSpendUc: 10_000n })
    seller.add(open.bytes)
    const voucher = signVoucher(w.actors[1].signer, w.actors[0].ledger.net, { contractId, nonce: 1n, amountUc: 2_500n })
    const settle = await seller.settleSession({ openId: open.id, voucherBytes: voucher })
    buyer.add(settle.bytes)
    const buyerId = buyer.balance().account
    const sellerId = seller.balance().account

    const line = (s: LedgerService, id: string, account?: string): unknown => s.history(account).find(e => e.id === id)
    for (const view of [buyer, seller]) {
      // the buyer's own history, read on either node
      expect(line(view, open.id, buyerId)).toMatchObject({ type: 'open', from: buyerId, counterparty: sellerId, deltaUc: 0n })
      expect(line(view, settle.id, buyerId)).toMatchObject({ type: 'settle', from: sellerId, counterparty: sellerId, deltaUc: -2_500n })
      // the seller's
      expect(line(view, open.id, sellerId)).toMatchObject({ type: 'open', counterparty: buyerId })
      expect(line(view, settle.id, sellerId)).toMatchObject({ type: 'settle', counterparty: buyerId, deltaUc: 2_500n })
    }
    expect(line(buyer, open.id)).toMatchObject({ counterparty: sellerId })
    expect(line(seller, open.id)).toMatchObject({ counterparty: buyerId })
  })
})

/** The registry of built-in scenarios, by name. */
import type { Scenario } from '../scenario.js'
import steady from './steady.js'
import churn from './churn.js'
import partition from './partition.js'
import priceShock from './price-shock.js'
import overbillingSeller from './overbilling-seller.js'
import nonPayingBuyer from './non-paying-buyer.js'
import doubleSpender from './double-spender.js'
import gossipSpammer from './gossip-spammer.js'
import stallingSeller from './stalling-seller.js'
import capacitySquatter from './capacity-squatter.js'
import sybilDrain, { sybilDrainBaseline } from './sybil-drain.js'
import lockGriefer from './lock-griefer.js'
import grantChain from './grant-chain.js'
import batchAuction, { batchAuctionBaseline } from './batch-auction.js'

export const SCENARIOS: Readonly<Record<string, Scenario>> = Object.freeze({
  [steady.name]: steady,
  [churn.name]: churn,
  [partition.name]: partition,
  [priceShock.name]: priceShock,
  [overbillingSeller.name]: overbillingSeller,
  [nonPayingBuyer.name]: nonPayingBuyer,
  [doubleSpender.name]: doubleSpender,
  [gossipSpammer.name]: gossipSpammer,
  [stallingSeller.name]: stallingSeller,
  [capacitySquatter.name]: capacitySquatter,
  [sybilDrain.name]: sybilDrain,
  [sybilDrainBaseline.name]: sybilDrainBaseline,
  [lockGriefer.name]: lockGriefer,
  [grantChain.name]: grantChain,
  [batchAuction.name]: batchAuction,
  [batchAuctionBaseline.name]: batchAuctionBaseline
})

export function scenarioNames (): string[] {
  return Object.keys(SCENARIOS)
}

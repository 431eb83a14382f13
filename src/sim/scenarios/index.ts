/** The registry of built-in scenarios, by name. */
import type { Scenario } from '../scenario.js'
import steady from './steady.js'
import churn from './churn.js'
import partition from './partition.js'
import priceShock from './price-shock.js'

export const SCENARIOS: Readonly<Record<string, Scenario>> = Object.freeze({
  [steady.name]: steady,
  [churn.name]: churn,
  [partition.name]: partition,
  [priceShock.name]: priceShock
})

export function scenarioNames (): string[] {
  return Object.keys(SCENARIOS)
}

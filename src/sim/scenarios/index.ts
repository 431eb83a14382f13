/** The registry of built-in scenarios, by name. */
import type { Scenario } from '../scenario.js'
import steady from './steady.js'

export const SCENARIOS: Readonly<Record<string, Scenario>> = Object.freeze({
  [steady.name]: steady
})

export function scenarioNames (): string[] {
  return Object.keys(SCENARIOS)
}

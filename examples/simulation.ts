/**
 * Run a built-in scenario over real in-process Tally nodes and write the JSON result and the
 * HTML report. `npx tsx examples/simulation.ts [scenario] [peers] [duration-ms]`
 */
import '../src/polyfill.js'
import { writeFile } from 'node:fs/promises'
import { runSimulation, renderSimReport, SCENARIOS, scenarioNames } from '../src/sim/index.js'

const name = process.argv[2] ?? 'steady'
const peers = Number(process.argv[3] ?? 30)
const durationMs = Number(process.argv[4] ?? 10_000)
const scenario = SCENARIOS[name]
if (scenario == null) {
  process.stderr.write(`unknown scenario ${name}; known: ${scenarioNames().join(', ')}\n`)
  process.exit(2)
}
const result = await runSimulation({
  peers,
  scenario,
  seed: 'example',
  durationMs,
  onProgress: (p) => { if (p.phase !== 'trading') process.stderr.write(`${p.phase} ${p.done}/${p.total}\n`) }
})
await writeFile('simulation.json', JSON.stringify(result, null, 2))
await writeFile('simulation.html', await renderSimReport(result))
process.stdout.write(`${result.requests.completed}/${result.requests.sent} requests, offer propagation p95 ${result.offerPropagationMs.p95} ms, ledgers agree: ${result.balancesAgree}\n`)
process.stdout.write('wrote simulation.json and simulation.html\n')

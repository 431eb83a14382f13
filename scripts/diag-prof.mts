import '../src/polyfill.js'
import { Session } from 'node:inspector/promises'
import { writeFileSync } from 'node:fs'
import { runSimulation } from '../src/sim/simulation.js'
import { SCENARIOS } from '../src/sim/scenarios/index.js'
import { wallNowMs } from '../src/sim/clock.js'
const N = Number(process.argv[2] ?? 300); const dur = Number(process.argv[3] ?? 10000)
const s = new Session(); s.connect()
await s.post('Profiler.enable'); await s.post('Profiler.setSamplingInterval', { interval: 1000 })
await s.post('Profiler.start')
const t0 = wallNowMs()
let last = ''
const res = await runSimulation({ peers: N, scenario: SCENARIOS.steady, seed: 1, durationMs: dur, onProgress: (p) => { if (p.phase !== last) { last = p.phase; console.error(((wallNowMs() - t0) / 1000).toFixed(1), 'wall s:', p.phase) } } })
const { profile } = await s.post('Profiler.stop')
writeFileSync('/work/diag/prof-v.cpuprofile', JSON.stringify(profile))
console.error('done', res.resources.wallMs, res.resources.simulatedMs)
process.exit(0)

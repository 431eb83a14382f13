/** The simulator's public surface: run a scenario over N real nodes, the scenario API, reports. */
export { runSimulation, SimulationError, SIM_MODEL, SIM_CLOCKS, type SimClock, type SimulationOptions, type SimResult, type SimProgress, type SellerShare } from './simulation.js'
export { VirtualClock, VirtualClockError, installedClock, wallNowMs } from './clock.js'
export { defineScenario, type Scenario, type SimContext, type SimPeer, type ScenarioDefaults, type AddPeerOptions, type PeerRole } from './scenario.js'
export { SCENARIOS, scenarioNames } from './scenarios/index.js'
export { renderSimReport } from './html.js'
export { createRng, type Rng } from './rng.js'
export { summarize, quantile, type Summary } from './stats.js'

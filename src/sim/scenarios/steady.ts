/** steady: buyers and sellers trade at a constant rate; the baseline every other scenario varies. */
import { defineScenario } from '../scenario.js'

export default defineScenario({
  name: 'steady',
  description: 'honest buyers send requests at a steady rate to honest sellers at spread prices',
  defaults: { sellersShare: 0.3, durationMs: 20_000 },
  run: async () => {}
})

/** `tally offers [--model m]`: the market as the running node's order book sees it. */
import type { Command } from 'commander'
import { callApi, table, type ApiFlags } from '../api.js'
import type { CliIO } from '../io.js'

interface Flags extends ApiFlags { model?: string, json?: boolean }

export function registerOffers (program: Command, io: CliIO): void {
  program.command('offers')
    .description('offers on the market, cheapest first')
    .option('--model <id>', 'only this model')
    .option('--api <url>', 'the node\'s API (default http://127.0.0.1:8080, env TALLY_API)')
    .option('--json', 'print JSON')
    .action(async (f: Flags) => {
      const r = await callApi(f, io, `/tally/offers${f.model != null ? `?model=${encodeURIComponent(f.model)}` : ''}`)
      if (f.json === true) { io.out(JSON.stringify(r)); return }
      for (const l of table(r.offers.map((o: any) => ({ model: o.model, seller: o.seller, 'µc/1M in': o.priceInPerMTokUc, 'µc/1M out': o.priceOutPerMTokUc, 'µc/Bpt': Number(o.pricePerBpt).toPrecision(3), params: o.params, quant: o.quantization, verified: o.fingerprintVerified ? 'yes' : 'no' })))) io.out(l)
    })
}

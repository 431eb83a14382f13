/** `tally offers [--model m]`: the market as the running node's order book sees it. */
import type { Command } from 'commander'
import { callApi, table, API_FLAG_HELP, DATA_DIR_FLAG_HELP, type ApiFlags } from '../api.js'
import type { CliIO } from '../io.js'

interface Flags extends ApiFlags { model?: string, json?: boolean }

export function registerOffers (program: Command, io: CliIO): void {
  program.command('offers')
    .description('offers on the market, every model\'s (or one with --model), cheapest first')
    .option('--model <id>', 'only this model')
    .option('--api <url>', API_FLAG_HELP)
    .option('--data-dir <dir>', DATA_DIR_FLAG_HELP)
    .option('--json', 'print JSON')
    .action(async (f: Flags) => {
      const r = await callApi(f, io, `/tally/offers${f.model != null ? `?model=${encodeURIComponent(f.model)}` : ''}`)
      if (f.json === true) { io.out(JSON.stringify(r)); return }
      const row = (o: any): Record<string, string | number> => ({ seller: o.seller, 'µc/1M in': o.priceInPerMTokUc, 'µc/1M out': o.priceOutPerMTokUc, 'µc/Bpt': Number(o.pricePerBpt).toPrecision(3), params: o.params, quant: o.quantization, verified: o.fingerprintVerified ? 'yes' : 'no' })
      // every model's offers, one table per model (a node older than the grouping sends the flat list only)
      const groups: Array<{ model: string, offers: any[] }> = r.models ?? [...new Set<string>(r.offers.map((o: any) => o.model))].map(model => ({ model, offers: r.offers.filter((o: any) => o.model === model) }))
      if (groups.length === 0) { io.out(f.model != null ? `no offers for ${f.model}` : 'no offers on the market yet'); return }
      groups.forEach((g, i) => {
        if (i > 0) io.out('')
        io.out(`${g.model}: ${g.offers.length} offer${g.offers.length === 1 ? '' : 's'}, cheapest first`)
        for (const l of table(g.offers.map(row))) io.out(l)
      })
    })
}

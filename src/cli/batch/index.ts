/** `tally batch run input.jsonl …`: a batch job run by a running node (docs/batch.md § CLI). */
import type { Command } from 'commander'
import { API_FLAG_HELP, DATA_DIR_FLAG_HELP } from '../api.js'
import type { CliIO } from '../io.js'
import type { BatchRunFlags } from './handler.js'

export function registerBatch (program: Command, io: CliIO, signal: AbortSignal): void {
  const batch = program.command('batch').description('batch jobs: many chat requests bought from the market within a price, a budget and a deadline')
  const run = batch.command('run <input>')
    .description('run a JSONL file of chat requests (OpenAI batch input format) on the running node; run it again with the same --out to resume')
    .option('--out <file>', 'where the output lines go (default: <input>.out.jsonl; failed lines in <out>.errors.jsonl)')
    .option('--max-price <uc>', 'most µc per 1M output tokens a line may be bought at')
    .option('--max-price-in <uc>', 'most µc per 1M input tokens')
    .option('--budget <amount>', 'most the whole job may spend: µc (250000) or credits (0.25c)')
    .option('--deadline <window>', 'lines not done by then fail (batch_expired): 90m, 2h, 1d', '24h')
    .option('--concurrency <n>', 'lines in flight at one seller at once', '2')
    .option('--poll-ms <ms>', 'how often progress is read', '1000')
    .option('--api <url>', API_FLAG_HELP)
    .option('--data-dir <dir>', DATA_DIR_FLAG_HELP)
    .option('--json', 'print the final report as JSON')
    .action(async (input: string, f: BatchRunFlags) => { await (await import('./handler.js')).batchRunHandler(input, f, io, signal) })
  // main.ts sets these on top-level commands only
  for (const c of [batch, run]) c.exitOverride().configureOutput(program.configureOutput())
}

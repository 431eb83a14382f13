/**
 * `tally batch run`: uploads the input file to the running node's OpenAI-compatible batch API,
 * creates the batch, shows its progress on stderr, and writes the output (and error) lines when it
 * ends, then the cost of each line and of the whole job in Bpt and credits. The job runs in the
 * node, not here: `<out>.batch.json` remembers it, so running the command again with the same
 * input and --out follows the same batch (the node resumes it after a restart) instead of buying
 * it again.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { apiBase, formatCredits, parseAmountUc, table, NodeApiError, type ApiFlags } from '../api.js'
import { UsageError, type CliIO } from '../io.js'
import { MAX_BATCH_FILE_BYTES, MAX_CONCURRENCY_PER_SELLER, TERMINAL, parseWindow, type BatchObject, type BatchStatus, type OutputLine } from '../../node/batch/format.js'

export interface BatchRunFlags extends ApiFlags {
  out?: string
  maxPrice?: string
  maxPriceIn?: string
  budget?: string
  deadline: string
  concurrency: string
  pollMs: string
  json?: boolean
}

/** one call of the node's API */
const API_TIMEOUT_MS = 30_000
/** width of the progress bar */
const BAR = 30

interface RunState { batch_id: string, input_sha256: string }

function positive (v: string | undefined, flag: string): string | undefined {
  if (v == null) return undefined
  if (!/^[1-9][0-9]{0,18}$/.test(v)) throw new UsageError(`${flag} must be a positive integer (µc per 1M tokens), got ${JSON.stringify(v)}`)
  return v
}

async function api (base: URL, io: CliIO, path: string, init: { method?: string, body?: unknown, form?: FormData, raw?: boolean } = {}): Promise<any> {
  const headers: Record<string, string> = {}
  const token = io.env.TALLY_GATEWAY_TOKEN
  if (token != null && token !== '') headers.authorization = `Bearer ${token}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const url = new URL(path, base)
  let res: Response
  try {
    res = await fetch(url, { method: init.method ?? 'GET', headers, body: init.form ?? (init.body === undefined ? undefined : JSON.stringify(init.body)), signal: AbortSignal.timeout(API_TIMEOUT_MS) })
  } catch (err: any) {
    throw new NodeApiError(`no node API at ${base.origin} (${err?.cause?.code ?? err?.message}); start a node with: tally start (or name one with --api <url> or --data-dir <dir>)`)
  }
  if (init.raw === true && res.ok) return Buffer.from(await res.arrayBuffer())
  const text = await res.text()
  let body: any
  try { body = JSON.parse(text) } catch { throw new NodeApiError(`${url.pathname}: the node answered ${res.status} with non-JSON`) }
  if (!res.ok) throw Object.assign(new NodeApiError(`${url.pathname}: ${res.status} ${body?.error?.message ?? text.slice(0, 200)}`), { status: res.status })
  return body
}

function progressLine (b: BatchObject): string {
  const c = b.request_counts
  const done = c.completed + c.failed
  const fill = c.total > 0 ? Math.min(BAR, Math.max(0, Math.round(BAR * done / c.total))) : 0
  return `[${'#'.repeat(fill)}${'-'.repeat(BAR - fill)}] ${done}/${c.total} (${c.completed} ok, ${c.failed} failed) ${b.status}, spent ${formatCredits(b.tally.spent_uc)} credits, ${b.tally.bpt} Bpt`
}

export async function batchRunHandler (input: string, f: BatchRunFlags, io: CliIO, signal: AbortSignal): Promise<void> {
  if (!existsSync(input)) throw new UsageError(`no input file ${input}`)
  const data = readFileSync(input)
  if (data.length > MAX_BATCH_FILE_BYTES) throw new UsageError(`${input} exceeds ${MAX_BATCH_FILE_BYTES} bytes (split it into several batches)`)
  const out = f.out ?? `${input.replace(/\.jsonl$/, '')}.out.jsonl`
  const stateFile = `${out}.batch.json`
  const errorsOut = `${out.replace(/\.jsonl$/, '')}.errors.jsonl`
  try { parseWindow(f.deadline, '--deadline') } catch (err) { throw new UsageError((err as Error).message) }
  const concurrency = Number(f.concurrency)
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY_PER_SELLER) throw new UsageError(`--concurrency must be an integer 1..${MAX_CONCURRENCY_PER_SELLER}`)
  const pollMs = Number(f.pollMs)
  if (!Number.isInteger(pollMs) || pollMs < 50) throw new UsageError('--poll-ms must be an integer ≥ 50')
  const tally = {
    ...(positive(f.maxPrice, '--max-price') != null ? { max_price: f.maxPrice } : {}),
    ...(positive(f.maxPriceIn, '--max-price-in') != null ? { max_price_in: f.maxPriceIn } : {}),
    ...(f.budget != null ? { budget_uc: parseAmountUc(f.budget).toString() } : {}),
    concurrency_per_seller: concurrency
  }
  const base = apiBase(f, io)
  const sha = createHash('sha256').update(data).digest('hex')

  // the same input and --out as a run before: follow that batch (the node resumed it after a restart)
  let batch: BatchObject | undefined
  if (existsSync(stateFile)) {
    const st = JSON.parse(readFileSync(stateFile, 'utf8')) as RunState
    if (st.input_sha256 !== sha) throw new UsageError(`${stateFile} belongs to another input (its sha256 differs): remove it or choose another --out`)
    try {
      batch = await api(base, io, `/v1/batches/${encodeURIComponent(st.batch_id)}`)
      io.err(`resuming ${st.batch_id} (${batch!.status})`)
    } catch (err: any) {
      if (err?.status !== 404) throw err
      io.err(`${st.batch_id} is not on this node: starting a new batch`)
    }
  }
  if (batch == null) {
    const form = new FormData()
    form.append('purpose', 'batch')
    form.append('file', new Blob([data]), basename(input))
    const file = await api(base, io, '/v1/files', { method: 'POST', form })
    batch = await api(base, io, '/v1/batches', { method: 'POST', body: { input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: f.deadline, metadata: { source: basename(input).slice(0, 500) }, tally } }) as BatchObject
    writeFileSync(stateFile, JSON.stringify({ batch_id: batch.id, input_sha256: sha } satisfies RunState) + '\n')
    io.err(`batch ${batch.id} created from ${input} (${data.length} bytes)`)
  }

  let last = ''
  while (!TERMINAL.has(batch.status as BatchStatus)) {
    if (signal.aborted) { io.err(`stopped watching ${batch.id}: it goes on in the node; run the same command again to follow it`); return }
    const line = progressLine(batch)
    if (line !== last) { io.err(line); last = line }
    await new Promise(resolve => setTimeout(resolve, pollMs))
    batch = await api(base, io, `/v1/batches/${encodeURIComponent(batch.id)}`) as BatchObject
  }
  io.err(progressLine(batch))

  const outputs: OutputLine[] = []
  if (batch.output_file_id != null) {
    const text = (await api(base, io, `/v1/files/${batch.output_file_id}/content`, { raw: true }) as Buffer).toString('utf8')
    writeAtomic(out, text)
    for (const l of text.split('\n')) if (l.trim() !== '') outputs.push(JSON.parse(l))
  }
  let failed = 0
  if (batch.error_file_id != null) {
    const text = (await api(base, io, `/v1/files/${batch.error_file_id}/content`, { raw: true }) as Buffer).toString('utf8')
    writeAtomic(errorsOut, text)
    failed = text.split('\n').filter(l => l.trim() !== '').length
  }
  const report = costReport(batch, outputs, failed)
  if (f.json === true) {
    io.out(JSON.stringify(report))
  } else {
    for (const l of table(report.lines.map(x => ({ custom_id: x.custom_id, seller: x.seller.slice(0, 16), 'tokens in': x.input_tokens, 'tokens out': x.output_tokens, Bpt: x.bpt, credits: formatCredits(x.cost_uc) })))) io.out(l)
    io.out('')
    for (const l of table(report.sellers.map(s => ({ seller: s.seller, lines: s.lines, Bpt: s.bpt, credits: formatCredits(s.cost_uc) })))) io.out(l)
    io.out('')
    io.out(`${batch.id} ${batch.status}: ${report.completed} lines done, ${report.failed} failed; ${report.bpt} Bpt, ${formatCredits(report.cost_uc)} credits${outputs.length > 0 ? `; output in ${out}` : ''}${failed > 0 ? `; failed lines in ${errorsOut}` : ''}`)
  }
  if (batch.status !== 'completed') throw new NodeApiError(`batch ${batch.id} ended ${batch.status}${batch.errors?.data?.[0] != null ? `: ${batch.errors.data[0].message}` : ''}`)
}

function writeAtomic (file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text)
  renameSync(`${file}.tmp`, file)
}

/** the cost of each line and of the job: Bpt exact (nano-Bpt sums), credits from µc */
export function costReport (b: BatchObject, outputs: OutputLine[], failed: number): { batch: string, status: string, completed: number, failed: number, bpt: string, cost_uc: string, lines: Array<{ custom_id: string, seller: string, input_tokens: number, output_tokens: number, bpt: string, cost_uc: string }>, sellers: Array<{ seller: string, lines: number, bpt: string, cost_uc: string }> } {
  const nano = (bpt: string): bigint => { const [w, fr = ''] = bpt.split('.'); return BigInt(w) * 1_000_000_000n + BigInt((fr + '000000000').slice(0, 9)) }
  const fmt = (n: bigint): string => { const w = n / 1_000_000_000n; const fr = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, ''); return fr === '' ? w.toString() : `${w}.${fr}` }
  const lines = outputs.map(o => {
    const body = o.response?.body as any
    return { custom_id: o.custom_id ?? '', seller: String(body?.tally?.seller ?? ''), input_tokens: Number(body?.usage?.prompt_tokens ?? 0), output_tokens: Number(body?.usage?.completion_tokens ?? 0), bpt: String(body?.tally?.bpt ?? '0'), cost_uc: String(BigInt(body?.tally?.cost_uc ?? 0) + BigInt(body?.tally?.abandoned_cost_uc ?? 0)) }
  })
  const by = new Map<string, { lines: number, nano: bigint, uc: bigint }>()
  let totalNano = 0n
  let totalUc = 0n
  for (const l of lines) {
    const s = by.get(l.seller) ?? { lines: 0, nano: 0n, uc: 0n }
    s.lines++
    s.nano += nano(l.bpt)
    s.uc += BigInt(l.cost_uc)
    by.set(l.seller, s)
    totalNano += nano(l.bpt)
    totalUc += BigInt(l.cost_uc)
  }
  return {
    batch: b.id,
    status: b.status,
    completed: lines.length,
    failed,
    bpt: fmt(totalNano),
    cost_uc: totalUc.toString(),
    lines,
    sellers: [...by.entries()].map(([seller, s]) => ({ seller, lines: s.lines, bpt: fmt(s.nano), cost_uc: s.uc.toString() })).sort((a, c) => c.lines - a.lines)
  }
}

/**
 * Batch files and jobs on disk under `<dataDir>/batch` (docs/batch.md § On disk): each input
 * file as `files/<id>.jsonl` with its `files/<id>.json` object; each batch as
 * `batches/<id>/batch.json` (replaced atomically), `output.jsonl` and `errors.jsonl` (appended,
 * each line fsynced before its line counts as done). A torn last line (a kill mid-write) is cut
 * off when the batch is read back.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { BatchNotFoundError, type BatchObject, type FileObject, type OutputLine, type BatchLimits } from './format.js'

/** a batch as stored: OpenAI's object and what Tally needs to resume it */
export interface StoredBatch {
  batch: BatchObject
  /** unix ms: lines not done by then fail with batch_expired */
  deadlineAtMs: number
  limits: { maxPriceOutPerMTokUc?: string, maxPriceInPerMTokUc?: string, budgetUc?: string, concurrencyPerSeller: number }
}

const ID_RE = /^(file|batch)-[0-9a-f]{24}(-output|-errors)?$/

/** ids are made here and checked on every lookup: a path is never built from unchecked input */
export function validId (id: string, kind: 'file' | 'batch'): boolean {
  return ID_RE.test(id) && id.startsWith(kind + '-')
}

export function limitsOf (s: StoredBatch): BatchLimits {
  const big = (v?: string): bigint | undefined => v == null ? undefined : BigInt(v)
  return { maxPriceOutPerMTokUc: big(s.limits.maxPriceOutPerMTokUc), maxPriceInPerMTokUc: big(s.limits.maxPriceInPerMTokUc), budgetUc: big(s.limits.budgetUc), concurrencyPerSeller: s.limits.concurrencyPerSeller }
}

function writeAtomic (file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    if (typeof data === 'string') writeSync(fd, data)
    else writeSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, file)
}

/** an append-only JSONL file whose every line is on disk when append() returns */
export class DurableLog {
  private fd: number | undefined
  constructor (readonly path: string) {}

  append (line: unknown): void {
    this.fd ??= openSync(this.path, 'a', 0o600)
    writeSync(this.fd, JSON.stringify(line) + '\n')
    fsyncSync(this.fd)
  }

  close (): void {
    if (this.fd != null) closeSync(this.fd)
    this.fd = undefined
  }
}

/** the lines of a JSONL file written by DurableLog; a torn or unreadable tail is cut off the file */
export function readLog (path: string): OutputLine[] {
  if (!existsSync(path)) return []
  const text = readFileSync(path, 'utf8')
  const out: OutputLine[] = []
  let good = 0
  let at = 0
  while (at < text.length) {
    const nl = text.indexOf('\n', at)
    if (nl < 0) break
    try {
      out.push(JSON.parse(text.slice(at, nl)))
    } catch {
      break
    }
    at = nl + 1
    good = at
  }
  if (good < text.length) truncateSync(path, Buffer.byteLength(text.slice(0, good)))
  return out
}

export class BatchStore {
  readonly filesDir: string
  readonly batchesDir: string

  constructor (readonly dir: string) {
    this.filesDir = join(dir, 'files')
    this.batchesDir = join(dir, 'batches')
    mkdirSync(this.filesDir, { recursive: true })
    mkdirSync(this.batchesDir, { recursive: true })
  }

  fileCount (): number {
    return readdirSync(this.filesDir).filter(f => f.endsWith('.json')).length
  }

  batchCount (): number {
    return readdirSync(this.batchesDir).length
  }

  /** the data first, then the object: a file whose object exists is whole */
  putFile (f: FileObject, data: Buffer): void {
    writeAtomic(join(this.filesDir, `${f.id}.jsonl`), data)
    writeAtomic(join(this.filesDir, `${f.id}.json`), JSON.stringify(f))
  }

  getFile (id: string): FileObject {
    const p = join(this.filesDir, `${id}.json`)
    if (!validId(id, 'file') || !existsSync(p)) throw new BatchNotFoundError(`No such File object: ${id.slice(0, 64)}`)
    return JSON.parse(readFileSync(p, 'utf8'))
  }

  fileData (id: string): Buffer {
    this.getFile(id)
    return readFileSync(join(this.filesDir, `${id}.jsonl`))
  }

  batchDir (id: string): string {
    return join(this.batchesDir, id)
  }

  outputPath (id: string): string { return join(this.batchDir(id), 'output.jsonl') }
  errorsPath (id: string): string { return join(this.batchDir(id), 'errors.jsonl') }

  putBatch (s: StoredBatch): void {
    mkdirSync(this.batchDir(s.batch.id), { recursive: true })
    writeAtomic(join(this.batchDir(s.batch.id), 'batch.json'), JSON.stringify(s))
  }

  getBatch (id: string): StoredBatch {
    const p = join(this.batchDir(id), 'batch.json')
    if (!validId(id, 'batch') || !existsSync(p)) throw new BatchNotFoundError(`No such Batch object: ${id.slice(0, 64)}`)
    return JSON.parse(readFileSync(p, 'utf8'))
  }

  /** every stored batch, newest first */
  listBatches (): StoredBatch[] {
    const all: StoredBatch[] = []
    for (const id of readdirSync(this.batchesDir)) {
      if (!validId(id, 'batch') || !existsSync(join(this.batchDir(id), 'batch.json'))) continue
      all.push(this.getBatch(id))
    }
    return all.sort((a, b) => b.batch.created_at - a.batch.created_at || (a.batch.id < b.batch.id ? 1 : -1))
  }

  sizeOf (path: string): number {
    return existsSync(path) ? statSync(path).size : 0
  }
}

/**
 * The layering of src/ (docs/architecture.md, "Layering"), enforced: every import of every
 * src/**\/*.ts file is read with the TypeScript compiler's own pre-processor and checked against
 * the allowed graph, and the pure cores are checked for libp2p imports and clock reads.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(__dirname, '../..')
const SRC = join(ROOT, 'src')

/** the domains: each may use the layers below it, never another domain */
const DOMAINS = ['market', 'contract', 'exec', 'ledger'] as const
const BELOW_DOMAINS = ['wire', 'identity', 'errors', 'polyfill'] as const

/**
 * Which top-level folder of src/ may import which. A folder may always import itself.
 * `root` is src/index.ts (the SDK barrel), `polyfill` is src/polyfill.ts (imported first by every
 * entry point).
 */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  /** the protons uint64 writer fix (src/wire) must be installed before any codec runs */
  polyfill: ['wire'],
  identity: ['errors'],
  wire: ['identity', 'errors'],
  market: BELOW_DOMAINS,
  contract: BELOW_DOMAINS,
  exec: BELOW_DOMAINS,
  ledger: BELOW_DOMAINS,
  node: [...DOMAINS, ...BELOW_DOMAINS],
  api: ['node', ...DOMAINS, ...BELOW_DOMAINS],
  demo: ['node', 'api', ...DOMAINS, ...BELOW_DOMAINS],
  sim: ['node', ...DOMAINS, ...BELOW_DOMAINS],
  cli: ['node', 'api', 'demo', 'sim', ...DOMAINS, ...BELOW_DOMAINS],
  root: ['node', 'api', 'demo', ...DOMAINS, ...BELOW_DOMAINS]
}

/** pure logic: no libp2p, no clock, no randomness of its own (time and randomness are inputs) */
export const PURE_CORES = [
  'src/ledger/validity.ts',
  'src/market/order-book.ts',
  'src/market/router.ts',
  'src/exec/metering.ts',
  'src/exec/pricing.ts'
]

export interface Edge { from: string, to: string }

/** the layer of a path relative to the repo root: the folder under src/, or root / polyfill */
export function layerOf (path: string): string {
  const parts = path.split('/')
  if (parts[0] !== 'src') throw new Error(`${path} is not under src/`)
  if (parts.length === 2) return parts[1] === 'polyfill.ts' ? 'polyfill' : 'root'
  return parts[1]
}

/** the edges that break the layering, each as "from → to" */
export function forbiddenEdges (edges: readonly Edge[]): string[] {
  const bad: string[] = []
  for (const { from, to } of edges) {
    const a = layerOf(from)
    const b = layerOf(to)
    if (a === b) continue
    const allowed = ALLOWED[a]
    if (allowed == null) bad.push(`${from} → ${to} (layer "${a}" is not in the layering table)`)
    else if (!allowed.includes(b)) bad.push(`${from} → ${to} (${a} may not import ${b})`)
  }
  return bad
}

/** libp2p packages: the network, which pure logic never touches */
export function isLibp2p (specifier: string): boolean {
  return specifier === 'libp2p' || specifier.startsWith('libp2p/') || specifier.startsWith('@libp2p/') || specifier.startsWith('@chainsafe/')
}

/** `Date.now`, `performance.now`, `Math.random` and argument-less `new Date()` in source text */
export function clockReads (fileName: string, text: string): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true)
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const name = `${node.expression.text}.${node.name.text}`
      if (name === 'Date.now' || name === 'performance.now' || name === 'Math.random') {
        found.push(`${fileName}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${name}`)
      }
    }
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Date' && (node.arguments?.length ?? 0) === 0) {
      found.push(`${fileName}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1} new Date()`)
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return found
}

function sourceFiles (): string[] {
  return (readdirSync(SRC, { recursive: true }) as string[])
    .filter(p => p.endsWith('.ts') && !p.endsWith('.d.ts'))
    .map(p => `src/${p.split(sep).join('/')}`)
    .sort()
}

/** every import specifier of a file, static, re-export and dynamic */
function specifiers (path: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(ROOT, path), 'utf8'), true, true)
  return info.importedFiles.map(f => f.fileName)
}

/** the project file a relative specifier names (`../x.js` is the source `../x.ts`) */
function resolveRelative (from: string, specifier: string): string {
  const target = relative(ROOT, resolve(ROOT, dirname(from), specifier)).split(sep).join('/')
  return target.replace(/\.js$/, '.ts')
}

function projectEdges (files: readonly string[]): Edge[] {
  return files.flatMap(from => specifiers(from)
    .filter(s => s.startsWith('.'))
    .map(s => ({ from, to: resolveRelative(from, s) })))
}

describe('layering', () => {
  const files = sourceFiles()

  it('reads the whole source tree', () => {
    // a glob that matched nothing would pass every check below
    expect(files.length).toBeGreaterThan(100)
    for (const layer of ['identity', 'wire', 'market', 'contract', 'exec', 'ledger', 'node', 'api', 'cli', 'sim', 'demo', 'errors']) {
      expect(files.some(f => layerOf(f) === layer), layer).toBe(true)
    }
  })

  it('every layer of src/ is in the table', () => {
    const unknown = [...new Set(files.map(layerOf))].filter(l => ALLOWED[l] == null)
    expect(unknown).toEqual([])
  })

  it('no import crosses the layering', () => {
    const edges = projectEdges(files)
    expect(edges.length).toBeGreaterThan(300)
    expect(forbiddenEdges(edges)).toEqual([])
  })

  it('every relative import names a file that exists', () => {
    const existing = new Set(files)
    const dangling = projectEdges(files).filter(e => !existing.has(e.to)).map(e => `${e.from} → ${e.to}`)
    expect(dangling).toEqual([])
  })

  it('the pure cores import no libp2p and read no clock or randomness', () => {
    for (const path of PURE_CORES) expect(files, path).toContain(path)
    const libp2p = PURE_CORES.flatMap(path => specifiers(path).filter(isLibp2p).map(s => `${path} → ${s}`))
    expect(libp2p).toEqual([])
    const reads = PURE_CORES.flatMap(path => clockReads(path, readFileSync(join(ROOT, path), 'utf8')))
    expect(reads).toEqual([])
  })

  describe('the rules themselves', () => {
    it('flag a forbidden edge and pass an allowed one', () => {
      expect(forbiddenEdges([{ from: 'src/market/service.ts', to: 'src/ledger/genesis.ts' }])).toEqual([
        'src/market/service.ts → src/ledger/genesis.ts (market may not import ledger)'
      ])
      expect(forbiddenEdges([{ from: 'src/node/node.ts', to: 'src/sim/net/index.ts' }])).toHaveLength(1)
      expect(forbiddenEdges([{ from: 'src/wire/envelope.ts', to: 'src/node/tally.ts' }])).toHaveLength(1)
      expect(forbiddenEdges([{ from: 'src/identity/account.ts', to: 'src/wire/envelope.ts' }])).toHaveLength(1)
      expect(forbiddenEdges([{ from: 'src/contract/messages.ts', to: 'src/market/offer.ts' }])).toHaveLength(1)
      expect(forbiddenEdges([{ from: 'src/node/tally.ts', to: 'src/api/gateway.ts' }])).toHaveLength(1)
      expect(forbiddenEdges([{ from: 'src/errors/index.ts', to: 'src/wire/errors.ts' }])).toHaveLength(1)
      expect(forbiddenEdges([{ from: 'src/newthing/x.ts', to: 'src/wire/errors.ts' }])).toHaveLength(1)
      expect(forbiddenEdges([
        { from: 'src/wire/envelope.ts', to: 'src/identity/ed25519.ts' },
        { from: 'src/market/offer.ts', to: 'src/wire/fields.ts' },
        { from: 'src/market/offer.ts', to: 'src/market/bid.ts' },
        { from: 'src/sim/simulation.ts', to: 'src/node/tally.ts' },
        { from: 'src/api/gateway.ts', to: 'src/node/tally.ts' },
        { from: 'src/node/tally.ts', to: 'src/polyfill.ts' },
        { from: 'src/index.ts', to: 'src/node/index.ts' }
      ])).toEqual([])
    })

    it('resolve a relative specifier to the source file', () => {
      expect(resolveRelative('src/market/service.ts', '../wire/topics.js')).toBe('src/wire/topics.ts')
      expect(resolveRelative('src/exec/infer/seller.ts', '../backend.js')).toBe('src/exec/backend.ts')
    })

    it('find clock reads in code but not in comments or strings', () => {
      const text = [
        '// Date.now() in a comment is fine',
        'const s = "performance.now"',
        'export const t = Date.now()',
        'export const u = performance.now()',
        'export const d = new Date()',
        'export const e = new Date(0)'
      ].join('\n')
      expect(clockReads('x.ts', text)).toEqual(['x.ts:3 Date.now', 'x.ts:4 performance.now', 'x.ts:5 new Date()'])
    })

    it('tell libp2p packages from others', () => {
      expect(['libp2p', '@libp2p/gossipsub', '@chainsafe/libp2p-noise'].every(isLibp2p)).toBe(true)
      expect(['node:crypto', 'protons-runtime', './offer.js'].some(isLibp2p)).toBe(false)
    })
  })
})

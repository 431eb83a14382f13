/**
 * Prometheus naming rules over a scrape (the text format), for the metrics tests: what
 * `promtool check metrics` checks and the rules Tally adds (units, bounded labels), so CI
 * enforces them where promtool is not installed. Also runs promtool when it is on PATH.
 */
import { spawnSync } from 'node:child_process'
// @ts-expect-error the package ships no types; its shape is prom2json's (below)
import parsePrometheusTextFormat from 'parse-prometheus-text-format'

export type FamilyType = 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'

export interface Sample {
  labels?: Record<string, string>
  /** counters, gauges, untyped */
  value?: string
  /** histograms: upper bound → cumulative count */
  buckets?: Record<string, string>
  count?: string
  sum?: string
}

export interface Family { name: string, help: string, type: FamilyType, metrics: Sample[] }

export function parseScrape (text: string): Family[] {
  return parsePrometheusTextFormat(text) as Family[]
}

/** one family by name, or a failure naming it */
export function family (families: Family[], name: string): Family {
  const f = families.find(x => x.name === name)
  if (f == null) throw new Error(`no family ${name} in the scrape`)
  return f
}

/** the value of the one series of `name` whose labels include `labels` (0 when absent) */
export function value (families: Family[], name: string, labels: Record<string, string> = {}): number {
  const f = family(families, name)
  const s = f.metrics.find(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return s?.value != null ? Number(s.value) : 0
}

/** label values a Tally family must never carry: peer ids, account keys, long free text */
const UNBOUNDED_VALUE = [
  { re: /^12D3Koo[1-9A-HJ-NP-Za-km-z]{40,}$/, what: 'a peer id' },
  { re: /^[0-9a-f]{64}$/, what: 'a 32-byte hex key or id' },
  { re: /^.{81,}$/s, what: 'free text over 80 chars' }
]

/** base units Prometheus wants instead of their scaled forms */
const SCALED_UNITS = /_(milliseconds|ms|microseconds|us|nanoseconds|ns|minutes|hours|days|kilobytes|kb|megabytes|mb|gigabytes|gb|bits|percent)(_|$)/

/** one sample line of the text: its metric name (a histogram's with _bucket/_sum/_count) and labels */
export interface SampleLine { name: string, labels: Record<string, string>, value: number }

/**
 * Every sample line, read from the text itself: the parser (parse-prometheus-text-format 1.1.1)
 * folds a labelled histogram's series into one and drops their labels, so histogram counts and
 * label checks read the lines.
 */
export function sampleLines (text: string): SampleLine[] {
  const out: SampleLine[] = []
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line)
    if (m == null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    out.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return out
}

/** a histogram's observation count for the series whose labels include `labels` (0 when absent) */
export function histogramCount (text: string, name: string, labels: Record<string, string>): number {
  const s = sampleLines(text).find(x => x.name === `${name}_count` && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
  return s?.value ?? 0
}

/** what is wrong with the scrape, one line per problem; empty when clean */
export function lintScrape (text: string): string[] {
  const families = parseScrape(text)
  const problems = lintFamilies(families)
  const composite = new Set(families.filter(f => f.type === 'HISTOGRAM' || f.type === 'SUMMARY').map(f => f.name))
  for (const s of sampleLines(text)) {
    // a histogram's or summary's lines are named by their family
    const base = s.name.replace(/_(bucket|sum|count)$/, '')
    const name = composite.has(base) ? base : s.name
    for (const [k, v] of Object.entries(s.labels)) {
      if (k !== k.toLowerCase()) problems.push(`${name}: label ${k} is not snake_case`)
      for (const u of UNBOUNDED_VALUE) if (u.re.test(v)) problems.push(`${name}: label ${k}=${JSON.stringify(v.slice(0, 90))} is ${u.what} (labels must be bounded)`)
    }
  }
  return [...new Set(problems)]
}

/** what is wrong with each family's name, type and help, one line per problem; empty when clean */
export function lintFamilies (families: Family[]): string[] {
  const problems: string[] = []
  for (const f of families) {
    const n = f.name
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(n)) problems.push(`${n}: not a valid metric name`)
    if (f.help == null || f.help.trim() === '') problems.push(`${n}: no help text`)
    if (f.type === 'COUNTER' && !n.endsWith('_total')) problems.push(`${n}: a counter's name must end in _total`)
    if (f.type !== 'COUNTER' && n.endsWith('_total')) problems.push(`${n}: a ${f.type.toLowerCase()} must not end in _total (only counters do)`)
    if (f.type === 'UNTYPED') problems.push(`${n}: untyped`)
    if (SCALED_UNITS.test(n)) problems.push(`${n}: use base units (seconds, bytes), not ${SCALED_UNITS.exec(n)?.[1] ?? ''}`)
    if (n !== n.toLowerCase()) problems.push(`${n}: metric names are snake_case`)
  }
  return problems
}

/** `promtool check metrics` on the text: undefined when promtool is not on PATH */
export function promtoolCheck (text: string): { ok: boolean, output: string } | undefined {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (r.error != null && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() }
}

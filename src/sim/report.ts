/**
 * Self-contained HTML reports: vega-lite specs rendered to SVG headless (no canvas, no
 * browser), inlined in one page with the run's figures as tables and the raw JSON at the end.
 */
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

export interface ReportSection {
  title: string
  /** one-line explanation under the title */
  note?: string
  table?: Array<Record<string, string | number | boolean>>
  charts?: TopLevelSpec[]
}

function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

export async function renderSvg (spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

function tableHtml (rows: Array<Record<string, string | number | boolean>>): string {
  if (rows.length === 0) return '<p><em>no rows</em></p>'
  // the union of the rows' keys, in first-seen order (rows of different shapes share one table)
  const cols = [...new Set(rows.flatMap(r => Object.keys(r)))]
  const head = cols.map(c => `<th>${escapeHtml(c)}</th>`).join('')
  const body = rows.map(r => `<tr>${cols.map(c => `<td>${escapeHtml(String(r[c] ?? ''))}</td>`).join('')}</tr>`).join('\n')
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`
}

export async function renderHtmlReport (title: string, sections: ReportSection[], raw: unknown): Promise<string> {
  const parts: string[] = []
  for (const s of sections) {
    parts.push(`<section><h2>${escapeHtml(s.title)}</h2>`)
    if (s.note != null) parts.push(`<p>${escapeHtml(s.note)}</p>`)
    if (s.table != null) parts.push(tableHtml(s.table))
    for (const c of s.charts ?? []) parts.push(`<figure>${await renderSvg(c)}</figure>`)
    parts.push('</section>')
  }
  const json = JSON.stringify(raw, (_k, v) => typeof v === 'bigint' ? v.toString() : v, 2)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}th{background:#f4f4f4}figure{margin:1em 0}
pre{background:#f8f8f8;padding:1em;overflow:auto;max-height:30em}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${parts.join('\n')}
<section><h2>Raw results</h2><pre>${escapeHtml(json)}</pre></section>
</body></html>
`
}

/** a histogram of samples (ms) */
export function histogramSpec (title: string, field: string, samples: number[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 480,
    height: 200,
    data: { values: samples.map(v => ({ [field]: v })) },
    mark: 'bar',
    encoding: {
      x: { field, type: 'quantitative', bin: { maxbins: 30 }, title: field },
      y: { aggregate: 'count', type: 'quantitative', title: 'count' }
    }
  }
}

/** a line chart of points {x, y, series?} */
export function lineSpec (title: string, xTitle: string, yTitle: string, points: Array<{ x: number, y: number, series?: string }>): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 480,
    height: 200,
    data: { values: points },
    mark: { type: 'line', point: points.length < 60 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle },
      y: { field: 'y', type: 'quantitative', title: yTitle },
      ...(points.some(p => p.series != null) ? { color: { field: 'series', type: 'nominal' } } : {})
    }
  }
}

/** a scatter of points {x, y, label} */
export function scatterSpec (title: string, xTitle: string, yTitle: string, points: Array<{ x: number, y: number, label: string }>): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 480,
    height: 240,
    data: { values: points },
    mark: { type: 'point', filled: true, size: 60 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: yTitle },
      tooltip: { field: 'label', type: 'nominal' }
    }
  }
}

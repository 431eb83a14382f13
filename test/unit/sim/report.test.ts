import { describe, it, expect } from 'vitest'
import { histogramSpec, lineSpec, renderHtmlReport, scatterSpec } from '../../../src/sim/report.js'

describe('sim HTML report', () => {
  it('renders SVG charts, tables and escaped raw JSON into one page', async () => {
    const html = await renderHtmlReport('run <1>', [
      { title: 'Propagation', note: 'ms', table: [{ p50: 12, p95: 40 }], charts: [histogramSpec('offer propagation', 'ms', [1, 2, 3, 10, 40])] },
      { title: 'Market', charts: [scatterSpec('share vs price', 'price', 'share', [{ x: 1, y: 0.7, label: 'a' }, { x: 3, y: 0.3, label: 'b' }]), lineSpec('divergence', 't', 'views', [{ x: 0, y: 3 }, { x: 1, y: 1 }])] }
    ], { big: 10n ** 20n, s: '<script>' })
    expect(html.match(/<svg/g)?.length).toBe(3)
    expect(html).toContain('run &lt;1&gt;')
    expect(html).toContain('100000000000000000000')
    expect(html).not.toContain('<script>')
    expect(html).toContain('<td>40</td>')
  })
})

/**
 * The metrics naming rules (metrics-lint.ts) catch what promtool refuses and what Tally adds, and
 * the HTTP API's own registries (gateway and process, no node) pass them; libp2p's families are
 * renamed clean; model labels stay bounded.
 */
import { describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import { GatewayMetrics, processRegistry } from '../../../src/api/metrics.js'
import { MAX_MODEL_LABELS, OTHER_MODELS, boundedModels, promtoolClean } from '../../../src/node/metrics.js'
import { histogramCount, lintScrape, parseScrape, promtoolCheck } from './metrics-lint.js'

const family = (name: string, type: string, help = 'what it counts', samples = `${name} 1`): string => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${samples}\n`

describe('metrics lint', () => {
  it('accepts clean families', () => {
    const text = family('a_total', 'counter') + family('b_bytes', 'gauge') +
      '# HELP c_seconds x\n# TYPE c_seconds histogram\nc_seconds_bucket{le="1",route="/x"} 1\nc_seconds_bucket{le="+Inf",route="/x"} 1\nc_seconds_sum{route="/x"} 0.5\nc_seconds_count{route="/x"} 1\n'
    expect(lintScrape(text)).toEqual([])
    expect(histogramCount(text, 'c_seconds', { route: '/x' })).toBe(1)
  })

  it('names each broken rule', () => {
    expect(lintScrape(family('g_total', 'gauge'))).toEqual(['g_total: a gauge must not end in _total (only counters do)'])
    expect(lintScrape(family('c', 'counter'))).toEqual(['c: a counter\'s name must end in _total'])
    expect(lintScrape(`# TYPE h gauge\nh 1\n`)).toEqual(['h: no help text'])
    expect(lintScrape(family('lat_milliseconds', 'gauge'))).toEqual(['lat_milliseconds: use base units (seconds, bytes), not milliseconds'])
    expect(lintScrape(family('by_peer', 'gauge', 'x', 'by_peer{peer="12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"} 1'))).toEqual([
      'by_peer: label peer="12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo" is a peer id (labels must be bounded)'
    ])
    // a histogram's labels are read from its lines (the parser drops them)
    expect(lintScrape('# HELP h_seconds x\n# TYPE h_seconds histogram\nh_seconds_bucket{le="+Inf",account="' + 'ab'.repeat(32) + '"} 1\nh_seconds_sum{account="' + 'ab'.repeat(32) + '"} 1\nh_seconds_count{account="' + 'ab'.repeat(32) + '"} 1\n')).toHaveLength(1)
  })

  it('the API\'s gateway and process series pass (prom-client\'s *_total gauges are dropped)', async () => {
    const gw = new GatewayMetrics()
    gw.failed(503)
    const text = await Registry.merge([processRegistry(), gw.registry]).metrics()
    expect(lintScrape(text)).toEqual([])
    const names = parseScrape(text).map(f => f.name)
    expect(names).toContain('tally_gateway_spent_microcredits_total')
    expect(names).toContain('tally_nodejs_active_handles')
    const promtool = promtoolCheck(text)
    if (promtool == null) console.log('promtool is not on PATH: `promtool check metrics` skipped')
    else expect(promtool.output).toBe('')
  })

  it('libp2p\'s families are renamed clean: a *_total gauge loses the suffix, milliseconds become seconds', () => {
    const raw = family('libp2p_protocol_streams_total', 'gauge', 'streams', 'libp2p_protocol_streams_total{protocol="inbound /x"} 3') +
      family('libp2p_connection_monitor_ping_time_milliseconds', 'gauge', 'ping', 'libp2p_connection_monitor_ping_time_milliseconds 250') +
      family('libp2p_data_transfer_bytes_total', 'counter', 'bytes', 'libp2p_data_transfer_bytes_total{protocol="global sent"} 10')
    expect(lintScrape(raw)).toHaveLength(2)
    const clean = promtoolClean(raw)
    expect(lintScrape(clean)).toEqual([])
    const f = parseScrape(clean)
    expect(f.map(x => [x.name, x.metrics[0].value])).toEqual([
      ['libp2p_protocol_streams', '3'],
      ['libp2p_connection_monitor_ping_time_seconds', '0.25'],
      ['libp2p_data_transfer_bytes_total', '10']
    ])
  })

  it('model labels are bounded: the largest models by offers, the rest (and unsafe ids) summed as other', () => {
    const many = Array.from({ length: MAX_MODEL_LABELS + 5 }, (_, i) => ({ modelId: `m${String(i).padStart(2, '0')}`, sellers: 100 - i }))
    many.push({ modelId: 'x'.repeat(65), sellers: 1000 }, { modelId: 'bad id', sellers: 1000 }, { modelId: OTHER_MODELS, sellers: 2 })
    const rows = boundedModels(many)
    expect(rows).toHaveLength(MAX_MODEL_LABELS + 1)
    expect(rows[0]).toEqual(['m00', 100])
    const other = many.slice(MAX_MODEL_LABELS, MAX_MODEL_LABELS + 5).reduce((s, m) => s + m.sellers, 0) + 2000 + 2
    expect(rows[rows.length - 1]).toEqual([OTHER_MODELS, other])
    expect(boundedModels([])).toEqual([])
  })
})

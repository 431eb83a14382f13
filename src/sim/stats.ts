/** Summaries of metric samples (ms, counts): nearest-rank quantiles, no floats in money. */

export interface Summary {
  count: number
  p50: number
  p95: number
  max: number
  mean: number
}

/** nearest-rank quantile of sorted samples; NaN when there are none */
export function quantile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

export function summarize (samples: readonly number[]): Summary {
  const s = samples.filter(Number.isFinite).slice().sort((x, y) => x - y)
  const round = (v: number): number => Number.isFinite(v) ? Math.round(v * 10) / 10 : -1
  return {
    count: s.length,
    p50: round(quantile(s, 0.5)),
    p95: round(quantile(s, 0.95)),
    max: round(s.length === 0 ? Number.NaN : s[s.length - 1]),
    mean: round(s.length === 0 ? Number.NaN : s.reduce((a, b) => a + b, 0) / s.length)
  }
}

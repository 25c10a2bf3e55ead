import { LATENCY_BUCKETS } from '@promptmill/infra/db';

/**
 * Lower edges (ms) of latency buckets 1..19 of usage_hourly (migration 015, pm_latency_edges());
 * bucket 0 is [0, 10), bucket i is [EDGES[i-1], EDGES[i]), bucket 19 is [120000, ∞).
 */
export const LATENCY_EDGES_MS = [
  10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 20000, 30000, 60000, 120000,
] as const;

/**
 * The q-quantile (nearest rank) of runs summed into a latency histogram, as an upper bound: the upper
 * edge of the bucket holding it, capped by the largest latency seen. Never below the true value, at
 * most one bucket above it. null without runs.
 */
export function latencyQuantile(histogram: readonly number[], maxMs: number, q: number): number | null {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    seen += histogram[i] ?? 0;
    if (seen >= rank) {
      const upper = LATENCY_EDGES_MS[i];
      return upper === undefined ? maxMs : Math.min(upper, maxMs);
    }
  }
  return maxMs;
}

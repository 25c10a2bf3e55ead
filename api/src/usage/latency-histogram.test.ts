import { LATENCY_BUCKETS } from '@promptmill/infra/db';
import { describe, expect, it } from 'vitest';
import { LATENCY_EDGES_MS, latencyQuantile } from './latency-histogram.ts';

const bucketOf = (ms: number) => LATENCY_EDGES_MS.filter((e) => ms >= e).length;

function histogramOf(latencies: number[]): number[] {
  const h = new Array<number>(LATENCY_BUCKETS).fill(0);
  for (const ms of latencies) h[bucketOf(ms)]! += 1;
  return h;
}

const exactQuantile = (latencies: number[], q: number) => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
};

describe('latencyQuantile', () => {
  it('has one bucket more than edges, as the table has columns', () => {
    expect(LATENCY_EDGES_MS.length + 1).toBe(LATENCY_BUCKETS);
  });

  it('is null without runs', () => {
    expect(latencyQuantile(new Array(LATENCY_BUCKETS).fill(0), 0, 0.95)).toBeNull();
  });

  it('is never below the exact p95 and at most one bucket above it', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(random() * 300);
      const latencies = Array.from({ length: n }, () => Math.floor(random() ** 3 * 200_000));
      const exact = exactQuantile(latencies, 0.95);
      const estimate = latencyQuantile(histogramOf(latencies), Math.max(...latencies), 0.95)!;
      expect(estimate).toBeGreaterThanOrEqual(exact);
      const b = bucketOf(exact);
      const upper = LATENCY_EDGES_MS[b] ?? Math.max(...latencies);
      expect(estimate).toBeLessThanOrEqual(upper);
    }
  });

  it('caps the estimate at the largest latency seen', () => {
    expect(latencyQuantile(histogramOf([120, 130, 140]), 140, 0.95)).toBe(140);
    expect(latencyQuantile(histogramOf([500_000]), 500_000, 0.95)).toBe(500_000);
  });
});

// Shared helpers for the benchmarks: bounded load loops and percentile reports.

export interface LoadResult {
  label: string;
  concurrency: number;
  count: number;
  errors: number;
  seconds: number;
  throughput: number;
  p50: number;
  p99: number;
  mean: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/**
 * Runs `fn` from `concurrency` loops until `total` calls are done or `maxMs` has passed (bounded in
 * count and time). `fn` resolves true on success. Latencies in milliseconds.
 */
export async function runLoad(
  label: string,
  opts: { concurrency: number; total: number; maxMs: number },
  fn: () => Promise<boolean>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let started = 0;
  let errors = 0;
  const deadline = performance.now() + opts.maxMs;
  const t0 = performance.now();
  const loop = async () => {
    while (started < opts.total && performance.now() < deadline) {
      started++;
      const s = performance.now();
      let ok = false;
      try {
        ok = await fn();
      } catch {
        ok = false;
      }
      latencies.push(performance.now() - s);
      if (!ok) errors++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    label,
    concurrency: opts.concurrency,
    count: latencies.length,
    errors,
    seconds,
    throughput: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
  };
}

export function printTable(rows: LoadResult[]): void {
  const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log(
    `${'case'.padEnd(44)} ${'conc'.padStart(4)} ${'n'.padStart(6)} ${'err'.padStart(4)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.label.padEnd(44)} ${String(r.concurrency).padStart(4)} ${String(r.count).padStart(6)} ${String(r.errors).padStart(4)} ${fmt(r.throughput).padStart(8)} ${fmt(r.p50, 2).padStart(8)} ${fmt(r.p99, 2).padStart(8)}`,
    );
  }
}

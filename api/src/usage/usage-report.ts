import {
  LATENCY_BUCKETS,
  type Sql,
  type UsageGroupBy,
  type UsageRow,
  type UsageSums,
  usageByBucket,
  usageGroupNames,
} from '@promptmill/infra/db';
import type { AuthContext } from '../auth/auth-context.ts';
import { latencyQuantile } from './latency-histogram.ts';
import type { Bucket, Metrics } from './usage.schemas.ts';
import { bucketEnd, type UsageRange } from './usage-range.ts';

const emptySums = (): UsageSums => ({
  requests: 0,
  errors: 0,
  canceled: 0,
  cacheHits: 0,
  promptTokens: 0,
  completionTokens: 0,
  cost: 0,
  latencyMsSum: 0,
  latencyMax: 0,
  latencyHistogram: new Array<number>(LATENCY_BUCKETS).fill(0),
});

function addSums(into: UsageSums, row: UsageSums): void {
  into.requests += row.requests;
  into.errors += row.errors;
  into.canceled += row.canceled;
  into.cacheHits += row.cacheHits;
  into.promptTokens += row.promptTokens;
  into.completionTokens += row.completionTokens;
  into.cost += row.cost;
  into.latencyMsSum += row.latencyMsSum;
  into.latencyMax = Math.max(into.latencyMax, row.latencyMax);
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    into.latencyHistogram[i] = (into.latencyHistogram[i] ?? 0) + (row.latencyHistogram[i] ?? 0);
  }
}

/** USD to the stored precision (numeric(18, 9)): sums of many costs carry no float noise. */
const usd = (v: number) => Math.round(v * 1e9) / 1e9;

export function toMetrics(s: UsageSums): Metrics {
  return {
    requests: s.requests,
    errors: s.errors,
    canceled: s.canceled,
    cacheHits: s.cacheHits,
    promptTokens: s.promptTokens,
    completionTokens: s.completionTokens,
    totalTokens: s.promptTokens + s.completionTokens,
    cost: usd(s.cost),
    avgLatencyMs: s.requests === 0 ? null : Math.round((s.latencyMsSum / s.requests) * 10) / 10,
    p95LatencyMs: latencyQuantile(s.latencyHistogram, s.latencyMax, 0.95),
  };
}

/** Rows of one series summed into every bucket of the range (buckets without runs stay zero). */
export function zeroFilled(
  range: UsageRange,
  rows: readonly UsageRow[],
): { totals: UsageSums; buckets: Bucket[] } {
  const sums = range.starts.map(() => emptySums());
  const index = new Map(range.starts.map((s, i) => [s.getTime(), i]));
  const totals = emptySums();
  for (const row of rows) {
    const i = index.get(row.bucket.getTime());
    if (i === undefined) continue;
    addSums(sums[i]!, row);
    addSums(totals, row);
  }
  const buckets = range.starts.map((start, i) => ({
    start: start.toISOString(),
    end: bucketEnd(start, range.granularity).toISOString(),
    ...toMetrics(sums[i]!),
  }));
  return { totals, buckets };
}

export interface UsageReportInput {
  range: UsageRange;
  groupBy?: UsageGroupBy | undefined;
  keyId?: string | undefined;
}

/** Usage of the caller's organization (a prompt-restricted key: of its prompts only). */
export async function buildUsageReport(sql: Sql, auth: AuthContext, input: UsageReportInput) {
  const { range, groupBy } = input;
  const rows = await usageByBucket(sql, {
    orgId: auth.org.id,
    from: range.from,
    to: range.to,
    granularity: range.granularity,
    groupBy,
    keyId: input.keyId,
    promptIds: auth.key.promptIds,
  });
  const overall = zeroFilled(range, rows);
  const groups = groupBy ? await groupSeries(sql, auth.org.id, groupBy, range, rows) : [];
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    granularity: range.granularity,
    groupBy: groupBy ?? null,
    totals: toMetrics(overall.totals),
    buckets: overall.buckets,
    groups,
  };
}

async function groupSeries(
  sql: Sql,
  orgId: string,
  groupBy: UsageGroupBy,
  range: UsageRange,
  rows: readonly UsageRow[],
) {
  const byGroup = new Map<string, UsageRow[]>();
  for (const row of rows) {
    const list = byGroup.get(row.group);
    if (list) list.push(row);
    else byGroup.set(row.group, [row]);
  }
  const ids = [...byGroup.keys()].filter((g) => g !== '');
  const names = groupBy === 'model' ? undefined : await usageGroupNames(sql, orgId, groupBy, ids);
  return [...byGroup.entries()]
    .map(([group, groupRows]) => {
      const series = zeroFilled(range, groupRows);
      return {
        key: group === '' ? null : group,
        name: group === '' ? null : names ? (names.get(group) ?? null) : group,
        totals: toMetrics(series.totals),
        buckets: series.buckets,
      };
    })
    .sort((a, b) => b.totals.requests - a.totals.requests || String(a.key).localeCompare(String(b.key)));
}

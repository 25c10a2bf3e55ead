import type { Queryable } from '../client.ts';

// Usage analytics read from usage_hourly (migration 015): one row per organization, UTC hour, key,
// prompt and model, kept exact by triggers in the transactions that end runs.

export type UsageGranularity = 'hour' | 'day';
export type UsageGroupBy = 'key' | 'prompt' | 'model';

/** How many latency buckets usage_hourly keeps (lat_00 … lat_19; edges in pm_latency_edges()). */
export const LATENCY_BUCKETS = 20;

export interface UsageSums {
  requests: number;
  errors: number;
  canceled: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  latencyMsSum: number;
  latencyMax: number;
  /** runs per latency bucket (LATENCY_BUCKETS entries) */
  latencyHistogram: number[];
}

export interface UsageRow extends UsageSums {
  /** start of the hour or UTC day */
  bucket: Date;
  /** the group's key id, prompt id or model ('' = none); '' without groupBy */
  group: string;
}

export interface UsageQuery {
  orgId: string;
  /** inclusive, aligned to the granularity */
  from: Date;
  /** exclusive, aligned to the granularity */
  to: Date;
  granularity: UsageGranularity;
  groupBy?: UsageGroupBy | undefined;
  /** one key's usage only */
  keyId?: string | undefined;
  /** a prompt-restricted caller sees these prompts' usage only */
  promptIds?: readonly string[] | null | undefined;
}

const SUMS = (sql: Queryable) => sql`
  sum(u.requests)::float8 AS requests, sum(u.errors)::float8 AS errors,
  sum(u.canceled)::float8 AS canceled, sum(u.cache_hits)::float8 AS "cacheHits",
  sum(u.prompt_tokens)::float8 AS "promptTokens", sum(u.completion_tokens)::float8 AS "completionTokens",
  sum(u.cost)::numeric AS cost, sum(u.latency_ms_sum)::float8 AS "latencyMsSum",
  max(u.latency_max)::float8 AS "latencyMax",
  sum(u.lat_00)::float8 AS lat_00, sum(u.lat_01)::float8 AS lat_01, sum(u.lat_02)::float8 AS lat_02, sum(u.lat_03)::float8 AS lat_03,
  sum(u.lat_04)::float8 AS lat_04, sum(u.lat_05)::float8 AS lat_05, sum(u.lat_06)::float8 AS lat_06, sum(u.lat_07)::float8 AS lat_07,
  sum(u.lat_08)::float8 AS lat_08, sum(u.lat_09)::float8 AS lat_09, sum(u.lat_10)::float8 AS lat_10, sum(u.lat_11)::float8 AS lat_11,
  sum(u.lat_12)::float8 AS lat_12, sum(u.lat_13)::float8 AS lat_13, sum(u.lat_14)::float8 AS lat_14, sum(u.lat_15)::float8 AS lat_15,
  sum(u.lat_16)::float8 AS lat_16, sum(u.lat_17)::float8 AS lat_17, sum(u.lat_18)::float8 AS lat_18, sum(u.lat_19)::float8 AS lat_19`;

type RawRow = Omit<UsageRow, 'latencyHistogram'> & Record<string, number | Date | string>;

const toUsageRow = (r: RawRow): UsageRow => {
  const latencyHistogram = Array.from({ length: LATENCY_BUCKETS }, (_, i) => {
    const c = `lat_${String(i).padStart(2, '0')}`;
    const v = r[c] as number;
    delete r[c];
    return v;
  });
  return { ...r, latencyHistogram } as UsageRow;
};

/**
 * Which hourly table answers a query: usage_hourly_by along one dimension (the whole organization,
 * or by key, prompt or model, optionally for one key or some prompts) when the filters and the
 * grouping are on the same dimension; usage_hourly (every key × prompt × model) otherwise.
 */
function hourlyDimension(
  q: UsageQuery,
): { dim: 'org' | UsageGroupBy; values?: readonly string[] } | undefined {
  const hasKey = q.keyId !== undefined;
  const hasPrompts = Boolean(q.promptIds);
  if (hasKey && hasPrompts) return undefined;
  if (hasKey)
    return !q.groupBy || q.groupBy === 'key' ? { dim: 'key', values: [q.keyId as string] } : undefined;
  if (hasPrompts) {
    return !q.groupBy || q.groupBy === 'prompt'
      ? { dim: 'prompt', values: q.promptIds as string[] }
      : undefined;
  }
  return { dim: q.groupBy ?? 'org' };
}

/**
 * Sums per bucket (and group), only for buckets that have runs: the caller fills the gaps. Reads the
 * coarsest table that answers: usage_daily for days, usage_hourly_by for hours along one dimension,
 * usage_hourly for the rest (hours by key or model for a prompt-restricted caller, …).
 */
export async function usageByBucket(sql: Queryable, q: UsageQuery): Promise<UsageRow[]> {
  const group =
    q.groupBy === 'key'
      ? sql`u.key_id`
      : q.groupBy === 'prompt'
        ? sql`u.prompt_id`
        : q.groupBy === 'model'
          ? sql`u.model`
          : sql`''`;
  const filters = sql`
      ${q.keyId === undefined ? sql`` : sql`AND u.key_id = ${q.keyId}`}
      ${q.promptIds ? sql`AND u.prompt_id = ANY(${q.promptIds as string[]})` : sql``}`;
  const by = q.granularity === 'hour' ? hourlyDimension(q) : undefined;
  const source =
    q.granularity === 'day'
      ? sql`(u.day::timestamp AT TIME ZONE 'UTC') AS bucket, ${group} AS "group", ${SUMS(sql)}
            FROM usage_daily u
            WHERE u.org_id = ${q.orgId} AND u.day >= ${isoDay(q.from)}::date AND u.day < ${isoDay(q.to)}::date ${filters}`
      : by
        ? sql`u.hour AS bucket, ${q.groupBy ? sql`u.value` : sql`''`} AS "group", ${SUMS(sql)}
              FROM usage_hourly_by u
              WHERE u.org_id = ${q.orgId} AND u.dim = ${by.dim} AND u.hour >= ${q.from} AND u.hour < ${q.to}
                ${by.values ? sql`AND u.value = ANY(${by.values as string[]})` : sql``}`
        : sql`u.hour AS bucket, ${group} AS "group", ${SUMS(sql)}
              FROM usage_hourly u
              WHERE u.org_id = ${q.orgId} AND u.hour >= ${q.from} AND u.hour < ${q.to} ${filters}`;
  const rows = await sql<RawRow[]>`SELECT ${source} GROUP BY 1, 2 ORDER BY 1, 2`;
  return rows.map(toUsageRow);
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** Names of an organization's keys and prompts (deleted ones too: their usage stays). */
export async function usageGroupNames(
  sql: Queryable,
  orgId: string,
  groupBy: 'key' | 'prompt',
  ids: readonly string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows =
    groupBy === 'key'
      ? await sql<{ id: string; name: string }[]>`
          SELECT id, name FROM api_keys WHERE org_id = ${orgId} AND id = ANY(${ids as string[]})`
      : await sql<{ id: string; name: string }[]>`
          SELECT id, name FROM prompts WHERE org_id = ${orgId} AND id = ANY(${ids as string[]})`;
  return new Map(rows.map((r) => [r.id, r.name]));
}

export interface MonthUsage {
  tokens: number;
  cost: number;
  runs: number;
  reservedTokens: number;
}

/** The organization's month-to-date totals (what token budgets read), for the month starting at `month`. */
export async function orgMonthUsage(sql: Queryable, orgId: string, month: Date): Promise<MonthUsage> {
  const [row] = await sql<MonthUsage[]>`
    SELECT tokens, cost, runs, reserved_tokens AS "reservedTokens" FROM org_usage_monthly
    WHERE org_id = ${orgId} AND month = ${month.toISOString().slice(0, 10)}::date`;
  return row ?? { tokens: 0, cost: 0, runs: 0, reservedTokens: 0 };
}

/** Totals over whole hours [from, to) of an organization, or of one key. */
export async function usageTotals(
  sql: Queryable,
  orgId: string,
  from: Date,
  to: Date,
  keyId?: string,
): Promise<{ requests: number; errors: number; tokens: number; cost: number }> {
  const [row] = await sql<{ requests: number; errors: number; tokens: number; cost: number }[]>`
    SELECT COALESCE(sum(requests), 0)::float8 AS requests, COALESCE(sum(errors), 0)::float8 AS errors,
           COALESCE(sum(prompt_tokens + completion_tokens), 0)::float8 AS tokens,
           COALESCE(sum(cost), 0)::numeric AS cost
    FROM usage_hourly_by
    WHERE org_id = ${orgId} AND dim = ${keyId === undefined ? 'org' : 'key'} AND value = ${keyId ?? ''}
      AND hour >= ${from} AND hour < ${to}`;
  return row!;
}

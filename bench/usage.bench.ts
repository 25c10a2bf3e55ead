/**
 * Usage analytics benchmark (issue 14):
 *
 *   npx tsx bench/usage.bench.ts          (BENCH_USAGE_ROWS=200000 for a quick pass)
 *
 * One embedded Postgres with the migrations applied; one organization with 5 keys, 20 prompts and
 * 3 models; BENCH_USAGE_ROWS (default 1,000,000) ended runs spread over 30 days, bulk-loaded with
 * one INSERT … SELECT generate_series (no per-row round trips), with the roll-up trigger off, then
 * rolled up by pm_usage_rollup_backfill (the same sums the trigger keeps).
 *
 * Printed:
 * - the load: rows, seconds, roll-up rows;
 * - that the roll-up equals the raw rows (requests, errors, tokens, cost over the 30 days);
 * - the analytics reads as the routes make them (buildUsageReport: SQL + zero-filling + p95), each
 *   repeated, median and max: 30 days by hour, by day per prompt / key / model, 90 days by hour;
 *   and the same 30-day sums straight from usage_events, for comparison;
 * - the write side: what the trigger adds to a run's end, one insert+commit per run, 8 writers:
 *   without the trigger; with it for 8 organizations (no row shared), for 8 keys of one organization
 *   (they share the organization's hour row), for one key (every roll-up row shared).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { freePort, startEmbeddedPostgres } from '@promptmill/dev/stack';
import { createSql, runMigrations, usageByBucket } from '@promptmill/infra/db';
import type { AuthContext } from '../api/src/auth/auth-context.ts';
import { resolveRange } from '../api/src/usage/usage-range.ts';
import { buildUsageReport } from '../api/src/usage/usage-report.ts';
import { percentile } from './lib.ts';

const ROWS = Number(process.env.BENCH_USAGE_ROWS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_USAGE_REPEAT ?? 7);
const DAYS = 30;
const ORG = 'org_bench';
const END = new Date(Date.UTC(2031, 0, 31));
const START = new Date(END.getTime() - DAYS * 86_400_000);

const dir = mkdtempSync(join(process.env.BENCH_TMP ?? '/var/tmp', 'pm-usage-bench-'));
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} · ${ROWS.toLocaleString()} rows`,
);
const pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await freePort() });
const sql = createSql(pg.url, { max: 10 });

const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const out = await fn();
  return [out, performance.now() - t0];
};

try {
  await runMigrations(sql);
  await sql`INSERT INTO organizations (id, name) VALUES (${ORG}, 'bench')`;
  await sql`INSERT INTO members (id, org_id, email, role) VALUES ('mbr_bench', ${ORG}, 'b@example.com', 'owner')`;
  await sql`
    INSERT INTO api_keys (id, org_id, owner_member_id, name, key_hash, summary)
    SELECT 'key_' || i, ${ORG}, 'mbr_bench', 'key ' || i, sha256(('k' || i)::bytea), 'pm_live_x'
    FROM generate_series(0, 4) i`;
  await sql`
    INSERT INTO prompts (id, org_id, name) SELECT 'pmt_' || i, ${ORG}, 'prompt-' || i FROM generate_series(0, 19) i`;

  // ---- bulk load: skewed keys and prompts, 3 models, 3 % failed, 1 % canceled, 5 % cache hits
  await sql`ALTER TABLE usage_events DISABLE TRIGGER usage_events_rollup`;
  const [, loadMs] = await time(
    () => sql`
    INSERT INTO usage_events (org_id, key_id, run_id, kind, prompt_id, prompt_version, model, status,
                              prompt_tokens, completion_tokens, cost, latency_ms, cache_hit, created_at)
    SELECT ${ORG}, 'key_' || floor(power(random(), 2) * 5)::int, 'run_b' || i, 'run',
           'pmt_' || floor(power(random(), 2) * 20)::int, 1,
           (ARRAY['gpt-4o-mini', 'gpt-4o', 'claude-3-haiku'])[1 + floor(power(random(), 1.5) * 3)::int],
           CASE WHEN r < 0.03 THEN 'failed' WHEN r < 0.04 THEN 'canceled' ELSE 'succeeded' END,
           CASE WHEN hit THEN 0 ELSE 50 + floor(random() * 900)::int END,
           CASE WHEN hit OR r < 0.03 THEN 0 ELSE floor(random() * 400)::int END,
           CASE WHEN hit THEN 0 ELSE round((random() * 0.002)::numeric, 9) END,
           CASE WHEN hit THEN 0 ELSE floor(exp(ln(200) + random() * 3))::int END,
           hit,
           ${START}::timestamptz + (i::float8 / ${ROWS}) * interval '${sql.unsafe(String(DAYS))} days'
    FROM (SELECT i, random() AS r, random() < 0.05 AS hit FROM generate_series(1, ${ROWS}) i) g`,
  );
  await sql`ALTER TABLE usage_events ENABLE TRIGGER usage_events_rollup`;
  const [backfill, rollupMs] = await time(
    () => sql<{ written: number }[]>`SELECT pm_usage_rollup_backfill('-infinity', 'infinity') AS written`,
  );
  const written = backfill[0]?.written ?? 0;
  for (const t of ['usage_hourly', 'usage_daily', 'usage_hourly_by']) await sql.unsafe(`VACUUM ANALYZE ${t}`);
  await sql`VACUUM ANALYZE usage_events`;
  console.log(
    `\nload: ${ROWS.toLocaleString()} usage rows in ${(loadMs / 1000).toFixed(1)} s; roll-up: ${written.toLocaleString()} hour rows in ${(rollupMs / 1000).toFixed(1)} s`,
  );

  // ---- the roll-up equals the raw rows
  const [raw] = await sql<{ requests: number; errors: number; tokens: number; cost: number }[]>`
    SELECT count(*)::float8 AS requests, count(*) FILTER (WHERE status = 'failed')::float8 AS errors,
           sum(prompt_tokens + completion_tokens)::float8 AS tokens, sum(cost)::numeric AS cost
    FROM usage_events WHERE org_id = ${ORG} AND kind = 'run'`;
  const [rolled] = await sql<{ requests: number; errors: number; tokens: number; cost: number }[]>`
    SELECT sum(requests)::float8 AS requests, sum(errors)::float8 AS errors,
           sum(prompt_tokens + completion_tokens)::float8 AS tokens, sum(cost)::numeric AS cost
    FROM usage_hourly WHERE org_id = ${ORG}`;
  const [daily] =
    await sql`SELECT sum(requests)::float8 AS requests, sum(cost)::numeric AS cost FROM usage_daily`;
  const [totals] =
    await sql`SELECT sum(requests)::float8 AS requests, sum(cost)::numeric AS cost FROM usage_hourly_by WHERE dim = 'org'`;
  const same =
    JSON.stringify(raw) === JSON.stringify(rolled) &&
    JSON.stringify(daily) === JSON.stringify({ requests: raw?.requests, cost: raw?.cost }) &&
    JSON.stringify(totals) === JSON.stringify(daily);
  console.log(`roll-ups = raw rows: ${same ? 'yes' : 'NO'} ${JSON.stringify(rolled)}`);
  if (!same) process.exitCode = 1;

  // ---- reads, as the routes make them
  const auth = { org: { id: ORG }, key: { promptIds: null } } as unknown as AuthContext;
  const cases: { label: string; run: () => Promise<unknown>; sqlOnly?: () => Promise<unknown> }[] = [
    ['30 days by hour', 'hour', DAYS, undefined],
    ['30 days by day', 'day', DAYS, undefined],
    ['30 days by hour, per prompt', 'hour', DAYS, 'prompt'],
    ['30 days by hour, per key', 'hour', DAYS, 'key'],
    ['30 days by day, per key', 'day', DAYS, 'key'],
    ['30 days by day, per model', 'day', DAYS, 'model'],
    ['90 days by hour (max range)', 'hour', 90, undefined],
  ].map(([label, granularity, days, groupBy]) => ({
    label: label as string,
    sqlOnly: () =>
      usageByBucket(sql, {
        orgId: ORG,
        from: new Date(END.getTime() - (days as number) * 86_400_000),
        to: END,
        granularity: granularity as 'hour' | 'day',
        groupBy: groupBy as 'key' | 'prompt' | 'model' | undefined,
      }),
    run: () =>
      buildUsageReport(sql, auth, {
        range: resolveRange(
          {
            from: new Date(END.getTime() - (days as number) * 86_400_000),
            to: END,
            granularity: granularity as 'hour' | 'day',
          },
          END,
        ),
        groupBy: groupBy as 'key' | 'prompt' | 'model' | undefined,
      }),
  }));
  cases.push({
    label: '30 days by day from usage_events (no roll-up)',
    run: () => sql`
      SELECT date_trunc('day', created_at, 'UTC') AS d, count(*), count(*) FILTER (WHERE status = 'failed'),
             sum(prompt_tokens), sum(completion_tokens), sum(cost), avg(latency_ms),
             percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
      FROM usage_events WHERE org_id = ${ORG} AND kind = 'run' AND created_at >= ${START} AND created_at < ${END}
      GROUP BY 1`,
  });
  const measure = async (fn: () => Promise<unknown>) => {
    await fn(); // warm
    const ms: number[] = [];
    for (let i = 0; i < REPEAT; i++) ms.push((await time(fn))[1]);
    return ms.sort((a, b) => a - b);
  };
  console.log(
    `\n| read (${ROWS.toLocaleString()} runs in ${DAYS} days) | median ms | max ms | of which SQL, median ms |`,
  );
  console.log('|---|---|---|---|');
  for (const c of cases) {
    const ms = await measure(c.run);
    const sqlMs = c.sqlOnly ? percentile(await measure(c.sqlOnly), 50).toFixed(1) : '(all SQL)';
    console.log(`| ${c.label} | ${percentile(ms, 50).toFixed(1)} | ${ms.at(-1)!.toFixed(1)} | ${sqlMs} |`);
  }
  if (process.env.BENCH_USAGE_EXPLAIN) {
    const plan =
      await sql.unsafe(`EXPLAIN (ANALYZE, BUFFERS) SELECT date_trunc('hour', hour, 'UTC'), sum(requests), sum(cost), sum(lat_00)
      FROM usage_hourly WHERE org_id = '${ORG}' AND hour >= '${START.toISOString()}' AND hour < '${END.toISOString()}' GROUP BY 1`);
    for (const row of plan) console.log(Object.values(row)[0]);
  }

  // ---- writes: a run's end with and without the trigger; 8 writers on distinct vs one hot hour row
  const PER = Number(process.env.BENCH_USAGE_WRITES ?? 400);
  const writers = 8;
  let seq = 0;
  const insertRun = (keyIdx: number, at: Date, org = ORG) =>
    sql`
      INSERT INTO usage_events (org_id, key_id, run_id, kind, prompt_id, model, status, prompt_tokens,
                                completion_tokens, cost, latency_ms, created_at)
      VALUES (${org}, ${`key_w${keyIdx}`}, ${`run_w${seq++}`}, 'run', 'pmt_0', 'gpt-4o', 'succeeded', 100, 50, 0.001,
              250, ${at})`;
  const writeLoad = async (
    label: string,
    keyOf: (w: number) => number,
    orgOf: (w: number) => string = () => ORG,
  ) => {
    const at = new Date(END.getTime() + 3_600_000 * (2 + seq / 1e6));
    const [, ms] = await time(() =>
      Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < PER; i++) await insertRun(keyOf(w), at, orgOf(w));
        }),
      ),
    );
    const n = writers * PER;
    console.log(`| ${label} | ${n} | ${((n / ms) * 1000).toFixed(0)} | ${((ms * writers) / n).toFixed(2)} |`);
  };
  console.log(
    `\n| write: one run's end per transaction, ${writers} writers | runs | runs/s | ms per run per writer |`,
  );
  console.log('|---|---|---|---|');
  await sql`ALTER TABLE usage_events DISABLE TRIGGER usage_events_rollup`;
  await writeLoad('no roll-up trigger', (w) => w);
  await sql`ALTER TABLE usage_events ENABLE TRIGGER usage_events_rollup`;
  await writeLoad(
    'trigger, 8 organizations (no shared row)',
    (w) => 200 + w,
    (w) => `org_w${w}`,
  );
  await writeLoad("trigger, one organization, 8 keys (share the org's hour row)", (w) => 100 + w);
  await writeLoad('trigger, one organization, one key (every row shared)', () => 999);
  const [hot] = await sql<{ requests: number }[]>`
    SELECT requests FROM usage_hourly WHERE org_id = ${ORG} AND key_id = 'key_w999'`;
  console.log(`hot row counted ${hot?.requests} of ${writers * PER} runs`);
  if (hot?.requests !== writers * PER) process.exitCode = 1;
  console.log(
    `\nload average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await sql.end();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}

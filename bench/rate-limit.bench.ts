/**
 * Rate-limit benchmark (issue 4), one process run:
 *
 *   npx tsx bench/rate-limit.bench.ts          (BENCH_SCALE=0.3 for a quick pass)
 *
 * Two api processes on one stack (embedded Postgres, Temporal dev server): one with the limits on
 * (the default), one with RATE_LIMITS_ENABLED=false. Both serve the same endpoint
 * (GET /v1/keys/:id: authentication + one indexed read) for the same key, which has per-key minute,
 * hour and day limits on top of its organization's minute and day windows: every request on the
 * limited process is one atomic decision over five windows. The limits are high enough never to
 * refuse, so both sides do the same work apart from the decision.
 *
 * Printed: req/s and p50/p99 latency with limits off and on at 1 and 32 concurrent clients and the
 * difference (the latency the limiter adds), the CPU per request of the api process under load and of
 * Postgres (all backends; both api processes share it, and only one is under load at a time), the
 * machine's load average before and after (the figures mean little on a busy machine), HTTP decisions
 * per second with every request refused (429), and the limiter's own decisions per second against
 * Postgres (checkRateLimit in-process: one org, i.e. one contended lock, and many orgs).
 * The same file runs against an older checkout (it only uses what the api had before the permit
 * leases), so "before" and "after" are measured the same way.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { freePort, startEphemeralStack, startService, stopChild } from '@promptmill/dev/stack';
import postgres from 'postgres';
import { checkRateLimit } from '../api/src/limits/rate-limit.ts';
import type { LimitSubject } from '../api/src/limits/windows.ts';
import { cpuDelta, cpuSnapshot, descendants, type ProcessGroup } from './compare/procstat.ts';
import { type LoadResult, printTable, runLoad } from './lib.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const n = (x: number) => Math.max(50, Math.round(x * scale));
const HUGE = { perMinute: 10_000_000, perHour: 10_000_000, perDay: 90_000_000 };

const adminToken = 'bench-admin-token-0123456789';
const quiet = { LOG_LEVEL: 'warn', LOG_REQUESTS: 'false', GLOBAL_RATE_LIMIT_PER_MINUTE: '100000000' };
console.log('starting the stack (embedded Postgres, Temporal dev server, worker, api with limits on)…');
const running = await startEphemeralStack({ adminToken, env: quiet });
const { stack } = running;
const offPort = await freePort();
const off = await startService({
  name: 'api-limits-off',
  entry: 'api/src/main.ts',
  env: {
    ...process.env,
    ...quiet,
    RATE_LIMITS_ENABLED: 'false',
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    ADMIN_TOKEN: adminToken,
    PORT: String(offPort),
  },
  readyEvent: 'api.ready',
  log: () => {},
});
const offUrl = `http://127.0.0.1:${String(off.ready.port)}`;
const onUrl = stack.apiUrl;
const sql = postgres(stack.databaseUrl, { max: 24, onnotice: () => {} });

/** The stack's api (limits on), the limits-off api and the embedded Postgres (postmaster and backends). */
function processGroups(): ProcessGroup[] {
  const groups: ProcessGroup[] = [];
  for (const p of descendants()) {
    if (p.pid === off.child.pid) groups.push({ name: 'api off', pid: p.pid });
    else if (p.argv.includes('api/src/main.ts')) groups.push({ name: 'api on', pid: p.pid });
    else if ((p.argv[0] ?? '').endsWith('/postgres') && p.ppid === process.pid) {
      groups.push({ name: 'postgres', pid: p.pid });
    }
  }
  return groups;
}
const groups = processGroups();
const loadNow = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

interface Measured extends LoadResult {
  /** CPU ms per request of the api process under load, and of Postgres */
  apiCpuMs: number;
  pgCpuMs: number;
}

/**
 * One load run with the CPU its api process and Postgres spent, from the start to 1 s after the last
 * answer (work done after answering, such as the batched usage flush, counts), per request.
 */
async function measure(
  label: string,
  api: 'api on' | 'api off',
  opts: { concurrency: number; total: number; maxMs: number },
  fn: () => Promise<boolean>,
): Promise<Measured> {
  const before = cpuSnapshot(groups);
  const r = await runLoad(label, opts, fn);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const delta = cpuDelta(before, cpuSnapshot(groups));
  const per = (name: string) => (delta.get(name) ?? Number.NaN) / Math.max(1, r.count);
  return { ...r, apiCpuMs: per(api), pgCpuMs: per('postgres') };
}

async function post<T>(url: string, path: string, body: unknown, auth: string): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

try {
  const org = await post<{ data: { key: { key: string } } }>(
    onUrl,
    '/admin/v1/orgs',
    { name: 'bench-limits', plan: 'enterprise', limits: { perMinute: HUGE.perMinute, perDay: HUGE.perDay } },
    adminToken,
  );
  const adminKey = org.data.key.key;
  const key = (
    await post<{ data: { id: string; key: string } }>(
      onUrl,
      '/v1/keys',
      { name: 'bench', rateLimits: HUGE },
      adminKey,
    )
  ).data;
  const tight = (
    await post<{ data: { id: string; key: string } }>(
      onUrl,
      '/v1/keys',
      { name: 'bench-refused', rateLimits: { perMinute: 1 } },
      adminKey,
    )
  ).data;

  const get = (base: string, k: { id: string; key: string }, expected: number) => async () => {
    const r = await fetch(`${base}/v1/keys/${k.id}`, { headers: { authorization: `Bearer ${k.key}` } });
    await r.arrayBuffer();
    return r.status === expected;
  };
  // the same key (default scopes: its creator's, admin) on both sides: its windows apply only on the limited process
  const offKey = get(offUrl, key, 200);
  const onKey = get(onUrl, key, 200);

  console.log('warming up…');
  await runLoad('warm-up', { concurrency: 8, total: 400, maxMs: 20_000 }, offKey);
  await runLoad('warm-up', { concurrency: 8, total: 400, maxMs: 20_000 }, onKey);

  const loadBefore = loadNow();
  const rows: LoadResult[] = [];
  const pairs: [Measured, Measured][] = [];
  for (const c of [1, 32]) {
    const total = n(c === 1 ? 1500 : 8000);
    // interleaved off/on/off/on; the second pair is reported (the first absorbs drift)
    let pair: [Measured, Measured] | undefined;
    for (let round = 0; round < 2; round++) {
      const opts = { concurrency: c, total, maxMs: 60_000 };
      const o = await measure(`limits off  (c=${c})`, 'api off', opts, offKey);
      const l = await measure(`limits on, 5 windows (c=${c})`, 'api on', opts, onKey);
      pair = [o, l];
    }
    rows.push(...pair!);
    pairs.push(pair!);
  }
  await get(onUrl, tight, 200)(); // spends the one request its minute allows
  const refusedHttp = await runLoad(
    'limits on, every request refused (c=32)',
    { concurrency: 32, total: n(8000), maxMs: 60_000 },
    get(onUrl, tight, 429),
  );
  rows.push(refusedHttp);

  // the decision itself, in-process against Postgres
  const subject = (orgId: string): LimitSubject => ({
    keyId: `key_b${randomUUID()}`,
    keyLimits: HUGE,
    orgId,
    plan: 'enterprise',
    overrides: { perMinute: HUGE.perMinute, perDay: HUGE.perDay },
  });
  const oneOrg = subject(`org_b${randomUUID()}`);
  const decide = (s: () => LimitSubject) => async () =>
    (await checkRateLimit(sql, s(), new Date(), 5_000)).admitted;
  const sameOrg = await runLoad(
    'checkRateLimit: one org (c=16)',
    { concurrency: 16, total: n(20_000), maxMs: 60_000 },
    decide(() => oneOrg),
  );
  const orgs = Array.from({ length: 64 }, () => subject(`org_b${randomUUID()}`));
  let i = 0;
  const manyOrgs = await runLoad(
    'checkRateLimit: 64 orgs (c=16)',
    { concurrency: 16, total: n(20_000), maxMs: 60_000 },
    decide(() => orgs[i++ % orgs.length]!),
  );
  rows.push(sameOrg, manyOrgs);

  console.log('');
  printTable(rows);
  console.log('');
  for (const [o, l] of pairs) {
    console.log(
      `added latency at c=${o.concurrency}: p50 ${(l.p50 - o.p50).toFixed(2)} ms, p99 ${(l.p99 - o.p99).toFixed(2)} ms ` +
        `(throughput ${o.throughput.toFixed(0)} → ${l.throughput.toFixed(0)} req/s, ` +
        `${((100 * l.throughput) / o.throughput).toFixed(0)} % of limits off)`,
    );
  }
  console.log('CPU per request (ms), api under load · Postgres:');
  for (const m of pairs.flat()) {
    console.log(`  ${m.label.padEnd(30)} ${m.apiCpuMs.toFixed(3)} · ${m.pgCpuMs.toFixed(3)}`);
  }
  console.log(`HTTP decisions/s, all refused (429): ${refusedHttp.throughput.toFixed(0)}`);
  console.log(
    `limiter decisions/s against Postgres: one org ${sameOrg.throughput.toFixed(0)}, 64 orgs ${manyOrgs.throughput.toFixed(0)}`,
  );
  console.log(`load average (1, 5, 15 min): ${loadBefore} before the HTTP runs, ${loadNow()} at the end`);
  const failures = rows.filter((r) => r.errors > 0);
  if (failures.length > 0) {
    console.log(`unexpected statuses in: ${failures.map((r) => `${r.label} (${r.errors})`).join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  await sql.end();
  await stopChild(off.child, 30_000);
  await running.stop();
}

// Tenant analytics over HTTP: GET /v1/usage, /v1/keys/:id/analytics, /v1/billing on real runs (sync,
// streamed, cached, failed) and on rows seeded at fixed times (UTC-midnight edges, zero-filled
// buckets, a run that failed before its workflow started, a chain step), validation, isolation.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { insertKey, pollRun, promptId, type RunBody, testSql } from './runs-support.ts';

const sql = testSql();

interface Metrics {
  requests: number;
  errors: number;
  canceled: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cost: number;
  avgLatencyMs: number | null;
  p95LatencyMs: number | null;
}
interface Bucket extends Metrics {
  start: string;
  end: string;
}
interface Report {
  from: string;
  to: string;
  granularity: string;
  groupBy: string | null;
  totals: Metrics;
  buckets: Bucket[];
  groups: { key: string | null; name: string | null; totals: Metrics; buckets: Bucket[] }[];
}

const usage = (key: string, query: string) => call<{ data: Report }>('GET', `/v1/usage?${query}`, { key });

const ZERO: Metrics = {
  requests: 0,
  errors: 0,
  canceled: 0,
  cacheHits: 0,
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  cost: 0,
  avgLatencyMs: null,
  p95LatencyMs: null,
};

async function streamRun(
  key: string,
  promptName: string,
  variables: Record<string, unknown>,
): Promise<string> {
  const res = await fetch(`${apiUrl}/api/v1/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ promptName, variables, stream: true }),
  });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await res.text();
  const done = text.split('\n\n').find((e) => e.includes('event: done'));
  expect(done).toBeDefined();
  const data = JSON.parse(
    done!
      .split('\n')
      .find((l) => l.startsWith('data: '))!
      .slice(6),
  ) as { runId: string };
  return data.runId;
}

describe('usage of real runs: sync, streamed, cached, failed', () => {
  let org: TestOrg;
  let plain: string;
  let cached: string;
  let secondKey: string;
  const runIds: string[] = [];

  beforeAll(async () => {
    org = await createOrg({ tokenBudget: 1_000_000 });
    const marker = unique('use');
    plain = await createPrompt(org.key, { template: `${marker} {{x}}` });
    cached = await createPrompt(org.key, { template: `${marker} cached {{x}}`, cacheTtlSeconds: 300 });
    secondKey = await insertKey(sql, org.orgId, { scopes: ['runs:execute', 'runs:read'] });

    const sync = async (key: string, promptName: string, x: string) => {
      const res = await call<{ runId: string }>('POST', '/api/v1/run', {
        key,
        body: { promptName, variables: { x } },
      });
      runIds.push(res.body.runId);
      return res;
    };
    expect((await sync(org.key, plain, 'one')).status).toBe(200);
    runIds.push(await streamRun(org.key, plain, { x: 'streamed' }));
    expect((await sync(org.key, cached, 'same')).headers.get('x-cache')).toBe('MISS');
    expect((await sync(org.key, cached, 'same')).headers.get('x-cache')).toBe('HIT');
    const failing = unique('fail');
    const rule = await mock.addRule({
      match: { contains: failing },
      action: { type: 'fail', status: 400, message: 'rejected' },
    });
    try {
      expect((await sync(org.key, plain, failing)).status).toBe(502);
    } finally {
      await mock.removeRule(rule);
    }
    expect((await sync(secondKey, plain, 'other key')).status).toBe(200);
  });

  /** The runs as the runs API reports them: what the analytics must add up to. */
  async function expectedTotals() {
    const runs = await Promise.all(runIds.map((id) => pollRun(org.key, id)));
    const sum = (f: (r: RunBody) => number) => runs.reduce((a, r) => a + f(r), 0);
    return {
      runs,
      requests: runs.length,
      errors: runs.filter((r) => r.status === 'failed').length,
      cacheHits: runs.filter((r) => r.cacheHit).length,
      promptTokens: sum((r) => r.usage.promptTokens),
      completionTokens: sum((r) => r.usage.completionTokens),
      cost: sum((r) => r.usage.cost),
    };
  }

  it('sums every run of the organization, each counted once', async () => {
    const want = await expectedTotals();
    expect(want.requests).toBe(6);
    expect(want.errors).toBe(1);
    expect(want.cacheHits).toBe(1);
    expect(want.promptTokens).toBeGreaterThan(0);
    const res = await usage(org.key, 'granularity=hour');
    expect(res.status).toBe(200);
    const { totals } = res.body.data;
    expect(totals).toMatchObject({
      requests: 6,
      errors: 1,
      canceled: 0,
      cacheHits: 1,
      promptTokens: want.promptTokens,
      completionTokens: want.completionTokens,
      totalTokens: want.promptTokens + want.completionTokens,
    });
    expect(totals.cost).toBeCloseTo(want.cost, 9);
    expect(totals.avgLatencyMs).toBeGreaterThanOrEqual(0);
    expect(totals.p95LatencyMs).toBeGreaterThanOrEqual(totals.avgLatencyMs ?? 0);
    // the default range: the last 24 h, rounded out to whole hours
    expect(res.body.data.buckets.length).toBeGreaterThanOrEqual(24);
    expect(res.body.data.buckets.length).toBeLessThanOrEqual(25);
    expect(res.body.data.buckets.filter((b) => b.requests > 0).length).toBeGreaterThanOrEqual(1);
  });

  it('groups by prompt, model and key, with names', async () => {
    const byPrompt = await usage(org.key, 'groupBy=prompt');
    expect(byPrompt.status).toBe(200);
    const groups = byPrompt.body.data.groups;
    expect(groups.map((g) => [g.name, g.totals.requests, g.totals.errors, g.totals.cacheHits])).toEqual([
      [plain, 4, 1, 0],
      [cached, 2, 0, 1],
    ]);
    expect(groups[0]!.key).toBe(await promptId(org.key, plain));
    expect(groups[0]!.buckets).toHaveLength(byPrompt.body.data.buckets.length);

    const byModel = await usage(org.key, 'groupBy=model');
    expect(byModel.body.data.groups.map((g) => [g.key, g.name, g.totals.requests])).toEqual([
      ['mock-1', 'mock-1', 6],
    ]);

    const byKey = await usage(org.key, 'groupBy=key');
    const keys = byKey.body.data.groups.map((g) => [g.key, g.totals.requests]);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toEqual([org.keyId, 5]);
    expect(keys[1]![1]).toBe(1);
  });

  it('key analytics: one key, success and error rates', async () => {
    const res = await call<{
      data: {
        key: { id: string; name: string };
        totals: Metrics & { successRate: number; errorRate: number };
      };
    }>('GET', `/v1/keys/${org.keyId}/analytics?granularity=day`, { key: org.key });
    expect(res.status).toBe(200);
    expect(res.body.data.key.id).toBe(org.keyId);
    expect(res.body.data.totals).toMatchObject({ requests: 5, errors: 1, successRate: 0.8, errorRate: 0.2 });
    const hourly = await call<{ data: { totals: Metrics; buckets: Bucket[] } }>(
      'GET',
      `/v1/keys/${org.keyId}/analytics?granularity=hour`,
      { key: org.key },
    );
    expect(hourly.body.data.totals).toMatchObject({ requests: 5, errors: 1 });
    expect(hourly.body.data.buckets.reduce((a, b) => a + b.requests, 0)).toBe(5);
  });

  it('billing: plan, budget, tokens used and left, cost this month', async () => {
    const want = await expectedTotals();
    const res = await call<{ data: { usage: { cost: number }; period: { start: string } } }>(
      'GET',
      '/v1/billing',
      { key: org.key },
    );
    expect(res.status).toBe(200);
    const tokens = want.promptTokens + want.completionTokens;
    expect(res.body.data).toMatchObject({
      plan: 'pro',
      billingStatus: 'active',
      limits: { requestsPerMinute: 60, requestsPerDay: 10_000, tokenBudget: 1_000_000 },
      usage: { runs: want.requests, tokensUsed: tokens, tokensRemaining: 1_000_000 - tokens },
    });
    expect(res.body.data.usage.cost).toBeCloseTo(want.cost, 9);
    const now = new Date();
    expect(res.body.data.period.start).toBe(
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString(),
    );
  });

  it('concurrent run ends (cache hits and model calls) are all counted, none refused', async () => {
    const before = (await usage(org.key, 'granularity=day')).body.data.totals;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call<{ runId: string }>('POST', '/api/v1/run', {
          key: org.key,
          body: { promptName: i % 2 ? cached : plain, variables: { x: i % 2 ? 'same' : `c${i}` } },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(new Array(12).fill(200));
    runIds.push(...results.map((r) => r.body.runId));
    const after = (await usage(org.key, 'granularity=day')).body.data.totals;
    expect(after.requests - before.requests).toBe(12);
    expect(after.cacheHits - before.cacheHits).toBe(6);
  });

  it('a prompt-restricted key sees its prompts only', async () => {
    const onlyCached = await insertKey(sql, org.orgId, {
      scopes: ['analytics:read'],
      promptIds: [await promptId(org.key, cached)],
    });
    const res = await usage(onlyCached, 'groupBy=prompt');
    expect(res.status).toBe(200);
    // 2 before, 6 hits in the concurrent test
    expect(res.body.data.totals.requests).toBe(8);
    expect(res.body.data.groups.map((g) => g.name)).toEqual([cached]);
    // by model for a prompt-restricted key: read from the full key × prompt × model roll-up
    const byModel = await usage(onlyCached, 'groupBy=model&granularity=hour');
    expect(byModel.body.data.groups.map((g) => [g.key, g.totals.requests, g.totals.cacheHits])).toEqual([
      ['mock-1', 8, 7],
    ]);
  });
});

describe('usage of seeded runs at fixed times', () => {
  let org: TestOrg;
  let other: TestOrg;
  let prompt: string;
  let pid: string;

  const event = (at: string, e: Partial<Record<string, unknown>> = {}) => ({
    org_id: org.orgId,
    key_id: org.keyId,
    run_id: `run_${randomUUID().replaceAll('-', '')}`,
    kind: 'run',
    seq: 0,
    prompt_id: pid,
    prompt_version: 1,
    model: 'model-a',
    status: 'succeeded',
    prompt_tokens: 0,
    completion_tokens: 0,
    cost: 0,
    latency_ms: 0,
    cache_hit: false,
    created_at: at,
    ...e,
  });

  beforeAll(async () => {
    org = await createOrg();
    other = await createOrg();
    prompt = await createPrompt(org.key, { template: 'seeded {{x}}' });
    pid = await promptId(org.key, prompt);
    const rows = [
      // the last instant of 1 March and the first of 2 March (UTC)
      event('2030-03-01T23:59:59.999Z', {
        prompt_tokens: 100,
        completion_tokens: 50,
        cost: 0.0015,
        latency_ms: 120,
      }),
      event('2030-03-02T00:00:00.000Z', {
        status: 'failed',
        error_code: 'PROVIDER_ERROR',
        prompt_tokens: 10,
        cost: 0.0001,
        latency_ms: 3000,
      }),
      event('2030-03-02T00:30:00.000Z', { cache_hit: true, latency_ms: 0 }),
      event('2030-03-02T05:10:00.000Z', {
        status: 'canceled',
        error_code: 'RUN_CANCELED',
        model: 'model-b',
        prompt_tokens: 7,
        completion_tokens: 3,
        cost: 0.00002,
        latency_ms: 800,
      }),
      // a chain step records its run like any run (its 'run' usage event): it counts the same way
      event('2030-03-02T05:20:00.000Z', {
        run_id: `run_step_${randomUUID().slice(0, 8)}`,
        model: 'model-b',
        prompt_tokens: 20,
        completion_tokens: 30,
        cost: 0.0005,
        latency_ms: 450,
      }),
    ];
    await sql`INSERT INTO usage_events ${sql(rows)}`;
    // a run that failed before its workflow started (no usage event): one error, no tokens
    const [ver] = await sql<{ id: string }[]>`SELECT id FROM prompt_versions WHERE prompt_id = ${pid}`;
    const runId = `run_${randomUUID().replaceAll('-', '')}`;
    await sql`
      INSERT INTO runs (id, org_id, key_id, prompt_id, version_id, prompt_version, mode, status, model, created_at)
      VALUES (${runId}, ${org.orgId}, ${org.keyId}, ${pid}, ${ver!.id}, 1, 'async', 'queued', 'model-a', '2030-03-02T06:00:00Z')`;
    await sql`
      UPDATE runs SET status = 'failed', error_code = 'SERVICE_UNAVAILABLE', error_message = 'x',
        finished_at = '2030-03-02T06:00:02Z' WHERE id = ${runId}`;
  });

  it('day buckets split at UTC midnight', async () => {
    const res = await usage(org.key, 'from=2030-03-01T00:00:00Z&to=2030-03-03T00:00:00Z&granularity=day');
    expect(res.status).toBe(200);
    const [d1, d2] = res.body.data.buckets;
    expect(res.body.data.buckets).toHaveLength(2);
    expect(d1).toEqual({
      start: '2030-03-01T00:00:00.000Z',
      end: '2030-03-02T00:00:00.000Z',
      requests: 1,
      errors: 0,
      canceled: 0,
      cacheHits: 0,
      promptTokens: 100,
      completionTokens: 50,
      totalTokens: 150,
      cost: 0.0015,
      avgLatencyMs: 120,
      p95LatencyMs: 120,
    });
    // 00:00 failed, 00:30 cache hit, 05:10 canceled, 05:20 chain step, 06:00 failed unstarted
    expect(d2).toMatchObject({
      requests: 5,
      errors: 2,
      canceled: 1,
      cacheHits: 1,
      promptTokens: 37,
      completionTokens: 33,
      totalTokens: 70,
      cost: 0.00062,
      avgLatencyMs: (3000 + 0 + 800 + 450 + 2000) / 5,
      // nearest rank 5 of 5 = 3000 ms: bucket [3000, 5000) capped by the largest latency
      p95LatencyMs: 3000,
    });
    expect(res.body.data.totals).toMatchObject({ requests: 6, errors: 2, totalTokens: 220, cost: 0.00212 });
  });

  it('hour buckets are zero-filled, and from/to are rounded out to whole hours', async () => {
    const res = await usage(
      org.key,
      'from=2030-03-01T22:15:00Z&to=2030-03-02T01:45:00%2B00:00&granularity=hour',
    );
    expect(res.status).toBe(200);
    const { from, to, buckets } = res.body.data;
    expect([from, to]).toEqual(['2030-03-01T22:00:00.000Z', '2030-03-02T02:00:00.000Z']);
    expect(buckets.map((b) => [b.start, b.requests, b.errors, b.cacheHits])).toEqual([
      ['2030-03-01T22:00:00.000Z', 0, 0, 0],
      ['2030-03-01T23:00:00.000Z', 1, 0, 0],
      ['2030-03-02T00:00:00.000Z', 2, 1, 1],
      ['2030-03-02T01:00:00.000Z', 0, 0, 0],
    ]);
    expect(buckets[0]).toEqual({
      start: '2030-03-01T22:00:00.000Z',
      end: '2030-03-01T23:00:00.000Z',
      ...ZERO,
    });
  });

  it('groups by model, each series zero-filled', async () => {
    const res = await usage(org.key, 'from=2030-03-02T00:00:00Z&to=2030-03-02T07:00:00Z&groupBy=model');
    const groups = res.body.data.groups;
    expect(groups.map((g) => [g.key, g.totals.requests, g.totals.errors, g.totals.totalTokens])).toEqual([
      ['model-a', 3, 2, 10],
      ['model-b', 2, 0, 60],
    ]);
    for (const g of groups) expect(g.buckets).toHaveLength(7);
    expect(groups[1]!.buckets[5]).toMatchObject({
      start: '2030-03-02T05:00:00.000Z',
      requests: 2,
      canceled: 1,
    });
  });

  it("another organization sees none of it, nor the org's keys", async () => {
    const res = await usage(other.key, 'from=2030-03-01T00:00:00Z&to=2030-03-03T00:00:00Z&granularity=day');
    expect(res.status).toBe(200);
    expect(res.body.data.totals).toEqual(ZERO);
    expect(res.body.data.buckets.every((b) => b.requests === 0)).toBe(true);
    const key = await call<{ error: { code: string } }>('GET', `/v1/keys/${org.keyId}/analytics`, {
      key: other.key,
    });
    expect(key.status).toBe(404);
    expect(key.body.error.code).toBe('KEY_NOT_FOUND');
  });

  it('billing without a budget: nothing left to count down; a Free-plan organization is refused', async () => {
    const res = await call<{
      data: { limits: { tokenBudget: number | null }; usage: Record<string, number | null> };
    }>('GET', '/v1/billing', { key: other.key });
    expect(res.status).toBe(200);
    expect(res.body.data.limits.tokenBudget).toBeNull();
    expect(res.body.data.usage).toEqual({
      runs: 0,
      tokensUsed: 0,
      tokensReserved: 0,
      tokensRemaining: null,
      cost: 0,
    });
    const free = await createOrg({ plan: 'free' });
    for (const path of ['/v1/usage', '/v1/billing', `/v1/keys/${free.keyId}/analytics`, '/v1/alerts']) {
      const refused = await call<{ error: { code: string } }>('GET', path, { key: free.key });
      expect(refused.status, path).toBe(403);
      expect(refused.body.error.code).toBe('API_NOT_ALLOWED');
    }
  });

  it('key analytics over the seeded days', async () => {
    const res = await call<{ data: { totals: Record<string, number>; buckets: Bucket[] } }>(
      'GET',
      `/v1/keys/${org.keyId}/analytics?from=2030-03-01T00:00:00Z&to=2030-03-03T00:00:00Z&granularity=day`,
      { key: org.key },
    );
    expect(res.status).toBe(200);
    expect(res.body.data.totals).toMatchObject({
      requests: 6,
      errors: 2,
      successRate: 0.5,
      errorRate: 0.3333,
    });
    expect(res.body.data.buckets.map((b) => b.requests)).toEqual([1, 5]);
  });

  it('validates the range, the enums and the scope', async () => {
    const bad = async (query: string, field: string) => {
      const res = await call<{ error: { code: string; details: { field: string }[] } }>(
        'GET',
        `/v1/usage?${query}`,
        {
          key: org.key,
        },
      );
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details.map((d) => d.field)).toContain(field);
    };
    await bad('from=2030-01-01T00:00:00Z&to=2030-04-01T00:00:01Z&granularity=hour', 'to');
    await bad('from=2030-01-01T00:00:00Z&to=2031-01-03T00:00:00Z&granularity=day', 'to');
    await bad('from=2030-03-02T00:00:00Z&to=2030-03-01T00:00:00Z', 'from');
    await bad('from=2030-03-02T00:00:00Z&to=2030-03-02T00:00:00Z', 'from');
    await bad('granularity=minute', 'granularity');
    await bad('groupBy=org', 'groupBy');
    await bad('from=yesterday', 'from');
    await bad('from=9999-12-30T12:00:00Z&to=9999-12-31T23:59:59Z&granularity=day', 'to');
    // exactly 90 days of hours is allowed
    const ok = await usage(org.key, 'from=2030-01-01T00:00:00Z&to=2030-04-01T00:00:00Z&granularity=hour');
    expect(ok.status).toBe(200);
    expect(ok.body.data.buckets).toHaveLength(90 * 24);
    expect(ok.body.data.totals.requests).toBe(6);

    const noScope = await insertKey(sql, org.orgId, { scopes: ['runs:read'] });
    for (const path of ['/v1/usage', `/v1/keys/${org.keyId}/analytics`, '/v1/billing']) {
      const res = await call<{ error: { code: string } }>('GET', path, { key: noScope });
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
  });
});

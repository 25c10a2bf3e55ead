// Monthly token budgets (402 INSUFFICIENT_TOKENS) and the plan's model allowlist (403 MODEL_NOT_ALLOWED).
import { describe, expect, it } from 'vitest';
import { adminToken, apiUrl, call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { pollRun, testSql } from './runs-support.ts';

const sql = testSql();

const monthTotals = async (orgId: string) => {
  const [row] = await sql<{ tokens: string; runs: string }[]>`
    SELECT tokens, runs FROM org_usage_monthly
    WHERE org_id = ${orgId} AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date`;
  return { tokens: Number(row?.tokens ?? 0), runs: Number(row?.runs ?? 0) };
};

describe('monthly token budget', () => {
  it('runs start while tokens are left; once month-to-date ≥ budget, sync and async runs are 402', async () => {
    const org = await createOrg({ tokenBudget: 20 });
    const marker = unique('budget');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    // each run: 2 words + 3 in, "Echo: <marker> <x>" 3 out = 8 tokens; the third starts at 16 < 20
    for (let i = 0; i < 3; i++) {
      const res = await call('POST', '/api/v1/run', {
        key: org.key,
        body: { promptName: name, variables: { x: `${i}` } },
      });
      expect(res.status).toBe(200);
    }
    expect(await monthTotals(org.orgId)).toEqual({ tokens: 24, runs: 3 });

    const sync = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: name, variables: { x: 'z' } },
    });
    expect(sync.status).toBe(402);
    expect(sync.body).toEqual({
      success: false,
      code: 'INSUFFICIENT_TOKENS',
      error: 'Monthly token budget exhausted: 24 of 20 tokens used this month',
    });
    const async = await call('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { x: 'z' } },
    });
    expect(async.status).toBe(402);
    expect(async.body).toEqual({
      error: {
        code: 'INSUFFICIENT_TOKENS',
        message: 'Monthly token budget exhausted: 24 of 20 tokens used this month',
      },
    });
    const agent = await call('POST', `/v1/agents/${name}/execute`, {
      key: org.key,
      body: { variables: { x: 'z' } },
    });
    expect(agent.status).toBe(402);
    // refused before anything was recorded or called
    expect(await mock.calls({ contains: `${marker} z` })).toHaveLength(0);
    const [n] = await sql`SELECT count(*)::int AS n FROM runs WHERE org_id = ${org.orgId}`;
    expect(n?.n).toBe(3);

    // raising the budget lets runs start again
    const patch = await call('PATCH', `/admin/v1/orgs/${org.orgId}`, {
      headers: { authorization: `Bearer ${adminToken}` },
      body: { tokenBudget: 1000 },
    });
    expect(patch.status).toBe(200);
    const again = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: name, variables: { x: 'z' } },
    });
    expect(again.status).toBe(200);
  });

  it('no budget (null) never refuses', async () => {
    const org = await createOrg({ tokenBudget: null });
    const name = await createPrompt(org.key, { template: 'free {{x}}' });
    await sql`
      INSERT INTO org_usage_monthly (org_id, month, tokens, cost, runs)
      VALUES (${org.orgId}, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 10000000000, 0, 1)`;
    const res = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: name, variables: { x: '1' } },
    });
    expect(res.status).toBe(200);
  });

  it('usage of failed attempts counts toward the month as well as successful ones', async () => {
    const org = await createOrg({ tokenBudget: 1000 });
    const marker = unique('budget-fb');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}`, fallbackModels: ['mock-fast'] });
    const rule = await mock.addRule({
      match: { model: 'mock-1', contains: marker },
      action: { type: 'fail', status: 500 },
    });
    try {
      const res = await call<{ runId: string; usage: { totalTokens: number } }>('POST', '/api/v1/run', {
        key: org.key,
        body: { promptName: name, variables: { x: '1' } },
      });
      expect(res.status).toBe(200);
      const [runUsage] = await sql<{ t: number }[]>`
        SELECT (prompt_tokens + completion_tokens)::int AS t FROM usage_events WHERE run_id = ${res.body.runId} AND kind = 'run'`;
      const [attempts] = await sql<{ t: number }[]>`
        SELECT sum(prompt_tokens + completion_tokens)::int AS t FROM usage_events WHERE run_id = ${res.body.runId} AND kind = 'attempt'`;
      expect(runUsage?.t).toBe(attempts?.t);
      expect((await monthTotals(org.orgId)).tokens).toBe(res.body.usage.totalTokens);
    } finally {
      await mock.removeRule(rule);
    }
  });
});

// these tests fire bursts of runs: above the default per-minute limit
const UNLIMITED = { plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } };

type Mode = 'sync' | 'stream' | 'async';

interface Attempted {
  /** 200/202 once the run was admitted, 402 when the budget refused it */
  status: number;
  runId?: string | undefined;
  code?: string | undefined;
  message?: string | undefined;
}

/** One run in `mode`, driven to its end; reports whether the budget admitted it. */
async function runOnce(org: TestOrg, name: string, x: string, mode: Mode): Promise<Attempted> {
  if (mode === 'async') {
    const res = await call<{ data: { id: string }; error: { code: string; message: string } }>(
      'POST',
      '/v1/runs',
      { key: org.key, body: { prompt: name, variables: { x } } },
    );
    if (res.status !== 202) return { status: res.status, ...res.body.error };
    await pollRun(org.key, res.body.data.id);
    return { status: 202, runId: res.body.data.id };
  }
  if (mode === 'stream') {
    const res = await fetch(`${apiUrl}/api/v1/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${org.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ promptName: name, variables: { x }, stream: true }),
    });
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
      const body = (await res.json()) as { code: string; error: string };
      return { status: res.status, code: body.code, message: body.error };
    }
    await res.text(); // to the end: `done` or `error`
    return { status: res.status, runId: res.headers.get('x-run-id') ?? undefined };
  }
  const res = await call<{ runId: string; code: string; error: string }>('POST', '/api/v1/run', {
    key: org.key,
    body: { promptName: name, variables: { x } },
  });
  if (res.status === 402) return { status: 402, code: res.body.code, message: res.body.error };
  return { status: res.status, runId: res.body.runId };
}

const reservationsOf = async (orgId: string) => {
  const [row] = await sql<{ reserved: number; n: number }[]>`
    SELECT (SELECT COALESCE(sum(reserved_tokens), 0)::int FROM org_usage_monthly WHERE org_id = ${orgId}) AS reserved,
           (SELECT count(*)::int FROM budget_reservations WHERE org_id = ${orgId}) AS n`;
  return row;
};

describe('monthly token budget under concurrency', () => {
  it('parallel runs against a 30-token budget: the extras are 402 and the month stays within budget + one run', async () => {
    const budget = 30;
    const org = await createOrg({ ...UNLIMITED, tokenBudget: budget });
    const marker = unique('par'); // 12 characters
    // One run's maximum is its reservation: the rendered prompt's UTF-8 bytes (`<marker> <digit>`: 14)
    // + 4 per message + 3, plus maxTokens 4 = 25 tokens. A run here really uses 5 prompt tokens
    // (2 words + 3) and at most 4 completion tokens.
    const runMax = 14 + 4 + 3 + 4;
    const name = await createPrompt(org.key, { template: `${marker} {{x}}`, params: { maxTokens: 4 } });
    const modes: Mode[] = ['sync', 'stream', 'async'];
    const admitted: Attempted[] = [];
    const refused: Attempted[] = [];
    let firstBurstRefused = 0;
    // bursts of 10 parallel runs, each burst after the previous one has ended, until none is admitted
    for (let burst = 0; burst < 8; burst++) {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => runOnce(org, name, String(i), modes[i % 3]!)),
      );
      const ok = results.filter((r) => r.status !== 402);
      admitted.push(...ok);
      refused.push(...results.filter((r) => r.status === 402));
      if (burst === 0) firstBurstRefused = 10 - ok.length;
      if (ok.length === 0) break;
    }

    expect(firstBurstRefused).toBeGreaterThan(0);
    for (const r of admitted) expect([200, 202]).toContain(r.status);
    for (const r of refused) {
      expect(r.code).toBe('INSUFFICIENT_TOKENS');
      expect(r.message).toMatch(/^Monthly token budget exhausted: \d+ of 30 tokens used this month/);
    }
    const { tokens, runs } = await monthTotals(org.orgId);
    process.stderr.write(
      `[budget] ${admitted.length} runs admitted, ${refused.length} refused (${firstBurstRefused} of the ` +
        `first 10); ${tokens} of ${budget} tokens used, bound ${budget + runMax - 1}\n`,
    );
    // the budget was spent, by at most one run's maximum more
    expect(tokens).toBeGreaterThanOrEqual(budget);
    expect(tokens).toBeLessThan(budget + runMax);
    // every admitted run was recorded and settled: its tokens are the month's, nothing stays reserved
    expect(runs).toBe(admitted.length);
    const [sum] = await sql<{ t: number; n: number }[]>`
      SELECT COALESCE(sum(prompt_tokens + completion_tokens), 0)::int AS t, count(*)::int AS n
      FROM runs WHERE org_id = ${org.orgId}`;
    expect(sum).toEqual({ t: tokens, n: admitted.length });
    expect(await reservationsOf(org.orgId)).toEqual({ reserved: 0, n: 0 });
  }, 120_000);

  it('a run holds its reservation while it runs; streamed, broken, retried and fallback runs settle at what they used', async () => {
    const org = await createOrg({ ...UNLIMITED, tokenBudget: 1_000_000 });
    const marker = unique('settle'); // 15 characters
    const name = await createPrompt(org.key, { template: `${marker} {{x}}`, fallbackModels: ['mock-fast'] });
    const rules = [
      await mock.addRule({
        match: { contains: `${marker} slow` },
        times: 1,
        action: { type: 'delay', ms: 1_500 },
      }),
      await mock.addRule({
        match: { contains: `${marker} retried` },
        times: 1,
        action: { type: 'fail', status: 500 },
      }),
      await mock.addRule({
        match: { contains: `${marker} broken` },
        times: 1,
        action: { type: 'break-stream', afterChunks: 2 },
      }),
      await mock.addRule({
        match: { model: 'mock-1', contains: `${marker} fallback` },
        action: { type: 'fail', status: 500 },
      }),
    ];
    try {
      const slow = await call<{ data: { id: string } }>('POST', '/v1/runs', {
        key: org.key,
        body: { prompt: name, variables: { x: 'slow' } },
      });
      expect(slow.status).toBe(202);
      // the prompt's bytes + 4 per message + 3, plus the default completion cap (no maxTokens)
      const [held] = await sql<{ tokens: number }[]>`
        SELECT tokens::int FROM budget_reservations WHERE run_id = ${slow.body.data.id}`;
      expect(held?.tokens).toBe(`${marker} slow`.length + 4 + 3 + 4_096);
      expect(await reservationsOf(org.orgId)).toEqual({ reserved: held!.tokens, n: 1 });
      await pollRun(org.key, slow.body.data.id);

      for (const [x, mode] of [
        ['retried', 'sync'],
        ['streamed', 'stream'],
        ['broken', 'stream'],
        ['fallback', 'sync'],
      ] as const) {
        expect((await runOnce(org, name, x, mode)).status).not.toBe(402);
      }
    } finally {
      for (const rule of rules) await mock.removeRule(rule);
    }
    const runs = await sql<
      { x: string; status: string; attempts: number; tokens: number; attemptTokens: number }[]
    >`
      SELECT r.variables->>'x' AS x, r.status, r.attempts, (r.prompt_tokens + r.completion_tokens)::int AS tokens,
             (SELECT sum(prompt_tokens + completion_tokens)::int FROM usage_events u
              WHERE u.run_id = r.id AND u.kind = 'attempt') AS "attemptTokens"
      FROM runs r WHERE r.org_id = ${org.orgId} ORDER BY r.created_at`;
    expect(runs.map(({ x, status, attempts }) => ({ x, status, attempts }))).toEqual([
      { x: 'slow', status: 'succeeded', attempts: 1 },
      { x: 'retried', status: 'succeeded', attempts: 2 },
      { x: 'streamed', status: 'succeeded', attempts: 1 },
      { x: 'broken', status: 'failed', attempts: 1 },
      { x: 'fallback', status: 'succeeded', attempts: 4 },
    ]);
    for (const r of runs) expect(r.tokens).toBe(r.attemptTokens);
    // the broken stream counts what it streamed: its prompt (estimated) and 2 chunks
    expect(runs[3]!.tokens).toBeGreaterThan(2);
    const total = runs.reduce((n, r) => n + r.tokens, 0);
    expect(await monthTotals(org.orgId)).toEqual({ tokens: total, runs: 5 });
    expect(await reservationsOf(org.orgId)).toEqual({ reserved: 0, n: 0 });
  });

  it('a cache hit reserves nothing and records no tokens; once the budget is spent it is 402 too', async () => {
    const org = await createOrg({ ...UNLIMITED, tokenBudget: 10 });
    const marker = unique('cached');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}`, cacheTtlSeconds: 300 });
    const run = (x: string) =>
      call<{ runId: string }>('POST', '/api/v1/run', {
        key: org.key,
        body: { promptName: name, variables: { x } },
      });
    const miss = await run('a');
    expect([miss.status, miss.headers.get('x-cache')]).toEqual([200, 'MISS']);
    const hit = await run('a');
    expect([hit.status, hit.headers.get('x-cache')]).toEqual([200, 'HIT']);
    const [held] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM budget_reservations WHERE run_id = ${hit.body.runId}`;
    expect(held?.n).toBe(0);
    expect(await monthTotals(org.orgId)).toEqual({ tokens: 8, runs: 2 });
    expect((await run('b')).status).toBe(200); // 8 < 10: admitted, then 16 used
    const spent = await run('a');
    expect(spent.status).toBe(402);
    expect(spent.body).toMatchObject({ code: 'INSUFFICIENT_TOKENS' });
    expect(await reservationsOf(org.orgId)).toEqual({ reserved: 0, n: 0 });
  });

  it('a budget smaller than one run admits one run at a time: one of 6 parallel runs starts', async () => {
    const modes: Mode[] = ['sync', 'stream', 'async'];
    const org = await createOrg({ ...UNLIMITED, tokenBudget: 5 });
    const marker = unique('tiny');
    // no maxTokens: the run reserves its prompt plus the default cap, far more than 5
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => runOnce(org, name, String(i), modes[i % 3]!)),
    );
    expect(results.filter((r) => r.status !== 402)).toHaveLength(1);
    const refusals = results.filter((r) => r.status === 402);
    expect(refusals).toHaveLength(5);
    // refused while the one run held its reservation, or after it had spent the budget
    for (const r of refusals) {
      expect(r.message).toMatch(
        /^Monthly token budget exhausted: (0 of 5 tokens used this month \(\d+ more reserved by runs in progress\)|8 of 5 tokens used this month)$/,
      );
    }
    expect(await monthTotals(org.orgId)).toEqual({ tokens: 8, runs: 1 });
    expect(await reservationsOf(org.orgId)).toEqual({ reserved: 0, n: 0 });
    expect(await mock.calls({ contains: marker })).toHaveLength(1);
  });
});

describe('model allowlist', () => {
  it('403 MODEL_NOT_ALLOWED on every run route when the version model is not allowed', async () => {
    const org = await createOrg({ allowedModels: ['mock-fast'] });
    const name = await createPrompt(org.key, { template: 'x {{x}}', model: 'mock-1' });
    const expected = "Model 'mock-1' is not allowed for this organization";
    const sync = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: name, variables: { x: '1' } },
    });
    expect(sync.status).toBe(403);
    expect(sync.body).toEqual({ success: false, code: 'MODEL_NOT_ALLOWED', error: expected });
    const async = await call('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { x: '1' } },
    });
    expect(async.status).toBe(403);
    expect(async.body).toEqual({ error: { code: 'MODEL_NOT_ALLOWED', message: expected } });
    const agent = await call('POST', `/v1/agents/${name}/execute`, {
      key: org.key,
      body: { variables: { x: '1' } },
    });
    expect(agent.status).toBe(403);
  });

  it('allowed models (exact or prefix*) run; fallbacks the plan may not use are skipped', async () => {
    const org = await createOrg({ allowedModels: ['mock-1', 'gpt-4o*'] });
    const marker = unique('allow');
    const name = await createPrompt(org.key, {
      template: `${marker} {{x}}`,
      model: 'mock-1',
      fallbackModels: ['mock-fast', 'gpt-4o-mini'],
    });
    const rule = await mock.addRule({
      match: { model: 'mock-1', contains: marker },
      action: { type: 'fail', status: 500 },
    });
    try {
      const res = await call('POST', '/api/v1/run', {
        key: org.key,
        body: { promptName: name, variables: { x: '1' } },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, model: 'gpt-4o-mini' });
      const models = (await mock.calls({ contains: marker })).map((c) => c.model);
      expect(models).not.toContain('mock-fast');
      expect(models).toEqual(['mock-1', 'mock-1', 'mock-1', 'gpt-4o-mini']);
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('an allowlist change applies to the next request', async () => {
    const org = await createOrg();
    const name = await createPrompt(org.key, { template: 'y {{x}}', model: 'mock-1' });
    expect(
      (await call('POST', '/api/v1/run', { key: org.key, body: { promptName: name, variables: { x: '1' } } }))
        .status,
    ).toBe(200);
    await call('PATCH', `/admin/v1/orgs/${org.orgId}`, {
      headers: { authorization: `Bearer ${adminToken}` },
      body: { allowedModels: ['mock-fast'] },
    });
    expect(
      (await call('POST', '/api/v1/run', { key: org.key, body: { promptName: name, variables: { x: '1' } } }))
        .status,
    ).toBe(403);
  });
});

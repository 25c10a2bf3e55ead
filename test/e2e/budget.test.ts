// Monthly token budgets (402 INSUFFICIENT_TOKENS) and the plan's model allowlist (403 MODEL_NOT_ALLOWED).
import { describe, expect, it } from 'vitest';
import { adminToken, call, createOrg, createPrompt, mock, unique } from './helpers.ts';
import { testSql } from './runs-support.ts';

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

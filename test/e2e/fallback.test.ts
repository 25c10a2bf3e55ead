// Provider retries and fallbacks (e2e stack: PROVIDER_MAX_ATTEMPTS=3, PROVIDER_RETRY_INITIAL_MS=50).
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { type SyncOk, testSql } from './runs-support.ts';

const sql = testSql();

describe('retries, backoff and fallback models', () => {
  let org: TestOrg;

  beforeAll(async () => {
    org = await createOrg();
  });

  const run = (promptName: string, variables: Record<string, unknown> = { x: '1' }) =>
    call<SyncOk>('POST', '/api/v1/run', { key: org.key, body: { promptName, variables } });

  const attemptRows = (runId: string) =>
    sql<{ seq: number; model: string; status: string; error_code: string | null }[]>`
      SELECT seq, model, status, error_code FROM usage_events
      WHERE run_id = ${runId} AND kind = 'attempt' ORDER BY seq`;

  it('two provider 500s, then success on attempt 3: attempts 3, three attempt rows', async () => {
    const marker = unique('500x2');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({
      match: { contains: marker },
      times: 2,
      action: { type: 'fail', status: 500 },
    });
    try {
      const res = await run(name);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, output: `Echo: ${marker} 1`, model: 'mock-1' });
      const calls = await mock.calls({ contains: marker });
      expect(calls.map((c) => c.status)).toEqual([500, 500, 200]);
      expect(await attemptRows(res.body.runId)).toEqual([
        { seq: 1, model: 'mock-1', status: 'failed', error_code: 'PROVIDER_ERROR' },
        { seq: 2, model: 'mock-1', status: 'failed', error_code: 'PROVIDER_ERROR' },
        { seq: 3, model: 'mock-1', status: 'succeeded', error_code: null },
      ]);
      const [row] = await sql`SELECT status, attempts FROM runs WHERE id = ${res.body.runId}`;
      expect(row).toEqual({ status: 'succeeded', attempts: 3 });
      const get = await call<{ data: { attempts: number } }>('GET', `/v1/runs/${res.body.runId}`, {
        key: org.key,
      });
      expect(get.body.data.attempts).toBe(3);
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('backs off exponentially between attempts (50 ms, then 100 ms)', async () => {
    const marker = unique('backoff');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({
      match: { contains: marker },
      times: 2,
      action: { type: 'fail', status: 503 },
    });
    try {
      expect((await run(name)).status).toBe(200);
      const at = (await mock.calls({ contains: marker })).map((c) => c.at);
      expect(at).toHaveLength(3);
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(45);
      expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(95);
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('a 429 with Retry-After: 1 waits at least a second before the next attempt', async () => {
    const marker = unique('429');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({
      match: { contains: marker },
      times: 1,
      action: { type: 'fail', status: 429, retryAfterSeconds: 1 },
    });
    try {
      const res = await run(name);
      expect(res.status).toBe(200);
      const calls = await mock.calls({ contains: marker });
      expect(calls.map((c) => c.status)).toEqual([429, 200]);
      // without Retry-After the first retry would come after 50 ms
      expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1000);
      expect(calls[1]!.at - calls[0]!.at).toBeLessThan(3000);
      expect((await attemptRows(res.body.runId)).map((r) => r.status)).toEqual(['failed', 'succeeded']);
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('a provider 400 is not retried: one call, 502 PROVIDER_ERROR with a fixed message', async () => {
    const marker = unique('400');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}`, fallbackModels: ['mock-fast'] });
    const rule = await mock.addRule({
      match: { contains: marker },
      action: { type: 'fail', status: 400, message: 'max_tokens is too large' },
    });
    try {
      const res = await run(name);
      expect(res.status).toBe(502);
      const body = res.body as unknown as { success: boolean; error: string; code: string; runId: string };
      expect(body).toMatchObject({
        success: false,
        code: 'PROVIDER_ERROR',
        runId: expect.stringMatching(/^run_/),
      });
      expect(body.error).toBe(
        "Model 'mock-1' rejected the request (HTTP 400): check the version's model and params",
      );
      // neither retried nor handed to the fallback: the request itself is wrong
      expect(await mock.calls({ contains: marker })).toHaveLength(1);
      expect(await attemptRows(body.runId)).toEqual([
        { seq: 1, model: 'mock-1', status: 'failed', error_code: 'PROVIDER_REJECTED' },
      ]);
      const [row] = await sql`SELECT status, error_code, attempts FROM runs WHERE id = ${body.runId}`;
      expect(row).toEqual({ status: 'failed', error_code: 'PROVIDER_REJECTED', attempts: 1 });
      const get = await call<{ data: { error: { code: string } } }>('GET', `/v1/runs/${body.runId}`, {
        key: org.key,
      });
      expect(get.body.data.error.code).toBe('PROVIDER_ERROR');
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('when the primary model keeps failing, the fallback answers; usage rows for both models', async () => {
    const marker = unique('fallback');
    const name = await createPrompt(org.key, {
      template: `${marker} {{x}}`,
      model: 'mock-1',
      fallbackModels: ['mock-fast'],
    });
    const rule = await mock.addRule({
      match: { model: 'mock-1', contains: marker },
      action: { type: 'fail', status: 500 },
    });
    try {
      const res = await run(name);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, model: 'mock-fast', output: `Echo: ${marker} 1` });
      const calls = await mock.calls({ contains: marker });
      expect(calls.map((c) => `${c.model}:${c.status}`)).toEqual([
        'mock-1:500',
        'mock-1:500',
        'mock-1:500',
        'mock-fast:200',
      ]);
      const rows = await attemptRows(res.body.runId);
      expect(rows.map((r) => `${r.seq}:${r.model}:${r.status}`)).toEqual([
        '1:mock-1:failed',
        '2:mock-1:failed',
        '3:mock-1:failed',
        '1001:mock-fast:succeeded',
      ]);
      const [runRow] = await sql`SELECT model, attempts, status FROM runs WHERE id = ${res.body.runId}`;
      expect(runRow).toEqual({ model: 'mock-fast', attempts: 4, status: 'succeeded' });
      const [usage] =
        await sql`SELECT model, status FROM usage_events WHERE run_id = ${res.body.runId} AND kind = 'run'`;
      expect(usage).toEqual({ model: 'mock-fast', status: 'succeeded' });
      // cost is mock-fast's ($0.5 / $1 per 1M): failed attempts used no tokens
      const { promptTokens, completionTokens, cost } = res.body.usage;
      expect(cost).toBeCloseTo((promptTokens * 0.5 + completionTokens * 1) / 1e6, 12);
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('fallbacks are tried in order; when all fail the run is 502 after every attempt', async () => {
    const marker = unique('all-fail');
    const name = await createPrompt(org.key, {
      template: `${marker} {{x}}`,
      model: 'mock-1',
      fallbackModels: ['mock-fast', 'gpt-4o-mini'],
    });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'fail', status: 502 } });
    try {
      const res = await run(name);
      expect(res.status).toBe(502);
      const models = (await mock.calls({ contains: marker })).map((c) => c.model);
      expect(models).toEqual([
        'mock-1',
        'mock-1',
        'mock-1',
        'mock-fast',
        'mock-fast',
        'mock-fast',
        'gpt-4o-mini',
        'gpt-4o-mini',
        'gpt-4o-mini',
      ]);
      const runId = (res.body as unknown as { runId: string }).runId;
      const [row] = await sql`SELECT status, attempts FROM runs WHERE id = ${runId}`;
      expect(row).toEqual({ status: 'failed', attempts: 9 });
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('an async run records the same: GET shows the fallback model and every attempt', async () => {
    const marker = unique('async-fb');
    const name = await createPrompt(org.key, {
      template: `${marker} {{x}}`,
      model: 'mock-1',
      fallbackModels: ['mock-fast'],
    });
    const rule = await mock.addRule({
      match: { model: 'mock-1', contains: marker },
      action: { type: 'fail', status: 500 },
    });
    try {
      const res = await call<{ data: { model: string; attempts: number; status: string } }>(
        'POST',
        '/v1/runs',
        {
          key: org.key,
          headers: { prefer: 'wait=20' },
          body: { prompt: name, variables: { x: '1' } },
        },
      );
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ status: 'succeeded', model: 'mock-fast', attempts: 4 });
    } finally {
      await mock.removeRule(rule);
    }
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { insertKey, pollRun, promptId, type RunBody, testSql } from './runs-support.ts';

const sql = testSql();

interface Accepted {
  data: { id: string; status: string; links: { self: string; cancel: string } };
}

describe('POST /v1/runs → 202, then GET /v1/runs/:id', () => {
  let org: TestOrg;
  let name: string;
  let marker: string;

  beforeAll(async () => {
    org = await createOrg();
    marker = unique('async');
    name = await createPrompt(org.key, { template: `${marker} hello {{who}}`, model: 'mock-1' });
  });

  it('answers 202 with Location and links, and the run finishes with output, usage and timings', async () => {
    const res = await call<Accepted>('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { who: 'Ada' }, metadata: { orderId: 42, tags: ['a'] } },
    });
    expect(res.status).toBe(202);
    const id = res.body.data.id;
    expect(id).toMatch(/^run_/);
    expect(res.body).toEqual({
      data: { id, status: 'queued', links: { self: `/v1/runs/${id}`, cancel: `/v1/runs/${id}/cancel` } },
    });
    expect(res.headers.get('location')).toBe(`/v1/runs/${id}`);
    expect(res.headers.get('x-cache')).toBeNull();

    const run = await pollRun(org.key, id);
    const pid = await promptId(org.key, name);
    expect(run).toMatchObject({
      id,
      status: 'succeeded',
      mode: 'async',
      prompt: { id: pid, name },
      version: 1,
      model: 'mock-1',
      output: `Echo: ${marker} hello Ada`,
      error: null,
      // 3 words + 3 overhead in; "Echo: <marker> hello Ada" = 4 words out
      usage: { promptTokens: 6, completionTokens: 4, totalTokens: 10 },
      attempts: 1,
      cacheHit: false,
      metadata: { orderId: 42, tags: ['a'] },
    });
    expect(run.usage.cost).toBeCloseTo((6 * 1 + 4 * 2) / 1e6, 12);
    const t = run.timings;
    expect(Date.parse(t.createdAt)).toBeLessThanOrEqual(Date.parse(t.startedAt ?? ''));
    expect(Date.parse(t.startedAt ?? '')).toBeLessThanOrEqual(Date.parse(t.finishedAt ?? ''));
    expect(t.durationMs).toBe(Date.parse(t.finishedAt ?? '') - Date.parse(t.createdAt));

    const usage = await sql`SELECT kind, status, model FROM usage_events WHERE run_id = ${id} ORDER BY kind`;
    expect(usage.map((u) => `${u.kind}:${u.status}:${u.model}`)).toEqual([
      'attempt:succeeded:mock-1',
      'run:succeeded:mock-1',
    ]);
  });

  it('is also served under /api/v1 and accepts the prompt id', async () => {
    const pid = await promptId(org.key, name);
    const res = await call<Accepted>('POST', '/api/v1/runs', {
      key: org.key,
      body: { prompt: pid, variables: { who: 'B' } },
    });
    expect(res.status).toBe(202);
    const run = await pollRun(org.key, res.body.data.id);
    expect(run.prompt).toEqual({ id: pid, name });
    expect((await call('GET', `/api/v1/runs/${run.id}`, { key: org.key })).status).toBe(200);
  });

  it("another organization's run and an unknown id are 404 RUN_NOT_FOUND", async () => {
    const res = await call<Accepted>('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { who: 'x' } },
    });
    const other = await createOrg();
    const foreign = await call('GET', `/v1/runs/${res.body.data.id}`, { key: other.key });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({
      error: { code: 'RUN_NOT_FOUND', message: `Run '${res.body.data.id}' not found` },
    });
    const cancel = await call('POST', `/v1/runs/${res.body.data.id}/cancel`, { key: other.key });
    expect(cancel.status).toBe(404);
    expect((await call('GET', '/v1/runs/run_nope', { key: org.key })).body).toMatchObject({
      error: { code: 'RUN_NOT_FOUND' },
    });
  });

  it('validates the body with field details and resolves the prompt like the sync route', async () => {
    const noPrompt = await call('POST', '/v1/runs', { key: org.key, body: { variables: {} } });
    expect(noPrompt.status).toBe(400);
    expect(noPrompt.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', details: [{ field: 'prompt' }] },
    });

    const both = await call('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, version: 1, label: 'x' },
    });
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: [{ field: 'label' }] } });

    const hook = await call('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { who: 'x' }, webhookUrl: 'ftp://example.com/x' },
    });
    expect(hook.status).toBe(400);
    expect(hook.body).toMatchObject({ error: { details: [{ field: 'webhookUrl' }] } });

    const extra = await call('POST', '/v1/runs', { key: org.key, body: { prompt: name, bogus: 1 } });
    expect(extra.status).toBe(400);

    const unknown = await call('POST', '/v1/runs', { key: org.key, body: { prompt: 'no-such-prompt' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      error: {
        code: 'PROMPT_NOT_FOUND',
        message: "Prompt 'no-such-prompt' not found or has no PRODUCTION version",
      },
    });

    const noVersion = await call('POST', '/v1/runs', { key: org.key, body: { prompt: name, version: 9 } });
    expect(noVersion.status).toBe(404);
    expect(noVersion.body).toMatchObject({ error: { code: 'VERSION_NOT_FOUND' } });

    const missing = await call('POST', '/v1/runs', { key: org.key, body: { prompt: name } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({
      error: { code: 'MISSING_VARIABLES', details: [{ field: 'variables.who' }] },
    });
  });

  it('records webhookUrl and stores a run of a labelled version', async () => {
    await call('POST', `/v1/prompts/${name}/versions`, {
      key: org.key,
      body: { template: `${marker} staged {{who}}`, model: 'mock-fast', labels: ['staging'] },
    });
    const res = await call<Accepted>('POST', '/v1/runs', {
      key: org.key,
      body: {
        prompt: name,
        label: 'staging',
        variables: { who: 'S' },
        webhookUrl: 'https://example.com/hook',
      },
    });
    expect(res.status).toBe(202);
    const run = await pollRun(org.key, res.body.data.id);
    expect(run).toMatchObject({ version: 2, model: 'mock-fast', output: `Echo: ${marker} staged S` });
    expect((run as RunBody & { webhookUrl: string }).webhookUrl).toBe('https://example.com/hook');
  });

  it('a provider 400 fails the run at once: status failed, PROVIDER_ERROR with a fixed message, 1 attempt', async () => {
    const m = unique('reject');
    const p = await createPrompt(org.key, { template: `${m} {{x}}` });
    const rule = await mock.addRule({
      match: { contains: m },
      action: { type: 'fail', status: 400, message: 'context too long' },
    });
    try {
      const res = await call<Accepted>('POST', '/v1/runs', {
        key: org.key,
        body: { prompt: p, variables: { x: '1' } },
      });
      const run = await pollRun(org.key, res.body.data.id);
      expect(run).toMatchObject({ status: 'failed', output: null, attempts: 1 });
      expect(run.error?.code).toBe('PROVIDER_ERROR');
      // the provider's own text stays with the attempt, for operators (error-leaks.test.ts)
      expect(run.error?.message).toBe(
        "Model 'mock-1' rejected the request (HTTP 400): check the version's model and params",
      );
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('scopes: runs:read may read but not start; runs:execute is needed to start', async () => {
    const started = await call<Accepted>('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { who: 'r' } },
    });
    const readOnly = await insertKey(sql, org.orgId, { scopes: ['runs:read'] });
    const refused = await call('POST', '/v1/runs', {
      key: readOnly,
      body: { prompt: name, variables: { who: 'r' } },
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await call('GET', `/v1/runs/${started.body.data.id}`, { key: readOnly })).status).toBe(200);
    expect((await call('GET', '/v1/runs', { key: readOnly })).status).toBe(200);

    const executeOnly = await insertKey(sql, org.orgId, { scopes: ['runs:execute'] });
    expect((await call('GET', `/v1/runs/${started.body.data.id}`, { key: executeOnly })).status).toBe(403);
  });
});

describe('Prefer: wait=N (long-poll)', () => {
  let org: TestOrg;

  beforeAll(async () => {
    org = await createOrg();
  });

  it('answers 200 with the finished run and Preference-Applied when it ends in time', async () => {
    const name = await createPrompt(org.key, { template: 'quick {{x}}' });
    const res = await call<{ data: RunBody }>('POST', '/v1/runs', {
      key: org.key,
      headers: { prefer: 'wait=10' },
      body: { prompt: name, variables: { x: 'y' } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('preference-applied')).toBe('wait=10');
    expect(res.headers.get('location')).toBe(`/v1/runs/${res.body.data.id}`);
    expect(res.body.data).toMatchObject({ status: 'succeeded', output: 'Echo: quick y', attempts: 1 });
  });

  it('answers 202 after N seconds when the run is still going, and the run goes on', async () => {
    const marker = unique('slow');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'delay', ms: 2500 } });
    try {
      const started = Date.now();
      const res = await call<Accepted>('POST', '/v1/runs', {
        key: org.key,
        headers: { prefer: 'respond-async, wait=1' },
        body: { prompt: name, variables: { x: 'y' } },
      });
      const elapsed = Date.now() - started;
      expect(res.status).toBe(202);
      expect(res.headers.get('preference-applied')).toBe('wait=1');
      expect(elapsed).toBeGreaterThanOrEqual(1000);
      expect(elapsed).toBeLessThan(2400);
      expect(['queued', 'running']).toContain(res.body.data.status);
      const run = await pollRun(org.key, res.body.data.id);
      expect(run).toMatchObject({ status: 'succeeded', output: `Echo: ${marker} y` });
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('caps N at 60 and ignores a Prefer it cannot honour', async () => {
    const name = await createPrompt(org.key, { template: 'cap {{x}}' });
    const capped = await call('POST', '/v1/runs', {
      key: org.key,
      headers: { prefer: 'wait=3600' },
      body: { prompt: name, variables: { x: 'y' } },
    });
    expect(capped.status).toBe(200);
    expect(capped.headers.get('preference-applied')).toBe('wait=60');

    for (const prefer of ['wait=abc', 'wait=0', 'return=minimal']) {
      const ignored = await call('POST', '/v1/runs', {
        key: org.key,
        headers: { prefer },
        body: { prompt: name, variables: { x: 'y' } },
      });
      expect(ignored.status).toBe(202);
      expect(ignored.headers.get('preference-applied')).toBeNull();
    }
  });

  it('a failed run within the wait is 200 with status failed (the run resource, not an error)', async () => {
    const marker = unique('fail-wait');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'fail', status: 422 } });
    try {
      const res = await call<{ data: RunBody }>('POST', '/v1/runs', {
        key: org.key,
        headers: { prefer: 'wait=10' },
        body: { prompt: name, variables: { x: 'y' } },
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_ERROR' } });
    } finally {
      await mock.removeRule(rule);
    }
  });
});

describe('POST /v1/runs/:id/cancel', () => {
  let org: TestOrg;

  beforeAll(async () => {
    org = await createOrg();
  });

  it('cancels a running run: 200 with status canceled, RUN_CANCELED, usage recorded; a second cancel is 409', async () => {
    const marker = unique('hang');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'hang' } });
    try {
      const res = await call<Accepted>('POST', '/v1/runs', {
        key: org.key,
        body: { prompt: name, variables: { x: 'y' } },
      });
      const id = res.body.data.id;
      await pollRun(org.key, id, (r) => r.status === 'running');
      // the provider call is in flight
      await expect.poll(async () => (await mock.calls({ contains: marker })).length).toBe(1);

      const canceled = await call<{ data: RunBody }>('POST', `/v1/runs/${id}/cancel`, { key: org.key });
      expect(canceled.status).toBe(200);
      expect(canceled.body.data).toMatchObject({
        id,
        status: 'canceled',
        output: null,
        error: { code: 'RUN_CANCELED', message: 'Run was canceled' },
      });
      expect(canceled.body.data.timings.finishedAt).not.toBeNull();
      const [usage] = await sql`SELECT status FROM usage_events WHERE run_id = ${id} AND kind = 'run'`;
      expect(usage).toEqual({ status: 'canceled' });

      const again = await call('POST', `/v1/runs/${id}/cancel`, { key: org.key });
      expect(again.status).toBe(409);
      expect(again.body).toEqual({
        error: { code: 'INVALID_STATE', message: `Run '${id}' has already been canceled` },
      });
      // no retry of the canceled call
      await new Promise((r) => setTimeout(r, 300));
      expect(await mock.calls({ contains: marker })).toHaveLength(1);
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('a finished run cannot be canceled: 409 INVALID_STATE', async () => {
    const name = await createPrompt(org.key, { template: 'done {{x}}' });
    const res = await call<{ data: RunBody }>('POST', '/v1/runs', {
      key: org.key,
      headers: { prefer: 'wait=10' },
      body: { prompt: name, variables: { x: 'y' } },
    });
    expect(res.body.data.status).toBe('succeeded');
    const cancel = await call('POST', `/v1/runs/${res.body.data.id}/cancel`, { key: org.key });
    expect(cancel.status).toBe(409);
    expect(cancel.body).toEqual({
      error: { code: 'INVALID_STATE', message: `Run '${res.body.data.id}' has already succeeded` },
    });
  });
});

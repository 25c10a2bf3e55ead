// POST /api/v1/run: the seed's shape for every answer, every error status included.

import { startService, stopChild } from '@promptmill/dev/stack';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { E2E_ENV } from './global-setup.ts';
import { adminToken, call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { insertKey, pollRun, promptId, testSql } from './runs-support.ts';

const sql = testSql();

interface SeedError {
  success: false;
  error: string;
  code: string;
  runId?: string;
}

const run = (
  key: string | undefined,
  body: unknown,
  opts: { baseUrl?: string; headers?: Record<string, string> } = {},
) => call<SeedError>('POST', '/api/v1/run', { ...(key ? { key } : {}), body, ...opts });

describe('POST /api/v1/run: success', () => {
  let org: TestOrg;
  let name: string;

  beforeAll(async () => {
    org = await createOrg();
    name = await createPrompt(org.key, { template: 'Welcome {{username}} to {{service_name}}' });
  });

  it("answers the seed's fields, plus runId and usage, and is served under /v1 too", async () => {
    for (const path of ['/api/v1/run', '/v1/run']) {
      const res = await call<Record<string, unknown>>('POST', path, {
        headers: { 'x-api-key': org.key },
        body: {
          promptName: name,
          variables: { username: 'Steph', service_name: 'Prompt Manager' },
          stream: false,
        },
      });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(
        ['durationMs', 'model', 'output', 'promptVersion', 'runId', 'success', 'usage'].sort(),
      );
      expect(res.body).toMatchObject({
        success: true,
        output: 'Echo: Welcome Steph to Prompt Manager',
        promptVersion: 1,
        model: 'mock-1',
      });
      expect(res.headers.get('x-cache')).toBeNull();
      const runId = res.body.runId as string;
      const [row] = await sql`SELECT mode, status, key_id FROM runs WHERE id = ${runId}`;
      expect(row).toEqual({ mode: 'sync', status: 'succeeded', key_id: org.keyId });
    }
  });

  it('runs a given version or label instead of production', async () => {
    await call('POST', `/v1/prompts/${name}/versions`, {
      key: org.key,
      body: { template: 'v2 {{username}} {{service_name}}', model: 'mock-fast', labels: ['staging'] },
    });
    const byLabel = await run(org.key, {
      promptName: name,
      label: 'staging',
      variables: { username: 'a', service_name: 'b' },
    });
    expect(byLabel.body).toMatchObject({
      success: true,
      promptVersion: 2,
      model: 'mock-fast',
      output: 'Echo: v2 a b',
    });
    const byVersion = await run(org.key, {
      promptName: name,
      version: 1,
      variables: { username: 'a', service_name: 'b' },
    });
    expect(byVersion.body).toMatchObject({ success: true, promptVersion: 1 });
  });
});

describe('POST /api/v1/run: every error is {success:false, error, code}', () => {
  let org: TestOrg;
  let name: string;

  beforeAll(async () => {
    org = await createOrg();
    name = await createPrompt(org.key, { template: 'Hi {{username}}' });
  });

  it('400 VALIDATION_ERROR names the fields in the message', async () => {
    const cases: [unknown, string][] = [
      [{}, 'promptName'],
      [{ promptName: 42 }, 'promptName'],
      [{ promptName: name, variables: 'x' }, 'variables'],
      [{ promptName: name, stream: 'yes' }, 'stream'],
      [{ promptName: name, version: 0 }, 'version'],
      [{ promptName: name, unexpected: true }, 'unexpected'],
    ];
    for (const [body, field] of cases) {
      const res = await run(org.key, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys(res.body).sort()).toEqual(['code', 'error', 'success']);
      expect(res.body).toMatchObject({ success: false, code: 'VALIDATION_ERROR' });
      expect(res.body.error).toMatch(/^Invalid request: /);
      expect(res.body.error).toContain(field);
    }
  });

  it('400 INVALID_JSON and 415 keep the seed shape', async () => {
    const bad = await call<SeedError>('POST', '/api/v1/run', { key: org.key, body: '{"promptName":' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ success: false, code: 'INVALID_JSON' });
    const text = await call<SeedError>('POST', '/api/v1/run', {
      key: org.key,
      body: 'promptName=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(text.body).toMatchObject({ success: false, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('400 MISSING_VARIABLES / UNKNOWN_VARIABLES', async () => {
    const missing = await run(org.key, { promptName: name });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ success: false, code: 'MISSING_VARIABLES' });
    expect(missing.body.error).toContain('username');
    const unknown = await run(org.key, { promptName: name, variables: { username: 'a', nope: 1 } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ success: false, code: 'UNKNOWN_VARIABLES' });
  });

  it('401 UNAUTHORIZED', async () => {
    const res = await run(undefined, { promptName: name });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      success: false,
      error: 'Missing or malformed Authorization header',
      code: 'UNAUTHORIZED',
    });
  });

  it('402 INSUFFICIENT_TOKENS when the monthly budget is spent, before any model call', async () => {
    const poor = await createOrg({ tokenBudget: 5 });
    const marker = unique('budget');
    const p = await createPrompt(poor.key, { template: `${marker} {{x}}` });
    // the first run may start (nothing used yet) and uses more than 5 tokens
    expect((await run(poor.key, { promptName: p, variables: { x: '1' } })).status).toBe(200);
    const res = await run(poor.key, { promptName: p, variables: { x: '2' } });
    expect(res.status).toBe(402);
    expect(res.body).toEqual({
      success: false,
      code: 'INSUFFICIENT_TOKENS',
      error: expect.stringMatching(/^Monthly token budget exhausted: \d+ of 5 tokens used this month$/),
    });
    expect(await mock.calls({ contains: `${marker} 2` })).toHaveLength(0);
  });

  it('402 PAST_DUE and 403 API_NOT_ALLOWED from the plan gates', async () => {
    const pastDue = await createOrg({ billingStatus: 'past_due' });
    const res = await run(pastDue.key, { promptName: 'x' });
    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({ success: false, code: 'PAST_DUE' });
    const free = await createOrg({ plan: 'free' });
    const refused = await run(free.key, { promptName: 'x' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ success: false, code: 'API_NOT_ALLOWED' });
  });

  it('403 MODEL_NOT_ALLOWED when the plan may not use the model', async () => {
    const limited = await createOrg({ allowedModels: ['mock-fast'] });
    const p = await createPrompt(limited.key, { template: 'x {{x}}', model: 'mock-1' });
    const res = await run(limited.key, { promptName: p, variables: { x: '1' } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      success: false,
      code: 'MODEL_NOT_ALLOWED',
      error: "Model 'mock-1' is not allowed for this organization",
    });
  });

  it('403 FORBIDDEN for a key without runs:execute or restricted to other prompts', async () => {
    const readOnly = await insertKey(sql, org.orgId, { scopes: ['prompts:read'] });
    const res = await run(readOnly, { promptName: name, variables: { username: 'a' } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      success: false,
      code: 'FORBIDDEN',
      error: "This API key lacks the 'runs:execute' scope",
    });

    const other = await createPrompt(org.key, { template: 'other' });
    const restricted = await insertKey(sql, org.orgId, {
      scopes: ['runs:execute'],
      promptIds: [await promptId(org.key, other)],
    });
    const denied = await run(restricted, { promptName: name, variables: { username: 'a' } });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ success: false, code: 'FORBIDDEN' });
    expect((await run(restricted, { promptName: other })).status).toBe(200);
  });

  it("404 with the seed's message: unknown prompt, or no production version", async () => {
    const unlabelled = unique('draft');
    await call('POST', '/v1/prompts', { key: org.key, body: { name: unlabelled } });
    await call('POST', `/v1/prompts/${unlabelled}/versions`, {
      key: org.key,
      body: { template: 'x', model: 'mock-1' },
    });
    for (const promptName of ['Welcome Email', unlabelled]) {
      const res = await run(org.key, { promptName });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        success: false,
        error: `Prompt '${promptName}' not found or has no PRODUCTION version`,
        code: 'PROMPT_NOT_FOUND',
      });
    }
    const noVersion = await run(org.key, { promptName: name, version: 7 });
    expect(noVersion.status).toBe(404);
    expect(noVersion.body).toEqual({
      success: false,
      error: `Prompt '${name}' has no version 7`,
      code: 'VERSION_NOT_FOUND',
    });
  });

  it('429 RATE_LIMITED in the seed shape, with Retry-After and the limits', async () => {
    const created = await call<{ data: { key: string } }>('POST', '/v1/keys', {
      key: org.key,
      body: { name: 'one per minute', rateLimits: { perMinute: 1 } },
    });
    expect(created.status).toBe(201);
    const limited = created.body.data.key;
    expect((await run(limited, { promptName: name, variables: { username: 'a' } })).status).toBe(200);
    const res = await run(limited, { promptName: name, variables: { username: 'a' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.body).toMatchObject({
      success: false,
      code: 'RATE_LIMITED',
      error: 'Rate limit exceeded',
      retryAfter: expect.any(Number),
      rateLimits: { requestsPerMinute: 1 },
    });
  });

  it('502 PROVIDER_ERROR with the runId when the provider fails', async () => {
    const marker = unique('502');
    const p = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({
      match: { contains: marker },
      action: { type: 'fail', status: 404, message: 'model gone' },
    });
    try {
      const res = await run(org.key, { promptName: p, variables: { x: '1' } });
      expect(res.status).toBe(502);
      expect(Object.keys(res.body).sort()).toEqual(['code', 'error', 'runId', 'success']);
      expect(res.body).toMatchObject({ success: false, code: 'PROVIDER_ERROR' });
      expect(res.body.error).toBe("Model 'mock-1' was not found at its provider (HTTP 404)");
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('409 RUN_CANCELED when the run is canceled while the request waits', async () => {
    const marker = unique('cancel-sync');
    const p = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'hang' } });
    try {
      const pending = run(org.key, { promptName: p, variables: { x: '1' } });
      await expect.poll(async () => (await mock.calls({ contains: marker })).length).toBe(1);
      const [row] = await sql<{ id: string }[]>`
        SELECT r.id FROM runs r JOIN prompts p ON p.id = r.prompt_id WHERE p.name = ${p} AND p.org_id = ${org.orgId}`;
      expect((await call('POST', `/v1/runs/${row!.id}/cancel`, { key: org.key })).status).toBe(200);
      const res = await pending;
      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        success: false,
        code: 'RUN_CANCELED',
        error: 'Run was canceled',
        runId: row!.id,
      });
    } finally {
      await mock.removeRule(rule);
    }
  });
});

describe('504 RUN_TIMEOUT (an api with SYNC_RUN_TIMEOUT_MS=1000)', () => {
  let baseUrl: string;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const api = await startService({
      name: 'api-short-timeout',
      entry: 'api/src/main.ts',
      env: {
        ...process.env,
        ...E2E_ENV,
        SYNC_RUN_TIMEOUT_MS: '1000',
        PORT: '0',
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        ADMIN_TOKEN: adminToken,
      },
      readyEvent: 'api.ready',
      log: () => {},
    });
    baseUrl = `http://127.0.0.1:${String(api.ready.port)}`;
    stop = () => stopChild(api.child, 10_000);
  });
  afterAll(async () => {
    await stop?.();
  });

  it('answers 504 with the run id after the timeout; the run goes on and can be polled', async () => {
    const org = await createOrg();
    const marker = unique('slow');
    const p = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'delay', ms: 2500 } });
    try {
      const started = Date.now();
      const res = await run(org.key, { promptName: p, variables: { x: '1' } }, { baseUrl });
      expect(Date.now() - started).toBeLessThan(2400);
      expect(res.status).toBe(504);
      expect(res.body).toEqual({
        success: false,
        code: 'RUN_TIMEOUT',
        error: `Run did not finish within 1 s; it goes on: poll /v1/runs/${res.body.runId}`,
        runId: expect.stringMatching(/^run_/),
      });
      const finished = await pollRun(org.key, res.body.runId!);
      expect(finished).toMatchObject({ status: 'succeeded', output: `Echo: ${marker} 1`, mode: 'sync' });
    } finally {
      await mock.removeRule(rule);
    }
  });
});

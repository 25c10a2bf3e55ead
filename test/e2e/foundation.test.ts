import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';

const sql = postgres(inject('databaseUrl'), { max: 2, onnotice: () => {} });
afterAll(() => sql.end());

describe('platform basics', () => {
  it('answers /healthz and /readyz with Postgres and Temporal checked', async () => {
    expect((await call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });
  });

  it('echoes a well-formed X-Request-Id and generates one otherwise', async () => {
    expect(
      (await call('GET', '/healthz', { headers: { 'x-request-id': 'abc.DEF-12_3' } })).headers.get(
        'x-request-id',
      ),
    ).toBe('abc.DEF-12_3');
    const generated = (
      await call('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } })
    ).headers.get('x-request-id');
    expect(generated).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it('serves Prometheus metrics with route templates, not raw paths', async () => {
    await call('GET', '/v1/prompts/some-id-123');
    const metrics = await call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('promptmill_http_requests_total');
    expect(metrics.text).toContain('promptmill_http_request_duration_seconds');
    expect(metrics.text).not.toContain('some-id-123');
  });

  it('maps unknown routes, bad JSON, non-JSON bodies and big bodies to API errors', async () => {
    const org = await createOrg();
    const unknown = await call('GET', '/v1/nope', { key: org.key });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });

    const badJson = await call('POST', '/v1/prompts', { key: org.key, body: '{"name": ' });
    expect(badJson.status).toBe(400);
    expect(badJson.body).toMatchObject({ error: { code: 'INVALID_JSON' } });

    const text = await call('POST', '/v1/prompts', {
      key: org.key,
      body: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(text.body).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });

    const big = await call('POST', '/v1/prompts', { key: org.key, body: { name: 'x'.repeat(1_100_000) } });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('validates bodies with field-level details', async () => {
    const org = await createOrg();
    const res = await call('POST', '/v1/prompts', { key: org.key, body: { name: '' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: [{ field: 'name' }] } });
  });

  it('serves the OpenAPI document generated from the zod schemas, and a docs page', async () => {
    const doc = await call<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
      'GET',
      '/openapi.json',
    );
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(doc.body.paths['/api/v1/run']).toHaveProperty('post');
    const docs = await call('GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('swagger-ui-bundle.js');
    expect((await call('GET', '/docs/assets/swagger-ui-bundle.js')).status).toBe(200);
  });

  it('refuses the admin API without the admin token', async () => {
    const res = await call('POST', '/admin/v1/orgs', {
      body: { name: 'x' },
      headers: { authorization: 'Bearer wrong' },
    });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });
});

describe('POST /api/v1/run (the slice: HTTP → Temporal → worker → provider → Postgres)', () => {
  let org: TestOrg;
  let promptName: string;

  beforeAll(async () => {
    org = await createOrg();
    promptName = await createPrompt(org.key, {
      template: 'Say hello to {{username}} from {{service_name|Promptmill}}.',
      model: 'mock-1',
    });
  });

  it('runs the production version and records the run and its usage', async () => {
    const res = await call('POST', '/api/v1/run', {
      headers: { 'x-api-key': org.key },
      body: { promptName, variables: { username: 'Steph' } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      output: 'Echo: Say hello to Steph from Promptmill.',
      promptVersion: 1,
      model: 'mock-1',
      runId: expect.stringMatching(/^run_/),
      // mock tokens: words + 3 per message in, words out
      usage: { promptTokens: 9, completionTokens: 7, totalTokens: 16 },
    });
    const body = res.body as { durationMs: number; runId: string; usage: { cost: number } };
    expect(body.durationMs).toBeGreaterThanOrEqual(0);
    // mock-1 is priced at $1 / $2 per 1M input / output tokens
    expect(body.usage.cost).toBeCloseTo((9 * 1 + 7 * 2) / 1e6, 12);

    const [run] =
      await sql`SELECT status, output, prompt_tokens, completion_tokens, attempts, org_id FROM runs WHERE id = ${body.runId}`;
    expect(run).toMatchObject({
      status: 'succeeded',
      output: 'Echo: Say hello to Steph from Promptmill.',
      prompt_tokens: 9,
      completion_tokens: 7,
      attempts: 1,
      org_id: org.orgId,
    });
    const usage = await sql`SELECT kind, status FROM usage_events WHERE run_id = ${body.runId} ORDER BY kind`;
    expect(usage.map((u) => `${u.kind}:${u.status}`)).toEqual(['attempt:succeeded', 'run:succeeded']);
  });

  it('accepts Authorization: Bearer as well as x-api-key', async () => {
    const res = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName, variables: { username: 'A' } },
    });
    expect(res.status).toBe(200);
  });

  it('401 without a key, with a malformed key and with an unknown key (seed error shape)', async () => {
    const body = { promptName, variables: { username: 'x' } };
    const none = await call('POST', '/api/v1/run', { body });
    expect(none.status).toBe(401);
    expect(none.body).toEqual({
      success: false,
      error: 'Missing or malformed Authorization header',
      code: 'UNAUTHORIZED',
    });

    const malformed = await call('POST', '/api/v1/run', { body, headers: { 'x-api-key': 'sk_not_ours' } });
    expect(malformed.body).toEqual({ success: false, error: 'Invalid API key format', code: 'UNAUTHORIZED' });

    const unknown = await call('POST', '/api/v1/run', { body, key: `pm_live_${'0'.repeat(64)}` });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual({ success: false, error: 'Invalid API key', code: 'UNAUTHORIZED' });
  });

  it('400 MISSING_VARIABLES and UNKNOWN_VARIABLES list the names', async () => {
    const missing = await call('POST', '/api/v1/run', { key: org.key, body: { promptName, variables: {} } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ success: false, code: 'MISSING_VARIABLES' });
    expect((missing.body as { error: string }).error).toContain('username');

    const unknown = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName, variables: { username: 'x', extra: 1 } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ success: false, code: 'UNKNOWN_VARIABLES' });
  });

  it("404 with the seed's message for an unknown prompt", async () => {
    const res = await call('POST', '/api/v1/run', { key: org.key, body: { promptName: 'Welcome Email' } });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      success: false,
      error: "Prompt 'Welcome Email' not found or has no PRODUCTION version",
      code: 'PROMPT_NOT_FOUND',
    });
  });

  it('a provider that keeps failing with 500 becomes 502 PROVIDER_ERROR after the retries', async () => {
    const marker = unique('always-500');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}`, model: 'mock-1' });
    const ruleId = await mock.addRule({ match: { contains: marker }, action: { type: 'fail', status: 500 } });
    try {
      const res = await call('POST', '/api/v1/run', {
        key: org.key,
        body: { promptName: name, variables: { x: '1' } },
      });
      expect(res.status).toBe(502);
      expect(res.body).toMatchObject({
        success: false,
        code: 'PROVIDER_ERROR',
        runId: expect.stringMatching(/^run_/),
      });
      expect((res.body as { error: string }).error).toContain('500');
      // PROVIDER_MAX_ATTEMPTS=3 in the e2e stack
      expect(await mock.calls({ contains: marker })).toHaveLength(3);
      const runId = (res.body as { runId: string }).runId;
      const [run] = await sql`SELECT status, error_code, attempts FROM runs WHERE id = ${runId}`;
      expect(run).toMatchObject({ status: 'failed', error_code: 'PROVIDER_ERROR', attempts: 3 });
    } finally {
      await mock.removeRule(ruleId);
    }
  });
});

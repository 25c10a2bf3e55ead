// Black-box conformance: promises of /work/shared/API.md (and the seeds' conventions) that the audit
// found unmet, each checked over HTTP against the real stack.
import { beforeAll, describe, expect, it } from 'vitest';
import { adminToken, call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';

let org: TestOrg;
let prompt: string;

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
  prompt = await createPrompt(org.key, {
    messages: [{ role: 'user', content: 'Hello {{name}}' }],
    model: 'mock-1',
    variables: [{ name: 'name', required: true }],
  });
});

describe('authentication header', () => {
  it('takes the Bearer scheme in any case (RFC 9110: schemes are case-insensitive)', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const res = await call('GET', '/v1/me', { headers: { authorization: `${scheme} ${org.key}` } });
      expect(res.status, scheme).toBe(200);
    }
    const basic = await call('GET', '/v1/me', { headers: { authorization: `Basic ${org.key}` } });
    expect(basic.status).toBe(401);
    expect(basic.body).toEqual({
      error: { code: 'UNAUTHORIZED', message: 'Missing or malformed Authorization header' },
    });
  });
});

describe('request bodies', () => {
  it('parses an application/*+json body like application/json (not accepted then dropped)', async () => {
    const name = unique('vnd');
    const res = await call<{ data: { name: string } }>('POST', '/v1/prompts', {
      key: org.key,
      headers: { 'content-type': 'application/vnd.api+json' },
      body: { name },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data.name).toBe(name);
    const bad = await call('POST', '/v1/prompts', {
      key: org.key,
      headers: { 'content-type': 'application/merge-patch+json' },
      body: '{"name":',
    });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { code: string } }).error.code).toBe('INVALID_JSON');
  });
});

describe('methods', () => {
  it('a known path asked with a method it does not serve is 405 METHOD_NOT_ALLOWED with Allow', async () => {
    const cases: [string, string, string[]][] = [
      ['PUT', '/v1/prompts', ['GET', 'HEAD', 'POST']],
      ['DELETE', '/api/v1/runs', ['GET', 'HEAD', 'POST']],
      ['PATCH', '/v1/me', ['GET', 'HEAD']],
      ['GET', '/v1/runs/run_x/cancel', ['POST']],
      ['PUT', `/v1/prompts/${prompt}`, ['GET', 'HEAD', 'PATCH', 'DELETE']],
    ];
    for (const [method, path, allowed] of cases) {
      const res = await call(method, path, { key: org.key });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect((res.body as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
      expect(
        res.headers
          .get('allow')
          ?.split(',')
          .map((m) => m.trim())
          .sort(),
      ).toEqual([...allowed].sort());
    }
  });

  it('the seed routes keep their shape on a 405; an unknown path stays 404 NOT_FOUND', async () => {
    const run = await call('GET', '/api/v1/run', { key: org.key });
    expect(run.status).toBe(405);
    expect(run.headers.get('allow')).toBe('POST');
    expect(run.body).toMatchObject({ success: false, code: 'METHOD_NOT_ALLOWED' });
    const health = await call('POST', '/healthz');
    expect(health.status).toBe(405);
    expect(health.headers.get('allow')).toBe('GET, HEAD');
    const unknown = await call('GET', '/v1/no-such-thing', { key: org.key });
    expect(unknown.status).toBe(404);
    expect((unknown.body as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('still answers CORS preflights (OPTIONS) with 204', async () => {
    const res = await call('OPTIONS', '/v1/prompts', {
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });
});

describe('workflows (chains)', () => {
  it('a chain written as API.md shows it ({{input.x}} without an input contract) is accepted and runs', async () => {
    const created = await call<{ data: { id: string; input: unknown } }>('POST', '/v1/workflows', {
      key: org.key,
      body: {
        name: unique('chain'),
        steps: [
          { id: 'a', prompt, variables: { name: '{{input.who}}' } },
          { id: 'b', prompt, variables: { name: '{{steps.a.output}}' }, dependsOn: ['a'] },
        ],
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.data.input).toEqual([{ name: 'who', required: true }]);
    const missing = await call('POST', `/v1/workflows/${created.body.data.id}/runs`, {
      key: org.key,
      body: { input: {} },
    });
    expect(missing.status).toBe(400);
    expect((missing.body as { error: { code: string } }).error.code).toBe('MISSING_VARIABLES');
    const run = await call<{ data: { status: string; output: unknown } }>(
      'POST',
      `/v1/workflows/${created.body.data.id}/runs`,
      { key: org.key, body: { input: { who: 'Ada' } }, headers: { prefer: 'wait=30' } },
    );
    expect(run.status, run.text).toBe(200);
    expect(run.body.data.status).toBe('succeeded');
    expect(JSON.stringify(run.body.data.output)).toContain('Hello Echo: Hello Ada');
  });

  it('a cyclic chain is refused for its cycle only', async () => {
    const res = await call<{ error: { code: string; details: { message: string }[] } }>(
      'POST',
      '/v1/workflows',
      {
        key: org.key,
        body: {
          name: unique('cyc'),
          steps: [
            { id: 'a', prompt, variables: { name: '{{steps.b.output}}' }, dependsOn: ['b'] },
            { id: 'b', prompt, variables: { name: '{{steps.a.output}}' }, dependsOn: ['a'] },
          ],
        },
      },
    );
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d) => d.message)).toEqual(['Cycle: a → b → a']);
  });
});

describe('sync runs', () => {
  it('refuse version and label together, as POST /v1/runs and render do (seed error shape)', async () => {
    const body = { promptName: prompt, variables: { name: 'x' }, version: 1, label: 'production' };
    const res = await call('POST', '/api/v1/run', { key: org.key, body });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      success: false,
      error: expect.stringContaining('Give version or label, not both'),
      code: 'VALIDATION_ERROR',
    });
    const one = await call('POST', '/api/v1/run', { key: org.key, body: { ...body, label: undefined } });
    expect(one.status).toBe(200);
  });
});

describe('templates', () => {
  it('use with no body creates the prompt under the template name (201 + Location); a second use is 409', async () => {
    const fresh = await createOrg({ plan: 'pro' });
    const list = await call<{ data: { id: string; name: string }[] }>('GET', '/v1/templates?per_page=1', {
      key: fresh.key,
    });
    const template = list.body.data[0]!;
    const used = await call<{ data: { prompt: { id: string; name: string } } }>(
      'POST',
      `/v1/templates/${template.id}/use`,
      { key: fresh.key },
    );
    expect(used.status, used.text).toBe(201);
    expect(used.body.data.prompt.name).toBe(template.name);
    expect(used.headers.get('location')).toBe(`/v1/prompts/${used.body.data.prompt.id}`);
    const again = await call('POST', `/v1/templates/${template.id}/use`, { key: fresh.key, body: {} });
    expect(again.status).toBe(409);
    expect((again.body as { error: { code: string } }).error.code).toBe('CONFLICT');
  });
});

describe('validation details', () => {
  it("names the field and says the range, as the seed's example error does", async () => {
    const res = await call('POST', `/v1/prompts/${prompt}/versions`, {
      key: org.key,
      body: { template: 'hi', model: 'mock-1', params: { temperature: 3 } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'Invalid request parameters',
        details: [{ field: 'params.temperature', message: 'Must be between 0 and 2' }],
      },
    });
  });
});

describe('names users bring from the seeds and from our own responses', () => {
  it("a key's rateLimits take the seed's requestsPerMinute/Hour/Day as well as perMinute/Hour/Day", async () => {
    const res = await call<{ data: { id: string; key: string; rateLimits: unknown } }>('POST', '/v1/keys', {
      key: org.key,
      body: {
        name: unique('k'),
        rateLimits: { requestsPerMinute: 2, requestsPerHour: 5000, requestsPerDay: 100000 },
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data.rateLimits).toEqual({ perMinute: 2, perHour: 5000, perDay: 100000 });
    // the limit is the one enforced
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await call('GET', '/v1/me', { key: res.body.data.key })).status);
    expect(statuses).toEqual([200, 200, 429]);
    const patched = await call<{ data: { rateLimits: unknown } }>('PATCH', `/v1/keys/${res.body.data.id}`, {
      key: org.key,
      body: { rateLimits: { requestsPerMinute: 50 } },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.data.rateLimits).toEqual({ perMinute: 50 });
    const both = await call('POST', '/v1/keys', {
      key: org.key,
      body: { name: unique('k'), rateLimits: { perMinute: 1, requestsPerMinute: 2 } },
    });
    expect(both.status).toBe(400);
    expect(both.text).toContain('requestsPerMinute');
  });

  it('the operator API takes limitOverrides (the name the org shows them under) as well as limits', async () => {
    const admin = { authorization: `Bearer ${adminToken}` };
    const created = await call<{ data: { org: { id: string; limitOverrides: unknown; limits: unknown } } }>(
      'POST',
      '/admin/v1/orgs',
      { headers: admin, body: { name: unique('org'), plan: 'pro', limitOverrides: { perMinute: 7 } } },
    );
    expect(created.status, created.text).toBe(201);
    expect(created.body.data.org.limitOverrides).toEqual({ perMinute: 7 });
    expect(created.body.data.org.limits).toEqual({ perMinute: 7, perDay: 10000 });
    const patched = await call<{ data: { limitOverrides: unknown } }>(
      'PATCH',
      `/admin/v1/orgs/${created.body.data.org.id}`,
      { headers: admin, body: { limitOverrides: { perDay: 99 } } },
    );
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.data.limitOverrides).toEqual({ perDay: 99 });
  });
});

describe('time bounds', () => {
  it('from/to take an ISO-8601 date (00:00 UTC) as well as a date-time, on every listing that filters by time', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    for (const path of ['/v1/runs', '/v1/workflow-runs', '/v1/usage']) {
      const ok = await call('GET', `${path}?from=${today}&to=${tomorrow}`, { key: org.key });
      expect(ok.status, `${path} ${ok.text}`).toBe(200);
      const bad = await call<{ error: { code: string; details: { field: string }[] } }>(
        'GET',
        `${path}?from=yesterday`,
        { key: org.key },
      );
      expect(bad.status, path).toBe(400);
      expect(bad.body.error.details.map((d) => d.field)).toEqual(['from']);
    }
    const sync = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: prompt, variables: { name: 'T' } },
    });
    expect(sync.status).toBe(200);
    const runs = await call<{ data: { id: string }[] }>('GET', `/v1/runs?prompt=${prompt}&from=${today}`, {
      key: org.key,
    });
    expect(runs.body.data.map((r) => r.id)).toContain((sync.body as { runId: string }).runId);
    const before = await call<{ data: unknown[] }>('GET', `/v1/runs?prompt=${prompt}&to=${today}`, {
      key: org.key,
    });
    expect(before.body.data).toEqual([]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, type TestOrg } from './helpers.ts';
import { createKey, errorOf, eventually, type KeyBody, testSql } from './limits-support.ts';

const sql = testSql();
const DAY = 86_400_000;

describe('API keys: create, list, read, update, revoke', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await createOrg();
  });

  it('creates a key: pm_live_ + 64 hex, shown once, with its settings', async () => {
    const res = await call<{ data: KeyBody & { key: string } }>('POST', '/v1/keys', {
      key: org.key,
      body: {
        name: 'Production Server',
        scopes: ['runs:execute', 'prompts:read'],
        expiresIn: '90d',
        rateLimits: { perMinute: 100, perHour: 5000, perDay: 100000 },
        allowedOrigins: ['https://App.Example.com', 'http://localhost:5173/'],
      },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const k = res.body.data;
    expect(k.key).toMatch(/^pm_live_[0-9a-f]{64}$/);
    expect(k.summary).toBe(`pm_live_${k.key.slice(8, 12)}...${k.key.slice(-4)}`);
    expect(res.headers.get('location')).toBe(`/v1/keys/${k.id}`);
    expect(k).toMatchObject({
      id: expect.stringMatching(/^key_/),
      name: 'Production Server',
      scopes: ['runs:execute', 'prompts:read'],
      promptIds: null,
      rateLimits: { perMinute: 100, perHour: 5000, perDay: 100000 },
      allowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
      ownerId: org.ownerId,
      status: 'active',
      usageCount: 0,
      lastUsedAt: null,
      revokedAt: null,
    });
    const expires = Date.parse(k.expiresAt!);
    expect(Math.abs(expires - (Date.now() + 90 * DAY))).toBeLessThan(60_000);

    // never again: not in GET, not in the list
    const got = await call<{ data: KeyBody }>('GET', `/v1/keys/${k.id}`, { key: org.key });
    expect(got.status).toBe(200);
    expect(got.body.data).not.toHaveProperty('key');
    expect(got.text).not.toContain(k.key.slice(8));
    const list = await call('GET', '/v1/keys?per_page=100', { key: org.key });
    expect(list.text).not.toContain(k.key.slice(8));
  });

  it('expiresIn: never (default), 30d, a date; a past date or an unknown value is 400', async () => {
    const never = await createKey(org.key);
    expect(never.expiresAt).toBeNull();
    const d30 = await createKey(org.key, { expiresIn: '30d' });
    expect(Math.abs(Date.parse(d30.expiresAt!) - (Date.now() + 30 * DAY))).toBeLessThan(60_000);
    const date = new Date(Date.now() + 10 * DAY).toISOString().slice(0, 10);
    const dated = await createKey(org.key, { expiresIn: date });
    expect(dated.expiresAt).toBe(`${date}T00:00:00.000Z`);
    const past = await call('POST', '/v1/keys', {
      key: org.key,
      body: { name: 'x', expiresIn: '2020-01-01' },
    });
    expect(past.status).toBe(400);
    expect(past.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', details: [{ field: 'expiresIn' }] },
    });
    const odd = await call('POST', '/v1/keys', { key: org.key, body: { name: 'x', expiresIn: '7d' } });
    expect(odd.status).toBe(400);
    const badOrigin = await call('POST', '/v1/keys', {
      key: org.key,
      body: { name: 'x', allowedOrigins: ['https://a.example.com/path'] },
    });
    expect(badOrigin.status).toBe(400);
    expect(badOrigin.body).toMatchObject({ error: { details: [{ field: 'allowedOrigins.0' }] } });
    const badScope = await call('POST', '/v1/keys', { key: org.key, body: { name: 'x', scopes: ['root'] } });
    expect(badScope.status).toBe(400);
  });

  it('a key whose expiry passes answers 401 and lists as expired', async () => {
    const k = await createKey(org.key, { expiresIn: new Date(Date.now() + 1000).toISOString() });
    expect((await call('GET', '/v1/me', { key: k.key })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const res = await call('GET', '/v1/me', { key: k.key });
    expect(res.status).toBe(401);
    expect(errorOf(res.body).message).toBe('API key has expired');
    const got = await call<{ data: KeyBody }>('GET', `/v1/keys/${k.id}`, { key: org.key });
    expect(got.body.data.status).toBe('expired');
  });

  it('lists keys with summary, dates, usage and status; paginates', async () => {
    const own = await createOrg();
    const a = await createKey(own.key, { name: 'a' });
    const b = await createKey(own.key, { name: 'b' });
    for (let i = 0; i < 3; i++) expect((await call('GET', '/v1/me', { key: a.key })).status).toBe(200);
    await call('DELETE', `/v1/keys/${b.id}`, { key: own.key });
    // usage is flushed in batches (about every second)
    const listed = await eventually(async () => {
      const res = await call<{ data: KeyBody[]; meta: { total: number } }>('GET', '/v1/keys', {
        key: own.key,
      });
      const row = res.body.data.find((k) => k.id === a.id);
      return row && row.usageCount === 3 ? res : undefined;
    });
    expect(listed.body.meta).toEqual({ page: 1, per_page: 20, total: 3 });
    const rowA = listed.body.data.find((k) => k.id === a.id)!;
    expect(rowA).toMatchObject({ name: 'a', status: 'active', usageCount: 3, summary: a.summary });
    expect(Date.parse(rowA.lastUsedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.parse(rowA.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(listed.body.data.find((k) => k.id === b.id)!.status).toBe('revoked');
    // newest first
    expect(listed.body.data.map((k) => k.name)).toEqual(['b', 'a', 'Default key']);
    const page2 = await call<{ data: KeyBody[] }>('GET', '/v1/keys?page=2&per_page=2', { key: own.key });
    expect(page2.body.data.map((k) => k.name)).toEqual(['Default key']);
    expect((await call('GET', '/v1/keys?per_page=101', { key: own.key })).status).toBe(400);
  });

  it("another organization's key is 404 KEY_NOT_FOUND", async () => {
    const other = await createOrg();
    const theirs = await createKey(other.key);
    for (const [method, path] of [
      ['GET', `/v1/keys/${theirs.id}`],
      ['PATCH', `/v1/keys/${theirs.id}`],
      ['DELETE', `/v1/keys/${theirs.id}`],
      ['POST', `/v1/keys/${theirs.id}/rotate`],
    ] as const) {
      const res = await call(method, path, {
        key: org.key,
        ...(method === 'PATCH' ? { body: { name: 'x' } } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(errorOf(res.body).code).toBe('KEY_NOT_FOUND');
    }
    expect((await call('GET', '/v1/me', { key: theirs.key })).status).toBe(200);
  });

  it('updates name, scopes, limits, origins and expiry; the change holds on the next request', async () => {
    const k = await createKey(org.key, { scopes: ['prompts:read'] });
    expect((await call('GET', '/v1/prompts', { key: k.key })).status).toBe(200);
    const patched = await call<{ data: KeyBody }>('PATCH', `/v1/keys/${k.id}`, {
      key: org.key,
      body: { name: 'renamed', scopes: ['runs:read'], rateLimits: { perMinute: 7 }, expiresIn: '30d' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({
      name: 'renamed',
      scopes: ['runs:read'],
      rateLimits: { perMinute: 7 },
    });
    expect(patched.body.data.expiresAt).not.toBeNull();
    expect((await call('GET', '/v1/prompts', { key: k.key })).status).toBe(403);
    const me = await call('GET', '/v1/me', { key: k.key });
    expect(me.headers.get('x-ratelimit-limit')).toBe('7');
  });

  it('revokes at once; revoking again keeps the first time', async () => {
    const k = await createKey(org.key);
    expect((await call('GET', '/v1/me', { key: k.key })).status).toBe(200);
    const res = await call<{ data: KeyBody }>('DELETE', `/v1/keys/${k.id}`, { key: org.key });
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe('revoked');
    const after = await call('GET', '/v1/me', { key: k.key });
    expect(after.status).toBe(401);
    expect(errorOf(after.body).message).toBe('API key has been revoked');
    const again = await call<{ data: KeyBody }>('DELETE', `/v1/keys/${k.id}`, { key: org.key });
    expect(again.status).toBe(200);
    expect(again.body.data.revokedAt).toBe(res.body.data.revokedAt);
    const rotate = await call('POST', `/v1/keys/${k.id}/rotate`, { key: org.key });
    expect(rotate.status).toBe(409);
    expect(errorOf(rotate.body).code).toBe('INVALID_STATE');
  });

  it('a key can revoke itself', async () => {
    const k = await createKey(org.key);
    expect((await call('DELETE', `/v1/keys/${k.id}`, { key: k.key })).status).toBe(200);
    expect((await call('GET', '/v1/me', { key: k.key })).status).toBe(401);
  });
});

describe('rights: a key cannot grant or manage more than it has', () => {
  it('keys:write without admin: cannot create wider keys, cannot touch an admin key', async () => {
    const org = await createOrg();
    const writer = await createKey(org.key, { scopes: ['keys:write', 'prompts:read'] });
    const wide = await call('POST', '/v1/keys', { key: writer.key, body: { name: 'x', scopes: ['admin'] } });
    expect(wide.status).toBe(403);
    expect(errorOf(wide.body).code).toBe('FORBIDDEN');
    // default scopes: the creator's own
    const child = await createKey(writer.key);
    expect(child.scopes).toEqual(['keys:write', 'prompts:read']);
    const narrow = await createKey(writer.key, { scopes: ['prompts:read'] });
    expect(narrow.scopes).toEqual(['prompts:read']);
    // the org's first key is admin: rotating it would hand out an admin secret
    for (const [method, path, body] of [
      ['POST', `/v1/keys/${org.keyId}/rotate`, undefined],
      ['DELETE', `/v1/keys/${org.keyId}`, undefined],
      ['PATCH', `/v1/keys/${org.keyId}`, { name: 'mine now' }],
      ['PATCH', `/v1/keys/${narrow.id}`, { scopes: ['admin'] }],
    ] as const) {
      const res = await call(method, path, { key: writer.key, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    // another member as owner needs admin
    const byOther = await call('POST', '/v1/keys', {
      key: writer.key,
      body: { name: 'x', ownerId: 'mbr_x' },
    });
    expect(byOther.status).toBe(403);
  });

  it('promptIds must name prompts of the organization', async () => {
    const org = await createOrg();
    const other = await createOrg();
    const theirs = await createPrompt(other.key, { template: 'x' });
    const p = await call<{ data: { id: string } }>('GET', `/v1/prompts/${theirs}`, { key: other.key });
    const res = await call('POST', '/v1/keys', {
      key: org.key,
      body: { name: 'x', promptIds: [p.body.data.id] },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', details: [{ field: 'promptIds' }] },
    });
  });
});

describe('rotation', () => {
  it('new secret, same id; the old secret works during the grace period, then is an invalid key', async () => {
    const org = await createOrg();
    const k = await createKey(org.key);
    const res = await call<{ data: KeyBody & { key: string } }>('POST', `/v1/keys/${k.id}/rotate`, {
      key: org.key,
      body: { gracePeriodSeconds: 2 },
    });
    expect(res.status).toBe(200);
    const rotated = res.body.data;
    expect(rotated.id).toBe(k.id);
    expect(rotated.key).toMatch(/^pm_live_[0-9a-f]{64}$/);
    expect(rotated.key).not.toBe(k.key);
    expect(rotated.summary).not.toBe(k.summary);
    expect(Date.parse(rotated.previousKeyExpiresAt!)).toBeGreaterThan(Date.now());

    const viaOld = await call<{ data: { key: { id: string } } }>('GET', '/v1/me', { key: k.key });
    expect(viaOld.status).toBe(200);
    expect(viaOld.body.data.key.id).toBe(k.id);
    expect((await call('GET', '/v1/me', { key: rotated.key })).status).toBe(200);

    await new Promise((r) => setTimeout(r, 2100));
    const late = await call('GET', '/v1/me', { key: k.key });
    expect(late.status).toBe(401);
    expect(errorOf(late.body).message).toBe('Invalid API key');
    expect((await call('GET', '/v1/me', { key: rotated.key })).status).toBe(200);
  });

  it('default grace is 24 h; gracePeriodSeconds 0 ends the old secret now; a second rotation ends the first secret', async () => {
    const org = await createOrg();
    const k = await createKey(org.key);
    const first = await call<{ data: KeyBody & { key: string } }>('POST', `/v1/keys/${k.id}/rotate`, {
      key: org.key,
    });
    const grace = Date.parse(first.body.data.previousKeyExpiresAt!) - Date.now();
    expect(grace).toBeGreaterThan(86_400_000 - 60_000);
    expect(grace).toBeLessThanOrEqual(86_400_000);
    expect((await call('GET', '/v1/me', { key: k.key })).status).toBe(200);

    const second = await call<{ data: KeyBody & { key: string } }>('POST', `/v1/keys/${k.id}/rotate`, {
      key: org.key,
      body: { gracePeriodSeconds: 0 },
    });
    expect(second.status).toBe(200);
    expect(errorOf((await call('GET', '/v1/me', { key: k.key })).body).message).toBe('Invalid API key');
    expect(errorOf((await call('GET', '/v1/me', { key: first.body.data.key })).body).message).toBe(
      'Invalid API key',
    );
    expect((await call('GET', '/v1/me', { key: second.body.data.key })).status).toBe(200);
    const bad = await call('POST', `/v1/keys/${k.id}/rotate`, {
      key: org.key,
      body: { gracePeriodSeconds: -1 },
    });
    expect(bad.status).toBe(400);
  });

  it('revoking a rotated key revokes both secrets', async () => {
    const org = await createOrg();
    const k = await createKey(org.key);
    const rotated = await call<{ data: { key: string } }>('POST', `/v1/keys/${k.id}/rotate`, {
      key: org.key,
    });
    await call('DELETE', `/v1/keys/${k.id}`, { key: org.key });
    for (const secret of [k.key, rotated.body.data.key]) {
      expect(errorOf((await call('GET', '/v1/me', { key: secret })).body).message).toBe(
        'API key has been revoked',
      );
    }
    const [row] = await sql<
      { revoked_at: Date | null }[]
    >`SELECT revoked_at FROM api_keys WHERE id = ${k.id}`;
    expect(row!.revoked_at).not.toBeNull();
  });
});

describe('GET /v1/me', () => {
  it('describes the calling key, its org, plan, limits and usage', async () => {
    const org = await createOrg({ plan: 'team', tokenBudget: 5000, limits: { perDay: 50_000 } });
    const k = await createKey(org.key, { name: 'me-key', rateLimits: { perHour: 100 } });
    const res = await call<{ data: Record<string, unknown> }>('GET', '/api/v1/me', { key: k.key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      auth: 'api_key',
      key: { id: k.id, name: 'me-key', summary: k.summary, status: 'active' },
      organization: { id: org.orgId, plan: 'team', billingStatus: 'active' },
      limits: {
        plan: { requestsPerMinute: 300, requestsPerDay: 50_000 },
        key: { perHour: 100 },
        effective: { requestsPerMinute: 300, requestsPerHour: 100, requestsPerDay: 50_000 },
        tokenBudget: 5000,
      },
      usage: { tokensUsed: 0, tokensRemaining: 5000 },
    });
    const usage = res.body.data.usage as { windows: { scope: string; period: string; used: number }[] };
    expect(usage.windows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ scope: 'key', period: 'hour', limit: 100, used: 1, remaining: 99 }),
        // the org windows also counted the POST /v1/keys that created this key
        expect.objectContaining({ scope: 'org', period: 'minute', limit: 300, used: 2, remaining: 298 }),
        expect.objectContaining({ scope: 'org', period: 'day', limit: 50_000, used: 2 }),
      ]),
    );
    expect(res.text).not.toContain(k.key.slice(8));
  });
});

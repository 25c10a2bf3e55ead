// Hardening items 5 and 6: a rotated-out secret may use the API but never manage keys or members, and a
// key may only create or edit keys at most as permissive as itself (scopes, prompts, rate limits,
// expiry, allowed origins), and manage only keys no more permissive than itself.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { createKey, errorOf, type KeyBody, testSql } from './limits-support.ts';

const sql = testSql();
const DAY = 86_400_000;

const rotate = (key: string, id: string, gracePeriodSeconds = 3600) =>
  call<{ data: KeyBody & { key: string } }>('POST', `/v1/keys/${id}/rotate`, {
    key,
    body: { gracePeriodSeconds },
  });

async function oauthToken(clientId: string, secret: string): Promise<string> {
  const res = await call<{ access_token: string }>('POST', '/oauth/token', {
    body: { grant_type: 'client_credentials', client_id: clientId, client_secret: secret },
  });
  if (res.status !== 200) throw new Error(`oauth: ${res.status} ${res.text}`);
  return res.body.access_token;
}

describe('a rotated-out secret (still in its grace period) cannot manage keys or members', () => {
  let org: TestOrg;
  let prompt: string;
  beforeAll(async () => {
    org = await createOrg();
    prompt = await createPrompt(org.key, { template: 'hello {{x}}' });
  });

  it('rotate, patch, revoke, create, list → 403 FORBIDDEN saying why; runs and reads still work', async () => {
    const k = await createKey(org.key, { scopes: ['admin'] });
    const rotated = await rotate(k.key, k.id);
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.data.key;
    const old = k.key;
    const sibling = await createKey(org.key, { scopes: ['prompts:read'] });

    for (const [method, path, body] of [
      ['POST', `/v1/keys/${k.id}/rotate`, {}],
      ['PATCH', `/v1/keys/${k.id}`, { name: 'taken over' }],
      ['DELETE', `/v1/keys/${k.id}`, undefined],
      ['POST', `/v1/keys/${sibling.id}/rotate`, {}],
      ['DELETE', `/v1/keys/${sibling.id}`, undefined],
      ['POST', '/v1/keys', { name: 'backdoor' }],
      ['GET', '/v1/keys', undefined],
      ['GET', `/v1/keys/${k.id}`, undefined],
      ['POST', '/v1/members', { email: `${unique('m')}@example.com` }],
      ['GET', '/v1/members', undefined],
      ['POST', `/v1/members/${org.ownerId}/suspend`, undefined],
    ] as const) {
      const res = await call(method, path, { key: old, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(errorOf(res.body).code).toBe('FORBIDDEN');
      expect(errorOf(res.body).message).toMatch(/replaced by a rotation/);
    }
    // nothing changed: the new secret is still the key's, the old one still in its grace period
    const [row] = await sql<{ name: string; revoked_at: Date | null }[]>`
      SELECT name, revoked_at FROM api_keys WHERE id = ${k.id}`;
    expect(row).toEqual({ name: 'test key', revoked_at: null });
    expect((await call('GET', `/v1/keys/${sibling.id}`, { key: fresh })).body).toMatchObject({
      data: { status: 'active' },
    });

    // using the API with it still works during the grace period
    expect((await call('GET', '/v1/me', { key: old })).status).toBe(200);
    expect((await call('GET', '/v1/prompts', { key: old })).status).toBe(200);
    const run = await call<{ success: boolean }>('POST', '/api/v1/run', {
      key: old,
      body: { promptName: prompt, variables: { x: 'old secret' } },
    });
    expect(run.status).toBe(200);
    expect(run.body.success).toBe(true);

    // the current secret manages keys as before
    expect((await rotate(fresh, k.id)).status).toBe(200);
  });

  it('an OAuth2 token minted from the previous secret is refused the same way', async () => {
    const k = await createKey(org.key, { scopes: ['admin'] });
    expect((await rotate(org.key, k.id)).status).toBe(200);
    const token = await oauthToken(k.id, k.key);
    const res = await call('POST', `/v1/keys/${k.id}/rotate`, { key: token, body: {} });
    expect(res.status).toBe(403);
    expect(errorOf(res.body).message).toMatch(/replaced by a rotation/);
    expect((await call('GET', '/v1/me', { key: token })).status).toBe(200);
  });
});

describe('limits, expiry and origins are rights: a key grants at most what it has', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await createOrg();
  });

  it('rate limits: a limited key cannot create a child without its limit or with a higher one', async () => {
    const limited = await createKey(org.key, {
      scopes: ['keys:write', 'prompts:read'],
      rateLimits: { perMinute: 50, perDay: 1000 },
    });
    for (const rateLimits of [{}, { perMinute: 100, perDay: 1000 }, { perMinute: 50 }, { perHour: 10 }]) {
      const res = await call('POST', '/v1/keys', { key: limited.key, body: { name: 'child', rateLimits } });
      expect(res.status, JSON.stringify(rateLimits)).toBe(403);
      expect(errorOf(res.body).code).toBe('FORBIDDEN');
      expect(errorOf(res.body).message).toMatch(/rateLimits\.(perMinute|perDay)/);
    }
    const narrower = await createKey(limited.key, {
      rateLimits: { perMinute: 10, perHour: 100, perDay: 500 },
    });
    expect(narrower.rateLimits).toEqual({ perMinute: 10, perHour: 100, perDay: 500 });
    // left out: the creator's own limits
    const inherited = await createKey(limited.key);
    expect(inherited.rateLimits).toEqual({ perMinute: 50, perDay: 1000 });
  });

  it('rate limits: a key cannot lift its own limits, nor a child’s above its own', async () => {
    const limited = await createKey(org.key, {
      scopes: ['keys:write', 'prompts:read'],
      rateLimits: { perMinute: 50 },
    });
    for (const rateLimits of [{}, { perMinute: 5000 }, { perHour: 10 }]) {
      const res = await call('PATCH', `/v1/keys/${limited.id}`, { key: limited.key, body: { rateLimits } });
      expect(res.status, JSON.stringify(rateLimits)).toBe(403);
      expect(errorOf(res.body).message).toMatch(/rateLimits\.perMinute/);
    }
    const lowered = await call<{ data: KeyBody }>('PATCH', `/v1/keys/${limited.id}`, {
      key: limited.key,
      body: { rateLimits: { perMinute: 20 } },
    });
    expect(lowered.status).toBe(200);
    expect(lowered.body.data.rateLimits).toEqual({ perMinute: 20 });
    const me = await call('GET', '/v1/me', { key: limited.key });
    expect(me.headers.get('x-ratelimit-limit')).toBe('20');
  });

  it('expiry: a key that expires cannot mint a key that lives longer, or extend itself', async () => {
    const expiring = await createKey(org.key, { scopes: ['keys:write', 'prompts:read'], expiresIn: '30d' });
    for (const expiresIn of ['never', '90d', new Date(Date.now() + 60 * DAY).toISOString()]) {
      const res = await call('POST', '/v1/keys', { key: expiring.key, body: { name: 'child', expiresIn } });
      expect(res.status, expiresIn).toBe(403);
      expect(errorOf(res.body).message).toMatch(/expiresIn/);
    }
    const patchSelf = await call('PATCH', `/v1/keys/${expiring.id}`, {
      key: expiring.key,
      body: { expiresIn: 'never' },
    });
    expect(patchSelf.status).toBe(403);
    const sooner = await createKey(expiring.key, {
      expiresIn: new Date(Date.now() + 10 * DAY).toISOString(),
    });
    expect(Date.parse(sooner.expiresAt!)).toBeLessThan(Date.parse(expiring.expiresAt!));
    // left out: the creator's own expiry
    const inherited = await createKey(expiring.key);
    expect(inherited.expiresAt).toBe(expiring.expiresAt);
  });

  it('origins: a key with allowed origins cannot grant any origin or others', async () => {
    const browser = await createKey(org.key, {
      scopes: ['keys:write', 'prompts:read'],
      allowedOrigins: ['https://app.example.com'],
    });
    for (const allowedOrigins of [null, ['https://app.example.com', 'https://evil.example.com']]) {
      const res = await call('POST', '/v1/keys', {
        key: browser.key,
        body: { name: 'child', allowedOrigins },
      });
      expect(res.status, JSON.stringify(allowedOrigins)).toBe(403);
      expect(errorOf(res.body).message).toMatch(/allowedOrigins/);
    }
    const patchSelf = await call('PATCH', `/v1/keys/${browser.id}`, {
      key: browser.key,
      body: { allowedOrigins: null },
    });
    expect(patchSelf.status).toBe(403);
    const inherited = await createKey(browser.key);
    expect(inherited.allowedOrigins).toEqual(['https://app.example.com']);
  });

  it('a key cannot rotate, revoke or edit a key more permissive than itself', async () => {
    const limited = await createKey(org.key, {
      scopes: ['keys:write', 'prompts:read'],
      rateLimits: { perMinute: 50 },
    });
    const unlimited = await createKey(org.key, { scopes: ['keys:write', 'prompts:read'] });
    const neverExpires = await createKey(org.key, { scopes: ['prompts:read'], rateLimits: { perMinute: 5 } });
    const expiring = await createKey(org.key, { scopes: ['keys:write', 'prompts:read'], expiresIn: '30d' });
    for (const [caller, target, what] of [
      [limited, unlimited, /rateLimits\.perMinute/],
      [expiring, neverExpires, /expiresIn/],
    ] as const) {
      for (const [method, path, body] of [
        ['POST', `/v1/keys/${target.id}/rotate`, {}],
        ['DELETE', `/v1/keys/${target.id}`, undefined],
        ['PATCH', `/v1/keys/${target.id}`, { name: 'mine now' }],
      ] as const) {
        const res = await call(method, path, { key: caller.key, ...(body ? { body } : {}) });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(errorOf(res.body).message).toMatch(what);
      }
    }
    expect((await call('GET', '/v1/me', { key: unlimited.key })).status).toBe(200);
    // a key equal to or narrower than the caller is fine
    const child = await createKey(limited.key);
    expect((await rotate(limited.key, child.id)).status).toBe(200);
    expect((await call('DELETE', `/v1/keys/${child.id}`, { key: limited.key })).status).toBe(200);
  });
});

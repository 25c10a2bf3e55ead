import { describe, expect, it } from 'vitest';
import { adminToken, call, createOrg } from './helpers.ts';
import { adminPatchOrg, errorOf } from './limits-support.ts';

const admin = { authorization: `Bearer ${adminToken}` };

describe('operator API: organizations and plans', () => {
  it('creates an org with plan, billing status, budget and overrides, its owner and first key', async () => {
    const res = await call<{
      data: {
        org: Record<string, unknown>;
        owner: { id: string; role: string };
        key: { id: string; key: string; scopes: string[]; ownerId: string; status: string };
      };
    }>('POST', '/admin/v1/orgs', {
      headers: admin,
      body: {
        name: 'Acme',
        plan: 'team',
        tokenBudget: 1_000_000,
        limits: { perMinute: 500 },
        owner: { email: 'boss@acme.test', name: 'Boss' },
      },
    });
    expect(res.status).toBe(201);
    const { org, owner, key } = res.body.data;
    expect(org).toMatchObject({
      id: expect.stringMatching(/^org_/),
      name: 'Acme',
      plan: 'team',
      billingStatus: 'active',
      tokenBudget: 1_000_000,
      limitOverrides: { perMinute: 500 },
      limits: { perMinute: 500, perDay: 100_000 },
    });
    expect(owner.role).toBe('owner');
    expect(key).toMatchObject({ scopes: ['admin'], ownerId: owner.id, status: 'active' });
    expect(key.key).toMatch(/^pm_live_[0-9a-f]{64}$/);
    const me = await call('GET', '/v1/me', { key: key.key });
    expect(me.headers.get('x-ratelimit-limit')).toBe('500');

    const got = await call<{ data: Record<string, unknown> }>('GET', `/admin/v1/orgs/${String(org.id)}`, {
      headers: admin,
    });
    expect(got.body.data).toMatchObject({ id: org.id, limits: { perMinute: 500, perDay: 100_000 } });
    expect(got.text).not.toContain(key.key.slice(8));
  });

  it('plan limits per API.md: pro 60/10k, team 300/100k, enterprise 1000/1M', async () => {
    for (const [plan, perMinute, perDay] of [
      ['pro', 60, 10_000],
      ['team', 300, 100_000],
      ['enterprise', 1_000, 1_000_000],
    ] as const) {
      const org = await createOrg({ plan });
      const me = await call<{ data: { limits: { plan: Record<string, number> } } }>('GET', '/v1/me', {
        key: org.key,
      });
      expect(me.body.data.limits.plan).toEqual({ requestsPerMinute: perMinute, requestsPerDay: perDay });
      expect(me.headers.get('x-ratelimit-limit')).toBe(String(perMinute));
    }
  });

  it('PATCH changes plan, billing and overrides, effective on the next request', async () => {
    const org = await createOrg();
    expect((await call('GET', '/v1/me', { key: org.key })).headers.get('x-ratelimit-limit')).toBe('60');
    const patched = await adminPatchOrg(org.orgId, { plan: 'enterprise', limits: { perMinute: 5000 } });
    expect(patched.body).toMatchObject({
      data: { plan: 'enterprise', limits: { perMinute: 5000, perDay: 1_000_000 } },
    });
    expect((await call('GET', '/v1/me', { key: org.key })).headers.get('x-ratelimit-limit')).toBe('5000');
    await adminPatchOrg(org.orgId, { billingStatus: 'disputed' });
    const disputed = await call('GET', '/v1/me', { key: org.key });
    expect(disputed.status).toBe(402);
    expect(errorOf(disputed.body).code).toBe('DISPUTED');
  });

  it('validates input and needs the admin token', async () => {
    const bad = await call('POST', '/admin/v1/orgs', { headers: admin, body: { name: 'x', plan: 'gold' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: [{ field: 'plan' }] } });
    const missing = await call('GET', '/admin/v1/orgs/org_nope', { headers: admin });
    expect(missing.status).toBe(404);
    expect(errorOf(missing.body).code).toBe('ORG_NOT_FOUND');
    const org = await createOrg();
    const withKey = await call('GET', `/admin/v1/orgs/${org.orgId}`, { key: org.key });
    expect(withKey.status).toBe(401);
    // the test clock is not mounted on a normal api process
    const clock = await call('PUT', '/admin/v1/test-clock', { headers: admin, body: { offsetMs: 0 } });
    expect(clock.status).toBe(404);
  });
});

// Hardening item 18: every response that carries a secret is `Cache-Control: no-store`; cacheable
// responses vary on both credential headers; the operator token is checked as a whole; expired
// identical-request cache rows are purged by the api in batches.
import { randomUUID } from 'node:crypto';
import { deleteExpiredRunCache } from '@promptmill/infra/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { createKey, type ExtraApi, eventually, startExtraApi, testSql } from './limits-support.ts';

const sql = testSql();

describe('responses carrying a secret are never stored', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await createOrg();
  });

  it('create-org, key create, key rotate, operator key, OAuth2 token: Cache-Control: no-store', async () => {
    const created = await call('POST', '/admin/v1/orgs', {
      headers: { authorization: `Bearer ${adminToken}` },
      body: { name: unique('org') },
    });
    expect(created.status).toBe(201);
    expect(created.text).toMatch(/pm_live_[0-9a-f]{64}/);
    expect(created.headers.get('cache-control')).toBe('no-store');

    const key = await call<{ data: { id: string; key: string } }>('POST', '/v1/keys', {
      key: org.key,
      body: { name: 'k' },
    });
    expect(key.headers.get('cache-control')).toBe('no-store');
    const rotated = await call('POST', `/v1/keys/${key.body.data.id}/rotate`, { key: org.key, body: {} });
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    const minted = await call('POST', `/admin/v1/orgs/${org.orgId}/keys`, {
      headers: { authorization: `Bearer ${adminToken}` },
      body: {},
    });
    expect(minted.status).toBe(201);
    expect(minted.headers.get('cache-control')).toBe('no-store');
    const token = await call('POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', client_id: org.keyId, client_secret: org.key },
    });
    expect(token.status).toBe(200);
    expect(token.headers.get('cache-control')).toBe('no-store');
  });
});

describe('cacheable responses vary on every credential header', () => {
  it('GET prompt: Vary names Authorization and x-api-key', async () => {
    const org = await createOrg();
    const name = await createPrompt(org.key, { template: 'x' });
    const credentials: Record<string, string>[] = [
      { 'x-api-key': org.key },
      { authorization: `Bearer ${org.key}` },
    ];
    for (const headers of credentials) {
      const res = await call('GET', `/v1/prompts/${name}`, { headers });
      expect(res.status).toBe(200);
      const vary = (res.headers.get('vary') ?? '').split(',').map((v) => v.trim().toLowerCase());
      expect(vary).toEqual(expect.arrayContaining(['authorization', 'x-api-key']));
    }
    // a narrower key's answer is not the admin key's
    const narrow = await createKey(org.key, { scopes: ['runs:read'] });
    expect((await call('GET', `/v1/prompts/${name}`, { headers: { 'x-api-key': narrow.key } })).status).toBe(
      403,
    );
  });
});

describe('the operator token', () => {
  it('only the whole token opens /admin/v1: prefixes, extensions and other lengths are 401', async () => {
    for (const token of ['', 'e', adminToken.slice(0, -1), `${adminToken}x`, adminToken.toUpperCase()]) {
      const res = await call('GET', '/admin/v1/orgs/org_x', {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status, token).toBe(401);
      expect(res.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'Invalid admin token' } });
    }
    const ok = await call('GET', '/admin/v1/orgs/org_x', {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(ok.status).toBe(404);
  });
});

describe('expired run_cache rows are purged', () => {
  let api: ExtraApi | undefined;
  afterAll(async () => {
    await api?.stop();
  });

  const insertRows = async (orgId: string, n: number, expiresIn: string) => {
    const keys = Array.from({ length: n }, () => `test-${randomUUID()}`);
    await sql`
      INSERT INTO run_cache (cache_key, org_id, run_id, output, model, prompt_tokens, completion_tokens, expires_at)
      SELECT k, ${orgId}, 'run_x', 'out', 'mock-1', 1, 1, now() + ${expiresIn}::interval
      FROM unnest(${keys}::text[]) AS k`;
    return keys;
  };
  const remaining = async (keys: string[]) =>
    (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM run_cache WHERE cache_key = ANY(${keys})`)[0]!
      .n;

  it('one purge deletes at most its batch, and only expired rows', async () => {
    const orgId = `org_${randomUUID()}`;
    const expired = await insertRows(orgId, 30, '-1 minute');
    const fresh = await insertRows(orgId, 3, '1 hour');
    const deleted = await deleteExpiredRunCache(sql, 10);
    expect(deleted).toBe(10);
    expect(await remaining(expired)).toBe(20);
    while ((await deleteExpiredRunCache(sql, 1000)) > 0) {
      // drain
    }
    expect(await remaining(expired)).toBe(0);
    expect(await remaining(fresh)).toBe(3);
  });

  it('an api process purges a backlog on its timer (RUN_CACHE_PURGE_INTERVAL_MS)', async () => {
    const orgId = `org_${randomUUID()}`;
    const expired = await insertRows(orgId, 2500, '-1 minute');
    const fresh = await insertRows(orgId, 2, '1 hour');
    api = await startExtraApi({ RUN_CACHE_PURGE_INTERVAL_MS: '1000' });
    await eventually(async () => ((await remaining(expired)) === 0 ? true : undefined), 15_000);
    expect(await remaining(fresh)).toBe(2);
  });
});

// Two extra api processes on the e2e Postgres, each with its key cache: a change made through one of them
// (or by SQL) holds on the other within 1 s, and the cache really serves requests in between.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiResponse, call, createOrg, unique } from './helpers.ts';
import {
  adminPatchOrg,
  createKey,
  type ExtraApi,
  errorOf,
  startExtraApi,
  testSql,
} from './limits-support.ts';

const ENV = { NODE_ENV: 'test', USAGE_FLUSH_INTERVAL_MS: '200', AUTH_FAILURE_LIMIT_PER_MINUTE: '1000' };
const BOUND_MS = 1_000;
const sql = testSql();

let a: ExtraApi;
let b: ExtraApi;

beforeAll(async () => {
  [a, b] = await Promise.all([startExtraApi(ENV), startExtraApi(ENV)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

/** promptmill_auth_cache_lookups_total{result} on one process. */
async function lookups(api: ExtraApi, result: 'hit' | 'miss' | 'bypass'): Promise<number> {
  const text = (await call('GET', '/metrics', { baseUrl: api.url })).text;
  const m = new RegExp(`promptmill_auth_cache_lookups_total\\{result="${result}"\\} (\\d+)`).exec(text);
  return Number(m?.[1] ?? 0);
}

/** Requests with `key` on `api` until one of them is answered from the process's key cache. */
async function cachedOn(api: ExtraApi, key: string, path = '/v1/me'): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    expect((await call('GET', path, { key, baseUrl: api.url })).status).toBe(200);
    const hits = await lookups(api, 'hit');
    expect((await call('GET', path, { key, baseUrl: api.url })).status).toBe(200);
    if ((await lookups(api, 'hit')) > hits) return;
    if (Date.now() > deadline) throw new Error('the key was never served from the cache');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `api` from now until `accept` holds; the milliseconds it took. */
async function msUntil(
  api: ExtraApi,
  request: { key: string; path?: string; headers?: Record<string, string> },
  accept: (res: ApiResponse) => boolean,
): Promise<{ ms: number; res: ApiResponse }> {
  const t0 = performance.now();
  for (;;) {
    const res = await call('GET', request.path ?? '/v1/me', {
      key: request.key,
      baseUrl: api.url,
      ...(request.headers ? { headers: request.headers } : {}),
    });
    const ms = performance.now() - t0;
    if (accept(res)) return { ms, res };
    if (ms > 5_000) throw new Error(`still ${res.status} ${res.text} after 5 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const refusedWith = (status: number, message?: string) => (res: ApiResponse) =>
  res.status === status && (message === undefined || errorOf(res.body).message === message);

describe('key cache across two api processes', () => {
  it('serves a key from memory (no read per request) once it is known', async () => {
    const org = await createOrg();
    await cachedOn(b, org.key);
    const [hits, misses] = [await lookups(b, 'hit'), await lookups(b, 'miss')];
    for (let i = 0; i < 5; i++)
      expect((await call('GET', '/v1/me', { key: org.key, baseUrl: b.url })).status).toBe(200);
    expect((await lookups(b, 'hit')) - hits).toBeGreaterThanOrEqual(5);
    expect(await lookups(b, 'miss')).toBe(misses);
  });

  it('the batched usage flush (usage_count, last_used_at) does not invalidate the key', async () => {
    const org = await createOrg();
    await cachedOn(b, org.key);
    await new Promise((r) => setTimeout(r, 600)); // several flushes of this key's usage
    const misses = await lookups(b, 'miss');
    expect((await call('GET', '/v1/me', { key: org.key, baseUrl: b.url })).status).toBe(200);
    expect(await lookups(b, 'miss')).toBe(misses);
  });

  it('a key revoked on one process stops working on the other within 1 s', async () => {
    const org = await createOrg();
    const k = await createKey(org.key, {}, a.url);
    await cachedOn(b, k.key);
    expect((await call('DELETE', `/v1/keys/${k.id}`, { key: org.key, baseUrl: a.url })).status).toBe(200);
    const { ms } = await msUntil(b, { key: k.key }, refusedWith(401, 'API key has been revoked'));
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('a key rotated with no grace period: the old secret fails on the other within 1 s, the new one works', async () => {
    const org = await createOrg();
    const k = await createKey(org.key, {}, a.url);
    await cachedOn(b, k.key);
    const rotated = await call<{ data: { key: string } }>('POST', `/v1/keys/${k.id}/rotate`, {
      key: org.key,
      baseUrl: a.url,
      body: { gracePeriodSeconds: 0 },
    });
    expect(rotated.status).toBe(200);
    const { ms } = await msUntil(b, { key: k.key }, refusedWith(401, 'Invalid API key'));
    expect(ms).toBeLessThan(BOUND_MS);
    expect((await call('GET', '/v1/me', { key: rotated.body.data.key, baseUrl: b.url })).status).toBe(200);
  });

  it('a suspended owner: its keys fail on the other process within 1 s, and work again within 1 s', async () => {
    const org = await createOrg();
    const m = await call<{ data: { id: string } }>('POST', '/v1/members', {
      key: org.key,
      baseUrl: a.url,
      body: { email: `${unique('m')}@example.com` },
    });
    const k = await createKey(org.key, { ownerId: m.body.data.id }, a.url);
    await cachedOn(b, k.key);
    const path = `/v1/members/${m.body.data.id}`;
    expect((await call('POST', `${path}/suspend`, { key: org.key, baseUrl: a.url })).status).toBe(200);
    const down = await msUntil(b, { key: k.key }, refusedWith(401, 'API key owner is suspended'));
    expect(down.ms).toBeLessThan(BOUND_MS);
    expect((await call('POST', `${path}/unsuspend`, { key: org.key, baseUrl: a.url })).status).toBe(200);
    const up = await msUntil(b, { key: k.key }, (res) => res.status === 200);
    expect(up.ms).toBeLessThan(BOUND_MS);
  });

  it("an organization's billing change through the operator API holds on the other process within 1 s", async () => {
    const org = await createOrg();
    await cachedOn(b, org.key);
    await adminPatchOrg(org.orgId, { billingStatus: 'past_due' }, a.url);
    const { ms, res } = await msUntil(b, { key: org.key }, refusedWith(402));
    expect(ms).toBeLessThan(BOUND_MS);
    expect(errorOf(res.body).code).toBe('PAST_DUE');
  });

  it("a key's scopes and origins changed on one process hold on the other within 1 s", async () => {
    const org = await createOrg();
    const k = await createKey(org.key, {}, a.url);
    await cachedOn(b, k.key, '/v1/members');
    const patch = (body: Record<string, unknown>) =>
      call('PATCH', `/v1/keys/${k.id}`, { key: org.key, baseUrl: a.url, body });
    expect((await patch({ scopes: ['prompts:read'] })).status).toBe(200);
    const scoped = await msUntil(b, { key: k.key, path: '/v1/members' }, refusedWith(403));
    expect(scoped.ms).toBeLessThan(BOUND_MS);
    expect(errorOf(scoped.res.body).code).toBe('FORBIDDEN');

    const origin = { origin: 'https://other.example' };
    await cachedOn(b, k.key);
    expect((await patch({ allowedOrigins: ['https://app.example'] })).status).toBe(200);
    const fenced = await msUntil(b, { key: k.key, headers: origin }, refusedWith(403));
    expect(fenced.ms).toBeLessThan(BOUND_MS);
    expect(errorOf(fenced.res.body).code).toBe('ORIGIN_NOT_ALLOWED');
  });

  it("an operator's SQL change (not through the api) holds on both processes within 1 s", async () => {
    const org = await createOrg();
    await Promise.all([cachedOn(a, org.key), cachedOn(b, org.key)]);
    await sql`UPDATE api_keys SET revoked_at = now() WHERE id = ${org.keyId}`;
    const revoked = refusedWith(401, 'API key has been revoked');
    const [onA, onB] = await Promise.all([
      msUntil(a, { key: org.key }, revoked),
      msUntil(b, { key: org.key }, revoked),
    ]);
    expect(Math.max(onA.ms, onB.ms)).toBeLessThan(BOUND_MS);
  });

  it("with the listener's connection cut, a revocation (whose NOTIFY may be lost) still holds within 1 s", async () => {
    const org = await createOrg();
    const k = await createKey(org.key, {}, a.url);
    await cachedOn(b, k.key);
    const cut = await sql<{ ok: boolean }[]>`
      SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE application_name = ${`promptmill-api-auth:${String(b.process.child.pid)}`}`;
    expect(cut.length).toBeGreaterThan(0);
    expect((await call('DELETE', `/v1/keys/${k.id}`, { key: org.key, baseUrl: a.url })).status).toBe(200);
    const { ms } = await msUntil(b, { key: k.key }, refusedWith(401, 'API key has been revoked'));
    expect(ms).toBeLessThan(BOUND_MS);
    // and the cache recovers: keys are served from memory again
    await cachedOn(b, org.key);
  });
});

// What black-box probing of the limits found (hardening issue, items 2, 3, 11 and 12), as tests over HTTP:
// refusals that spent another tenant's capacity, unmetered token minting and failed authentications,
// key status and Retry-After, overrides that switched limits off, and errors that failed open.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ApiResponse, adminToken, call, createOrg } from './helpers.ts';
import {
  createKey,
  type ExtraApi,
  errorOf,
  eventually,
  type KeyBody,
  startExtraApi,
  testSql,
} from './limits-support.ts';

const sql = testSql();

interface RateLimitedBody {
  error: { code: string; message: string; details: { field: string; message: string }[] };
  retryAfter: number;
  rateLimits: Record<string, number | null>;
}

/** GLOBAL_RATE_LIMIT_PER_MINUTE=20: the per-process breaker is small enough to be spent in a test */
let breakerApi: ExtraApi;
/** a movable clock, a failure budget of 5 per address and one trusted proxy hop (X-Forwarded-For) */
let clockApi: ExtraApi;

beforeAll(async () => {
  [breakerApi, clockApi] = await Promise.all([
    startExtraApi({
      GLOBAL_RATE_LIMIT_PER_MINUTE: '20',
      RATE_LIMIT_FAIL_MODE: 'open',
      RATE_LIMIT_TIMEOUT_MS: '300',
    }),
    startExtraApi({
      NODE_ENV: 'test',
      TEST_CLOCK: 'true',
      AUTH_FAILURE_LIMIT_PER_MINUTE: '5',
      TRUST_PROXY: '1',
      USAGE_FLUSH_INTERVAL_MS: '200',
    }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([breakerApi?.stop(), clockApi?.stop()]);
});

const statusesOf = (responses: ApiResponse[]) => responses.map((r) => r.status);

describe('a tenant over its limit (refusals spend nobody else’s capacity)', () => {
  it('tenant A flooding past 1/min leaves the per-process breaker to idle tenant B: B gets all 10', async () => {
    const a = await createOrg({ limits: { perMinute: 1 } });
    const b = await createOrg();
    const flood = await Promise.all(
      Array.from({ length: 60 }, () => call('GET', '/v1/me', { key: a.key, baseUrl: breakerApi.url })),
    );
    expect(flood.filter((r) => r.status === 200)).toHaveLength(1);
    expect(flood.filter((r) => r.status === 429)).toHaveLength(59);
    const fromB: number[] = [];
    for (let i = 0; i < 10; i++) {
      fromB.push((await call('GET', '/v1/me', { key: b.key, baseUrl: breakerApi.url })).status);
    }
    expect(fromB).toEqual(Array(10).fill(200));
  });

  it('a known refusal is answered from memory, without the counter store, in the same shape', async () => {
    const org = await createOrg({ plan: 'enterprise' });
    const k = await createKey(org.key, { rateLimits: { perMinute: 1 } }, breakerApi.url);
    const other = await createKey(org.key, {}, breakerApi.url);
    expect((await call('GET', '/v1/me', { key: k.key, baseUrl: breakerApi.url })).status).toBe(200);
    const fromStore = await call<RateLimitedBody>('GET', '/v1/me', { key: k.key, baseUrl: breakerApi.url });
    expect(fromStore.status).toBe(429);

    // hold the org's admission lock: any decision that reaches Postgres now waits, times out and fails open
    const holder = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
    try {
      await holder`SELECT pg_advisory_lock(7272, hashtext(${org.orgId}))`;
      // (were it to ask the store, it would wait RATE_LIMIT_TIMEOUT_MS and be admitted by fail-open)
      const fromMemory = await call<RateLimitedBody>('GET', '/v1/me', {
        key: k.key,
        baseUrl: breakerApi.url,
      });
      expect(fromMemory.status).toBe(429);
      expect(fromMemory.body).toEqual({
        error: {
          code: 'RATE_LIMITED',
          message: 'Rate limit exceeded',
          details: [
            {
              field: 'rateLimits.requestsPerMinute',
              message: 'API key limit of 1 requests per minute reached',
            },
          ],
        },
        retryAfter: Number(fromMemory.headers.get('retry-after')),
        rateLimits: { requestsPerMinute: 1, requestsPerHour: null, requestsPerDay: 1_000_000 },
      });
      expect(fromMemory.body.retryAfter).toBeGreaterThanOrEqual(1);
      expect(fromMemory.body.retryAfter).toBeLessThanOrEqual(fromStore.body.retryAfter);
      for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
        expect(fromMemory.headers.get(h), h).toBe(fromStore.headers.get(h));
      }
      // the lock is real: a request of the same org that is not known to be refused waits for it
      const waited = await call('GET', '/v1/me', { key: other.key, baseUrl: breakerApi.url });
      expect(waited.status).toBe(200);
      expect(waited.headers.get('x-ratelimit-limit')).toBeNull(); // admitted by RATE_LIMIT_FAIL_MODE=open
    } finally {
      await holder`SELECT pg_advisory_unlock(7272, hashtext(${org.orgId}))`;
      await holder.end();
    }
  });
});

interface OAuthResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function tokenRequest(
  fields: Record<string, string>,
  opts: { baseUrl?: string; headers?: Record<string, string> } = {},
): Promise<OAuthResponse> {
  const res = await fetch(`${opts.baseUrl ?? inject('apiUrl')}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...opts.headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('POST /oauth/token is metered', () => {
  it('minting counts on the org window: an org limited to 2/min gets 2 tokens, then 429 in the OAuth shape', async () => {
    const org = await createOrg({ limits: { perMinute: 2 } });
    const fields = { grant_type: 'client_credentials', client_id: org.keyId, client_secret: org.key };
    const results: OAuthResponse[] = [];
    for (let i = 0; i < 8; i++) results.push(await tokenRequest(fields));
    expect(results.map((r) => r.status)).toEqual([200, 200, 429, 429, 429, 429, 429, 429]);
    expect(results[0]!.headers.get('x-ratelimit-limit')).toBe('2');
    expect(results[1]!.headers.get('x-ratelimit-remaining')).toBe('0');
    const refused = results[2]!;
    expect(refused.body).toEqual({
      error: 'rate_limited',
      error_description: expect.stringContaining('Organization limit of 2 requests per minute reached'),
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    // the tokens minted spent the window: requests with them are refused too
    const token = String(results[0]!.body.access_token);
    expect((await call('GET', '/v1/me', { key: token })).status).toBe(429);
  });

  it('and on the key’s own windows', async () => {
    const org = await createOrg();
    const k = await createKey(org.key, { rateLimits: { perMinute: 1 } });
    const fields = { grant_type: 'client_credentials', client_id: k.id, client_secret: k.key };
    expect((await tokenRequest(fields)).status).toBe(200);
    const refused = await tokenRequest(fields);
    expect(refused.status).toBe(429);
    expect(String(refused.body.error_description)).toContain(
      'API key limit of 1 requests per minute reached',
    );
    // the org's other keys are not held back
    expect((await call('GET', '/v1/me', { key: org.key })).status).toBe(200);
  });
});

describe('the OpenAPI document says so', () => {
  it('429 on the keyed routes and on /oauth/token (rate_limited)', async () => {
    type Op = { responses: Record<string, { description: string }> };
    const doc = await call<{ paths: Record<string, Record<string, Op>> }>('GET', '/openapi.json');
    expect(doc.body.paths['/v1/me']!.get!.responses['429']!.description).toMatch(/failed authentications/);
    expect(doc.body.paths['/oauth/token']!.post!.responses['429']!.description).toMatch(/^rate_limited/);
  });
});

describe('failed authentications are limited per client address', () => {
  const from = (address: string) => ({ 'x-forwarded-for': address });

  it('5 failures per minute from one address, then 429 for everything from it; other addresses unaffected', async () => {
    const org = await createOrg();
    const bad = `pm_live_${'ab'.repeat(32)}`;
    const get = (key: string, address: string) =>
      call('GET', '/v1/me', { key, baseUrl: clockApi.url, headers: from(address) });
    const seq: number[] = [];
    seq.push((await get(org.key, '203.0.113.7')).status);
    for (let i = 0; i < 4; i++) seq.push((await get(bad, '203.0.113.7')).status);
    seq.push((await get(org.key, '203.0.113.7')).status); // successes are not affected before the budget is spent
    seq.push((await get(bad, '203.0.113.7')).status); // the 5th failure
    expect(seq).toEqual([200, 401, 401, 401, 401, 200, 401]);

    const blocked = await get(bad, '203.0.113.7');
    expect(blocked.status).toBe(429);
    expect(errorOf(blocked.body).code).toBe('RATE_LIMITED');
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((blocked.body as { retryAfter: number }).retryAfter).toBe(retryAfter);
    // with the budget spent, a good key from that address is refused too (nothing is read to tell)
    expect((await get(org.key, '203.0.113.7')).status).toBe(429);
    // and the token endpoint shares the budget
    const minted = await tokenRequest(
      { grant_type: 'client_credentials', client_id: org.keyId, client_secret: org.key },
      { baseUrl: clockApi.url, headers: from('203.0.113.7') },
    );
    expect(minted.status).toBe(429);
    expect(minted.body).toMatchObject({ error: 'rate_limited' });

    // another address has its own budget
    expect((await get(org.key, '203.0.113.8')).status).toBe(200);
    expect((await get(bad, '203.0.113.8')).status).toBe(401);
  });

  it('invalid_client on /oauth/token counts as a failure', async () => {
    const org = await createOrg();
    const wrong = {
      grant_type: 'client_credentials',
      client_id: org.keyId,
      client_secret: `pm_live_${'cd'.repeat(32)}`,
    };
    const opts = { baseUrl: clockApi.url, headers: from('198.51.100.23') };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await tokenRequest(wrong, opts)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const blocked = await tokenRequest(wrong, opts);
    expect(blocked.body).toEqual({ error: 'rate_limited', error_description: expect.any(String) });
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('key status and Retry-After', () => {
  const dayStart = (Math.floor(Date.now() / 86_400_000) + 6) * 86_400_000;

  afterAll(async () => {
    await clockApi.setClock(new Date());
  });

  const statusOf = async (org: { key: string }, keyId: string) => {
    const list = await call<{ data: KeyBody[] }>('GET', '/v1/keys?per_page=100', {
      key: org.key,
      baseUrl: clockApi.url,
    });
    const one = await call<{ data: KeyBody }>('GET', `/v1/keys/${keyId}`, {
      key: org.key,
      baseUrl: clockApi.url,
    });
    return [list.body.data.find((x) => x.id === keyId)?.status, one.body.data.status];
  };

  it('a key over its daily limit lists as rate_limited (GET /v1/keys and /v1/keys/:id) until midnight', async () => {
    const org = await createOrg({ plan: 'enterprise' });
    const k = await createKey(org.key, { rateLimits: { perDay: 1 } }, clockApi.url);
    await clockApi.setClock(new Date(dayStart + 12 * 3_600_000));
    expect((await call('GET', '/v1/me', { key: k.key, baseUrl: clockApi.url })).status).toBe(200);
    const refused = await call('GET', '/v1/me', { key: k.key, baseUrl: clockApi.url });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBe(12 * 3600);
    // minutes later the key is still refused, and lists so
    await clockApi.setClock(new Date(dayStart + 12 * 3_600_000 + 5 * 60_000));
    await eventually(async () => {
      const s = await statusOf(org, k.id);
      return s.every((x) => x === 'rate_limited') ? s : undefined;
    });
    await clockApi.setClock(new Date(dayStart + 86_400_000 + 1_000));
    expect(await statusOf(org, k.id)).toEqual(['active', 'active']);
    expect((await call('GET', '/v1/me', { key: k.key, baseUrl: clockApi.url })).status).toBe(200);
  });

  it('a rolling hour never asks for more than 3600 s, a rolling minute never more than 60 s', async () => {
    const org = await createOrg({ plan: 'enterprise' });
    const hourly = await createKey(org.key, { rateLimits: { perHour: 1 } }, clockApi.url);
    const minutely = await createKey(org.key, { rateLimits: { perMinute: 1 } }, clockApi.url);
    const minuteStart = dayStart + 3 * 3_600_000;
    await clockApi.setClock(new Date(minuteStart));
    for (const k of [hourly, minutely]) {
      expect((await call('GET', '/v1/me', { key: k.key, baseUrl: clockApi.url })).status).toBe(200);
    }
    await clockApi.setClock(new Date(minuteStart + 100));
    const hour = await call<RateLimitedBody>('GET', '/v1/me', { key: hourly.key, baseUrl: clockApi.url });
    const minute = await call<RateLimitedBody>('GET', '/v1/me', { key: minutely.key, baseUrl: clockApi.url });
    expect([hour.status, minute.status]).toEqual([429, 429]);
    expect(Number(hour.headers.get('retry-after'))).toBeLessThanOrEqual(3600);
    expect(Number(hour.headers.get('retry-after'))).toBeGreaterThanOrEqual(3599);
    expect(Number(minute.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // and it is the truth: the window admits again an hour after its request, not a minute later
    // (the test clock runs on from each setting, so allow a second for the time the calls take)
    await clockApi.setClock(new Date(minuteStart + 3_599_000));
    expect((await call('GET', '/v1/me', { key: hourly.key, baseUrl: clockApi.url })).status).toBe(429);
    await clockApi.setClock(new Date(minuteStart + 3_601_000));
    expect((await call('GET', '/v1/me', { key: hourly.key, baseUrl: clockApi.url })).status).toBe(200);
  });
});

describe('overrides and counter-store errors', () => {
  const INT4_MAX = 2_147_483_647;
  const admin = { authorization: `Bearer ${adminToken}` };

  it('limits above what the counters hold are refused with 400 naming the field', async () => {
    const org = await createOrg();
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['PATCH', `/admin/v1/orgs/${org.orgId}`, { limits: { perMinute: INT4_MAX + 1 } }, 'limits.perMinute'],
      ['POST', '/admin/v1/orgs', { name: 'too-big', limits: { perDay: 1e12 } }, 'limits.perDay'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await call<RateLimitedBody>(method, path, { headers: admin, body });
      expect(res.status, path).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details.map((d) => d.field)).toEqual([field]);
    }
    const keyRes = await call<RateLimitedBody>('POST', '/v1/keys', {
      key: org.key,
      body: { name: 'too big', rateLimits: { perHour: INT4_MAX + 1 } },
    });
    expect(keyRes.status).toBe(400);
    expect(keyRes.body.error.details.map((d) => d.field)).toEqual(['rateLimits.perHour']);
    const ok = await call('PATCH', `/admin/v1/orgs/${org.orgId}`, {
      headers: admin,
      body: { limits: { perDay: INT4_MAX } },
    });
    expect(ok.status).toBe(200);
  });

  it('a stored limit above 2^31−1 does not switch the organization’s other limits off', async () => {
    const org = await createOrg({ limits: { perMinute: 2 } });
    await sql`UPDATE organizations SET limit_overrides = '{"perMinute": 2, "perDay": 3000000000}'::jsonb
              WHERE id = ${org.orgId}`;
    const seq: ApiResponse[] = [];
    for (let i = 0; i < 3; i++) seq.push(await call('GET', '/v1/me', { key: org.key }));
    expect(statusesOf(seq)).toEqual([200, 200, 429]);
  });

  it('a counter-store error that is not an outage refuses with 500 INTERNAL_ERROR instead of failing open', async () => {
    const org = await createOrg();
    const k = await createKey(org.key);
    // a value no integer column takes: the admission statement fails (22P02), the store is up
    await sql`UPDATE api_keys SET rate_limits = '{"perMinute": 1.5}'::jsonb WHERE id = ${k.id}`;
    const res = await call('GET', '/v1/me', { key: k.key });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } });
    expect(res.text).not.toMatch(/integer|syntax|promptmill_rate_limit/i);
  });
});

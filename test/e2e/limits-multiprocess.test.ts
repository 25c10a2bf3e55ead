// Two (and a third) extra api processes against the one e2e Postgres: limits hold across processes.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ApiResponse, call, createOrg } from './helpers.ts';
import { createKey, type ExtraApi, errorOf, eventually, startExtraApi, testSql } from './limits-support.ts';

interface RateLimitedBody {
  error: { code: string; details: { field: string; message: string }[] };
  retryAfter: number;
  rateLimits: Record<string, number | null>;
}

const SHARED = {
  NODE_ENV: 'test',
  TEST_CLOCK: 'true',
  TOKEN_SIGNING_SECRET: 'e2e-shared-token-signing-secret-0123456789',
  LOG_LEVEL: 'debug',
  LOG_REQUESTS: 'true',
  RATE_LIMIT_FAIL_MODE: 'open',
  RATE_LIMIT_TIMEOUT_MS: '3000',
  USAGE_FLUSH_INTERVAL_MS: '200',
};

let a: ExtraApi;
let b: ExtraApi;
let c: ExtraApi;
const secrets: string[] = [];

beforeAll(async () => {
  [a, b, c] = await Promise.all([
    startExtraApi(SHARED),
    startExtraApi(SHARED),
    startExtraApi({
      NODE_ENV: 'test',
      RATE_LIMIT_FAIL_MODE: 'closed',
      RATE_LIMIT_TIMEOUT_MS: '200',
      GLOBAL_RATE_LIMIT_PER_MINUTE: '6',
    }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
});

/** Fires every request at once, alternating between the processes. */
async function burst(apis: ExtraApi[], keys: string[], n: number, path = '/v1/me'): Promise<ApiResponse[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      call('GET', path, { key: keys[i % keys.length]!, baseUrl: apis[i % apis.length]!.url }),
    ),
  );
}

/** Admitting counter-store statements of one process so far (promptmill_rate_limit_lease_permits_count). */
async function leaseStatements(api: ExtraApi): Promise<number> {
  const text = (await call('GET', '/metrics', { baseUrl: api.url })).text;
  return Number(/^promptmill_rate_limit_lease_permits_count (\d+)/m.exec(text)?.[1] ?? 0);
}

const counterSql = testSql();
/** The key's minute window as the shared counters hold it now. */
async function keyMinuteCount(keyId: string): Promise<number> {
  const [row] = await counterSql<{ n: number }[]>`
    SELECT coalesce(sum(count), 0)::int AS n FROM rate_limit_counters
    WHERE bucket = ${`k:${keyId}:minute`} AND expires_at > now()`;
  return row?.n ?? 0;
}

function expectWellFormed429s(responses: ApiResponse[]): void {
  for (const r of responses.filter((x) => x.status === 429)) {
    const retryAfter = Number(r.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    const body = r.body as unknown as RateLimitedBody;
    expect(body.error.code).toBe('RATE_LIMITED');
    expect(body.retryAfter).toBe(retryAfter);
    expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
  }
}

describe('limits across two api processes', () => {
  it('3x the per-key minute limit, fired concurrently across both: exactly the limit is admitted', async () => {
    const org = await createOrg({ plan: 'enterprise' });
    const LIMIT = 20;
    const k = await createKey(org.key, { rateLimits: { perMinute: LIMIT } }, a.url);
    secrets.push(org.key, k.key);
    const responses = await burst([a, b], [k.key], 3 * LIMIT);
    const admitted = responses.filter((r) => r.status === 200).length;
    expect(admitted).toBe(LIMIT);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(2 * LIMIT);
    expectWellFormed429s(responses);
  });

  it('leased permits: 3x a per-key limit of 500 across both processes admits exactly 500, in far fewer statements', async () => {
    const org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000 } });
    const LIMIT = 500;
    const k = await createKey(org.key, { rateLimits: { perMinute: LIMIT } }, a.url);
    const statements = async () => (await leaseStatements(a)) + (await leaseStatements(b));
    const before = await statements();
    const responses = await burst([a, b], [k.key], 3 * LIMIT);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(LIMIT);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(2 * LIMIT);
    expectWellFormed429s(responses);
    // the processes leased batches of permits: far fewer admitting statements than admissions
    const used = (await statements()) - before;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(LIMIT / 4);
    // whatever was leased and not spent goes back: the shared counter ends at what was admitted
    await eventually(async () => ((await keyMinuteCount(k.id)) === LIMIT ? true : undefined));
  });

  it('3x the per-org minute limit across both processes and three keys: exactly the limit', async () => {
    const LIMIT = 25;
    const org = await createOrg({ limits: { perMinute: 1000 } });
    const keys = await Promise.all([1, 2, 3].map(() => createKey(org.key, {}, a.url)));
    await call('PATCH', `/admin/v1/orgs/${org.orgId}`, {
      baseUrl: b.url,
      headers: { authorization: `Bearer ${inject('adminToken')}` },
      body: { limits: { perMinute: LIMIT } },
    });
    // the org window already holds the 3 POST /v1/keys
    const responses = await burst(
      [a, b],
      keys.map((k) => k.key),
      3 * LIMIT,
    );
    expect(responses.filter((r) => r.status === 200)).toHaveLength(LIMIT - 3);
    expectWellFormed429s(responses);
    const refused = responses.find((r) => r.status === 429)!.body as unknown as RateLimitedBody;
    expect(refused.error.details[0]!.message).toBe(
      `Organization limit of ${LIMIT} requests per minute reached`,
    );
  });

  it('revocation on one process holds on the other at once; OAuth tokens work on both', async () => {
    const org = await createOrg();
    const k = await createKey(org.key, {}, a.url);
    secrets.push(k.key);
    const tokenRes = await fetch(`${a.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: k.id, client_secret: k.key }),
    });
    const token = ((await tokenRes.json()) as { access_token: string }).access_token;
    secrets.push(token);
    expect((await call('GET', '/v1/me', { key: token, baseUrl: b.url })).status).toBe(200);
    expect((await call('GET', '/v1/me', { key: k.key, baseUrl: b.url })).status).toBe(200);
    expect((await call('DELETE', `/v1/keys/${k.id}`, { key: org.key, baseUrl: a.url })).status).toBe(200);
    for (const credential of [k.key, token]) {
      const res = await call('GET', '/v1/me', { key: credential, baseUrl: b.url });
      expect(res.status).toBe(401);
      expect(errorOf(res.body).message).toBe('API key has been revoked');
    }
  });

  it('a burst straddling a minute edge gets no second helping (one clock for both processes)', async () => {
    const org = await createOrg({ plan: 'enterprise' });
    const k = await createKey(org.key, { rateLimits: { perMinute: 10 } }, a.url);
    const T = (Math.floor(Date.now() / 1000) + 2 * 86_400) * 1000;
    await Promise.all([a.setClock(new Date(T)), b.setClock(new Date(T))]);
    const first = await burst([a, b], [k.key], 15);
    expect(first.filter((r) => r.status === 200)).toHaveLength(10);
    await Promise.all([a.setClock(new Date(T + 59_000)), b.setClock(new Date(T + 59_000))]);
    const edge = await burst([a, b], [k.key], 10);
    expect(edge.filter((r) => r.status === 200)).toHaveLength(0);
    expectWellFormed429s(edge);
    const retryAfter = Number(edge[0]!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(4);
    await Promise.all([a.setClock(new Date(T + 62_000)), b.setClock(new Date(T + 62_000))]);
    const after = await burst([a, b], [k.key], 15);
    expect(after.filter((r) => r.status === 200)).toHaveLength(10);
  });

  it('the UTC-day window resets at midnight', async () => {
    const org = await createOrg({ plan: 'enterprise' });
    const k = await createKey(org.key, { rateLimits: { perDay: 5 } }, a.url);
    const midnight = (Math.floor(Date.now() / 86_400_000) + 4) * 86_400_000;
    await Promise.all([a.setClock(new Date(midnight - 10_000)), b.setClock(new Date(midnight - 10_000))]);
    const before = await burst([a, b], [k.key], 8);
    expect(before.filter((r) => r.status === 200)).toHaveLength(5);
    expectWellFormed429s(before);
    const refused = before.find((r) => r.status === 429)!;
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(refused.headers.get('x-ratelimit-reset')).toBe(String(midnight / 1000));
    expect((refused.body as unknown as RateLimitedBody).error.details[0]!.field).toBe(
      'rateLimits.requestsPerDay',
    );

    await Promise.all([a.setClock(new Date(midnight + 1_000)), b.setClock(new Date(midnight + 1_000))]);
    const after = await burst([a, b], [k.key], 8);
    expect(after.filter((r) => r.status === 200)).toHaveLength(5);
    const ok = after.find((r) => r.status === 200)!;
    expect(ok.headers.get('x-ratelimit-limit')).toBe('5');
    expect(ok.headers.get('x-ratelimit-reset')).toBe(String(midnight / 1000 + 86_400));
  });

  it('an expiry judged by the shared clock: a 30d key fails 31 days later', async () => {
    await Promise.all([a.setClock(new Date()), b.setClock(new Date())]);
    const org = await createOrg();
    const k = await createKey(org.key, { expiresIn: '30d' }, a.url);
    await a.setClock(new Date(Date.now() + 31 * 86_400_000));
    const res = await call('GET', '/v1/me', { key: k.key, baseUrl: a.url });
    expect(res.status).toBe(401);
    expect(errorOf(res.body).message).toBe('API key has expired');
    expect((await call('GET', '/v1/me', { key: k.key, baseUrl: b.url })).status).toBe(200);
    await a.setClock(new Date());
  });
});

describe('when the counter store does not answer', () => {
  const holder = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
  afterAll(() => holder.end());

  /** Holds the org's admission lock, so every decision for it waits and times out. */
  async function withOrgLocked<T>(orgId: string, fn: () => Promise<T>): Promise<T> {
    await holder`SELECT pg_advisory_lock(7272, hashtext(${orgId}))`;
    try {
      return await fn();
    } finally {
      await holder`SELECT pg_advisory_unlock(7272, hashtext(${orgId}))`;
    }
  }

  it('RATE_LIMIT_FAIL_MODE=open admits (without limit headers) and counts error_open', async () => {
    const org = await createOrg();
    const res = await withOrgLocked(org.orgId, () => call('GET', '/v1/me', { key: org.key, baseUrl: a.url }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    expect((await call('GET', '/metrics', { baseUrl: a.url })).text).toMatch(
      /promptmill_rate_limit_decisions_total\{result="error_open"\} [1-9]/,
    );
  });

  it('RATE_LIMIT_FAIL_MODE=closed refuses with 503 and Retry-After, and counts error_closed', async () => {
    const org = await createOrg();
    const res = await withOrgLocked(org.orgId, () => call('GET', '/v1/me', { key: org.key, baseUrl: c.url }));
    expect(res.status).toBe(503);
    expect(errorOf(res.body).code).toBe('SERVICE_UNAVAILABLE');
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await call('GET', '/metrics', { baseUrl: c.url })).text).toMatch(
      /promptmill_rate_limit_decisions_total\{result="error_closed"\} [1-9]/,
    );
  });

  it('the per-process global breaker refuses with 429 once GLOBAL_RATE_LIMIT_PER_MINUTE is spent', async () => {
    const org = await createOrg({ plan: 'enterprise' });
    const statuses: number[] = [];
    let refusal: ApiResponse | undefined;
    for (let i = 0; i < 9 && !refusal; i++) {
      const res = await call('GET', '/v1/me', { key: org.key, baseUrl: c.url });
      statuses.push(res.status);
      if (res.status === 429) refusal = res;
    }
    // 6 tokens (refilling at one per 10 s); the fail-closed test's 503 gave its token back
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(6);
    expect(refusal).toBeDefined();
    expect(Number(refusal!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refusal!.headers.get('x-ratelimit-limit')).toBe('6');
    expect(refusal!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect((refusal!.body as unknown as RateLimitedBody).error.details).toEqual([
      { field: 'global', message: 'This server is over its global request rate; retry shortly' },
    ]);
    // other processes are unaffected
    expect((await call('GET', '/v1/me', { key: org.key, baseUrl: a.url })).status).toBe(200);
  });
});

describe('keys never reach the logs', () => {
  it('request logs and warnings of both processes carry no key or token', async () => {
    const all = [...a.logs, ...b.logs];
    expect(all.some((l) => l.includes('"msg":"request"'))).toBe(true);
    expect(all.some((l) => l.includes('rate-limit store unavailable'))).toBe(true);
    expect(secrets.length).toBeGreaterThan(3);
    for (const secret of secrets) {
      const needle = secret.startsWith('pm_live_') ? secret.slice(8) : secret.slice(-43);
      expect(all.find((l) => l.includes(needle))).toBeUndefined();
    }
  });
});

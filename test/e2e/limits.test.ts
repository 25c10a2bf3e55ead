import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import {
  checkRateLimit,
  type PermitDecision,
  type PermitRequest,
  RateLimitStoreError,
  returnPermits,
  takePermits,
} from '../../api/src/limits/rate-limit.ts';
import { type LimitSubject, windowsFor } from '../../api/src/limits/windows.ts';
import { call, createOrg } from './helpers.ts';
import { createKey, eventually, type KeyBody, testSql } from './limits-support.ts';

const sql = testSql();

interface RateLimitedBody {
  error: { code: string; message: string; details: { field: string; message: string }[] };
  retryAfter: number;
  rateLimits: {
    requestsPerMinute: number | null;
    requestsPerHour: number | null;
    requestsPerDay: number | null;
  };
}

describe('rate limits over HTTP', () => {
  it('X-RateLimit-* on every authenticated response, successes and errors alike', async () => {
    const org = await createOrg();
    const reader = await createKey(org.key, { scopes: ['prompts:read'], rateLimits: { perMinute: 50 } });
    const cases = [
      await call('GET', '/v1/me', { key: reader.key }),
      await call('GET', '/v1/nope', { key: reader.key }), // 404 after auth
      await call('POST', '/v1/prompts', { key: reader.key, body: { name: 'x' } }), // 403 scope
      await call('GET', '/v1/keys?per_page=500', { key: org.key }), // 400
    ];
    expect(cases.map((c) => c.status)).toEqual([200, 404, 403, 400]);
    for (const res of cases) {
      expect(Number(res.headers.get('x-ratelimit-limit'))).toBeGreaterThan(0);
      expect(res.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
      expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    }
    // the tightest window: the key's 50/min, 3 used by the first three calls
    expect(cases[2]!.headers.get('x-ratelimit-limit')).toBe('50');
    expect(cases[2]!.headers.get('x-ratelimit-remaining')).toBe('47');
    // no key, no headers
    expect((await call('GET', '/v1/me')).headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('429 RATE_LIMITED with Retry-After, retryAfter, details and rateLimits; the key lists as rate_limited', async () => {
    const org = await createOrg();
    const k = await createKey(org.key, { rateLimits: { perMinute: 3, perHour: 100 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call('GET', '/v1/me', { key: k.key })).status);
    expect(statuses).toEqual([200, 200, 200]);
    const res = await call<RateLimitedBody>('GET', '/v1/me', { key: k.key });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(61);
    expect(res.body).toEqual({
      error: {
        code: 'RATE_LIMITED',
        message: 'Rate limit exceeded',
        details: [
          {
            field: 'rateLimits.requestsPerMinute',
            message: 'API key limit of 3 requests per minute reached',
          },
        ],
      },
      retryAfter,
      rateLimits: { requestsPerMinute: 3, requestsPerHour: 100, requestsPerDay: 10_000 },
    });
    expect(res.headers.get('x-ratelimit-limit')).toBe('3');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    // other keys of the org are not held back by this key's limit
    expect((await call('GET', '/v1/me', { key: org.key })).status).toBe(200);
    const listed = await eventually(async () => {
      const list = await call<{ data: KeyBody[] }>('GET', '/v1/keys', { key: org.key });
      const row = list.body.data.find((x) => x.id === k.id);
      return row?.status === 'rate_limited' ? row : undefined;
    });
    expect(listed.usageCount).toBe(3);
  });

  it('the seed routes get the seed shape with retryAfter and rateLimits', async () => {
    const org = await createOrg();
    const k = await createKey(org.key, { rateLimits: { perMinute: 1 } });
    await call('POST', '/api/v1/run', { key: k.key, body: { promptName: 'missing' } });
    const res = await call('POST', '/api/v1/run', { key: k.key, body: { promptName: 'missing' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.body).toEqual({
      success: false,
      error: 'Rate limit exceeded',
      code: 'RATE_LIMITED',
      retryAfter: Number(res.headers.get('retry-after')),
      rateLimits: { requestsPerMinute: 1, requestsPerHour: null, requestsPerDay: 10_000 },
    });
  });

  it('the org window is shared by its keys; refused requests consume nothing', async () => {
    const org = await createOrg({ limits: { perMinute: 6 } });
    const a = await createKey(org.key, { rateLimits: { perMinute: 2 } });
    const b = await createKey(org.key);
    // 3 used so far: createOrg does not count, the two POST /v1/keys do (2), and now:
    const seq: string[] = [];
    for (const [name, key] of [
      ['a', a.key],
      ['a', a.key],
      ['a', a.key], // refused by the key window: must not count against the org
      ['a', a.key],
      ['b', b.key],
      ['b', b.key],
      ['b', b.key], // org window full (2 keys created + 2 a + 2 b = 6)
    ] as const) {
      seq.push(`${name}${(await call('GET', '/v1/me', { key })).status}`);
    }
    expect(seq).toEqual(['a200', 'a200', 'a429', 'a429', 'b200', 'b200', 'b429']);
    const orgRefusal = await call<RateLimitedBody>('GET', '/v1/me', { key: b.key });
    expect(orgRefusal.body.error.details).toEqual([
      {
        field: 'rateLimits.requestsPerMinute',
        message: 'Organization limit of 6 requests per minute reached',
      },
    ]);
    const [row] = await sql<{ n: number }[]>`
      SELECT coalesce(sum(count), 0)::int AS n FROM rate_limit_counters WHERE bucket = ${`o:${org.orgId}:minute`}`;
    expect(row!.n).toBe(6);
  });

  it('counts decisions in promptmill_rate_limit_decisions_total', async () => {
    const metrics = await call('GET', '/metrics');
    expect(metrics.text).toMatch(/promptmill_rate_limit_decisions_total\{result="allowed"\} \d+/);
    expect(metrics.text).toMatch(/promptmill_rate_limit_decisions_total\{result="limited"\} \d+/);
  });
});

/** The limiter against the real Postgres with an injected clock: exact window edges. */
describe('checkRateLimit with an injected clock', () => {
  const subject = (
    limits: LimitSubject['keyLimits'],
    overrides: LimitSubject['overrides'] = {},
  ): LimitSubject => ({
    keyId: `key_t${randomUUID()}`,
    keyLimits: limits,
    orgId: `org_t${randomUUID()}`,
    plan: 'enterprise',
    overrides,
  });
  const at = (ms: number) => new Date(ms);
  const admit = (s: LimitSubject, t: number) => checkRateLimit(sql, s, at(t), 5_000);
  // a whole second well in the future, so no other test's counters are near
  const S = Math.floor(Date.now() / 1000) * 1000 + 10 * 86_400_000;

  it('N concurrent decisions for a limit of 10 admit exactly 10', async () => {
    const s = subject({ perMinute: 10 });
    const results = await Promise.all(Array.from({ length: 30 }, () => admit(s, S + 500)));
    expect(results.filter((r) => r.admitted)).toHaveLength(10);
    const refused = results.find((r) => !r.admitted)!;
    expect(refused.tightest).toMatchObject({
      scope: 'key',
      period: 'minute',
      limit: 10,
      used: 10,
      remaining: 0,
    });
  });

  it('a burst straddling the edge of a rolling minute does not get twice the limit', async () => {
    const s = subject({ perMinute: 5 });
    // 5 at the very end of second S, 5 more attempts just after: refused
    for (let i = 0; i < 5; i++) expect((await admit(s, S + 999)).admitted).toBe(true);
    const next = await admit(s, S + 1_001);
    expect(next.admitted).toBe(false);
    // retry when the burst is a minute old: S + 999 ms + 60 s
    expect(next.exceeded[0]!.retryAt!.getTime()).toBe(S + 60_999);
    // still refused until then (any 60 s span holds at most 5)
    expect((await admit(s, S + 60_500)).admitted).toBe(false);
    expect((await admit(s, S + 60_998)).admitted).toBe(false);
    // once every admitted request is a full minute old, it admits again
    const later = await admit(s, S + 60_999);
    expect(later.admitted).toBe(true);
    expect(later.tightest).toMatchObject({ used: 1, remaining: 4 });
  });

  it('decisions taken out of timestamp order (two processes, one lock) still see each other', async () => {
    const s = subject({ perMinute: 3 });
    for (let i = 0; i < 3; i++) expect((await admit(s, S + 1_000)).admitted).toBe(true);
    // stamped a moment earlier by another process, it reaches the lock after them: slot S+1 counts
    const late = await admit(s, S + 999);
    expect(late.admitted).toBe(false);
    expect(late.exceeded[0]).toMatchObject({ used: 3, remaining: 0 });
  });

  it('the rolling window frees capacity as its requests leave it', async () => {
    const s = subject({ perMinute: 3 });
    expect((await admit(s, S + 100)).admitted).toBe(true); // slot S
    expect((await admit(s, S + 10_100)).admitted).toBe(true); // slot S+10
    expect((await admit(s, S + 20_100)).admitted).toBe(true); // slot S+20
    const full = await admit(s, S + 30_100);
    expect(full.admitted).toBe(false);
    expect(full.exceeded[0]!.retryAt!.getTime()).toBe(S + 60_100);
    expect((await admit(s, S + 60_100)).admitted).toBe(true); // the first request left: one place
    expect((await admit(s, S + 61_500)).admitted).toBe(false);
    expect((await admit(s, S + 70_100)).admitted).toBe(true); // the second one left
  });

  it('a rolling hour: a slot counts until its latest request is an hour old, never longer', async () => {
    const s = subject({ perHour: 2 });
    const M = Math.ceil(S / 60_000) * 60_000; // a minute boundary: both requests share one slot
    expect((await admit(s, M)).admitted).toBe(true);
    expect((await admit(s, M + 1_000)).admitted).toBe(true);
    const soon = await admit(s, M + 2_000);
    expect(soon.admitted).toBe(false);
    expect(soon.exceeded[0]).toMatchObject({ scope: 'key', period: 'hour' });
    // the slot frees when its latest request (M + 1 s) is an hour old: 3599 s from now, not 3658 s
    expect(soon.exceeded[0]!.retryAt!.getTime()).toBe(M + 3_601_000);
    expect((await admit(s, M + 59 * 60_000)).admitted).toBe(false);
    expect((await admit(s, M + 3_600_999)).admitted).toBe(false);
    expect((await admit(s, M + 3_601_000)).admitted).toBe(true);
  });

  it('a request refused right after the one that filled the window waits exactly one window', async () => {
    const minute = subject({ perMinute: 1 });
    const hour = subject({ perHour: 1 });
    const M = Math.ceil(S / 60_000) * 60_000 + 60_000;
    for (const s of [minute, hour]) expect((await admit(s, M)).admitted).toBe(true);
    const m = await admit(minute, M + 1);
    const h = await admit(hour, M + 1);
    expect(m.exceeded[0]!.retryAt!.getTime() - (M + 1)).toBe(59_999);
    expect(h.exceeded[0]!.retryAt!.getTime() - (M + 1)).toBe(3_599_999);
  });

  it('the UTC day resets at midnight', async () => {
    const s = subject({ perDay: 3 });
    const midnight = Math.ceil(S / 86_400_000) * 86_400_000 + 86_400_000;
    for (let i = 0; i < 3; i++) expect((await admit(s, midnight - 1_000)).admitted).toBe(true);
    const refused = await admit(s, midnight - 500);
    expect(refused.admitted).toBe(false);
    expect(refused.exceeded[0]!.retryAt!.getTime()).toBe(midnight);
    expect(refused.tightest!.resetAt.getTime()).toBe(midnight);
    const after = await admit(s, midnight + 1);
    expect(after.admitted).toBe(true);
    expect(after.tightest).toMatchObject({ period: 'day', used: 1, remaining: 2 });
  });

  it('all windows or none: a request refused by one window increments no other', async () => {
    const s = subject({ perMinute: 2 }, { perMinute: 3 });
    const b: LimitSubject = { ...s, keyId: `key_t${randomUUID()}`, keyLimits: {} };
    const seq = [];
    for (const who of [s, s, s, s, b, b]) seq.push((await admit(who, S + 200)).admitted);
    expect(seq).toEqual([true, true, false, false, true, false]);
  });

  it('a store that does not answer in time is an error (the caller applies RATE_LIMIT_FAIL_MODE)', async () => {
    const s = subject({ perMinute: 5 });
    const holder = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
    try {
      await holder`SELECT pg_advisory_lock(7272, hashtext(${s.orgId}))`;
      await expect(checkRateLimit(sql, s, at(S), 200)).rejects.toBeInstanceOf(RateLimitStoreError);
      await holder`SELECT pg_advisory_unlock(7272, hashtext(${s.orgId}))`;
    } finally {
      await holder.end();
    }
    const down = postgres('postgres://nobody:x@127.0.0.1:1/none', { max: 1, connect_timeout: 1 });
    await expect(checkRateLimit(down, s, at(S), 2_000)).rejects.toBeInstanceOf(RateLimitStoreError);
    await down.end();
  });

  it('any other store error is not "unavailable": it is rethrown as is (the caller must not fail open)', async () => {
    const s = subject({ perMinute: 1.5 }); // no int4 takes it: 22P02, with the store up
    const err = await checkRateLimit(sql, s, at(S), 2_000).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(RateLimitStoreError);
    expect(err).toMatchObject({ code: '22P02' });
  });

  it('a limit above what the counters hold is clamped, not an error that switches every limit off', async () => {
    const s = subject({ perMinute: 2 }, { perDay: 3_000_000_000 });
    const seq = [];
    for (let i = 0; i < 3; i++) seq.push((await admit(s, S + 300)).admitted);
    expect(seq).toEqual([true, true, false]);
  });
});

/** Leases (migration 009) against the real Postgres with an injected clock. */
describe('takePermits: leased permits', () => {
  const subject = (limits: LimitSubject['keyLimits']): LimitSubject => ({
    keyId: `key_l${randomUUID()}`,
    keyLimits: limits,
    orgId: `org_l${randomUUID()}`,
    plan: 'enterprise',
    overrides: {},
  });
  const at = (ms: number) => new Date(ms);
  const S = Math.floor(Date.now() / 1000) * 1000 + 20 * 86_400_000;
  const lease = (s: LimitSubject, t: number, want: number, share = 1, returned?: PermitRequest['returned']) =>
    takePermits(
      sql,
      { lock: s.orgId, windows: windowsFor(s), now: at(t), want, share, ...(returned ? { returned } : {}) },
      5_000,
    );
  const admit = (s: LimitSubject, t: number) => checkRateLimit(sql, s, at(t), 5_000);

  it("a lease's permits count a full window after the lease ends (the end of its second), wherever they are spent", async () => {
    const s = subject({ perMinute: 10 });
    const d = await lease(s, S + 200, 10);
    expect(d.granted).toBe(10);
    expect(d.tightest).toMatchObject({ used: 10, remaining: 0 });
    // a permit may be spent until S + 1 s: the window holds it until S + 61 s, not S + 60.2 s
    const refused = await admit(s, S + 60_500);
    expect(refused.admitted).toBe(false);
    expect((await admit(s, S + 60_999)).admitted).toBe(false);
    expect((await admit(s, S + 61_000)).admitted).toBe(true);
  });

  it('a single permit counts from its decision, exactly as before leases', async () => {
    const s = subject({ perMinute: 1 });
    expect((await lease(s, S + 200, 1)).granted).toBe(1);
    expect((await admit(s, S + 60_199)).admitted).toBe(false);
    expect((await admit(s, S + 60_200)).admitted).toBe(true);
  });

  it('a lease takes at most 1/share of the tightest room (at least one), then nothing once full', async () => {
    const s = subject({ perMinute: 20, perHour: 1_000 });
    const grants = [];
    for (let i = 0; i < 12; i++) grants.push((await lease(s, S + 300, 100, 4)).granted);
    expect(grants).toEqual([5, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 0]);
    const full = await lease(s, S + 300, 100, 4);
    expect(full.admitted).toBe(false);
    expect(full.exceeded.map((w) => [w.period, w.used])).toEqual([['minute', 20]]);
    // all windows or none: the hour counted exactly what the minute granted
    const [hour] = await sql<{ n: number }[]>`
      SELECT coalesce(sum(count), 0)::int AS n FROM rate_limit_counters WHERE bucket = ${`k:${s.keyId}:hour`}`;
    expect(hour!.n).toBe(20);
  });

  it('unspent permits of the previous lease go back first, in the same statement', async () => {
    const s = subject({ perMinute: 10 });
    const first = await lease(s, S + 400, 10);
    expect(first.granted).toBe(10);
    // 3 spent; the lease ended with 7 unspent: the next statement gives them back, then takes one
    const next = await lease(s, S + 1_100, 1, 1, { count: 7, slotStarts: first.slotStarts });
    expect(next.granted).toBe(1);
    expect(next.tightest).toMatchObject({ used: 4, remaining: 6 });
  });

  it('returnPermits gives back many leases (several organizations) in one statement', async () => {
    const s1 = subject({ perMinute: 10 });
    const s2 = subject({ perMinute: 10 });
    const l1 = await lease(s1, S + 500, 10);
    const l2 = await lease(s2, S + 500, 6);
    const back = (s: LimitSubject, l: PermitDecision, count: number) =>
      windowsFor(s).map((w, i) => ({ lock: s.orgId, bucket: w.bucket, slotStart: l.slotStarts[i]!, count }));
    await returnPermits(sql, [...back(s1, l1, 8), ...back(s2, l2, 6)], 5_000);
    expect((await lease(s1, S + 700, 1)).tightest).toMatchObject({ used: 3, remaining: 7 });
    expect((await lease(s2, S + 700, 1)).tightest).toMatchObject({ used: 1, remaining: 9 });
  });
});

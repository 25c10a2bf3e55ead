import type { Sql } from '@promptmill/infra/db';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AppError } from '../http/app-error.ts';
import { createApiMetrics } from '../http/metrics.ts';
import { createGlobalBreaker } from './global-breaker.ts';
import { createRateLimiter, type LimitDecision } from './limiter.ts';
import { createRefusalCache } from './refusal-cache.ts';
import type { UsageRecorder } from './usage-recorder.ts';
import type { LimitSubject } from './windows.ts';

const now = new Date('2026-11-23T10:00:00.000Z');
const at = (ms: number) => new Date(now.getTime() + ms);
const subject: LimitSubject = {
  keyId: 'key_a',
  keyLimits: { perMinute: 1 },
  orgId: 'org_a',
  plan: 'pro',
  overrides: {},
};

/** A counter store that answers every admission with `answer()` (rows per window: key minute, org minute, org day). */
function fakeStore(answer: () => 'admit' | 'refuse' | Error) {
  const calls = { n: 0 };
  const sql = (() => {
    calls.n += 1;
    const a = answer();
    if (a instanceof Error) return Promise.reject(a);
    const granted = a === 'admit' ? 1 : 0;
    return Promise.resolve([
      { used: 1, reset_at: at(60_000), retry_at: granted ? null : at(60_000), granted },
      { used: 1, reset_at: at(60_000), retry_at: null, granted },
      { used: 1, reset_at: at(86_400_000), retry_at: null, granted },
    ]);
  }) as unknown as Sql;
  return { sql, calls };
}

function setup(answer: () => 'admit' | 'refuse' | Error, failMode: 'open' | 'closed' = 'open') {
  const store = fakeStore(answer);
  const breaker = createGlobalBreaker(2, () => 0);
  const metrics = createApiMetrics();
  const recorded: string[] = [];
  const usage = {
    recordUse: () => recorded.push('use'),
    recordLimited: (_k: string, _at: Date, until: Date) =>
      recorded.push(`limited until ${until.toISOString()}`),
  } as unknown as UsageRecorder;
  const logged: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => logged.push(l) });
  const limiter = createRateLimiter({
    sql: store.sql,
    enabled: true,
    failMode,
    timeoutMs: 1_000,
    maxLease: 1,
    sweepIntervalMs: 0,
    breaker,
    refusals: createRefusalCache(),
    usage,
    metrics,
    logger,
  });
  const decisions = async () =>
    (await metrics.rateLimitDecisions.get()).values.map((v) => [v.labels.result, v.value]);
  return { limiter, store, breaker, recorded, logged, decisions };
}

const outcome = (d: LimitDecision) => d.outcome;

describe('rate limiter decisions', () => {
  it('a refusal by the store gives its breaker token back and is then answered from memory until its retry time', async () => {
    const s = setup(() => 'refuse');
    const first = await s.limiter.decide(subject, now);
    expect(first).toMatchObject({ outcome: 'refused', known: false, retryAt: at(60_000) });
    expect(s.store.calls.n).toBe(1);
    for (let i = 0; i < 50; i++) {
      expect(await s.limiter.decide(subject, at(1_000))).toMatchObject({ outcome: 'refused', known: true });
    }
    expect(s.store.calls.n).toBe(1); // no round trip for a known answer
    // the breaker still holds both of its tokens
    expect([s.breaker.take().ok, s.breaker.take().ok, s.breaker.take().ok]).toEqual([true, true, false]);
    s.breaker.refund();
    s.breaker.refund();
    // at the retry time the store decides again
    expect(outcome(await s.limiter.decide(subject, at(60_000)))).toBe('refused');
    expect(s.store.calls.n).toBe(2);
    expect(s.recorded[0]).toBe(`limited until ${at(60_000).toISOString()}`);
  });

  it('another tenant is unaffected by a refused flood: its requests still find breaker tokens', async () => {
    let refuse = true;
    const s = setup(() => (refuse ? 'refuse' : 'admit'));
    for (let i = 0; i < 20; i++) await s.limiter.decide(subject, now);
    refuse = false;
    const other = { ...subject, keyId: 'key_b', keyLimits: {}, orgId: 'org_b' };
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(outcome(await s.limiter.decide(other, now)));
    expect(outcomes).toEqual(['admitted', 'admitted', 'overloaded']); // the breaker's 2, then the breaker
  });

  it('an error that is not an outage refuses with 500 (logged), never admits, and spends no token', async () => {
    const s = setup(() =>
      Object.assign(new Error('value "3000000000" is out of range for type integer'), { code: '22003' }),
    );
    const err = await s.limiter.decide(subject, now).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'INTERNAL_ERROR', status: 500, message: 'Internal server error' });
    expect(s.recorded).toEqual([]);
    expect(s.logged.join('')).toContain('rate-limit decision failed');
    expect(await s.decisions()).toEqual([['error', 1]]);
    expect([s.breaker.take().ok, s.breaker.take().ok]).toEqual([true, true]);
  });

  it('an outage follows RATE_LIMIT_FAIL_MODE: open admits (no headers), closed refuses with 503', async () => {
    const down = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const open = setup(down, 'open');
    expect(await open.limiter.decide(subject, now)).toEqual({
      outcome: 'admitted',
      windows: expect.any(Array),
      tightest: undefined,
    });
    expect(await open.decisions()).toEqual([['error_open', 1]]);
    const closed = setup(down, 'closed');
    expect(outcome(await closed.limiter.decide(subject, now))).toBe('unavailable');
    expect(await closed.decisions()).toEqual([['error_closed', 1]]);
    expect([closed.breaker.take().ok, closed.breaker.take().ok]).toEqual([true, true]);
  });
});

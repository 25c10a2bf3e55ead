import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  counterWindow,
  effectiveOrgLimits,
  type LimitWindow,
  leaseEnd,
  MAX_REQUEST_LIMIT,
  PERIODS,
  type Period,
  rateLimitsBody,
  secondsUntil,
  tightestWindow,
  windowState,
  windowsFor,
} from './windows.ts';

const subject = {
  keyId: 'key_1',
  orgId: 'org_1',
  plan: 'pro' as const,
  overrides: {},
};

describe('windowsFor', () => {
  it('always has the org minute and day windows; key windows only when set', () => {
    expect(windowsFor({ ...subject, keyLimits: {} })).toEqual([
      { scope: 'org', period: 'minute', limit: 60, bucket: 'o:org_1:minute' },
      { scope: 'org', period: 'day', limit: 10_000, bucket: 'o:org_1:day' },
    ]);
    const all = windowsFor({ ...subject, keyLimits: { perMinute: 5, perHour: 50, perDay: 500 } });
    expect(all.map((w) => w.bucket)).toEqual([
      'k:key_1:minute',
      'k:key_1:hour',
      'k:key_1:day',
      'o:org_1:minute',
      'o:org_1:day',
    ]);
  });

  it('org overrides replace the plan values one by one', () => {
    expect(effectiveOrgLimits('team', { perDay: 7 })).toEqual({ perMinute: 300, perDay: 7 });
    expect(effectiveOrgLimits('enterprise', {})).toEqual({ perMinute: 1_000, perDay: 1_000_000 });
    expect(effectiveOrgLimits('free', { perMinute: 1 }).perMinute).toBe(1);
  });

  it('rateLimitsBody is the tighter limit per period, null when none', () => {
    const windows = windowsFor({ ...subject, keyLimits: { perMinute: 100, perDay: 20 } });
    expect(rateLimitsBody(windows)).toEqual({
      requestsPerMinute: 60,
      requestsPerHour: null,
      requestsPerDay: 20,
    });
  });
});

describe('counterWindow: slot arithmetic', () => {
  const minute: LimitWindow = { scope: 'key', period: 'minute', limit: 5, bucket: 'b' };
  const hour: LimitWindow = { ...minute, period: 'hour' };
  const day: LimitWindow = { ...minute, period: 'day' };
  const t = Date.UTC(2026, 10, 23, 23, 59, 59, 250);

  it('a minute counts 1 s slots after now − 61 s; the request stops counting 60 s after it was made', () => {
    const w = counterWindow(minute, new Date(t));
    expect(w.slotStart.getTime()).toBe(Date.UTC(2026, 10, 23, 23, 59, 59));
    expect(w.from.getTime()).toBe(t - 61_000);
    expect(w.expiresAt.getTime()).toBe(t + 60_000);
  });

  it('an hour counts 1 min slots; the request stops counting an hour after it was made', () => {
    const w = counterWindow(hour, new Date(t));
    expect(w.slotStart.getTime()).toBe(Date.UTC(2026, 10, 23, 23, 59));
    expect(w.from.getTime()).toBe(t - 3_660_000);
    expect(w.expiresAt.getTime()).toBe(t + 3_600_000);
  });

  it('a day is the UTC calendar day: one slot from midnight, counted until the next midnight', () => {
    const w = counterWindow(day, new Date(t));
    expect(w.slotStart.toISOString()).toBe('2026-11-23T00:00:00.000Z');
    expect(w.expiresAt.toISOString()).toBe('2026-11-24T00:00:00.000Z');
    // only the current day's slot is after `from`
    expect(w.from.getTime()).toBeGreaterThan(w.slotStart.getTime() - 86_400_000);
    expect(w.from.getTime()).toBeLessThanOrEqual(w.slotStart.getTime());
  });
});

describe('leases: until when permits may be spent, and how long they count', () => {
  const t = Date.UTC(2026, 10, 23, 23, 59, 59, 250);
  const w = (period: Period): LimitWindow => ({ scope: 'key', period, limit: 5, bucket: 'b' });

  it('a lease ends with the current second; its permits count a full window after that', () => {
    expect(leaseEnd(new Date(t)).getTime()).toBe(t + 750);
    expect(leaseEnd(new Date(t - 250)).getTime()).toBe(t + 750); // a second's first instant: to its end
    expect(counterWindow(w('minute'), new Date(t)).leaseExpiresAt.getTime()).toBe(t + 750 + 60_000);
    expect(counterWindow(w('hour'), new Date(t)).leaseExpiresAt.getTime()).toBe(t + 750 + 3_600_000);
    // the last second of a UTC day: its permits count until midnight, like any request of that day
    expect(counterWindow(w('day'), new Date(t)).leaseExpiresAt.toISOString()).toBe(
      '2026-11-24T00:00:00.000Z',
    );
  });

  it('every slot a lease stamps is still in the index range until it stops counting (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Period>('minute', 'hour'),
        fc.integer({ min: 0, max: 4e12 }),
        (period, now) => {
          const c = counterWindow(w(period), new Date(now));
          // at the last instant the slot counts, `from` (now' − window − slot) is still before the slot
          const last = c.leaseExpiresAt.getTime() - 1;
          const fromThen = counterWindow(w(period), new Date(last)).from.getTime();
          expect(c.slotStart.getTime()).toBeGreaterThan(fromThen);
          expect(leaseEnd(new Date(now)).getTime()).toBeLessThanOrEqual(
            c.slotStart.getTime() + PERIODS[period].slotMs,
          );
        },
      ),
    );
  });
});

describe('windowState and the headers window', () => {
  const now = new Date(Date.UTC(2026, 0, 1, 12, 0, 30));
  const w: LimitWindow = { scope: 'key', period: 'minute', limit: 3, bucket: 'b' };

  it('reset is the earliest counted expiry; retry for a full window is the expiry that frees a place', () => {
    const resetAt = new Date(Date.UTC(2026, 0, 1, 12, 1, 10));
    const retryAt = new Date(Date.UTC(2026, 0, 1, 12, 1, 20));
    const s = windowState(w, { used: 3, resetAt, retryAt }, now);
    expect(s.remaining).toBe(0);
    expect(s.resetAt).toEqual(resetAt);
    expect(s.retryAt).toEqual(retryAt);
    const open = windowState(w, { used: 1, resetAt, retryAt: null }, now);
    expect(open.retryAt).toBeNull();
    expect(open.remaining).toBe(2);
    // an empty window: a request now would stop counting a minute from now
    const empty = windowState(w, { used: 0, resetAt: null, retryAt: null }, now);
    expect(empty.resetAt.toISOString()).toBe('2026-01-01T12:01:30.000Z');
  });

  it('an expiry later than one window from now (a clock ahead of this one) is capped at one window', () => {
    const ahead = new Date(now.getTime() + 60_400);
    const s = windowState(w, { used: 3, resetAt: ahead, retryAt: ahead }, now);
    expect(s.retryAt!.getTime()).toBe(now.getTime() + 60_000);
    expect(s.resetAt.getTime()).toBe(now.getTime() + 60_000);
  });

  it('the tightest window has the fewest remaining, then the smaller limit', () => {
    const mk = (limit: number, used: number, bucket: string) =>
      windowState({ ...w, limit, bucket }, { used, resetAt: null, retryAt: null }, now);
    expect(tightestWindow([mk(100, 10, 'a'), mk(10, 5, 'b'), mk(60, 55, 'c')])?.bucket).toBe('b');
    expect(tightestWindow([mk(100, 95, 'a'), mk(10, 5, 'b')])?.bucket).toBe('b');
    expect(tightestWindow([])).toBeUndefined();
  });

  it('Retry-After is whole seconds, at least 1', () => {
    expect(secondsUntil(new Date(now.getTime() + 1), now)).toBe(1);
    expect(secondsUntil(new Date(now.getTime() + 59_001), now)).toBe(60);
    expect(secondsUntil(new Date(now.getTime() - 5_000), now)).toBe(1);
  });
});

/**
 * Retry-After bounds, for any clock and any requests the store may have counted: what the store returns is
 * an expiry stamped by `counterWindow` at some earlier instant (or a later one, from a clock ahead of this
 * one), and a refusal may never ask for more than the window's length (a day: than the seconds to midnight).
 */
describe('Retry-After bounds (property)', () => {
  const YEARS = 4e12; // ms since the epoch: up to 2096
  const periods = fc.constantFrom<Period>('minute', 'hour', 'day');
  const maxSeconds = (period: Period, now: number) =>
    period === 'day'
      ? Math.ceil((Math.floor(now / 86_400_000 + 1) * 86_400_000 - now) / 1000)
      : PERIODS[period].windowMs / 1000;

  it('never more than the window (a day: the seconds to the next UTC midnight), never less than 1 s', () => {
    fc.assert(
      fc.property(
        periods,
        fc.integer({ min: 0, max: YEARS }),
        fc.array(fc.integer({ min: -3_700_000, max: 5_000 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 5 }),
        (period, now, offsets, limit) => {
          const w: LimitWindow = { scope: 'key', period, limit, bucket: 'b' };
          // the expiries the store holds for requests made around `now` (some by clocks ahead)
          const expiries = offsets
            .map((o) => counterWindow(w, new Date(now + o)).expiresAt.getTime())
            .filter((e) => e > now)
            .sort((a, b) => a - b);
          const used = Math.max(limit, expiries.length);
          const at = (i: number) => new Date(expiries[Math.min(i, expiries.length - 1)] ?? now + 1);
          const s = windowState(w, { used, resetAt: at(0), retryAt: at(used - limit) }, new Date(now));
          const seconds = secondsUntil(s.retryAt!, new Date(now));
          expect(seconds).toBeGreaterThanOrEqual(1);
          expect(seconds).toBeLessThanOrEqual(Math.max(1, maxSeconds(period, now)));
          expect(s.resetAt.getTime()).toBeLessThanOrEqual(s.retryAt!.getTime());
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('a request just made is refused for exactly one window (a day: until midnight)', () => {
    fc.assert(
      fc.property(periods, fc.integer({ min: 0, max: YEARS }), (period, now) => {
        const w: LimitWindow = { scope: 'key', period, limit: 1, bucket: 'b' };
        const expiry = counterWindow(w, new Date(now)).expiresAt;
        const s = windowState(w, { used: 1, resetAt: expiry, retryAt: expiry }, new Date(now));
        expect(s.retryAt!.getTime() - now).toBe(
          period === 'day' ? Math.floor(now / 86_400_000 + 1) * 86_400_000 - now : PERIODS[period].windowMs,
        );
      }),
    );
  });
});

describe('limits above what the counters hold', () => {
  it('are the largest the counters hold (a stored legacy value never breaks the admission)', () => {
    const windows = windowsFor({
      ...subject,
      keyLimits: { perHour: 5e9 },
      overrides: { perMinute: 3_000_000_000, perDay: MAX_REQUEST_LIMIT },
    });
    expect(windows.map((w) => w.limit)).toEqual([MAX_REQUEST_LIMIT, MAX_REQUEST_LIMIT, MAX_REQUEST_LIMIT]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  counterWindow,
  effectiveOrgLimits,
  type LimitWindow,
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

  it('a minute counts 1 s slots after now − 61 s (the straddling slot included)', () => {
    const w = counterWindow(minute, new Date(t));
    expect(w.slotStart.getTime()).toBe(Date.UTC(2026, 10, 23, 23, 59, 59));
    expect(w.from.getTime()).toBe(t - 61_000);
    expect(w.expiresAt.getTime()).toBe(Date.UTC(2026, 10, 24, 0, 1, 0));
  });

  it('an hour counts 1 min slots', () => {
    const w = counterWindow(hour, new Date(t));
    expect(w.slotStart.getTime()).toBe(Date.UTC(2026, 10, 23, 23, 59));
    expect(w.from.getTime()).toBe(t - 3_660_000);
    expect(w.expiresAt.getTime()).toBe(Date.UTC(2026, 10, 24, 1, 0));
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

describe('windowState and the headers window', () => {
  const now = new Date(Date.UTC(2026, 0, 1, 12, 0, 30));
  const w: LimitWindow = { scope: 'key', period: 'minute', limit: 3, bucket: 'b' };

  it('reset is when the oldest counted slot leaves; retry for a full window is its release slot', () => {
    const oldest = new Date(Date.UTC(2026, 0, 1, 12, 0, 10));
    const release = new Date(Date.UTC(2026, 0, 1, 12, 0, 20));
    const s = windowState(w, { used: 3, oldest, release }, now);
    expect(s.remaining).toBe(0);
    expect(s.resetAt.toISOString()).toBe('2026-01-01T12:01:11.000Z');
    expect(s.retryAt!.toISOString()).toBe('2026-01-01T12:01:21.000Z');
    const open = windowState(w, { used: 1, oldest, release: null }, now);
    expect(open.retryAt).toBeNull();
    expect(open.remaining).toBe(2);
    const empty = windowState(w, { used: 0, oldest: null, release: null }, now);
    expect(empty.resetAt.toISOString()).toBe('2026-01-01T12:01:31.000Z');
  });

  it('the tightest window has the fewest remaining, then the smaller limit', () => {
    const mk = (limit: number, used: number, bucket: string) =>
      windowState({ ...w, limit, bucket }, { used, oldest: null, release: null }, now);
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

import { describe, expect, it } from 'vitest';
import { createRefusalCache } from './refusal-cache.ts';
import { type LimitWindow, type WindowState, windowState } from './windows.ts';

const now = new Date('2026-11-23T10:00:00.000Z');
const at = (ms: number) => new Date(now.getTime() + ms);
const minute = (bucket: string, limit = 1): LimitWindow => ({
  scope: 'key',
  period: 'minute',
  limit,
  bucket,
});
const full = (w: LimitWindow, retryInMs: number): WindowState =>
  windowState(w, { used: w.limit, resetAt: at(retryInMs), retryAt: at(retryInMs) }, now);

describe('refusal cache (known refusals, per process)', () => {
  it('refuses a window until its retry time, then asks the store again', () => {
    const cache = createRefusalCache();
    cache.remember([full(minute('k:a:minute'), 30_000)], now);
    expect(cache.refusing([minute('k:a:minute'), minute('o:x:minute', 60)], at(29_999))).toHaveLength(1);
    expect(cache.refusing([minute('k:a:minute')], at(30_000))).toEqual([]);
    expect(cache.size).toBe(0);
  });

  it('with maxHoldMs (permit leases), remembers a refusal at most that long, then asks the store again', () => {
    const cache = createRefusalCache({ maxHoldMs: 1_000 });
    cache.remember([full(minute('k:a:minute'), 30_000), full(minute('k:b:minute'), 400)], now);
    expect(cache.refusing([minute('k:a:minute')], at(999))).toHaveLength(1);
    expect(cache.refusing([minute('k:a:minute')], at(1_000))).toEqual([]);
    expect(cache.refusing([minute('k:b:minute')], at(400))).toEqual([]); // its retry time came first
    // the refusal itself still carries its own retry time (the 429's Retry-After)
    cache.remember([full(minute('k:a:minute'), 30_000)], at(1_000));
    expect(cache.refusing([minute('k:a:minute')], at(1_500))[0]!.retryAt).toEqual(at(30_000));
  });

  it('applies only to the limit it was recorded with (a raised limit goes to the store at once)', () => {
    const cache = createRefusalCache();
    cache.remember([full(minute('k:a:minute', 1), 30_000)], now);
    expect(cache.refusing([minute('k:a:minute', 5)], at(1))).toEqual([]);
    expect(cache.refusing([minute('k:a:minute', 1)], at(1))).toHaveLength(1);
  });

  it('forgets a refusal that reaches further than one window from now (the clock was set back)', () => {
    const cache = createRefusalCache();
    cache.remember([full(minute('k:a:minute'), 30_000)], now);
    expect(cache.refusing([minute('k:a:minute')], at(-40_000))).toEqual([]);
    expect(cache.size).toBe(0);
  });

  it('knows every refusing window of a request, each until its own time', () => {
    const cache = createRefusalCache();
    const key = minute('k:a:minute');
    const org: LimitWindow = { scope: 'org', period: 'day', limit: 10, bucket: 'o:x:day' };
    cache.remember([full(key, 10_000), full(org, 3_600_000)], now);
    expect(cache.refusing([key, org], at(5_000)).map((s) => s.bucket)).toEqual(['k:a:minute', 'o:x:day']);
    expect(cache.refusing([key, org], at(20_000)).map((s) => s.bucket)).toEqual(['o:x:day']);
  });

  it('stays bounded: past its size it forgets expired entries first, then the oldest', () => {
    const cache = createRefusalCache({ maxEntries: 3 });
    cache.remember([full(minute('a'), 1_000), full(minute('b'), 60_000), full(minute('c'), 60_000)], now);
    cache.remember([full(minute('d'), 60_000)], at(2_000)); // 'a' has expired: it goes
    expect(cache.size).toBe(3);
    expect(
      cache.refusing(
        ['b', 'c', 'd'].map((b) => minute(b)),
        at(2_000),
      ),
    ).toHaveLength(3);
    cache.remember([full(minute('e'), 60_000)], at(2_000)); // none expired: the oldest ('b') goes
    expect(
      cache
        .refusing(
          ['b', 'c', 'd', 'e'].map((b) => minute(b)),
          at(2_000),
        )
        .map((s) => s.bucket),
    ).toEqual(['c', 'd', 'e']);
  });
});

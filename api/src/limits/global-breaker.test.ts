import { describe, expect, it } from 'vitest';
import { createGlobalBreaker } from './global-breaker.ts';

describe('global breaker (token bucket)', () => {
  it('admits a burst up to the per-minute figure, then refills at that rate', () => {
    let t = 0;
    const breaker = createGlobalBreaker(60, () => t);
    for (let i = 0; i < 60; i++) expect(breaker.take().ok).toBe(true);
    const refused = breaker.take();
    expect(refused).toEqual({ ok: false, retryInMs: 1000 });
    t += 999;
    expect(breaker.take().ok).toBe(false);
    t += 1;
    expect(breaker.take().ok).toBe(true);
    t += 10 * 60_000; // never more than the bucket holds
    for (let i = 0; i < 60; i++) expect(breaker.take().ok).toBe(true);
    expect(breaker.take().ok).toBe(false);
  });

  it('a refund gives a token back, never beyond the bucket', () => {
    const t = 0;
    const breaker = createGlobalBreaker(2, () => t);
    expect(breaker.take().ok).toBe(true);
    expect(breaker.take().ok).toBe(true);
    expect(breaker.take().ok).toBe(false);
    breaker.refund();
    expect(breaker.take().ok).toBe(true);
    breaker.refund();
    breaker.refund();
    breaker.refund();
    expect(breaker.take().ok).toBe(true);
    expect(breaker.take().ok).toBe(true);
    expect(breaker.take().ok).toBe(false);
  });

  it('0 turns it off', () => {
    const breaker = createGlobalBreaker(0, () => 0);
    for (let i = 0; i < 1000; i++) expect(breaker.take().ok).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { addressKey, authFailuresError, createAuthFailureLimiter } from './auth-failures.ts';

describe('failed-authentication budget per client address', () => {
  it('N failures per minute; then blocked until a failure has refilled (1 per 60/N s)', () => {
    let t = 0;
    const limiter = createAuthFailureLimiter(5, { monotonicMs: () => t });
    for (let i = 0; i < 5; i++) {
      expect(limiter.blocked('203.0.113.7')).toBeUndefined();
      limiter.recordFailure('203.0.113.7');
    }
    expect(limiter.blocked('203.0.113.7')).toEqual({ retryInMs: 12_000 });
    expect(limiter.blocked('203.0.113.8')).toBeUndefined();
    t += 11_999;
    expect(limiter.blocked('203.0.113.7')).toBeDefined();
    t += 1;
    expect(limiter.blocked('203.0.113.7')).toBeUndefined();
    limiter.recordFailure('203.0.113.7');
    expect(limiter.blocked('203.0.113.7')).toEqual({ retryInMs: 12_000 });
  });

  it('0 turns it off', () => {
    const limiter = createAuthFailureLimiter(0, { monotonicMs: () => 0 });
    for (let i = 0; i < 100; i++) limiter.recordFailure('a');
    expect(limiter.blocked('a')).toBeUndefined();
  });

  it('stays bounded: addresses whose budget is whole again are forgotten first', () => {
    let t = 0;
    const limiter = createAuthFailureLimiter(1, { maxAddresses: 2, monotonicMs: () => t });
    limiter.recordFailure('a');
    t += 60_000; // 'a' is whole again
    limiter.recordFailure('b');
    limiter.recordFailure('c'); // 'a' is dropped, 'b' stays blocked
    expect(limiter.blocked('b')).toBeDefined();
    expect(limiter.blocked('c')).toBeDefined();
    limiter.recordFailure('d'); // nothing is whole: the oldest ('b') is dropped
    expect(limiter.blocked('b')).toBeUndefined();
    expect(limiter.blocked('d')).toBeDefined();
  });

  it('counts IPv4-mapped addresses as IPv4 and IPv6 by /64', () => {
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    const limiter = createAuthFailureLimiter(1, { monotonicMs: () => 0 });
    limiter.recordFailure('2001:db8:1:2::a');
    expect(limiter.blocked('2001:db8:1:2::b')).toBeDefined();
    expect(limiter.blocked('2001:db8:1:3::a')).toBeUndefined();
  });

  it('its 429 says why, with Retry-After in whole seconds', () => {
    const err = authFailuresError(createAuthFailureLimiter(30), 1_500);
    expect(err).toMatchObject({
      code: 'RATE_LIMITED',
      status: 429,
      headers: { 'Retry-After': '2' },
      extra: { retryAfter: 2 },
      details: [
        {
          field: 'authentication',
          message: 'Limit of 30 failed authentications per minute per client address reached',
        },
      ],
    });
  });
});

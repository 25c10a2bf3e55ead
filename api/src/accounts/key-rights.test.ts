import { describe, expect, it } from 'vitest';
import { type KeyRights, rightsExceeded } from './key-rights.ts';

const unrestricted: KeyRights = {
  scopes: ['admin'],
  promptIds: null,
  rateLimits: {},
  allowedOrigins: null,
  expiresAt: null,
};
const at = (iso: string) => new Date(iso);
const key = (over: Partial<KeyRights>): KeyRights => ({ ...unrestricted, ...over });

describe('rightsExceeded: a key grants and manages at most what it has', () => {
  it('an unrestricted admin key holds everything', () => {
    const narrow = key({
      scopes: ['prompts:read'],
      promptIds: ['pmt_a'],
      rateLimits: { perMinute: 1 },
      allowedOrigins: ['https://a.example'],
      expiresAt: at('2027-01-01T00:00:00Z'),
    });
    expect(rightsExceeded(unrestricted, narrow)).toEqual([]);
    expect(rightsExceeded(unrestricted, unrestricted)).toEqual([]);
  });

  it('scopes and prompts: subsets only', () => {
    const holder = key({ scopes: ['keys:write', 'prompts:read'], promptIds: ['pmt_a', 'pmt_b'] });
    expect(rightsExceeded(holder, key({ scopes: ['prompts:read'], promptIds: ['pmt_b'] }))).toEqual([]);
    expect(rightsExceeded(holder, key({ scopes: ['admin', 'runs:read'], promptIds: ['pmt_a'] }))).toEqual([
      'scopes (admin, runs:read)',
    ]);
    expect(rightsExceeded(holder, key({ scopes: ['prompts:read'], promptIds: null }))).toEqual([
      'promptIds (only prompts this key may use)',
    ]);
    expect(rightsExceeded(holder, key({ scopes: ['prompts:read'], promptIds: ['pmt_c'] }))).toHaveLength(1);
  });

  it('rate limits: every window the holder limits, at most its value; other windows are free', () => {
    const holder = key({ rateLimits: { perMinute: 50, perDay: 1000 } });
    expect(rightsExceeded(holder, key({ rateLimits: { perMinute: 50, perDay: 1000 } }))).toEqual([]);
    expect(rightsExceeded(holder, key({ rateLimits: { perMinute: 1, perHour: 9, perDay: 2 } }))).toEqual([]);
    expect(rightsExceeded(holder, key({ rateLimits: {} }))).toEqual([
      'rateLimits.perMinute (at most 50)',
      'rateLimits.perDay (at most 1000)',
    ]);
    expect(rightsExceeded(holder, key({ rateLimits: { perMinute: 51, perDay: 1000 } }))).toEqual([
      'rateLimits.perMinute (at most 50)',
    ]);
  });

  it('expiry: a holder that expires grants nothing that outlives it', () => {
    const holder = key({ expiresAt: at('2027-01-01T00:00:00Z') });
    expect(rightsExceeded(holder, key({ expiresAt: at('2026-12-31T00:00:00Z') }))).toEqual([]);
    expect(rightsExceeded(holder, key({ expiresAt: at('2027-01-01T00:00:00Z') }))).toEqual([]);
    expect(rightsExceeded(holder, key({ expiresAt: null }))).toEqual([
      'expiresIn (no later than 2027-01-01T00:00:00.000Z)',
    ]);
    expect(rightsExceeded(holder, key({ expiresAt: at('2027-01-01T00:00:01Z') }))).toHaveLength(1);
  });

  it('origins: a holder with a list grants only origins on it; null (any origin) is wider', () => {
    const holder = key({ allowedOrigins: ['https://a.example', 'https://b.example'] });
    expect(rightsExceeded(holder, key({ allowedOrigins: ['https://b.example'] }))).toEqual([]);
    expect(rightsExceeded(holder, key({ allowedOrigins: null }))).toEqual([
      'allowedOrigins (only https://a.example, https://b.example)',
    ]);
    expect(rightsExceeded(holder, key({ allowedOrigins: ['https://c.example'] }))).toHaveLength(1);
  });
});

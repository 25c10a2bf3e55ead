import type { KeyRow } from '@promptmill/infra/db';
import { describe, expect, it } from 'vitest';
import { AppError } from '../http/app-error.ts';
import { createKeySchema, keyStatus, resolveExpiry, toKeyView } from './keys.ts';

const now = new Date('2026-11-23T12:00:00.000Z');
const row = (over: Partial<KeyRow> = {}): KeyRow => ({
  id: 'key_1',
  orgId: 'org_1',
  ownerMemberId: 'mbr_1',
  name: 'k',
  summary: 'pm_live_abcd...wxyz',
  scopes: ['admin'],
  promptIds: null,
  rateLimits: {},
  allowedOrigins: null,
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
  lastLimitedAt: null,
  limitedUntil: null,
  usageCount: 0,
  previousExpiresAt: null,
  createdAt: now,
  ...over,
});

describe('key status', () => {
  it('revoked > expired > rate_limited (while its last refusal holds) > active', () => {
    const past = new Date(now.getTime() - 1000);
    const at = (ms: number) => new Date(now.getTime() + ms);
    expect(keyStatus(row(), now)).toBe('active');
    // refused 10 minutes ago by a daily limit that holds until midnight: still rate_limited
    const daily = { lastLimitedAt: at(-600_000), limitedUntil: at(12 * 3_600_000) };
    expect(keyStatus(row(daily), now)).toBe('rate_limited');
    expect(keyStatus(row({ ...daily, lastUsedAt: at(-700_000) }), now)).toBe('rate_limited');
    // the refusal is over, or a request was admitted after it (the limit was raised)
    expect(keyStatus(row({ lastLimitedAt: at(-59_000), limitedUntil: at(-1) }), now)).toBe('active');
    expect(keyStatus(row({ ...daily, lastUsedAt: at(-1_000) }), now)).toBe('active');
    expect(keyStatus(row({ expiresAt: now, ...daily }), now)).toBe('expired');
    expect(keyStatus(row({ expiresAt: past, revokedAt: past }), now)).toBe('revoked');
  });

  it('the view shows a grace period only while it lasts', () => {
    expect(toKeyView(row({ previousExpiresAt: new Date(now.getTime() + 5) }), now).previousKeyExpiresAt).toBe(
      '2026-11-23T12:00:00.005Z',
    );
    expect(toKeyView(row({ previousExpiresAt: now }), now).previousKeyExpiresAt).toBeNull();
  });
});

describe('expiresIn', () => {
  it('never, 30d, 90d, a date or a date-time in the future', () => {
    expect(resolveExpiry('never', now)).toBeNull();
    expect(resolveExpiry('30d', now)?.toISOString()).toBe('2026-12-23T12:00:00.000Z');
    expect(resolveExpiry('90d', now)?.toISOString()).toBe('2027-02-21T12:00:00.000Z');
    expect(resolveExpiry('2027-01-01', now)?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(resolveExpiry('2027-01-01T10:00:00+02:00', now)?.toISOString()).toBe('2027-01-01T08:00:00.000Z');
    expect(() => resolveExpiry('2026-11-23T11:59:59Z', now)).toThrow(AppError);
  });

  it('the schema refuses other spellings', () => {
    for (const expiresIn of ['7d', '30', 'tomorrow', '']) {
      expect(createKeySchema.safeParse({ name: 'x', expiresIn }).success).toBe(false);
    }
    // left out, expiry, limits and origins are the calling key's (createKey), never wider ones
    expect(createKeySchema.parse({ name: 'x' })).toEqual({ name: 'x' });
  });
});

import { describe, expect, it } from 'vitest';
import { isAdminToken } from './admin.routes.ts';

describe('isAdminToken', () => {
  const token = 'operator-token-0123456789';
  it('only the whole token matches: prefixes, extensions, other lengths and cases do not', () => {
    expect(isAdminToken(token, token)).toBe(true);
    for (const given of ['', 't', token.slice(0, -1), `${token}x`, token.toUpperCase(), 'x'.repeat(10_000)]) {
      expect(isAdminToken(given, token), given.slice(0, 30)).toBe(false);
    }
  });
});

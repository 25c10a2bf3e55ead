import { describe, expect, it } from 'vitest';
import { runCacheKey } from './run-cache.ts';

describe('runCacheKey', () => {
  const v1 = { id: 'ver_1', params: { temperature: 0, maxTokens: 100 } };

  it('is stable whatever the key order of variables and params', () => {
    const a = runCacheKey(v1, { a: 1, b: { c: 2, d: 3 } });
    expect(
      runCacheKey({ id: 'ver_1', params: { maxTokens: 100, temperature: 0 } }, { b: { d: 3, c: 2 }, a: 1 }),
    ).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs when the version, a variable or a param differs', () => {
    const a = runCacheKey(v1, { a: 1 });
    expect(runCacheKey({ ...v1, id: 'ver_2' }, { a: 1 })).not.toBe(a);
    expect(runCacheKey(v1, { a: 2 })).not.toBe(a);
    expect(runCacheKey(v1, { a: '1' })).not.toBe(a);
    expect(runCacheKey(v1, {})).not.toBe(a);
    expect(runCacheKey({ ...v1, params: { temperature: 1, maxTokens: 100 } }, { a: 1 })).not.toBe(a);
  });
});

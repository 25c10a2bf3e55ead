import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, isWellFormedApiKey, summarizeApiKey } from './api-key.ts';

describe('API key material', () => {
  it('pm_live_ + 64 lowercase hex; only the SHA-256 and a summary leave this function', () => {
    const k = generateApiKey();
    expect(k.plaintext).toMatch(/^pm_live_[0-9a-f]{64}$/);
    expect(isWellFormedApiKey(k.plaintext)).toBe(true);
    expect(k.hash.equals(createHash('sha256').update(k.plaintext).digest())).toBe(true);
    expect(hashApiKey(k.plaintext).equals(k.hash)).toBe(true);
    expect(k.summary).toBe(`pm_live_${k.plaintext.slice(8, 12)}...${k.plaintext.slice(-4)}`);
    expect(generateApiKey().plaintext).not.toBe(k.plaintext);
  });

  it('summaries and formats', () => {
    expect(summarizeApiKey(`pm_live_abcd${'0'.repeat(56)}wxyz`)).toBe('pm_live_abcd...wxyz');
    expect(isWellFormedApiKey(`pm_live_${'A'.repeat(64)}`)).toBe(false);
    expect(isWellFormedApiKey(`pm_live_${'a'.repeat(63)}`)).toBe(false);
    expect(isWellFormedApiKey(` pm_live_${'a'.repeat(64)}`)).toBe(false);
  });
});

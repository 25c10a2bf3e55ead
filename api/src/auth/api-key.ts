import { createHash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'pm_live_';
const KEY_PATTERN = /^pm_live_[0-9a-f]{64}$/;

export interface GeneratedKey {
  plaintext: string;
  hash: Buffer;
  summary: string;
}

/** `pm_live_` + 64 lowercase hex (32 random bytes). Only the hash is ever stored. */
export function generateApiKey(): GeneratedKey {
  const plaintext = KEY_PREFIX + randomBytes(32).toString('hex');
  return { plaintext, hash: hashApiKey(plaintext), summary: summarizeApiKey(plaintext) };
}

export function hashApiKey(plaintext: string): Buffer {
  return createHash('sha256').update(plaintext).digest();
}

/** `pm_live_abcd...wxyz`: enough to recognise a key in a listing, never enough to use it. */
export function summarizeApiKey(plaintext: string): string {
  const secret = plaintext.slice(KEY_PREFIX.length);
  return `${KEY_PREFIX}${secret.slice(0, 4)}...${secret.slice(-4)}`;
}

export function isWellFormedApiKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

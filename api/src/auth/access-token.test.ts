import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenSigner, isAccessToken } from './access-token.ts';

const hash = createHash('sha256').update('pm_live_x').digest();

describe('OAuth2 access tokens', () => {
  const signer = createTokenSigner('a-secret-that-is-long-enough-0123456789');
  const payload = { k: 'key_abc', f: signer.fingerprint(hash), iat: 100, exp: 200 };

  it('round-trips a signed payload', () => {
    const token = signer.sign(payload);
    expect(isAccessToken(token)).toBe(true);
    expect(token).toMatch(/^pm_at_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(signer.verify(token)).toEqual(payload);
  });

  it('rejects tampering, other secrets and garbage', () => {
    const token = signer.sign(payload);
    const [body, sig] = token.slice(6).split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...payload, k: 'key_admin' })).toString('base64url');
    expect(signer.verify(`pm_at_${forged}.${sig}`)).toBe('signature');
    expect(signer.verify(`pm_at_${body}.${'A'.repeat(43)}`)).toBe('signature');
    expect(createTokenSigner('another-secret-that-is-long-enough-012').verify(token)).toBe('signature');
    expect(signer.verify('pm_at_nope')).toBe('format');
    expect(signer.verify(`pm_at_${body}`)).toBe('format');
  });

  it('fingerprints do not reveal the key hash and differ per secret', () => {
    const fp = signer.fingerprint(hash);
    expect(fp).not.toContain(hash.toString('hex').slice(0, 8));
    expect(fp).toBe(signer.fingerprint(hash));
    expect(createTokenSigner('another-secret-that-is-long-enough-012').fingerprint(hash)).not.toBe(fp);
  });

  it('without a configured secret, a random one is used (ephemeral)', () => {
    const a = createTokenSigner(undefined);
    const b = createTokenSigner(undefined);
    expect(a.ephemeral).toBe(true);
    expect(b.verify(a.sign(payload))).toBe('signature');
  });
});

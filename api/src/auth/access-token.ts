import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * OAuth2 access tokens: `pm_at_<payload>.<signature>`, HMAC-SHA256 with TOKEN_SIGNING_SECRET.
 * Stateless, so any api process sharing the secret accepts them. A token names its key and carries
 * a fingerprint of the secret it was minted from, so authentication re-reads the key row: revoking,
 * expiring or suspending the key (or the grace period of a rotated secret ending) ends its tokens.
 */
export const ACCESS_TOKEN_PREFIX = 'pm_at_';
const TOKEN_PATTERN = /^pm_at_([A-Za-z0-9_-]{10,400})\.([A-Za-z0-9_-]{43})$/;

const payloadSchema = z.object({
  k: z.string().min(1).max(100),
  f: z.string().min(1).max(64),
  iat: z.number().int(),
  exp: z.number().int(),
});
export type AccessTokenPayload = z.infer<typeof payloadSchema>;

export interface TokenSigner {
  sign(payload: AccessTokenPayload): string;
  /** 'format' (not a token shape), 'signature' (not ours / tampered), or the payload */
  verify(token: string): AccessTokenPayload | 'format' | 'signature';
  /** non-reversible fingerprint of a key's secret hash */
  fingerprint(keyHash: Buffer): string;
}

export function isAccessToken(value: string): boolean {
  return value.startsWith(ACCESS_TOKEN_PREFIX);
}

export function createTokenSigner(secret: string | undefined): TokenSigner & { ephemeral: boolean } {
  const key = secret ?? randomBytes(32).toString('hex');
  const mac = (data: string) => createHmac('sha256', key).update(data).digest();
  return {
    ephemeral: secret === undefined,
    sign(payload) {
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${ACCESS_TOKEN_PREFIX}${body}.${mac(`at.${body}`).toString('base64url')}`;
    },
    verify(token) {
      const match = TOKEN_PATTERN.exec(token);
      if (!match) return 'format';
      const [, body, signature] = match as unknown as [string, string, string];
      const expected = mac(`at.${body}`);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature';
      try {
        const parsed = payloadSchema.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
        return parsed.success ? parsed.data : 'signature';
      } catch {
        return 'signature';
      }
    },
    fingerprint(keyHash) {
      return mac(`fp.${keyHash.toString('hex')}`)
        .subarray(0, 16)
        .toString('base64url');
    },
  };
}

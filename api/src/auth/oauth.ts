import { timingSafeEqual } from 'node:crypto';
import { findKeyByHash, type KeyAuthRow, type Sql } from '@promptmill/infra/db';
import { z } from 'zod';
import { AppError } from '../http/app-error.ts';
import type { TokenSigner } from './access-token.ts';
import { hashApiKey, isWellFormedApiKey } from './api-key.ts';
import { checkKeyUsable } from './authenticate.ts';

/**
 * RFC 6749 §5.2 error codes this endpoint uses, plus `rate_limited` (429): RFC 6749 defines no error for
 * a rate limit, so the refusal keeps the RFC's body shape with its own code and a Retry-After header.
 */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'rate_limited';

const OAUTH_STATUS: Record<OAuthErrorCode, 400 | 401 | 429> = {
  invalid_request: 400,
  unsupported_grant_type: 400,
  invalid_client: 401,
  rate_limited: 429,
};

/** An RFC 6749 error; the OAuth routes render it as `{error, error_description}` (not the API shape). */
export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly error: OAuthErrorCode;
  readonly status: 400 | 401 | 429;
  /** the client tried HTTP Basic: a 401 must then carry WWW-Authenticate */
  readonly basic: boolean;
  /** response headers (Retry-After of a 429) */
  readonly headers: Record<string, string>;
  constructor(
    error: OAuthErrorCode,
    description: string,
    opts: { basic?: boolean; headers?: Record<string, string> } = {},
  ) {
    super(description);
    this.error = error;
    this.status = OAUTH_STATUS[error];
    this.basic = opts.basic ?? false;
    this.headers = opts.headers ?? {};
  }
}

/** Form fields (application/x-www-form-urlencoded, or the same names in JSON). */
export const tokenRequestSchema = z.object({
  grant_type: z.string().optional().describe('`client_credentials`'),
  client_id: z.string().optional().describe('The API key id (`key_…`)'),
  client_secret: z.string().optional().describe('The API key (`pm_live_…`)'),
  scope: z.string().optional().describe('Ignored: the token has exactly the rights of the key'),
});

export const tokenResponseSchema = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  basic: boolean;
}

/** Client authentication from HTTP Basic (RFC 6749 §2.3.1) or from the body, never both. */
export function clientCredentials(
  authorization: string | undefined,
  body: z.infer<typeof tokenRequestSchema>,
): ClientCredentials {
  const inBody = body.client_id !== undefined || body.client_secret !== undefined;
  const basic = authorization !== undefined && /^Basic /i.test(authorization);
  if (basic && inBody) {
    throw new OAuthError('invalid_request', 'Use one client authentication method, not both');
  }
  if (basic) {
    const decoded = Buffer.from(authorization!.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthError('invalid_client', 'Malformed HTTP Basic credentials', { basic });
    const decode = (v: string) => {
      try {
        return decodeURIComponent(v.replaceAll('+', ' '));
      } catch {
        return v;
      }
    };
    return {
      clientId: decode(decoded.slice(0, colon)),
      clientSecret: decode(decoded.slice(colon + 1)),
      basic,
    };
  }
  if (!body.client_id || !body.client_secret) {
    throw new OAuthError('invalid_client', 'Client authentication is missing (client_id and client_secret)');
  }
  return { clientId: body.client_id, clientSecret: body.client_secret, basic: false };
}

const sameText = (a: string, b: string) => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

/**
 * Client credentials grant, first half: the client is an API key (id + secret); the usable key row, or
 * an OAuthError (invalid_request, unsupported_grant_type, invalid_client).
 */
export async function authenticateClient(
  sql: Sql,
  body: z.infer<typeof tokenRequestSchema>,
  authorization: string | undefined,
  now: Date,
): Promise<KeyAuthRow> {
  if (!body.grant_type) throw new OAuthError('invalid_request', 'grant_type is required');
  if (body.grant_type !== 'client_credentials') {
    throw new OAuthError('unsupported_grant_type', 'Only grant_type=client_credentials is supported');
  }
  const creds = clientCredentials(authorization, body);
  const fail = (description: string) => new OAuthError('invalid_client', description, { basic: creds.basic });
  if (!isWellFormedApiKey(creds.clientSecret)) throw fail('Invalid client credentials');
  const key = await findKeyByHash(sql, hashApiKey(creds.clientSecret));
  if (!key || !sameText(key.id, creds.clientId)) throw fail('Invalid client credentials');
  try {
    checkKeyUsable(key, now);
  } catch (err) {
    throw fail(err instanceof AppError ? err.message : 'Invalid client credentials');
  }
  return key;
}

/**
 * Second half: the access token. It has the key's rights because authentication resolves it to the same
 * key row; it expires after `ttlSeconds` or with the key, whichever is first.
 */
export function mintAccessToken(
  signer: TokenSigner,
  key: KeyAuthRow,
  ttlSeconds: number,
  now: Date,
): TokenResponse {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  let exp = nowSeconds + ttlSeconds;
  if (key.expiresAt) exp = Math.min(exp, Math.floor(key.expiresAt.getTime() / 1000));
  // a token minted from a rotated-out secret lives no longer than that secret's grace period
  if (key.isPreviousSecret && key.previousExpiresAt) {
    exp = Math.min(exp, Math.floor(key.previousExpiresAt.getTime() / 1000));
  }
  const hash = key.isPreviousSecret ? key.previousHash : key.keyHash;
  const access_token = signer.sign({
    k: key.id,
    f: signer.fingerprint(hash ?? key.keyHash),
    iat: nowSeconds,
    exp,
  });
  return { access_token, token_type: 'Bearer', expires_in: Math.max(0, exp - nowSeconds) };
}

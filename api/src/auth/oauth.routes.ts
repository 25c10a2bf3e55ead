import type { Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import express, { type ErrorRequestHandler } from 'express';
import { z } from 'zod';
import { AppError } from '../http/app-error.ts';
import type { Clock } from '../http/clock.ts';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { type AuthFailureLimiter, authFailuresError, clientAddress } from '../limits/auth-failures.ts';
import { refusalError, refusalSentence, setRateLimitHeaders } from '../limits/limit-response.ts';
import { limitSubject, type RateLimiter } from '../limits/limiter.ts';
import type { TokenSigner } from './access-token.ts';
import { toAuthContext } from './auth-context.ts';
import {
  authenticateClient,
  mintAccessToken,
  OAuthError,
  tokenRequestSchema,
  tokenResponseSchema,
} from './oauth.ts';

const oauthErrorSchema = z
  .object({
    error: z.enum(['invalid_request', 'invalid_client', 'unsupported_grant_type', 'rate_limited']),
    error_description: z.string().optional(),
  })
  .meta({ id: 'OAuthError' });

export interface OAuthDeps {
  sql: Sql;
  clock: Clock;
  signer: TokenSigner;
  ttlSeconds: number;
  maxBodyBytes: number;
  /** the same decisions as every keyed request: minting a token counts on the key's and org's windows */
  limiter: RateLimiter;
  /** invalid_client spends the client address's failure budget (shared with the keyed routes' 401s) */
  failures: AuthFailureLimiter;
}

/** A 429 of the API (a window, the global breaker, the failure budget) in the RFC 6749 body shape. */
const asOAuth = (err: AppError): Error =>
  err.status === 429 ? new OAuthError('rate_limited', refusalSentence(err), { headers: err.headers }) : err;

/**
 * `POST /oauth/token` (form-urlencoded per RFC 6749, JSON accepted too; client authentication by
 * HTTP Basic or body fields). Errors use the RFC 6749 shape, rendered by `oauthErrorHandler`.
 * Order: the address's failure budget (before any read) → client authentication → rate limits → token.
 */
export function oauthRoutes(deps: OAuthDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'post',
      path: '/oauth/token',
      summary:
        'OAuth2 client credentials: an API key id + secret → a short-lived bearer token with the same rights',
      tag: 'Keys',
      auth: 'none',
      before: [express.urlencoded({ extended: false, limit: deps.maxBodyBytes })],
      body: tokenRequestSchema,
      invalid: () => new OAuthError('invalid_request', 'Token request parameters must be strings'),
      responses: {
        200: {
          description: 'Access token (RFC 6749 §5.1)',
          schema: tokenResponseSchema.meta({ id: 'OAuthToken' }),
        },
        400: { description: 'invalid_request or unsupported_grant_type', schema: oauthErrorSchema },
        401: {
          description: 'invalid_client (also for a revoked, expired or suspended key)',
          schema: oauthErrorSchema,
        },
        429: {
          description:
            "rate_limited, with Retry-After: minting counts on the key's and the organization's windows like any request, or the client address has spent its failed-authentication budget (AUTH_FAILURE_LIMIT_PER_MINUTE)",
          schema: oauthErrorSchema,
        },
      },
      handler: async ({ req, res, body }) => {
        const address = clientAddress(req);
        const blocked = deps.failures.blocked(address);
        if (blocked) throw asOAuth(authFailuresError(deps.failures, blocked.retryInMs));
        const now = deps.clock();
        let key: Awaited<ReturnType<typeof authenticateClient>>;
        try {
          key = await authenticateClient(deps.sql, body, req.get('authorization'), now);
        } catch (err) {
          if (err instanceof OAuthError && err.error === 'invalid_client')
            deps.failures.recordFailure(address);
          throw err;
        }
        const decision = await deps.limiter.decide(limitSubject(toAuthContext(key, 'oauth')), now);
        setRateLimitHeaders(res, decision, now);
        if (decision.outcome !== 'admitted') throw asOAuth(refusalError(decision, now));
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Pragma', 'no-cache');
        res.json(mintAccessToken(deps.signer, key, deps.ttlSeconds, now));
      },
    }),
  ];
}

/** RFC 6749 §5.2 error bodies for /oauth/*; body-parser and validation errors are `invalid_request`. */
export function oauthErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    let oauth: OAuthError | undefined;
    if (err instanceof OAuthError) oauth = err;
    else if (err instanceof AppError && err.status < 500 && err.code !== 'NOT_FOUND') {
      oauth = new OAuthError('invalid_request', err.message);
    } else if (
      typeof err === 'object' &&
      err !== null &&
      typeof (err as { status?: unknown }).status === 'number'
    ) {
      const status = (err as { status: number }).status;
      if (status >= 400 && status < 500) oauth = new OAuthError('invalid_request', 'Malformed token request');
    }
    if (!oauth || res.headersSent) {
      if (!oauth) logger.debug({ route: req.path }, 'oauth: passing a non-OAuth error on');
      return next(err);
    }
    for (const [name, value] of Object.entries(oauth.headers)) res.setHeader(name, value);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    if (oauth.status === 401 && oauth.basic) res.setHeader('WWW-Authenticate', 'Basic realm="promptmill"');
    res.status(oauth.status).json({ error: oauth.error, error_description: oauth.message });
  };
}

import { timingSafeEqual } from 'node:crypto';
import { findKeyAuthById, findKeyByHash, type KeyAuthRow, type Sql } from '@promptmill/infra/db';
import type { Request, RequestHandler, Response } from 'express';
import { AppError } from '../http/app-error.ts';
import type { Clock } from '../http/clock.ts';
import { type AuthFailureLimiter, authFailuresError, clientAddress } from '../limits/auth-failures.ts';
import { isAccessToken, type TokenSigner } from './access-token.ts';
import { hashApiKey, isWellFormedApiKey } from './api-key.ts';
import { type AuthContext, toAuthContext } from './auth-context.ts';
import type { KeyLookup } from './key-cache.ts';
import { isOriginAllowed } from './origin.ts';

export type { Clock };

const unauthorized = (message: string) => new AppError('UNAUTHORIZED', message);

/**
 * The credential from `Authorization: Bearer <credential>` or `x-api-key: <credential>`; undefined
 * when neither is usable. An Authorization header that is present wins, even if malformed.
 * Never logged: request logs carry method, path and status only.
 */
export function presentedKey(req: Request): string | undefined {
  const authorization = req.get('authorization');
  if (authorization !== undefined) {
    const match = /^Bearer ([^\s]+)$/i.exec(authorization.trim());
    return match?.[1];
  }
  const headerKey = req.get('x-api-key');
  return headerKey?.trim() || undefined;
}

/** The 401 checks after the key row is found, in the order API.md lists them. */
export function checkKeyUsable(key: KeyAuthRow | undefined, now: Date): asserts key is KeyAuthRow {
  if (!key) throw unauthorized('Invalid API key');
  // a rotated-out secret past its grace period is indistinguishable from an unknown key
  if (key.isPreviousSecret && (!key.previousExpiresAt || key.previousExpiresAt <= now)) {
    throw unauthorized('Invalid API key');
  }
  if (key.revokedAt) throw unauthorized('API key has been revoked');
  if (key.expiresAt && key.expiresAt <= now) throw unauthorized('API key has expired');
  if (key.ownerSuspendedAt || key.ownerRemovedAt) throw unauthorized('API key owner is suspended');
}

/** Billing and plan gates: run before any prompt or run is read. */
export function checkOrgGates(org: AuthContext['org'], isFreePlanRoute: boolean): void {
  switch (org.billing) {
    case 'past_due':
      throw new AppError('PAST_DUE', 'Subscription is past due');
    case 'disputed':
      throw new AppError('DISPUTED', 'Organization has an active payment dispute');
    case 'canceled':
      throw new AppError('SUBSCRIPTION_INACTIVE', 'Subscription is canceled');
    case 'active':
      break;
  }
  if (org.plan === 'free' && !isFreePlanRoute) {
    throw new AppError('API_NOT_ALLOWED', 'The API requires a Pro, Team or Enterprise plan');
  }
}

/** 403 ORIGIN_NOT_ALLOWED, without Access-Control-Allow-Origin, so a browser cannot read anything. */
export function checkOrigin(req: Request, res: Response, allowedOrigins: readonly string[] | null): void {
  if (isOriginAllowed(req.get('origin'), allowedOrigins)) return;
  res.removeHeader('Access-Control-Allow-Origin');
  res.removeHeader('Access-Control-Expose-Headers');
  throw new AppError('ORIGIN_NOT_ALLOWED', 'This API key may not be used from this origin');
}

const sameBytes = (a: Buffer, b: Buffer | null) =>
  b !== null && a.length === b.length && timingSafeEqual(a, b);

/**
 * The key row for an OAuth2 access token: valid signature, not expired, and minted from the key's
 * current secret or from its pre-rotation secret while that one's grace period lasts.
 */
export async function findKeyForAccessToken(
  keys: KeyLookup,
  signer: TokenSigner,
  token: string,
  now: Date,
): Promise<KeyAuthRow> {
  const payload = signer.verify(token);
  if (payload === 'format') throw unauthorized('Invalid API key format');
  if (payload === 'signature') throw unauthorized('Invalid API key');
  if (payload.exp * 1000 <= now.getTime()) throw unauthorized('API key has expired');
  const key = await keys.byId(payload.k);
  if (!key) throw unauthorized('Invalid API key');
  const given = Buffer.from(payload.f);
  if (sameBytes(given, Buffer.from(signer.fingerprint(key.keyHash)))) return key;
  if (key.previousHash && sameBytes(given, Buffer.from(signer.fingerprint(key.previousHash)))) {
    return { ...key, isPreviousSecret: true };
  }
  throw unauthorized('Invalid API key');
}

/** Key rows straight from the database (no cache). */
export function keyLookupFrom(sql: Sql): KeyLookup {
  return { byHash: (hash) => findKeyByHash(sql, hash), byId: (id) => findKeyAuthById(sql, id) };
}

export interface AuthenticateOptions {
  /** where key rows come from: the process's key cache in the api (key-cache.ts) */
  keys: KeyLookup;
  now?: Clock;
  signer?: TokenSigner;
  /** Routes a Free-plan org may still call (reading its keys). */
  isFreePlanRoute?: (req: Request) => boolean;
  /** Failed authentications per client address: an address out of budget is refused before any read. */
  failures?: AuthFailureLimiter;
}

/**
 * Failure budget of the client address (429 before any read) → 401 sequence → billing/plan gates →
 * origin check. The key row (with its owner and org) comes from `keys`: in the api the process's key
 * cache, which every change to a key, member or organization invalidates in every process within
 * milliseconds (at most about a second if the invalidation channel fails; key-cache.ts). Expiry and grace
 * periods are judged against the clock on every request. Every 401 spends the address's budget.
 */
export function authenticate(opts: AuthenticateOptions): RequestHandler {
  const now = opts.now ?? (() => new Date());
  const isFreePlanRoute = opts.isFreePlanRoute ?? (() => false);
  const { failures } = opts;
  return async (req, res, next) => {
    const address = clientAddress(req);
    const blocked = failures?.blocked(address);
    if (failures && blocked) throw authFailuresError(failures, blocked.retryInMs);
    try {
      res.locals.auth = await identify(req, res, opts, now(), isFreePlanRoute(req));
    } catch (err) {
      if (err instanceof AppError && err.code === 'UNAUTHORIZED') failures?.recordFailure(address);
      throw err;
    }
    next();
  };
}

/** The caller, or the first 401 / 402 / 403 in the order API.md lists them. */
async function identify(
  req: Request,
  res: Response,
  opts: AuthenticateOptions,
  at: Date,
  isFreePlanRoute: boolean,
): Promise<AuthContext> {
  const credential = presentedKey(req);
  if (credential === undefined) throw unauthorized('Missing or malformed Authorization header');
  let key: KeyAuthRow | undefined;
  let via: AuthContext['key']['via'] = 'api_key';
  if (opts.signer && isAccessToken(credential)) {
    key = await findKeyForAccessToken(opts.keys, opts.signer, credential, at);
    via = 'oauth';
  } else {
    if (!isWellFormedApiKey(credential)) throw unauthorized('Invalid API key format');
    key = await opts.keys.byHash(hashApiKey(credential));
  }
  checkKeyUsable(key, at);
  const auth = toAuthContext(key, via);
  checkOrgGates(auth.org, isFreePlanRoute);
  checkOrigin(req, res, auth.key.allowedOrigins);
  return auth;
}

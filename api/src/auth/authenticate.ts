import { findKeyByHash, type KeyAuthRow, type Sql } from '@promptmill/infra/db';
import type { Request, RequestHandler } from 'express';
import { AppError } from '../http/app-error.ts';
import { hashApiKey, isWellFormedApiKey } from './api-key.ts';
import type { AuthContext } from './auth-context.ts';

export type Clock = () => Date;

const unauthorized = (message: string) => new AppError('UNAUTHORIZED', message);

/** The key from `Authorization: Bearer <key>` or `x-api-key: <key>`; undefined when neither is usable. */
export function presentedKey(req: Request): string | undefined {
  const authorization = req.get('authorization');
  if (authorization !== undefined) {
    const match = /^Bearer ([^\s]+)$/.exec(authorization.trim());
    return match?.[1];
  }
  const headerKey = req.get('x-api-key');
  return headerKey?.trim() || undefined;
}

/** The 401 checks, in the order API.md lists them. */
export function checkKeyUsable(key: KeyAuthRow | undefined, now: Date): asserts key is KeyAuthRow {
  if (!key) throw unauthorized('Invalid API key');
  if (key.isPreviousSecret && (!key.previousExpiresAt || key.previousExpiresAt <= now)) {
    throw unauthorized('Invalid API key');
  }
  if (key.revokedAt) throw unauthorized('API key has been revoked');
  if (key.expiresAt && key.expiresAt <= now) throw unauthorized('API key has expired');
  if (key.ownerSuspendedAt) throw unauthorized('API key owner is suspended');
}

/** Billing and plan gates: run before any prompt or run is read. */
export function checkOrgGates(key: KeyAuthRow, isFreePlanRoute: boolean): void {
  switch (key.orgBillingStatus) {
    case 'past_due':
      throw new AppError('PAST_DUE', 'Subscription is past due');
    case 'disputed':
      throw new AppError('DISPUTED', 'Organization has an active payment dispute');
    case 'canceled':
      throw new AppError('SUBSCRIPTION_INACTIVE', 'Subscription is canceled');
    case 'active':
      break;
  }
  if (key.orgPlan === 'free' && !isFreePlanRoute) {
    throw new AppError('API_NOT_ALLOWED', 'The API requires a Pro, Team or Enterprise plan');
  }
}

export interface AuthenticateOptions {
  sql: Sql;
  now?: Clock;
  /** Routes a Free-plan org may still call (reading its keys). */
  isFreePlanRoute?: (req: Request) => boolean;
}

export function authenticate(opts: AuthenticateOptions): RequestHandler {
  const now = opts.now ?? (() => new Date());
  const isFreePlanRoute = opts.isFreePlanRoute ?? (() => false);
  return async (req, res, next) => {
    const plaintext = presentedKey(req);
    if (plaintext === undefined) throw unauthorized('Missing or malformed Authorization header');
    if (!isWellFormedApiKey(plaintext)) throw unauthorized('Invalid API key format');
    const key = await findKeyByHash(opts.sql, hashApiKey(plaintext));
    checkKeyUsable(key, now());
    checkOrgGates(key, isFreePlanRoute(req));
    const auth: AuthContext = {
      keyId: key.id,
      orgId: key.orgId,
      ownerMemberId: key.ownerMemberId,
      scopes: key.scopes,
      promptIds: key.promptIds,
      key,
    };
    res.locals.auth = auth;
    next();
  };
}

import type { KeyRateLimits } from '@promptmill/infra/db';
import type { AuthContext } from '../auth/auth-context.ts';
import { hasScope, type Scope } from '../auth/scopes.ts';
import { AppError } from '../http/app-error.ts';

/**
 * Everything about a key that widens what it can do. Limits, expiry and origins are rights like
 * scopes and prompts: a missing limit, no expiry and no origin list are the most permissive values.
 */
export interface KeyRights {
  scopes: readonly string[];
  /** null = every prompt */
  promptIds: readonly string[] | null;
  rateLimits: KeyRateLimits;
  /** null = any origin */
  allowedOrigins: readonly string[] | null;
  /** null = never expires */
  expiresAt: Date | null;
}

const WINDOWS = ['perMinute', 'perHour', 'perDay'] as const;

/**
 * What `target` may do that `holder` may not, each named after the request field that carries it;
 * empty when `target` is at most as permissive as `holder`.
 */
export function rightsExceeded(holder: KeyRights, target: KeyRights): string[] {
  const exceeded: string[] = [];
  const scopes = target.scopes.filter((s) => !hasScope(holder.scopes, s as Scope));
  if (scopes.length > 0) exceeded.push(`scopes (${scopes.join(', ')})`);
  const prompts = holder.promptIds;
  if (prompts && (!target.promptIds || target.promptIds.some((p) => !prompts.includes(p)))) {
    exceeded.push('promptIds (only prompts this key may use)');
  }
  for (const window of WINDOWS) {
    const limit = holder.rateLimits[window];
    const wanted = target.rateLimits[window];
    if (limit !== undefined && (wanted === undefined || wanted > limit)) {
      exceeded.push(`rateLimits.${window} (at most ${limit})`);
    }
  }
  if (holder.expiresAt && (!target.expiresAt || target.expiresAt > holder.expiresAt)) {
    exceeded.push(`expiresIn (no later than ${holder.expiresAt.toISOString()})`);
  }
  const origins = holder.allowedOrigins;
  if (origins && (!target.allowedOrigins || target.allowedOrigins.some((o) => !origins.includes(o)))) {
    exceeded.push(`allowedOrigins (only ${origins.join(', ')})`);
  }
  return exceeded;
}

/** 403 FORBIDDEN naming each right `target` has beyond the calling key's. */
export function assertWithinRights(auth: AuthContext, target: KeyRights): void {
  const exceeded = rightsExceeded(auth.key, target);
  if (exceeded.length > 0) {
    throw new AppError(
      'FORBIDDEN',
      `This API key cannot grant or manage rights it does not have: ${exceeded.join('; ')}`,
    );
  }
}

import type { RequestHandler } from 'express';
import { AppError } from '../http/app-error.ts';
import { getAuth } from './auth-context.ts';

export const SCOPES = [
  'prompts:read',
  'prompts:write',
  'runs:execute',
  'runs:read',
  'workflows:write',
  'webhooks:write',
  'keys:write',
  'analytics:read',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

export function hasScope(scopes: readonly string[], scope: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(scope);
}

/** 403 FORBIDDEN unless the calling key has the scope (or `admin`). */
export function requireScope(scope: Scope): RequestHandler {
  return (_req, res, next) => {
    if (!hasScope(getAuth(res).key.scopes, scope)) {
      throw new AppError('FORBIDDEN', `This API key lacks the '${scope}' scope`);
    }
    next();
  };
}

/** A key restricted to a list of prompts; AuthContext is one. */
export interface PromptRestricted {
  key: { promptIds: readonly string[] | null };
}

export function isPromptAllowed(caller: PromptRestricted, promptId: string): boolean {
  return caller.key.promptIds === null || caller.key.promptIds.includes(promptId);
}

/** 403 FORBIDDEN when the key is restricted to other prompts (`verb`: what it tried to do with it). */
export function assertPromptAllowed(
  caller: PromptRestricted,
  promptId: string,
  verb: 'use' | 'run' = 'use',
): void {
  if (!isPromptAllowed(caller, promptId)) {
    throw new AppError('FORBIDDEN', `This API key is not allowed to ${verb} this prompt`);
  }
}

/**
 * 403 FORBIDDEN for a secret replaced by a rotation (or a token minted from it): during its grace
 * period it may use the API, but managing keys or members with it could lock the owner out.
 */
export function assertCurrentSecret(caller: { key: { isPreviousSecret: boolean } }): void {
  if (caller.key.isPreviousSecret) {
    throw new AppError(
      'FORBIDDEN',
      'This API key secret was replaced by a rotation: until its grace period ends it may use the API, ' +
        'but not manage keys or members; use the new secret',
    );
  }
}

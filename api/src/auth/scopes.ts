import type { RequestHandler, Response } from 'express';
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
    if (!hasScope(getAuth(res).scopes, scope)) {
      throw new AppError('FORBIDDEN', `This API key lacks the '${scope}' scope`);
    }
    next();
  };
}

/** 403 FORBIDDEN when the key is restricted to other prompts. */
export function assertPromptAllowed(res: Response, promptId: string): void {
  const { promptIds } = getAuth(res);
  if (promptIds && !promptIds.includes(promptId)) {
    throw new AppError('FORBIDDEN', 'This API key is not allowed to use this prompt');
  }
}

import type { KeyAuthRow } from '@promptmill/infra/db';
import type { Response } from 'express';
import { AppError } from '../http/app-error.ts';

export interface AuthContext {
  keyId: string;
  orgId: string;
  ownerMemberId: string;
  scopes: string[];
  promptIds: string[] | null;
  key: KeyAuthRow;
  /** an API key itself, or an OAuth2 access token minted from one (same rights) */
  via: 'api_key' | 'oauth';
}

export function getAuth(res: Response): AuthContext {
  const auth = res.locals.auth as AuthContext | undefined;
  if (!auth) throw new AppError('UNAUTHORIZED', 'Missing or malformed Authorization header');
  return auth;
}

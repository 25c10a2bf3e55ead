import type {
  BillingStatus,
  KeyAuthRow,
  KeyRateLimits,
  LimitOverrides,
  MemberRole,
  Plan,
} from '@promptmill/infra/db';
import type { Response } from 'express';
import { AppError } from '../http/app-error.ts';

/**
 * Who is calling, shaped for use-cases: the key and its rights, the member that owns it, and the
 * organization with the plan facts every request is checked against. Built once per request by
 * `authenticate`; use-cases never see a query row.
 */
export interface AuthContext {
  key: {
    id: string;
    scopes: readonly string[];
    /** null = every prompt of the organization (the seeds' "agent-scoped keys" set a list) */
    promptIds: readonly string[] | null;
    rateLimits: KeyRateLimits;
    allowedOrigins: readonly string[] | null;
    expiresAt: Date | null;
    /** an API key itself, or an OAuth2 access token minted from one (same rights) */
    via: 'api_key' | 'oauth';
    /** the secret presented was replaced by a rotation and works only for its grace period */
    isPreviousSecret: boolean;
  };
  /** the member that owns the key; its role bounds which members and keys the key may manage */
  member: { id: string; role: MemberRole };
  org: {
    id: string;
    name: string;
    plan: Plan;
    billing: BillingStatus;
    /** per-organization overrides of the plan's request limits */
    limits: LimitOverrides;
    /** monthly token budget; null = none */
    tokenBudget: number | null;
    /** models the organization may run (`prefix*` allowed); null = every model */
    allowedModels: readonly string[] | null;
  };
}

export function toAuthContext(row: KeyAuthRow, via: AuthContext['key']['via']): AuthContext {
  return {
    key: {
      id: row.id,
      scopes: row.scopes,
      promptIds: row.promptIds,
      rateLimits: row.rateLimits,
      allowedOrigins: row.allowedOrigins,
      expiresAt: row.expiresAt,
      via,
      isPreviousSecret: row.isPreviousSecret,
    },
    member: { id: row.ownerMemberId, role: row.ownerRole },
    org: {
      id: row.orgId,
      name: row.orgName,
      plan: row.orgPlan,
      billing: row.orgBillingStatus,
      limits: row.orgLimitOverrides,
      tokenBudget: row.orgTokenBudget,
      allowedModels: row.orgAllowedModels,
    },
  };
}

export function getAuth(res: Response): AuthContext {
  const auth = res.locals.auth as AuthContext | undefined;
  if (!auth) throw new AppError('UNAUTHORIZED', 'Missing or malformed Authorization header');
  return auth;
}

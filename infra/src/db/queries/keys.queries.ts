import type { Queryable } from '../client.ts';

export interface KeyRateLimits {
  perMinute?: number;
  perHour?: number;
  perDay?: number;
}

/** Everything the auth middleware needs about a key, its owner and its org, in one read. */
export interface KeyAuthRow {
  id: string;
  orgId: string;
  ownerMemberId: string;
  name: string;
  scopes: string[];
  promptIds: string[] | null;
  rateLimits: KeyRateLimits;
  allowedOrigins: string[] | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** true when the presented secret is the pre-rotation one */
  isPreviousSecret: boolean;
  previousExpiresAt: Date | null;
  ownerSuspendedAt: Date | null;
  orgPlan: 'free' | 'pro' | 'team' | 'enterprise';
  orgBillingStatus: 'active' | 'past_due' | 'disputed' | 'canceled';
  orgTokenBudget: number | null;
  orgLimitOverrides: { perMinute?: number; perDay?: number };
  orgAllowedModels: string[] | null;
}

export async function findKeyByHash(sql: Queryable, hash: Buffer): Promise<KeyAuthRow | undefined> {
  const [row] = await sql<KeyAuthRow[]>`
    SELECT k.id, k.org_id AS "orgId", k.owner_member_id AS "ownerMemberId", k.name, k.scopes,
           k.prompt_ids AS "promptIds", k.rate_limits AS "rateLimits", k.allowed_origins AS "allowedOrigins",
           k.expires_at AS "expiresAt", k.revoked_at AS "revokedAt",
           (k.key_hash <> ${hash}) AS "isPreviousSecret", k.previous_expires_at AS "previousExpiresAt",
           m.suspended_at AS "ownerSuspendedAt",
           o.plan AS "orgPlan", o.billing_status AS "orgBillingStatus", o.token_budget AS "orgTokenBudget",
           o.limit_overrides AS "orgLimitOverrides", o.allowed_models AS "orgAllowedModels"
    FROM api_keys k
    JOIN members m ON m.id = k.owner_member_id
    JOIN organizations o ON o.id = k.org_id
    WHERE k.key_hash = ${hash} OR k.previous_hash = ${hash}
    LIMIT 1`;
  return row;
}

export interface NewKey {
  id: string;
  orgId: string;
  ownerMemberId: string;
  name: string;
  hash: Buffer;
  summary: string;
  scopes: string[];
  promptIds: string[] | null;
  rateLimits: KeyRateLimits;
  allowedOrigins: string[] | null;
  expiresAt: Date | null;
}

export interface KeyRow {
  id: string;
  orgId: string;
  ownerMemberId: string;
  name: string;
  summary: string;
  scopes: string[];
  promptIds: string[] | null;
  rateLimits: KeyRateLimits;
  allowedOrigins: string[] | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  usageCount: number;
  createdAt: Date;
}

export const KEY_COLUMNS = (sql: Queryable) => sql`
  id, org_id AS "orgId", owner_member_id AS "ownerMemberId", name, summary, scopes,
  prompt_ids AS "promptIds", rate_limits AS "rateLimits", allowed_origins AS "allowedOrigins",
  expires_at AS "expiresAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt",
  usage_count AS "usageCount", created_at AS "createdAt"`;

export async function insertKey(sql: Queryable, k: NewKey): Promise<KeyRow> {
  const [row] = await sql<KeyRow[]>`
    INSERT INTO api_keys (id, org_id, owner_member_id, name, key_hash, summary, scopes, prompt_ids,
                          rate_limits, allowed_origins, expires_at)
    VALUES (${k.id}, ${k.orgId}, ${k.ownerMemberId}, ${k.name}, ${k.hash}, ${k.summary}, ${k.scopes},
            ${k.promptIds}, ${sql.json(k.rateLimits as Record<string, number>)}, ${k.allowedOrigins}, ${k.expiresAt})
    RETURNING ${KEY_COLUMNS(sql)}`;
  return row!;
}

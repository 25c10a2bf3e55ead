import type { Queryable } from '../client.ts';
import type { MemberRole } from './members.queries.ts';

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
  /** sha256 of the current secret and of the pre-rotation one (never leaves the api) */
  keyHash: Buffer;
  previousHash: Buffer | null;
  ownerSuspendedAt: Date | null;
  ownerRemovedAt: Date | null;
  ownerRole: MemberRole;
  orgName: string;
  orgPlan: 'free' | 'pro' | 'team' | 'enterprise';
  orgBillingStatus: 'active' | 'past_due' | 'disputed' | 'canceled';
  orgTokenBudget: number | null;
  orgLimitOverrides: { perMinute?: number; perDay?: number };
  orgAllowedModels: string[] | null;
}

const KEY_AUTH_SELECT = (sql: Queryable, hash: Buffer | null) => sql`
    SELECT k.id, k.org_id AS "orgId", k.owner_member_id AS "ownerMemberId", k.name, k.scopes,
           k.prompt_ids AS "promptIds", k.rate_limits AS "rateLimits", k.allowed_origins AS "allowedOrigins",
           k.expires_at AS "expiresAt", k.revoked_at AS "revokedAt",
           (${hash}::bytea IS NOT NULL AND k.key_hash <> ${hash}::bytea) AS "isPreviousSecret",
           k.previous_expires_at AS "previousExpiresAt",
           k.key_hash AS "keyHash", k.previous_hash AS "previousHash",
           m.suspended_at AS "ownerSuspendedAt", m.removed_at AS "ownerRemovedAt", m.role AS "ownerRole",
           o.name AS "orgName", o.plan AS "orgPlan", o.billing_status AS "orgBillingStatus",
           o.token_budget AS "orgTokenBudget",
           o.limit_overrides AS "orgLimitOverrides", o.allowed_models AS "orgAllowedModels"
    FROM api_keys k
    JOIN members m ON m.id = k.owner_member_id
    JOIN organizations o ON o.id = k.org_id`;

/** The key whose current or pre-rotation secret hashes to `hash` (one indexed read per request). */
export async function findKeyByHash(sql: Queryable, hash: Buffer): Promise<KeyAuthRow | undefined> {
  const [row] = await sql<KeyAuthRow[]>`
    ${KEY_AUTH_SELECT(sql, hash)}
    WHERE k.key_hash = ${hash} OR k.previous_hash = ${hash}
    LIMIT 1`;
  return row;
}

/** The same row by key id (OAuth2 access tokens name their key). */
export async function findKeyAuthById(sql: Queryable, id: string): Promise<KeyAuthRow | undefined> {
  const [row] = await sql<KeyAuthRow[]>`${KEY_AUTH_SELECT(sql, null)} WHERE k.id = ${id}`;
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
  lastLimitedAt: Date | null;
  /** until when the key's last refusal holds (its retry time) */
  limitedUntil: Date | null;
  usageCount: number;
  previousExpiresAt: Date | null;
  createdAt: Date;
}

export const KEY_COLUMNS = (sql: Queryable) => sql`
  id, org_id AS "orgId", owner_member_id AS "ownerMemberId", name, summary, scopes,
  prompt_ids AS "promptIds", rate_limits AS "rateLimits", allowed_origins AS "allowedOrigins",
  expires_at AS "expiresAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt",
  last_limited_at AS "lastLimitedAt", limited_until AS "limitedUntil", usage_count AS "usageCount",
  previous_expires_at AS "previousExpiresAt", created_at AS "createdAt"`;

export async function insertKey(sql: Queryable, k: NewKey): Promise<KeyRow> {
  const [row] = await sql<KeyRow[]>`
    INSERT INTO api_keys (id, org_id, owner_member_id, name, key_hash, summary, scopes, prompt_ids,
                          rate_limits, allowed_origins, expires_at)
    VALUES (${k.id}, ${k.orgId}, ${k.ownerMemberId}, ${k.name}, ${k.hash}, ${k.summary}, ${k.scopes},
            ${k.promptIds}, ${sql.json(k.rateLimits as Record<string, number>)}, ${k.allowedOrigins}, ${k.expiresAt})
    RETURNING ${KEY_COLUMNS(sql)}`;
  return row!;
}

export async function findKeyById(sql: Queryable, orgId: string, id: string): Promise<KeyRow | undefined> {
  const [row] = await sql<KeyRow[]>`
    SELECT ${KEY_COLUMNS(sql)} FROM api_keys WHERE org_id = ${orgId} AND id = ${id}`;
  return row;
}

export async function listKeys(
  sql: Queryable,
  orgId: string,
  page: { limit: number; offset: number },
): Promise<{ rows: KeyRow[]; total: number }> {
  const rows = await sql<KeyRow[]>`
    SELECT ${KEY_COLUMNS(sql)} FROM api_keys WHERE org_id = ${orgId}
    ORDER BY created_at DESC, id DESC
    LIMIT ${page.limit} OFFSET ${page.offset}`;
  const [count] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM api_keys WHERE org_id = ${orgId}`;
  return { rows, total: count?.n ?? 0 };
}

export interface KeyPatch {
  name?: string;
  scopes?: string[];
  /** null = every prompt */
  promptIds?: string[] | null;
  rateLimits?: KeyRateLimits;
  /** null = any origin */
  allowedOrigins?: string[] | null;
  expiresAt?: Date | null;
}

export async function updateKey(
  sql: Queryable,
  orgId: string,
  id: string,
  patch: KeyPatch,
): Promise<KeyRow | undefined> {
  const has = (k: keyof KeyPatch) => patch[k] !== undefined;
  const [row] = await sql<KeyRow[]>`
    UPDATE api_keys SET
      name = COALESCE(${patch.name ?? null}, name),
      scopes = CASE WHEN ${has('scopes')} THEN ${patch.scopes ?? []}::text[] ELSE scopes END,
      prompt_ids = CASE WHEN ${has('promptIds')} THEN ${patch.promptIds ?? null}::text[] ELSE prompt_ids END,
      rate_limits = CASE WHEN ${has('rateLimits')}
        THEN ${sql.json((patch.rateLimits ?? {}) as Record<string, number>)} ELSE rate_limits END,
      allowed_origins = CASE WHEN ${has('allowedOrigins')}
        THEN ${patch.allowedOrigins ?? null}::text[] ELSE allowed_origins END,
      expires_at = CASE WHEN ${has('expiresAt')} THEN ${patch.expiresAt ?? null}::timestamptz ELSE expires_at END
    WHERE org_id = ${orgId} AND id = ${id}
    RETURNING ${KEY_COLUMNS(sql)}`;
  return row;
}

/** Sets revoked_at once; a second revoke keeps the first time. */
export async function revokeKey(
  sql: Queryable,
  orgId: string,
  id: string,
  at: Date,
): Promise<KeyRow | undefined> {
  const [row] = await sql<KeyRow[]>`
    UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ${at})
    WHERE org_id = ${orgId} AND id = ${id}
    RETURNING ${KEY_COLUMNS(sql)}`;
  return row;
}

/** Revokes every live key a member owns (the member was removed). */
export async function revokeKeysOwnedBy(sql: Queryable, memberId: string, at: Date): Promise<number> {
  const result = await sql`
    UPDATE api_keys SET revoked_at = ${at} WHERE owner_member_id = ${memberId} AND revoked_at IS NULL`;
  return result.count;
}

/**
 * New secret, same id: the current hash becomes the previous one, valid until `previousExpiresAt`.
 * Only for a key that is not revoked (undefined otherwise).
 */
export async function rotateKeySecret(
  sql: Queryable,
  orgId: string,
  id: string,
  next: { hash: Buffer; summary: string; previousExpiresAt: Date },
): Promise<KeyRow | undefined> {
  const [row] = await sql<KeyRow[]>`
    UPDATE api_keys SET
      previous_hash = key_hash,
      previous_expires_at = ${next.previousExpiresAt},
      key_hash = ${next.hash},
      summary = ${next.summary}
    WHERE org_id = ${orgId} AND id = ${id} AND revoked_at IS NULL
    RETURNING ${KEY_COLUMNS(sql)}`;
  return row;
}

export interface KeyUsageDelta {
  keyId: string;
  /** admitted requests since the last flush */
  count: number;
  lastUsedAt: Date | null;
  /** the latest refusal (429) since the last flush, and until when it holds */
  lastLimitedAt: Date | null;
  limitedUntil: Date | null;
}

/** One UPDATE for a whole batch of per-key usage (the api flushes about once a second). */
export async function applyKeyUsage(sql: Queryable, deltas: KeyUsageDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  await sql`
    UPDATE api_keys k SET
      usage_count = k.usage_count + v.n,
      last_used_at = GREATEST(k.last_used_at, v.used_at),
      last_limited_at = GREATEST(k.last_limited_at, v.limited_at),
      limited_until = GREATEST(k.limited_until, v.limited_until)
    FROM unnest(
      ${deltas.map((d) => d.keyId)}::text[],
      ${deltas.map((d) => d.count)}::bigint[],
      ${deltas.map((d) => d.lastUsedAt?.toISOString() ?? null)}::timestamptz[],
      ${deltas.map((d) => d.lastLimitedAt?.toISOString() ?? null)}::timestamptz[],
      ${deltas.map((d) => d.limitedUntil?.toISOString() ?? null)}::timestamptz[]
    ) AS v(id, n, used_at, limited_at, limited_until)
    WHERE k.id = v.id`;
}

/** How many of these ids are live prompts of the organization (to validate a key's prompt list). */
export async function countPromptsInOrg(sql: Queryable, orgId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM prompts
    WHERE org_id = ${orgId} AND id = ANY(${ids}::text[]) AND deleted_at IS NULL`;
  return row?.n ?? 0;
}

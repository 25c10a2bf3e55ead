import { newId } from '@promptmill/infra';
import {
  countPromptsInOrg,
  findKeyById,
  findMember,
  insertKey,
  type KeyPatch,
  type KeyRow,
  listKeys,
  type MemberRow,
  revokeKey,
  rotateKeySecret,
  type Sql,
  updateKey,
} from '@promptmill/infra/db';
import { z } from 'zod';
import { generateApiKey } from '../auth/api-key.ts';
import type { AuthContext } from '../auth/auth-context.ts';
import { isBareOrigin, normalizeOrigin } from '../auth/origin.ts';
import { assertCurrentSecret, hasScope, SCOPES } from '../auth/scopes.ts';
import { AppError } from '../http/app-error.ts';
import type { Page } from '../http/pagination.ts';
import { isoDate, isoDateTime } from '../http/zod-primitives.ts';
import { keyRateLimitsInputSchema, keyRateLimitsSchema } from './key-rate-limits.ts';
import { assertWithinRights, type KeyRights } from './key-rights.ts';
import { outranks } from './roles.ts';

const DAY_MS = 86_400_000;
const MAX_GRACE_SECONDS = 30 * 86_400;

export type KeyStatus = 'active' | 'expired' | 'revoked' | 'rate_limited';

const originSchema = z
  .string()
  .max(300)
  .refine(isBareOrigin, { message: 'must be an origin such as https://app.example.com (no path)' })
  .transform((v) => normalizeOrigin(v)!);

/** `never`, `30d`, `90d`, or an ISO date / date-time in the future. */
export const expiresInSchema = z
  .union([z.literal('never'), z.literal('30d'), z.literal('90d'), isoDate(), isoDateTime()], {
    error: 'must be never, 30d, 90d, or an ISO-8601 date or date-time between 1970 and 9999',
  })
  .describe('`never`, `30d`, `90d`, or an ISO-8601 date or date-time');

const scopeListSchema = z.array(z.enum(SCOPES)).min(1).max(SCOPES.length);
const promptIdsSchema = z.array(z.string().min(1).max(100)).min(1).max(1000).nullable();
const allowedOriginsSchema = z.array(originSchema).max(50).nullable();

export const createKeySchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    scopes: scopeListSchema.optional().describe("Default: the calling key's scopes"),
    promptIds: promptIdsSchema
      .optional()
      .describe("Restrict to these prompt ids; null = all; default: the calling key's"),
    expiresIn: expiresInSchema
      .optional()
      .describe("Default: the calling key's expiry (`never` if it has none)"),
    rateLimits: keyRateLimitsInputSchema.optional().describe("Default: the calling key's rate limits"),
    allowedOrigins: allowedOriginsSchema
      .optional()
      .describe("null = any origin; default: the calling key's allowed origins"),
    ownerId: z.string().min(1).max(100).optional().describe("Owner member; default: the calling key's owner"),
  })
  .strict();
export type CreateKeyInput = z.infer<typeof createKeySchema>;

export const patchKeySchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    scopes: scopeListSchema,
    promptIds: promptIdsSchema,
    expiresIn: expiresInSchema,
    rateLimits: keyRateLimitsInputSchema,
    allowedOrigins: allowedOriginsSchema,
  })
  .partial()
  .strict();
export type PatchKeyInput = z.infer<typeof patchKeySchema>;

export const rotateKeySchema = z
  .object({ gracePeriodSeconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).default(86_400) })
  .strict();

export const keyViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  summary: z.string().describe('pm_live_abcd...wxyz'),
  scopes: z.array(z.string()),
  promptIds: z.array(z.string()).nullable(),
  rateLimits: keyRateLimitsSchema,
  allowedOrigins: z.array(z.string()).nullable(),
  ownerId: z.string(),
  status: z
    .enum(['active', 'expired', 'revoked', 'rate_limited'])
    .describe(
      '`rate_limited` while a limit refuses the key: from its last 429 until that refusal’s Retry-After (about 1 s behind, like usageCount)',
    ),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  usageCount: z.number().int(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  previousKeyExpiresAt: z
    .string()
    .nullable()
    .describe('End of the grace period of the secret replaced by the last rotation'),
});
export type KeyView = z.infer<typeof keyViewSchema>;

export const createdKeySchema = keyViewSchema.extend({
  key: z.string().describe('The secret, shown only in this response'),
});

/**
 * `rate_limited` while the key's last refusal holds (until its retry time: the end of the minute, hour or
 * UTC day that refused it) and nothing was admitted since (a raised limit shows at the next request).
 */
export function keyStatus(key: KeyRow, now: Date): KeyStatus {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && key.expiresAt <= now) return 'expired';
  const refusalHolds =
    key.limitedUntil !== null &&
    key.limitedUntil > now &&
    key.lastLimitedAt !== null &&
    (key.lastUsedAt === null || key.lastUsedAt <= key.lastLimitedAt);
  return refusalHolds ? 'rate_limited' : 'active';
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toKeyView(key: KeyRow, now: Date): KeyView {
  return {
    id: key.id,
    name: key.name,
    summary: key.summary,
    scopes: key.scopes,
    promptIds: key.promptIds,
    rateLimits: key.rateLimits,
    allowedOrigins: key.allowedOrigins,
    ownerId: key.ownerMemberId,
    status: keyStatus(key, now),
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: iso(key.lastUsedAt),
    usageCount: key.usageCount,
    expiresAt: iso(key.expiresAt),
    revokedAt: iso(key.revokedAt),
    previousKeyExpiresAt:
      key.previousExpiresAt && key.previousExpiresAt > now ? key.previousExpiresAt.toISOString() : null,
  };
}

export function resolveExpiry(expiresIn: z.infer<typeof expiresInSchema>, now: Date): Date | null {
  if (expiresIn === 'never') return null;
  if (expiresIn === '30d') return new Date(now.getTime() + 30 * DAY_MS);
  if (expiresIn === '90d') return new Date(now.getTime() + 90 * DAY_MS);
  const at = new Date(expiresIn);
  if (at <= now) {
    throw new AppError('VALIDATION_ERROR', 'Invalid request parameters', {
      details: [{ field: 'expiresIn', message: 'must be in the future' }],
    });
  }
  return at;
}

const forbidden = (message: string) => new AppError('FORBIDDEN', message);

/**
 * Keys belong to their owner member: a key manages keys of its own owner, and of members whose role
 * is below its owner's (an admin's key cannot take over the owner's keys, nor another admin's).
 */
function assertMayActFor(auth: AuthContext, owner: MemberRow): void {
  if (owner.id !== auth.member.id && !outranks(auth.member.role, owner.role)) {
    throw forbidden(
      `This API key cannot manage keys of a member whose role (${owner.role}) is not below its owner's (${auth.member.role})`,
    );
  }
}

/** A key may rotate, edit or revoke only keys no more permissive than itself, of members it may act for. */
async function assertMayManage(sql: Sql, auth: AuthContext, key: KeyRow): Promise<void> {
  assertWithinRights(auth, key);
  if (key.ownerMemberId === auth.member.id) return;
  // a removed member's keys are revoked; there is no one left to protect
  const owner = await findMember(sql, auth.org.id, key.ownerMemberId);
  if (owner) assertMayActFor(auth, owner);
}

async function assertPromptsExist(sql: Sql, orgId: string, promptIds: readonly string[] | null | undefined) {
  if (!promptIds) return;
  const unique = [...new Set(promptIds)];
  if ((await countPromptsInOrg(sql, orgId, unique)) !== unique.length) {
    throw new AppError('VALIDATION_ERROR', 'Invalid request parameters', {
      details: [{ field: 'promptIds', message: 'every id must name a prompt of this organization' }],
    });
  }
}

async function findOwnKey(sql: Sql, auth: AuthContext, id: string): Promise<KeyRow> {
  const key = await findKeyById(sql, auth.org.id, id);
  if (!key) throw new AppError('KEY_NOT_FOUND', `API key '${id}' not found`);
  return key;
}

export async function createKey(
  sql: Sql,
  auth: AuthContext,
  input: CreateKeyInput,
  now: Date,
): Promise<KeyView & { key: string }> {
  assertCurrentSecret(auth);
  // what the request leaves out is the calling key's own: a child never silently widens
  const rights: KeyRights = {
    scopes: input.scopes ?? auth.key.scopes,
    promptIds: input.promptIds !== undefined ? input.promptIds : auth.key.promptIds,
    rateLimits: input.rateLimits ?? auth.key.rateLimits,
    allowedOrigins: input.allowedOrigins !== undefined ? input.allowedOrigins : auth.key.allowedOrigins,
    expiresAt: input.expiresIn !== undefined ? resolveExpiry(input.expiresIn, now) : auth.key.expiresAt,
  };
  assertWithinRights(auth, rights);
  await assertPromptsExist(sql, auth.org.id, rights.promptIds);
  let ownerId = auth.member.id;
  if (input.ownerId !== undefined && input.ownerId !== auth.member.id) {
    if (!hasScope(auth.key.scopes, 'admin'))
      throw forbidden('Only an admin key may create keys for another member');
    const owner = await findMember(sql, auth.org.id, input.ownerId);
    if (!owner) throw new AppError('MEMBER_NOT_FOUND', `Member '${input.ownerId}' not found`);
    assertMayActFor(auth, owner);
    ownerId = owner.id;
  }
  const generated = generateApiKey();
  const row = await insertKey(sql, {
    id: newId('key'),
    orgId: auth.org.id,
    ownerMemberId: ownerId,
    name: input.name,
    hash: generated.hash,
    summary: generated.summary,
    scopes: [...new Set(rights.scopes)],
    promptIds: rights.promptIds ? [...new Set(rights.promptIds)] : null,
    rateLimits: { ...rights.rateLimits },
    allowedOrigins: rights.allowedOrigins ? [...new Set(rights.allowedOrigins)] : null,
    expiresAt: rights.expiresAt,
  });
  return { ...toKeyView(row, now), key: generated.plaintext };
}

export async function listOrgKeys(
  sql: Sql,
  auth: AuthContext,
  page: Page,
  now: Date,
): Promise<{ data: KeyView[]; total: number }> {
  assertCurrentSecret(auth);
  const { rows, total } = await listKeys(sql, auth.org.id, { limit: page.perPage, offset: page.offset });
  return { data: rows.map((k) => toKeyView(k, now)), total };
}

export async function getKey(sql: Sql, auth: AuthContext, id: string, now: Date): Promise<KeyView> {
  assertCurrentSecret(auth);
  return toKeyView(await findOwnKey(sql, auth, id), now);
}

export async function patchKey(
  sql: Sql,
  auth: AuthContext,
  id: string,
  input: PatchKeyInput,
  now: Date,
): Promise<KeyView> {
  assertCurrentSecret(auth);
  const current = await findOwnKey(sql, auth, id);
  await assertMayManage(sql, auth, current);
  const expiresAt = input.expiresIn !== undefined ? resolveExpiry(input.expiresIn, now) : undefined;
  // the key as it would be after the change: at most as permissive as the calling key
  assertWithinRights(auth, {
    scopes: input.scopes ?? current.scopes,
    promptIds: input.promptIds !== undefined ? input.promptIds : current.promptIds,
    rateLimits: input.rateLimits ?? current.rateLimits,
    allowedOrigins: input.allowedOrigins !== undefined ? input.allowedOrigins : current.allowedOrigins,
    expiresAt: expiresAt !== undefined ? expiresAt : current.expiresAt,
  });
  if (input.promptIds !== undefined) await assertPromptsExist(sql, auth.org.id, input.promptIds);
  const patch: KeyPatch = {
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.scopes !== undefined ? { scopes: [...new Set(input.scopes)] } : {}),
    ...(input.promptIds !== undefined
      ? { promptIds: input.promptIds ? [...new Set(input.promptIds)] : null }
      : {}),
    ...(input.rateLimits !== undefined ? { rateLimits: input.rateLimits } : {}),
    ...(input.allowedOrigins !== undefined
      ? { allowedOrigins: input.allowedOrigins ? [...new Set(input.allowedOrigins)] : null }
      : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
  const row = await updateKey(sql, auth.org.id, id, patch);
  if (!row) throw new AppError('KEY_NOT_FOUND', `API key '${id}' not found`);
  return toKeyView(row, now);
}

/** Immediate in every api process: authentication reads the key row on each request. Idempotent. */
export async function revokeOrgKey(sql: Sql, auth: AuthContext, id: string, now: Date): Promise<KeyView> {
  assertCurrentSecret(auth);
  await assertMayManage(sql, auth, await findOwnKey(sql, auth, id));
  const row = await revokeKey(sql, auth.org.id, id, now);
  if (!row) throw new AppError('KEY_NOT_FOUND', `API key '${id}' not found`);
  return toKeyView(row, now);
}

/**
 * New secret, same key id. The replaced secret keeps working for `gracePeriodSeconds` (0 = ends now).
 * Rotating again before the grace period is over ends the older secret at once: only one previous
 * secret is kept.
 */
export async function rotateKey(
  sql: Sql,
  auth: AuthContext,
  id: string,
  gracePeriodSeconds: number,
  now: Date,
): Promise<KeyView & { key: string }> {
  assertCurrentSecret(auth);
  const current = await findOwnKey(sql, auth, id);
  await assertMayManage(sql, auth, current);
  if (current.revokedAt) throw new AppError('INVALID_STATE', 'A revoked API key cannot be rotated');
  const generated = generateApiKey();
  const row = await rotateKeySecret(sql, auth.org.id, id, {
    hash: generated.hash,
    summary: generated.summary,
    previousExpiresAt: new Date(now.getTime() + gracePeriodSeconds * 1000),
  });
  if (!row) throw new AppError('INVALID_STATE', 'A revoked API key cannot be rotated');
  return { ...toKeyView(row, now), key: generated.plaintext };
}

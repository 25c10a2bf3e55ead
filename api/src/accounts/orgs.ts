import { newId } from '@promptmill/infra';
import {
  findOrgById,
  insertKey,
  insertMember,
  insertOrg,
  type KeyRow,
  type MemberRow,
  type OrgPatch,
  type OrgRow,
  type Sql,
  updateOrg,
} from '@promptmill/infra/db';
import { z } from 'zod';
import { generateApiKey } from '../auth/api-key.ts';
import { AppError } from '../http/app-error.ts';
import { positiveInt32 } from '../http/zod-primitives.ts';
import { effectiveOrgLimits } from '../limits/windows.ts';

// the shared counters are int4: a larger limit cannot be counted to (it used to switch the org's limits off)
const limitOverridesSchema = z
  .object({
    perMinute: positiveInt32().optional(),
    perDay: positiveInt32().optional(),
  })
  .strict();

export const createOrgSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    plan: z.enum(['free', 'pro', 'team', 'enterprise']).default('pro'),
    billingStatus: z.enum(['active', 'past_due', 'disputed', 'canceled']).default('active'),
    tokenBudget: z.number().int().min(0).nullable().default(null),
    limits: limitOverridesSchema.default({}),
    /** the name the org resource shows them under: accepted too (`limits` wins when both are given) */
    limitOverrides: limitOverridesSchema.optional(),
    allowedModels: z.array(z.string().min(1)).nullable().default(null),
    owner: z
      .object({ email: z.string().email(), name: z.string().max(200).optional() })
      .default({ email: 'owner@example.com' }),
    firstKeyName: z.string().trim().min(1).max(200).default('Default key'),
  })
  .strict();
export type CreateOrgInput = z.infer<typeof createOrgSchema>;

export const patchOrgSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    plan: z.enum(['free', 'pro', 'team', 'enterprise']),
    billingStatus: z.enum(['active', 'past_due', 'disputed', 'canceled']),
    tokenBudget: z.number().int().min(0).nullable(),
    limits: limitOverridesSchema,
    limitOverrides: limitOverridesSchema,
    allowedModels: z.array(z.string().min(1)).nullable(),
  })
  .partial()
  .strict();

export interface CreatedOrg {
  org: OrgRow;
  owner: MemberRow;
  key: KeyRow & { key: string };
}

/** An organization, its first member (owner) and its first key (all scopes), atomically. */
export async function createOrgWithFirstKey(sql: Sql, input: CreateOrgInput): Promise<CreatedOrg> {
  const generated = generateApiKey();
  return (await sql.begin(async (tx) => {
    const org = await insertOrg(tx, {
      id: newId('org'),
      name: input.name,
      plan: input.plan,
      billingStatus: input.billingStatus,
      tokenBudget: input.tokenBudget,
      limitOverrides: Object.keys(input.limits).length > 0 ? input.limits : (input.limitOverrides ?? {}),
      allowedModels: input.allowedModels,
    });
    const owner = await insertMember(tx, {
      id: newId('member'),
      orgId: org.id,
      email: input.owner.email,
      name: input.owner.name ?? null,
      role: 'owner',
    });
    const key = await insertKey(tx, {
      id: newId('key'),
      orgId: org.id,
      ownerMemberId: owner.id,
      name: input.firstKeyName,
      hash: generated.hash,
      summary: generated.summary,
      scopes: ['admin'],
      promptIds: null,
      rateLimits: {},
      allowedOrigins: null,
      expiresAt: null,
    });
    return { org, owner, key: { ...key, key: generated.plaintext } };
  })) as CreatedOrg;
}

export type OrgView = OrgRow & { limits: { perMinute: number; perDay: number } };

/** The row plus the limits in force (plan limits with the organization's overrides applied). */
export function toOrgView(org: OrgRow): OrgView {
  return { ...org, limits: effectiveOrgLimits(org.plan, org.limitOverrides) };
}

export async function getOrg(sql: Sql, id: string): Promise<OrgRow> {
  const org = await findOrgById(sql, id);
  if (!org) throw new AppError('ORG_NOT_FOUND', `Organization '${id}' not found`);
  return org;
}

export async function patchOrg(sql: Sql, id: string, input: z.infer<typeof patchOrgSchema>): Promise<OrgRow> {
  const patch: OrgPatch = {
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.plan !== undefined ? { plan: input.plan } : {}),
    ...(input.billingStatus !== undefined ? { billingStatus: input.billingStatus } : {}),
    ...(input.tokenBudget !== undefined ? { tokenBudget: input.tokenBudget } : {}),
    ...((input.limits ?? input.limitOverrides) !== undefined
      ? { limitOverrides: input.limits ?? input.limitOverrides }
      : {}),
    ...(input.allowedModels !== undefined ? { allowedModels: input.allowedModels } : {}),
  };
  const org = await updateOrg(sql, id, patch);
  if (!org) throw new AppError('ORG_NOT_FOUND', `Organization '${id}' not found`);
  return org;
}

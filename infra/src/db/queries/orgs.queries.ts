import type { Queryable } from '../client.ts';

export type Plan = 'free' | 'pro' | 'team' | 'enterprise';
export type BillingStatus = 'active' | 'past_due' | 'disputed' | 'canceled';

export interface LimitOverrides {
  perMinute?: number;
  perDay?: number;
}

export interface OrgRow {
  id: string;
  name: string;
  plan: Plan;
  billingStatus: BillingStatus;
  tokenBudget: number | null;
  limitOverrides: LimitOverrides;
  allowedModels: string[] | null;
  createdAt: Date;
  updatedAt: Date;
}

const ORG_COLUMNS = (sql: Queryable) => sql`
  id, name, plan, billing_status AS "billingStatus", token_budget AS "tokenBudget",
  limit_overrides AS "limitOverrides", allowed_models AS "allowedModels",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface NewOrg {
  id: string;
  name: string;
  plan: Plan;
  billingStatus: BillingStatus;
  tokenBudget: number | null;
  limitOverrides: LimitOverrides;
  allowedModels: string[] | null;
}

export async function insertOrg(sql: Queryable, org: NewOrg): Promise<OrgRow> {
  const [row] = await sql<OrgRow[]>`
    INSERT INTO organizations (id, name, plan, billing_status, token_budget, limit_overrides, allowed_models)
    VALUES (${org.id}, ${org.name}, ${org.plan}, ${org.billingStatus}, ${org.tokenBudget},
            ${sql.json(org.limitOverrides as Record<string, number>)}, ${org.allowedModels})
    RETURNING ${ORG_COLUMNS(sql)}`;
  return row!;
}

export async function findOrgById(sql: Queryable, id: string): Promise<OrgRow | undefined> {
  const [row] = await sql<OrgRow[]>`SELECT ${ORG_COLUMNS(sql)} FROM organizations WHERE id = ${id}`;
  return row;
}

export type OrgPatch = Partial<Omit<NewOrg, 'id'>>;

export async function updateOrg(sql: Queryable, id: string, patch: OrgPatch): Promise<OrgRow | undefined> {
  const [row] = await sql<OrgRow[]>`
    UPDATE organizations SET
      name = COALESCE(${patch.name ?? null}, name),
      plan = COALESCE(${patch.plan ?? null}, plan),
      billing_status = COALESCE(${patch.billingStatus ?? null}, billing_status),
      token_budget = CASE WHEN ${patch.tokenBudget !== undefined} THEN ${patch.tokenBudget ?? null}::bigint ELSE token_budget END,
      limit_overrides = CASE WHEN ${patch.limitOverrides !== undefined}
        THEN ${sql.json((patch.limitOverrides ?? {}) as Record<string, number>)} ELSE limit_overrides END,
      allowed_models = CASE WHEN ${patch.allowedModels !== undefined} THEN ${patch.allowedModels ?? null}::text[] ELSE allowed_models END,
      updated_at = now()
    WHERE id = ${id}
    RETURNING ${ORG_COLUMNS(sql)}`;
  return row;
}

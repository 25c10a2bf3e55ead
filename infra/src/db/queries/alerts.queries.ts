import type { Queryable, Sql } from '../client.ts';
import { insertEvent } from './events.queries.ts';
import type { KeyRateLimits } from './keys.queries.ts';
import type { LimitOverrides, Plan } from './orgs.queries.ts';

// Alert rules (/v1/alerts) and what their evaluation reads and writes (migration 015).

export type AlertType = 'usage_threshold' | 'error_rate' | 'cost_threshold';
export type AlertState = 'ok' | 'firing';

export interface AlertRuleRow {
  id: string;
  orgId: string;
  type: AlertType;
  name: string;
  enabled: boolean;
  thresholdPercent: number | null;
  windowMinutes: number | null;
  minRequests: number | null;
  amountUsd: number | null;
  keyId: string | null;
  state: AlertState;
  lastValue: number | null;
  lastEvaluatedAt: Date | null;
  lastFiredAt: Date | null;
  lastFiredWindow: string | null;
  createdAt: Date;
}

const RULE_COLUMNS = (sql: Queryable) => sql`
  id, org_id AS "orgId", type, name, enabled, threshold_percent AS "thresholdPercent",
  window_minutes AS "windowMinutes", min_requests AS "minRequests", amount_usd AS "amountUsd",
  key_id AS "keyId", state, last_value AS "lastValue", last_evaluated_at AS "lastEvaluatedAt",
  last_fired_at AS "lastFiredAt", last_fired_window AS "lastFiredWindow", created_at AS "createdAt"`;

export type NewAlertRule = Pick<
  AlertRuleRow,
  | 'id'
  | 'orgId'
  | 'type'
  | 'name'
  | 'enabled'
  | 'thresholdPercent'
  | 'windowMinutes'
  | 'minRequests'
  | 'amountUsd'
  | 'keyId'
>;

export async function insertAlertRule(sql: Queryable, r: NewAlertRule): Promise<AlertRuleRow> {
  const [row] = await sql<AlertRuleRow[]>`
    INSERT INTO alert_rules (id, org_id, type, name, enabled, threshold_percent, window_minutes, min_requests,
                             amount_usd, key_id)
    VALUES (${r.id}, ${r.orgId}, ${r.type}, ${r.name}, ${r.enabled}, ${r.thresholdPercent}, ${r.windowMinutes},
            ${r.minRequests}, ${r.amountUsd}, ${r.keyId})
    RETURNING ${RULE_COLUMNS(sql)}`;
  return row!;
}

export async function listAlertRules(
  sql: Queryable,
  orgId: string,
  page: { limit: number; offset: number },
): Promise<{ rows: AlertRuleRow[]; total: number }> {
  const [rows, [count]] = await Promise.all([
    sql<AlertRuleRow[]>`
      SELECT ${RULE_COLUMNS(sql)} FROM alert_rules WHERE org_id = ${orgId} AND deleted_at IS NULL
      ORDER BY created_at, id LIMIT ${page.limit} OFFSET ${page.offset}`,
    sql<{ total: number }[]>`
      SELECT count(*)::int AS total FROM alert_rules WHERE org_id = ${orgId} AND deleted_at IS NULL`,
  ]);
  return { rows: [...rows], total: count?.total ?? 0 };
}

export async function findAlertRule(
  sql: Queryable,
  orgId: string,
  id: string,
): Promise<AlertRuleRow | undefined> {
  const [row] = await sql<AlertRuleRow[]>`
    SELECT ${RULE_COLUMNS(sql)} FROM alert_rules WHERE org_id = ${orgId} AND id = ${id} AND deleted_at IS NULL`;
  return row;
}

export async function updateAlertRule(
  sql: Queryable,
  orgId: string,
  id: string,
  patch: { enabled?: boolean | undefined; name?: string | undefined },
): Promise<AlertRuleRow | undefined> {
  const [row] = await sql<AlertRuleRow[]>`
    UPDATE alert_rules SET enabled = COALESCE(${patch.enabled ?? null}::boolean, enabled),
      name = COALESCE(${patch.name ?? null}::text, name),
      -- a disabled rule is not firing (it is not evaluated)
      state = CASE WHEN COALESCE(${patch.enabled ?? null}::boolean, enabled) THEN state ELSE 'ok' END
    WHERE org_id = ${orgId} AND id = ${id} AND deleted_at IS NULL
    RETURNING ${RULE_COLUMNS(sql)}`;
  return row;
}

export async function deleteAlertRule(sql: Queryable, orgId: string, id: string): Promise<boolean> {
  const rows = await sql`
    UPDATE alert_rules SET deleted_at = now(), enabled = false
    WHERE org_id = ${orgId} AND id = ${id} AND deleted_at IS NULL`;
  return rows.count === 1;
}

/** An enabled rule with what its evaluation needs of its organization and key. */
export interface RuleToEvaluate extends AlertRuleRow {
  plan: Plan;
  limitOverrides: LimitOverrides;
  tokenBudget: number | null;
  /** the rule's key's own limits ({} without a key, or when the key is gone) */
  keyRateLimits: KeyRateLimits;
}

/** Enabled rules of every organization (or one), oldest first. */
export async function listRulesToEvaluate(sql: Queryable, orgId?: string): Promise<RuleToEvaluate[]> {
  const rows = await sql<RuleToEvaluate[]>`
    SELECT r.*, o.plan, o.limit_overrides AS "limitOverrides", o.token_budget AS "tokenBudget",
           COALESCE(k.rate_limits, '{}'::jsonb) AS "keyRateLimits"
    FROM (SELECT ${RULE_COLUMNS(sql)} FROM alert_rules WHERE enabled AND deleted_at IS NULL
          ${orgId === undefined ? sql`` : sql`AND org_id = ${orgId}`}) r
    JOIN organizations o ON o.id = r."orgId"
    LEFT JOIN api_keys k ON k.id = r."keyId" AND k.org_id = r."orgId"
    ORDER BY r."createdAt", r.id`;
  return [...rows];
}

/**
 * Runs that ended in (from, to] and how many failed: their 'run' usage events (indexed by org and
 * time: only the window is read), plus runs that failed before their workflow started (no usage
 * event; found among the org's failed runs of the last day, a small set).
 */
export async function endedRunCounts(
  sql: Queryable,
  orgId: string,
  from: Date,
  to: Date,
): Promise<{ requests: number; errors: number }> {
  const [row] = await sql<{ requests: number; errors: number }[]>`
    SELECT (e.requests + u.n)::int AS requests, (e.errors + u.n)::int AS errors
    FROM (
      SELECT count(*) AS requests, count(*) FILTER (WHERE status = 'failed') AS errors
      FROM usage_events
      WHERE org_id = ${orgId} AND kind = 'run' AND created_at > ${from} AND created_at <= ${to}
    ) e, (
      SELECT count(*) AS n FROM runs r
      WHERE r.org_id = ${orgId} AND r.status = 'failed' AND r.created_at > ${from}::timestamptz - interval '1 day'
        AND r.started_at IS NULL AND r.finished_at > ${from} AND r.finished_at <= ${to}
        AND NOT EXISTS (SELECT 1 FROM usage_events x WHERE x.run_id = r.id AND x.kind = 'run')
    ) u`;
  return row!;
}

/** An evaluation that does not fire: the rule's state and value, unless it was disabled meanwhile. */
export async function recordAlertEvaluation(
  sql: Queryable,
  id: string,
  e: { state: AlertState; value: number; at: Date },
): Promise<void> {
  await sql`
    UPDATE alert_rules SET state = ${e.state}, last_value = ${e.value}, last_evaluated_at = ${e.at}
    WHERE id = ${id} AND enabled AND deleted_at IS NULL`;
}

/**
 * Fires a rule for a window, at most once: the rule moves to `firing` for that window and its
 * usage.alert event joins the outbox in one transaction, or nothing happens (already fired in this
 * window, disabled or deleted meanwhile). true = it fired now.
 */
export async function fireAlert(
  sql: Sql,
  f: {
    id: string;
    orgId: string;
    window: string;
    value: number;
    at: Date;
    eventId: string;
    payload: Record<string, unknown>;
  },
): Promise<boolean> {
  return (await sql.begin(async (tx) => {
    const rows = await tx`
      UPDATE alert_rules SET state = 'firing', last_value = ${f.value}, last_evaluated_at = ${f.at},
        last_fired_at = ${f.at}, last_fired_window = ${f.window}
      WHERE id = ${f.id} AND enabled AND deleted_at IS NULL
        AND last_fired_window IS DISTINCT FROM ${f.window}`;
    if (rows.count === 0) return false;
    await insertEvent(tx, {
      id: f.eventId,
      orgId: f.orgId,
      type: 'usage.alert',
      payload: f.payload,
      createdAt: f.at,
    });
    return true;
  })) as boolean;
}

import type { Queryable, Sql } from '../client.ts';

// Monthly token budgets (migration 006): a run reserves an estimate of its tokens before it starts;
// whatever ends it — its completion, a cancel before dispatch, a failed or abandoned start, the
// sweep — releases the reservation in the same transaction, exactly once (the DELETE of its row).

const thisMonth = (sql: Queryable) => sql`date_trunc('month', now() AT TIME ZONE 'UTC')::date`;

/** An organization's monthly budget and what one run reserves against it. */
export interface RunBudget {
  budget: number;
  tokens: number;
}

export interface BudgetClaim extends RunBudget {
  orgId: string;
  runId: string;
}

/** This month's tokens used (completed runs) and reserved (runs in progress). */
export interface BudgetUsage {
  used: number;
  reserved: number;
}

export type BudgetDecision = { isReserved: true } | ({ isReserved: false } & BudgetUsage);

export async function monthBudgetUsage(sql: Queryable, orgId: string): Promise<BudgetUsage> {
  const [row] = await sql<BudgetUsage[]>`
    SELECT tokens AS used, reserved_tokens AS reserved FROM org_usage_monthly
    WHERE org_id = ${orgId} AND month = ${thisMonth(sql)}`;
  return row ?? { used: 0, reserved: 0 };
}

/**
 * Reserves `tokens` for a run, in one statement: admitted while this month's used + reserved tokens
 * are below the budget (the upsert locks the org's month row, so concurrent claims are decided one
 * after another on the latest totals). A claim larger than what is left is admitted too — so a
 * budget smaller than one run still lets one run at a time start — which is why the month can end
 * over budget by at most one run's reservation. A budget of 0 admits nothing.
 */
export async function reserveBudget(sql: Queryable, c: BudgetClaim): Promise<BudgetDecision> {
  const rows = await sql`
    WITH admitted AS (
      INSERT INTO org_usage_monthly AS m (org_id, month, tokens, cost, runs, reserved_tokens)
      SELECT ${c.orgId}::text, ${thisMonth(sql)}, 0, 0, 0, ${c.tokens}::bigint
      WHERE ${c.budget}::bigint > 0
      ON CONFLICT (org_id, month) DO UPDATE SET reserved_tokens = m.reserved_tokens + EXCLUDED.reserved_tokens
        WHERE m.tokens + m.reserved_tokens < ${c.budget}::bigint
      RETURNING m.org_id, m.month
    )
    INSERT INTO budget_reservations (run_id, org_id, month, tokens)
    SELECT ${c.runId}::text, org_id, month, ${c.tokens}::bigint FROM admitted
    RETURNING run_id`;
  if (rows.count === 1) return { isReserved: true };
  return { isReserved: false, ...(await monthBudgetUsage(sql, c.orgId)) };
}

/**
 * Gives back the reservations of these runs (ended, or never started) to the month each was made
 * in. Runs without one are skipped, so a second release of the same run changes nothing.
 */
export async function releaseReservations(sql: Queryable, runIds: readonly string[]): Promise<void> {
  if (runIds.length === 0) return;
  await sql`
    WITH released AS (
      DELETE FROM budget_reservations WHERE run_id = ANY(${[...runIds].sort()})
      RETURNING org_id, month, tokens
    ), per_month AS (
      SELECT org_id, month, sum(tokens) AS tokens FROM released GROUP BY org_id, month
    )
    UPDATE org_usage_monthly m SET reserved_tokens = GREATEST(0, m.reserved_tokens - p.tokens)
    FROM per_month p WHERE m.org_id = p.org_id AND m.month = p.month`;
}

/**
 * Releases reservations nothing else will: those whose run has ended (a path that did not settle),
 * whose run does not exist (a minute after the reservation: never committed with it), and any older
 * than `maxAgeSeconds` (a run stuck without a workflow must not hold the budget forever; a run that
 * is merely slow still has its usage counted when it ends). Returns the released runs' ids.
 */
export async function releaseStaleReservations(
  sql: Sql,
  opts: { maxAgeSeconds: number; limit: number },
): Promise<string[]> {
  return (await sql.begin(async (tx) => {
    const rows = await tx<{ runId: string }[]>`
      SELECT b.run_id AS "runId" FROM budget_reservations b LEFT JOIN runs r ON r.id = b.run_id
      WHERE r.status IN ('succeeded', 'failed', 'canceled')
         OR (r.id IS NULL AND b.created_at < now() - interval '1 minute')
         OR b.created_at < now() - make_interval(secs => ${opts.maxAgeSeconds})
      ORDER BY b.created_at
      LIMIT ${opts.limit}
      FOR UPDATE OF b SKIP LOCKED`;
    const ids = rows.map((r) => r.runId);
    await releaseReservations(tx, ids);
    return ids;
  })) as string[];
}

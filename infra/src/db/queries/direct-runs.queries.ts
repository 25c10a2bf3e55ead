import type { Queryable, Sql } from '../client.ts';
import { type BudgetUsage, monthBudgetUsage, type RunBudget } from './budget.queries.ts';
import type { AttemptStart } from './run-usage.queries.ts';
import type { NewRun } from './runs.queries.ts';

// Runs the api executes itself (SYNC_RUN_MODE=direct, migration 010). The same rows as a workflow's
// run — the run row, its budget reservation, one usage row per provider call, one for the run, the
// month's totals, the cache — in as few statements as possible: one before the first provider call
// (run + reservation + the call's attempt row) and one after the last (that call's usage + the run's
// completion: completeRun, as the workflow records it). A retry adds one statement per call
// (run-usage.queries.ts: finishAttempt, startAttempt).

/** Refused: the budget's usage, for the 402 message. */
export type DirectRunInsert = { outcome: 'inserted' } | ({ outcome: 'refused' } & BudgetUsage);

const thisMonth = (sql: Queryable) => sql`date_trunc('month', now() AT TIME ZONE 'UTC')::date`;
const leaseEnd = (sql: Queryable, leaseMs: number) => sql`now() + make_interval(secs => ${leaseMs / 1000})`;

/**
 * Inserts a direct run already running, under this process's lease, with its budget reservation
 * and its first call's attempt row, in one statement: a refused reservation leaves no run behind,
 * and the run never exists without its reservation or its first attempt. Direct runs carry no
 * idempotency key (sync and streaming runs have none).
 */
export async function insertDirectRun(
  sql: Queryable,
  run: NewRun,
  budget: RunBudget | null,
  first: AttemptStart,
  leaseMs: number,
): Promise<DirectRunInsert> {
  const month = thisMonth(sql);
  // without a budget the reservation step admits the run by itself
  const admitted = budget
    ? sql`
      admitted AS (
        INSERT INTO org_usage_monthly AS m (org_id, month, tokens, cost, runs, reserved_tokens)
        SELECT ${run.orgId}::text, ${month}, 0, 0, 0, ${budget.tokens}::bigint
        WHERE ${budget.budget}::bigint > 0
        ON CONFLICT (org_id, month) DO UPDATE SET reserved_tokens = m.reserved_tokens + EXCLUDED.reserved_tokens
          WHERE m.tokens + m.reserved_tokens < ${budget.budget}::bigint
        RETURNING m.org_id, m.month
      ), reserved AS (
        INSERT INTO budget_reservations (run_id, org_id, month, tokens)
        SELECT ${run.id}::text, org_id, month, ${budget.tokens}::bigint FROM admitted
        RETURNING run_id
      ),`
    : sql`reserved AS (SELECT 1),`;
  const rows = await sql`
    WITH ${admitted} inserted AS (
      INSERT INTO runs (id, org_id, key_id, prompt_id, version_id, prompt_version, mode, status, variables,
                        metadata, webhook_url, model, started_at, direct_lease_until)
      SELECT ${run.id}, ${run.orgId}, ${run.keyId}, ${run.promptId}, ${run.versionId}, ${run.promptVersion},
             'direct', 'running', ${sql.json(run.variables as Record<string, never>)},
             ${run.metadata === null ? null : sql.json(run.metadata as Record<string, never>)}, ${run.webhookUrl},
             ${run.model}, now(), ${leaseEnd(sql, leaseMs)}
      WHERE EXISTS (SELECT 1 FROM reserved)
      RETURNING id
    )
    INSERT INTO usage_events (org_id, key_id, run_id, kind, seq, attempt_id, prompt_id, prompt_version, model,
                              provider, status, prompt_tokens, completion_tokens, cost)
    SELECT ${first.orgId}, ${first.keyId}, id, 'attempt', ${first.seq}, ${first.attemptId}, ${first.promptId},
           ${first.promptVersion}, ${first.model}, ${first.provider}, 'started', ${first.estimate.promptTokens},
           ${first.estimate.completionTokens}, ${first.estimate.cost}
    FROM inserted
    RETURNING run_id`;
  if (rows.count === 1) return { outcome: 'inserted' };
  return { outcome: 'refused', ...(await monthBudgetUsage(sql, run.orgId)) };
}

/** Extends this process's lease on its unfinished direct runs (one statement for all of them). */
export async function renewDirectLeases(
  sql: Queryable,
  runIds: readonly string[],
  leaseMs: number,
): Promise<void> {
  if (runIds.length === 0) return;
  await sql`
    UPDATE runs SET direct_lease_until = ${leaseEnd(sql, leaseMs)}
    WHERE id = ANY(${[...runIds]}) AND status IN ('queued', 'running')`;
}

/** An unfinished direct run whose lease ran out: its api process stopped. */
export interface OrphanedDirectRun {
  runId: string;
  orgId: string;
  keyId: string | null;
  promptId: string;
  promptName: string;
  promptVersion: number;
  model: string;
  createdAt: Date;
}

export async function findOrphanedDirectRuns(sql: Sql, limit: number): Promise<OrphanedDirectRun[]> {
  return sql<OrphanedDirectRun[]>`
    SELECT r.id AS "runId", r.org_id AS "orgId", r.key_id AS "keyId", r.prompt_id AS "promptId",
           p.name AS "promptName", r.prompt_version AS "promptVersion", r.model, r.created_at AS "createdAt"
    FROM runs r JOIN prompts p ON p.id = r.prompt_id
    WHERE r.direct_lease_until < now() AND r.status IN ('queued', 'running')
    ORDER BY r.direct_lease_until
    LIMIT ${limit}`;
}

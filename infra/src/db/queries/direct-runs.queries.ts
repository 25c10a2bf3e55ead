import type { Queryable, Sql } from '../client.ts';
import { type BudgetUsage, monthBudgetUsage, type RunBudget } from './budget.queries.ts';
import {
  type AttemptEnd,
  type AttemptStart,
  type RunCompletion,
  type RunTotals,
  storableDetail,
} from './run-usage.queries.ts';
import type { NewRun } from './runs.queries.ts';

// Runs the api executes itself (SYNC_RUN_MODE=direct, migration 010). The same rows as a workflow's
// run — the run row, its budget reservation, one usage row per provider call, one for the run, the
// month's totals, the cache — in as few statements as possible: one before the first provider call
// (run + reservation + the call's attempt row) and one after the last (that call's usage + the run's
// completion). A retry adds one statement per call (run-usage.queries.ts: finishAttempt, startAttempt).

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

/**
 * The run's last provider call and its completion, in one statement: the call's usage row closed
 * (unless a sweep already counted it as interrupted), then exactly what completeRun records — a
 * 'run' usage row with the sum of the attempts, the run row, the release of the reservation, the
 * month's totals, the cache — guarded by the same unique key, so only the first completion counts
 * (recorded: false when a sweep failed the run first).
 */
export async function completeDirectRun(
  sql: Queryable,
  c: RunCompletion,
  last: AttemptEnd,
): Promise<RunTotals> {
  const month = thisMonth(sql);
  const u = last.usage;
  const cached =
    c.status === 'succeeded' && c.output !== null && c.cacheKey && c.cacheTtlSeconds
      ? sql`, cached AS (
          INSERT INTO run_cache (cache_key, org_id, run_id, output, model, prompt_tokens, completion_tokens, expires_at)
          SELECT ${c.cacheKey}, ${c.orgId}, ${c.runId}, ${c.output}, ${c.model}, r.prompt_tokens, r.completion_tokens,
                 now() + make_interval(secs => ${c.cacheTtlSeconds})
          FROM recorded r
          ON CONFLICT (cache_key) DO UPDATE SET run_id = EXCLUDED.run_id, output = EXCLUDED.output,
            model = EXCLUDED.model, prompt_tokens = EXCLUDED.prompt_tokens,
            completion_tokens = EXCLUDED.completion_tokens, expires_at = EXCLUDED.expires_at
        )`
      : sql``;
  // Every statement of a WITH sees the rows as they were before it: the sums take the closed
  // call's new usage from `finished`, the other attempts' from the table.
  const [t] = await sql<
    { promptTokens: number; completionTokens: number; cost: number; attempts: number; recorded: boolean }[]
  >`
    WITH finished AS (
      UPDATE usage_events SET status = ${last.status}, error_code = ${last.errorCode},
        error_detail = ${last.errorDetail ? storableDetail(last.errorDetail) : null}, prompt_tokens = ${u.promptTokens},
        completion_tokens = ${u.completionTokens}, cost = ${u.cost}, latency_ms = ${last.latencyMs}
      WHERE run_id = ${c.runId} AND attempt_id = ${last.attemptId} AND kind = 'attempt' AND status = 'started'
      RETURNING attempt_id, prompt_tokens, completion_tokens, cost
    ), interrupted AS (
      UPDATE usage_events SET status = 'interrupted'
      WHERE run_id = ${c.runId} AND kind = 'attempt' AND status = 'started' AND attempt_id <> ${last.attemptId}
    ), totals AS (
      SELECT (COALESCE(sum(e.prompt_tokens), 0) + COALESCE((SELECT sum(prompt_tokens) FROM finished), 0))::int AS pt,
             (COALESCE(sum(e.completion_tokens), 0) + COALESCE((SELECT sum(completion_tokens) FROM finished), 0))::int AS ct,
             (COALESCE(sum(e.cost), 0) + COALESCE((SELECT sum(cost) FROM finished), 0))::numeric AS cost,
             (count(*) + (SELECT count(*) FROM finished))::int AS attempts
      FROM usage_events e
      WHERE e.run_id = ${c.runId} AND e.kind = 'attempt'
        AND NOT EXISTS (SELECT 1 FROM finished f WHERE f.attempt_id = e.attempt_id)
    ), recorded AS (
      INSERT INTO usage_events (org_id, key_id, run_id, kind, seq, prompt_id, prompt_version, model, status,
                                error_code, prompt_tokens, completion_tokens, cost, latency_ms, cache_hit)
      SELECT ${c.orgId}, ${c.keyId}, ${c.runId}, 'run', 0, ${c.promptId}, ${c.promptVersion}, ${c.model}, ${c.status},
             ${c.errorCode}, t.pt, t.ct, t.cost, ${c.latencyMs}, ${c.cacheHit}
      FROM totals t
      ON CONFLICT (run_id) WHERE kind = 'run' DO NOTHING
      RETURNING prompt_tokens, completion_tokens, cost
    ), finished_run AS (
      UPDATE runs SET status = ${c.status}, output = ${c.output}, model = ${c.model}, error_code = ${c.errorCode},
        error_message = ${c.errorMessage}, prompt_tokens = r.prompt_tokens, completion_tokens = r.completion_tokens,
        cost = r.cost, attempts = (SELECT attempts FROM totals), cache_hit = ${c.cacheHit},
        started_at = COALESCE(started_at, created_at), finished_at = now(), workflow_input = NULL
      FROM recorded r WHERE runs.id = ${c.runId}
    ), released AS (
      DELETE FROM budget_reservations WHERE run_id = ${c.runId} AND EXISTS (SELECT 1 FROM recorded)
      RETURNING month, tokens
    ), month_totals AS (
      INSERT INTO org_usage_monthly AS m (org_id, month, tokens, cost, runs)
      SELECT ${c.orgId}, ${month}, r.prompt_tokens + r.completion_tokens, r.cost, 1 FROM recorded r
      ON CONFLICT (org_id, month) DO UPDATE SET tokens = m.tokens + EXCLUDED.tokens,
        cost = m.cost + EXCLUDED.cost, runs = m.runs + 1,
        reserved_tokens = GREATEST(0, m.reserved_tokens
          - COALESCE((SELECT sum(tokens) FROM released WHERE month = m.month), 0))
    ), earlier_month AS (
      -- a run started last month gives its reservation back to that month (one row per statement)
      UPDATE org_usage_monthly m SET reserved_tokens = GREATEST(0, m.reserved_tokens - r.tokens)
      FROM released r WHERE m.org_id = ${c.orgId} AND m.month = r.month AND r.month <> ${month}
    )${cached}
    SELECT t.pt AS "promptTokens", t.ct AS "completionTokens", t.cost, t.attempts,
           EXISTS (SELECT 1 FROM recorded) AS recorded
    FROM totals t`;
  return {
    usage: {
      promptTokens: t!.promptTokens,
      completionTokens: t!.completionTokens,
      totalTokens: t!.promptTokens + t!.completionTokens,
      cost: t!.cost,
    },
    attempts: t!.attempts,
    recorded: t!.recorded,
  };
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

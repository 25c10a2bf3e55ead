import type { ErrorCode, RunPromptWorkflowInput } from '@promptmill/workflows';
import type { Queryable, Sql } from '../client.ts';
import { releaseReservations } from './budget.queries.ts';
import { insertRunEndedEvents } from './events.queries.ts';

// The async-run outbox: runs.workflow_input and runs.dispatched_at (api/src/runs/dispatch/).

/**
 * Claims async runs for their workflow start: those still queued and unclaimed get dispatched_at.
 * A run canceled meanwhile (or claimed by a sweeper) is not returned, so it is never started.
 */
export async function claimRunsForDispatch(sql: Queryable, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await sql<{ id: string }[]>`
    UPDATE runs SET dispatched_at = now()
    WHERE id = ANY(${ids as string[]}) AND status = 'queued' AND dispatched_at IS NULL
    RETURNING id`;
  return rows.map((r) => r.id);
}

export interface OrphanRun {
  id: string;
  workflowInput: RunPromptWorkflowInput;
}

/**
 * The sweeper's claim: queued async runs nobody claimed within `minAgeSeconds` of their creation
 * (their process died or is backlogged), and runs claimed more than `staleClaimSeconds` ago that are
 * still queued (the claimer may have died before starting them). Oldest first; rows another sweeper
 * is claiming are skipped.
 */
export async function claimOrphanRuns(
  sql: Queryable,
  opts: { minAgeSeconds: number; staleClaimSeconds: number; limit: number },
): Promise<OrphanRun[]> {
  const rows = await sql<OrphanRun[]>`
    UPDATE runs r SET dispatched_at = now()
    FROM (
      SELECT id FROM runs
      WHERE status = 'queued' AND workflow_input IS NOT NULL
        AND ((dispatched_at IS NULL AND created_at < now() - make_interval(secs => ${opts.minAgeSeconds}))
             OR dispatched_at < now() - make_interval(secs => ${opts.staleClaimSeconds}))
      ORDER BY created_at
      LIMIT ${opts.limit}
      FOR UPDATE SKIP LOCKED
    ) c
    WHERE r.id = c.id
    RETURNING r.id, r.workflow_input AS "workflowInput"`;
  return [...rows];
}

/** Gives claims back (their start failed): the runs wait for a sweeper's next attempt. */
export async function releaseDispatchClaims(sql: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    UPDATE runs SET dispatched_at = NULL
    WHERE id = ANY(${ids as string[]}) AND status = 'queued'`;
}

/**
 * Fails queued async runs whose workflow could not be started for `olderThanSeconds` since their
 * creation (Temporal unreachable all along), so clients polling them see a final state; like
 * failUnstartedRun, it frees their idempotency keys and budget reservations. Returns the failed ids.
 */
export async function abandonUndispatchedRuns(
  sql: Sql,
  opts: { olderThanSeconds: number; limit: number; errorCode: ErrorCode; errorMessage: string },
): Promise<string[]> {
  return (await sql.begin(async (tx) => {
    const ids = await failExpiredRuns(tx, opts);
    await releaseReservations(tx, ids);
    await insertRunEndedEvents(tx, ids);
    return ids;
  })) as string[];
}

async function failExpiredRuns(
  sql: Queryable,
  opts: { olderThanSeconds: number; limit: number; errorCode: ErrorCode; errorMessage: string },
): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    UPDATE runs r SET status = 'failed', error_code = ${opts.errorCode}, error_message = ${opts.errorMessage},
      idempotency_key = NULL, finished_at = now(), workflow_input = NULL
    FROM (
      SELECT id FROM runs
      WHERE status = 'queued' AND workflow_input IS NOT NULL AND dispatched_at IS NULL
        AND created_at < now() - make_interval(secs => ${opts.olderThanSeconds})
      ORDER BY created_at
      LIMIT ${opts.limit}
      FOR UPDATE SKIP LOCKED
    ) c
    WHERE r.id = c.id
    RETURNING r.id`;
  return rows.map((r) => r.id);
}

/**
 * Cancels an async run no dispatcher has claimed: it never starts. Recorded like a run canceled by
 * its workflow (RUN_CANCELED, a zero 'run' usage event, one more run this month, its budget
 * reservation released), in one transaction. false = the run was claimed (its workflow is being or
 * was started) or has moved on.
 */
export async function cancelUndispatchedRun(sql: Sql, runId: string): Promise<boolean> {
  return (await sql.begin(async (tx) => {
    const [run] = await tx<
      {
        orgId: string;
        keyId: string | null;
        promptId: string;
        promptVersion: number;
        model: string;
        latencyMs: number;
      }[]
    >`
      UPDATE runs SET status = 'canceled', error_code = 'RUN_CANCELED', error_message = 'Run was canceled',
        finished_at = now(), workflow_input = NULL
      WHERE id = ${runId} AND status = 'queued' AND dispatched_at IS NULL AND workflow_input IS NOT NULL
      RETURNING org_id AS "orgId", key_id AS "keyId", prompt_id AS "promptId",
                prompt_version AS "promptVersion", model,
                (extract(epoch FROM now() - created_at) * 1000)::int AS "latencyMs"`;
    if (!run) return false;
    await tx`
      INSERT INTO usage_events (org_id, key_id, run_id, kind, seq, prompt_id, prompt_version, model, status,
                                error_code, prompt_tokens, completion_tokens, cost, latency_ms)
      VALUES (${run.orgId}, ${run.keyId}, ${runId}, 'run', 0, ${run.promptId}, ${run.promptVersion}, ${run.model},
              'canceled', 'RUN_CANCELED', 0, 0, 0, ${run.latencyMs})
      ON CONFLICT (run_id) WHERE kind = 'run' DO NOTHING`;
    await releaseReservations(tx, [runId]);
    await tx`
      INSERT INTO org_usage_monthly (org_id, month, tokens, cost, runs)
      VALUES (${run.orgId}, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 0, 0, 1)
      ON CONFLICT (org_id, month) DO UPDATE SET runs = org_usage_monthly.runs + 1`;
    await insertRunEndedEvents(tx, [runId]);
    return true;
  })) as boolean;
}

/**
 * A sync or streaming run whose workflow start had an unknown outcome (the workflow may or may not
 * exist) joins the outbox: the dispatcher, or any sweeper later, starts it with REJECT_DUPLICATE —
 * it runs once whichever it was — or it is abandoned like any async run Temporal never took.
 * false = the run has moved on (its workflow did start and got to it first).
 */
export async function handOverToDispatch(
  sql: Queryable,
  runId: string,
  input: RunPromptWorkflowInput,
): Promise<boolean> {
  const rows = await sql`
    UPDATE runs SET workflow_input = ${sql.json(input as unknown as Record<string, never>)}
    WHERE id = ${runId} AND status = 'queued' AND workflow_input IS NULL AND dispatched_at IS NULL`;
  return rows.count === 1;
}

import type { ErrorCode, RunIdentity, TokenUsage } from '@promptmill/workflows';
import type { Queryable, Sql } from '../client.ts';
import { insertRunEndedEvents } from './events.queries.ts';
import type { NewRun } from './runs.queries.ts';

// Usage accounting of runs: one usage_events row per provider call (attempt) and per finished run,
// the month-to-date totals that budgets read, and the identical-request cache filled on completion.

export interface CachedResult {
  runId: string;
  output: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  expiresAt: Date;
}

/** A fresh identical-request cache entry, if any. */
export async function findCachedResult(sql: Queryable, cacheKey: string): Promise<CachedResult | undefined> {
  const [row] = await sql<CachedResult[]>`
    SELECT run_id AS "runId", output, model, prompt_tokens AS "promptTokens",
           completion_tokens AS "completionTokens", expires_at AS "expiresAt"
    FROM run_cache WHERE cache_key = ${cacheKey} AND expires_at > now()`;
  return row;
}

/**
 * A run answered from the cache: the run row (succeeded, cache_hit), its 'run' usage event at zero
 * tokens and cost, and the month's run count move together. false = the idempotency key was taken.
 */
export async function insertCacheHitRun(sql: Sql, r: NewRun & { output: string }): Promise<boolean> {
  return (await sql.begin(async (tx) => {
    const rows = await tx`
      INSERT INTO runs (id, org_id, key_id, prompt_id, version_id, prompt_version, mode, status, variables,
                        metadata, webhook_url, model, output, attempts, cache_hit, idempotency_key, request_hash,
                        started_at, finished_at)
      VALUES (${r.id}, ${r.orgId}, ${r.keyId}, ${r.promptId}, ${r.versionId}, ${r.promptVersion}, ${r.mode},
              'succeeded', ${tx.json(r.variables as Record<string, never>)},
              ${r.metadata === null ? null : tx.json(r.metadata as Record<string, never>)}, ${r.webhookUrl},
              ${r.model}, ${r.output}, 0, true, ${r.idempotencyKey}, ${r.requestHash}, now(), now())
      ON CONFLICT (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING id`;
    if (rows.count === 0) return false;
    await tx`
      INSERT INTO usage_events (org_id, key_id, run_id, kind, seq, prompt_id, prompt_version, model, status,
                                prompt_tokens, completion_tokens, cost, latency_ms, cache_hit)
      VALUES (${r.orgId}, ${r.keyId}, ${r.id}, 'run', 0, ${r.promptId}, ${r.promptVersion}, ${r.model}, 'succeeded',
              0, 0, 0, 0, true)`;
    await tx`
      INSERT INTO org_usage_monthly (org_id, month, tokens, cost, runs)
      VALUES (${r.orgId}, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 0, 0, 1)
      ON CONFLICT (org_id, month) DO UPDATE SET runs = org_usage_monthly.runs + 1`;
    await insertRunEndedEvents(tx, [r.id]);
    return true;
  })) as boolean;
}

export interface AttemptStart extends RunIdentity {
  /** drawn by each execution of the model-call activity: a re-executed call is another attempt */
  attemptId: string;
  /** model index × 1000 + Temporal attempt number: the attempts' order (re-executions share it) */
  seq: number;
  model: string;
  provider: string;
  /** what the attempt counts if it never reports (its worker died): the prompt, estimated */
  estimate: TokenUsage;
  /** the run's first provider call: the run goes from queued to running */
  isFirst: boolean;
}

/** What a run's first completion recorded (it stands: later completions record nothing). */
export interface RecordedOutcome {
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  model: string;
  errorCode: string | null;
  errorMessage: string | null;
  usage: TokenUsage;
  attempts: number;
}

const RECORDED_OUTCOME = (sql: Queryable) => sql`
  r.status, r.output, r.model, r.error_code AS "errorCode", r.error_message AS "errorMessage",
  r.prompt_tokens AS "promptTokens", r.completion_tokens AS "completionTokens", r.cost, r.attempts`;

type RecordedRow = Omit<RecordedOutcome, 'usage'> & {
  promptTokens: number;
  completionTokens: number;
  cost: number;
};

const toRecordedOutcome = ({
  promptTokens,
  completionTokens,
  cost,
  ...rest
}: RecordedRow): RecordedOutcome => ({
  ...rest,
  usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, cost },
});

/**
 * Opens one provider call's usage row, before the call (status 'started', the estimate), and moves
 * the run to running on its first call. Writing it again for the same attempt id changes nothing.
 * A run whose completion is already recorded (a worker died after recording it, before the workflow
 * heard of it) opens nothing: its recorded outcome is returned, and the provider is not called again.
 */
export async function startAttempt(sql: Queryable, a: AttemptStart): Promise<RecordedOutcome | undefined> {
  const [done] = await sql<RecordedRow[]>`
    WITH done AS (
      SELECT ${RECORDED_OUTCOME(sql)} FROM runs r
      WHERE r.id = ${a.runId} AND EXISTS (SELECT 1 FROM usage_events WHERE run_id = ${a.runId} AND kind = 'run')
    ), running AS (
      UPDATE runs SET status = 'running', started_at = COALESCE(started_at, now())
      WHERE ${a.isFirst}::boolean AND id = ${a.runId} AND status = 'queued'
    ), opened AS (
      INSERT INTO usage_events (org_id, key_id, run_id, kind, seq, attempt_id, prompt_id, prompt_version, model,
                                provider, status, prompt_tokens, completion_tokens, cost)
      SELECT ${a.orgId}, ${a.keyId}, ${a.runId}, 'attempt', ${a.seq}, ${a.attemptId}, ${a.promptId}, ${a.promptVersion},
             ${a.model}, ${a.provider}, 'started', ${a.estimate.promptTokens}, ${a.estimate.completionTokens},
             ${a.estimate.cost}
      WHERE NOT EXISTS (SELECT 1 FROM done)
      ON CONFLICT (run_id, attempt_id) DO NOTHING
    )
    SELECT * FROM done`;
  return done ? toRecordedOutcome(done) : undefined;
}

export interface AttemptEnd {
  runId: string;
  attemptId: string;
  status: 'succeeded' | 'failed';
  errorCode: string | null;
  /** a failure's own text (the provider's error body), for operators: never shown to tenants */
  errorDetail?: string | null;
  usage: TokenUsage;
  latencyMs: number;
}

/** The most of a failure's own text kept with its attempt (usage_events.error_detail). */
export const MAX_ERROR_DETAIL_CHARS = 2_000;

/** Truncated, and without NUL (a text column cannot hold it): whatever else the provider sent stays. */
const storableDetail = (detail: string | null | undefined) =>
  detail ? detail.slice(0, MAX_ERROR_DETAIL_CHARS).replaceAll('\u0000', '\uFFFD') : null;

/**
 * Closes a provider call's row with the provider's usage, once (a retried write finds it closed); a
 * row the run's completion already counted as interrupted stays as counted.
 */
export async function finishAttempt(sql: Queryable, a: AttemptEnd): Promise<void> {
  await sql`
    UPDATE usage_events SET status = ${a.status}, error_code = ${a.errorCode},
      error_detail = ${storableDetail(a.errorDetail)}, prompt_tokens = ${a.usage.promptTokens},
      completion_tokens = ${a.usage.completionTokens}, cost = ${a.usage.cost}, latency_ms = ${a.latencyMs}
    WHERE run_id = ${a.runId} AND attempt_id = ${a.attemptId} AND kind = 'attempt' AND status = 'started'`;
}

export interface RunCompletion extends RunIdentity {
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  model: string;
  errorCode: ErrorCode | null;
  errorMessage: string | null;
  latencyMs: number;
  cacheHit: boolean;
  /** set on a successful run of a version with cacheTtlSeconds: the result is cached this long */
  cacheKey?: string | undefined;
  cacheTtlSeconds?: number | undefined;
}

export interface RunTotals {
  usage: TokenUsage;
  attempts: number;
  /** false when the run had already been completed (a retried or replayed completion) */
  recorded: boolean;
  /** when not recorded: what the first completion recorded (it stands), if the run row exists */
  final?: RecordedOutcome | undefined;
}

/**
 * Finishes a run exactly once: the run row, its 'run' usage event (the sum of its attempts: failed
 * ones, and interrupted ones — calls a dead worker never closed — included), the release of its
 * budget reservation, the month-to-date totals and the identical-request cache move together; only
 * the first completion counts. `closing`: the successful provider call that ends the run, whose
 * usage row is closed in the same statement (the happy path's one write after the call).
 *
 * One statement (its parts chained by RETURNING), inside a transaction: a worker that dies while
 * the statement waits for a lock never commits it (no COMMIT comes), as with several statements.
 */
export async function completeRun(sql: Sql, c: RunCompletion, closing?: AttemptEnd): Promise<RunTotals> {
  const a = closing;
  const cacheTtl =
    c.status === 'succeeded' && c.output !== null && c.cacheKey && c.cacheTtlSeconds
      ? c.cacheTtlSeconds
      : null;
  return sql.begin(async (tx) => {
    const [t] = await tx<
      { promptTokens: number; completionTokens: number; cost: number; attempts: number; recorded: boolean }[]
    >`
      WITH closed AS (
        UPDATE usage_events SET status = ${a?.status ?? 'succeeded'}, error_code = ${a?.errorCode ?? null},
          error_detail = ${storableDetail(a?.errorDetail)}, prompt_tokens = ${a?.usage.promptTokens ?? 0},
          completion_tokens = ${a?.usage.completionTokens ?? 0}, cost = ${a?.usage.cost ?? 0},
          latency_ms = ${a?.latencyMs ?? 0}
        WHERE run_id = ${c.runId} AND attempt_id = ${a?.attemptId ?? null}::uuid AND kind = 'attempt'
          AND status = 'started'
        RETURNING attempt_id, prompt_tokens, completion_tokens, cost
      ), interrupted AS (
        -- every call of this run has returned: a row still open belongs to an execution that died,
        -- and counts as interrupted, at its estimate (the sums below do not depend on the status)
        UPDATE usage_events SET status = 'interrupted'
        WHERE run_id = ${c.runId} AND kind = 'attempt' AND status = 'started'
          AND attempt_id IS DISTINCT FROM ${a?.attemptId ?? null}::uuid
      ), totals AS (
        SELECT count(*)::int AS attempts,
               COALESCE(sum(COALESCE(cl.prompt_tokens, u.prompt_tokens)), 0)::int AS prompt_tokens,
               COALESCE(sum(COALESCE(cl.completion_tokens, u.completion_tokens)), 0)::int AS completion_tokens,
               COALESCE(sum(COALESCE(cl.cost, u.cost)), 0)::numeric AS cost
        FROM usage_events u LEFT JOIN closed cl ON cl.attempt_id = u.attempt_id
        WHERE u.run_id = ${c.runId} AND u.kind = 'attempt'
      ), recorded AS (
        INSERT INTO usage_events (org_id, key_id, run_id, kind, seq, prompt_id, prompt_version, model, status,
                                  error_code, prompt_tokens, completion_tokens, cost, latency_ms, cache_hit)
        SELECT ${c.orgId}, ${c.keyId}, ${c.runId}, 'run', 0, ${c.promptId}, ${c.promptVersion}, ${c.model}, ${c.status},
               ${c.errorCode}, t.prompt_tokens, t.completion_tokens, t.cost, ${c.latencyMs}, ${c.cacheHit}
        FROM totals t
        ON CONFLICT (run_id) WHERE kind = 'run' DO NOTHING
        RETURNING prompt_tokens, completion_tokens, cost
      ), finished AS (
        UPDATE runs SET status = ${c.status}, output = ${c.output}, model = ${c.model}, error_code = ${c.errorCode},
          error_message = ${c.errorMessage}, prompt_tokens = r.prompt_tokens, completion_tokens = r.completion_tokens,
          cost = r.cost, attempts = (SELECT attempts FROM totals), cache_hit = ${c.cacheHit},
          started_at = COALESCE(started_at, created_at), finished_at = now(), workflow_input = NULL
        FROM recorded r WHERE runs.id = ${c.runId}
      ), released AS (
        DELETE FROM budget_reservations
        WHERE run_id = ${c.runId} AND EXISTS (SELECT 1 FROM recorded)
        RETURNING month, tokens
      ), month_usage AS (
        -- the run's usage counts in this month; its reservation is released from the month it was
        -- made in (another one for a run in flight at the turn of the month): one row per month
        SELECT month, sum(tokens)::bigint AS tokens, sum(cost)::numeric AS cost, sum(runs)::int AS runs,
               sum(released)::bigint AS released
        FROM (
          SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date AS month,
                 (r.prompt_tokens + r.completion_tokens)::bigint AS tokens, r.cost, 1 AS runs, 0::bigint AS released
          FROM recorded r
          UNION ALL
          SELECT month, 0, 0, 0, tokens FROM released
        ) d
        GROUP BY month
      ), monthly AS (
        INSERT INTO org_usage_monthly AS m (org_id, month, tokens, cost, runs)
        SELECT ${c.orgId}, month, tokens, cost, runs FROM month_usage
        ON CONFLICT (org_id, month) DO UPDATE SET tokens = m.tokens + EXCLUDED.tokens,
          cost = m.cost + EXCLUDED.cost, runs = m.runs + EXCLUDED.runs,
          reserved_tokens = GREATEST(0, m.reserved_tokens - (SELECT released FROM month_usage u WHERE u.month = m.month))
      ), cached AS (
        INSERT INTO run_cache (cache_key, org_id, run_id, output, model, prompt_tokens, completion_tokens, expires_at)
        SELECT ${c.cacheKey ?? null}, ${c.orgId}, ${c.runId}, ${c.output}, ${c.model}, r.prompt_tokens,
               r.completion_tokens, now() + make_interval(secs => ${cacheTtl}::int)
        FROM recorded r WHERE ${cacheTtl}::int IS NOT NULL
        ON CONFLICT (cache_key) DO UPDATE SET run_id = EXCLUDED.run_id, output = EXCLUDED.output,
          model = EXCLUDED.model, prompt_tokens = EXCLUDED.prompt_tokens,
          completion_tokens = EXCLUDED.completion_tokens, expires_at = EXCLUDED.expires_at
      )
      SELECT t.prompt_tokens AS "promptTokens", t.completion_tokens AS "completionTokens", t.cost, t.attempts,
             EXISTS (SELECT 1 FROM recorded) AS recorded
      FROM totals t`;
    const usage: TokenUsage = {
      promptTokens: t!.promptTokens,
      completionTokens: t!.completionTokens,
      totalTokens: t!.promptTokens + t!.completionTokens,
      cost: t!.cost,
    };
    if (t!.recorded) {
      // the run's webhook event commits with its outcome (a statement of its own sees the row ended)
      await insertRunEndedEvents(tx, [c.runId]);
      return { usage, attempts: t!.attempts, recorded: true };
    }
    // another completion came first: its outcome stands (a statement of its own sees its commit)
    const [first] = await tx<
      RecordedRow[]
    >`SELECT ${RECORDED_OUTCOME(tx)} FROM runs r WHERE r.id = ${c.runId}`;
    if (!first) return { usage, attempts: t!.attempts, recorded: false };
    const final = toRecordedOutcome(first);
    return { usage: final.usage, attempts: final.attempts, recorded: false, final };
  }) as Promise<RunTotals>;
}

export async function monthTokensUsed(sql: Queryable, orgId: string): Promise<number> {
  const [row] = await sql<{ tokens: number }[]>`
    SELECT tokens FROM org_usage_monthly
    WHERE org_id = ${orgId} AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date`;
  return row?.tokens ?? 0;
}

import type { ErrorCode, RunIdentity, TokenUsage } from '@promptmill/workflows';
import type { Queryable, Sql } from '../client.ts';
import { releaseReservations } from './budget.queries.ts';
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

/**
 * Opens one provider call's usage row, before the call (status 'started', the estimate), and moves
 * the run to running on its first call. Writing it again for the same attempt id changes nothing.
 */
export async function startAttempt(sql: Queryable, a: AttemptStart): Promise<void> {
  await sql`
    WITH running AS (
      UPDATE runs SET status = 'running', started_at = COALESCE(started_at, now())
      WHERE ${a.isFirst}::boolean AND id = ${a.runId} AND status = 'queued'
    )
    INSERT INTO usage_events (org_id, key_id, run_id, kind, seq, attempt_id, prompt_id, prompt_version, model,
                              provider, status, prompt_tokens, completion_tokens, cost)
    VALUES (${a.orgId}, ${a.keyId}, ${a.runId}, 'attempt', ${a.seq}, ${a.attemptId}, ${a.promptId}, ${a.promptVersion},
            ${a.model}, ${a.provider}, 'started', ${a.estimate.promptTokens}, ${a.estimate.completionTokens},
            ${a.estimate.cost})
    ON CONFLICT (run_id, attempt_id) DO NOTHING`;
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
export const storableDetail = (detail: string) =>
  detail.slice(0, MAX_ERROR_DETAIL_CHARS).replaceAll('\u0000', '\uFFFD');

/**
 * Closes a provider call's row with the provider's usage, once (a retried write finds it closed); a
 * row the run's completion already counted as interrupted stays as counted.
 */
export async function finishAttempt(sql: Queryable, a: AttemptEnd): Promise<void> {
  await sql`
    UPDATE usage_events SET status = ${a.status}, error_code = ${a.errorCode},
      error_detail = ${a.errorDetail ? storableDetail(a.errorDetail) : null}, prompt_tokens = ${a.usage.promptTokens},
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
}

/**
 * Finishes a run exactly once: the run row, its 'run' usage event (the sum of its attempts: failed
 * ones, and interrupted ones — calls a dead worker never closed — included), the release of its
 * budget reservation and the month-to-date totals move together in one transaction; only the first
 * completion counts.
 */
export async function completeRun(sql: Sql, c: RunCompletion): Promise<RunTotals> {
  return sql.begin(async (tx) => {
    // Every call of this run has returned: a row still open belongs to an execution that died, and
    // counts as interrupted, at its estimate (the sums do not depend on the status).
    const [t] = await tx<
      { promptTokens: number; completionTokens: number; cost: number; attempts: number }[]
    >`
      WITH interrupted AS (
        UPDATE usage_events SET status = 'interrupted'
        WHERE run_id = ${c.runId} AND kind = 'attempt' AND status = 'started'
      )
      SELECT COALESCE(sum(prompt_tokens), 0)::int AS "promptTokens",
             COALESCE(sum(completion_tokens), 0)::int AS "completionTokens",
             COALESCE(sum(cost), 0)::numeric AS cost, count(*)::int AS attempts
      FROM usage_events WHERE run_id = ${c.runId} AND kind = 'attempt'`;
    const usage: TokenUsage = {
      promptTokens: t!.promptTokens,
      completionTokens: t!.completionTokens,
      totalTokens: t!.promptTokens + t!.completionTokens,
      cost: t!.cost,
    };
    const inserted = await tx`
      INSERT INTO usage_events (org_id, key_id, run_id, kind, seq, prompt_id, prompt_version, model, status,
                                error_code, prompt_tokens, completion_tokens, cost, latency_ms, cache_hit)
      VALUES (${c.orgId}, ${c.keyId}, ${c.runId}, 'run', 0, ${c.promptId}, ${c.promptVersion}, ${c.model}, ${c.status},
              ${c.errorCode}, ${usage.promptTokens}, ${usage.completionTokens}, ${usage.cost}, ${c.latencyMs}, ${c.cacheHit})
      ON CONFLICT (run_id) WHERE kind = 'run' DO NOTHING
      RETURNING id`;
    if (inserted.count === 0) return { usage, attempts: t!.attempts, recorded: false };
    await tx`
      UPDATE runs SET status = ${c.status}, output = ${c.output}, model = ${c.model}, error_code = ${c.errorCode},
        error_message = ${c.errorMessage}, prompt_tokens = ${usage.promptTokens},
        completion_tokens = ${usage.completionTokens}, cost = ${usage.cost}, attempts = ${t!.attempts},
        cache_hit = ${c.cacheHit}, started_at = COALESCE(started_at, created_at), finished_at = now(),
        workflow_input = NULL
      WHERE id = ${c.runId}`;
    await releaseReservations(tx, [c.runId]);
    await tx`
      INSERT INTO org_usage_monthly (org_id, month, tokens, cost, runs)
      VALUES (${c.orgId}, date_trunc('month', now() AT TIME ZONE 'UTC')::date, ${usage.totalTokens}, ${usage.cost}, 1)
      ON CONFLICT (org_id, month) DO UPDATE SET tokens = org_usage_monthly.tokens + EXCLUDED.tokens,
        cost = org_usage_monthly.cost + EXCLUDED.cost, runs = org_usage_monthly.runs + 1`;
    if (c.status === 'succeeded' && c.output !== null && c.cacheKey && c.cacheTtlSeconds) {
      await tx`
        INSERT INTO run_cache (cache_key, org_id, run_id, output, model, prompt_tokens, completion_tokens, expires_at)
        VALUES (${c.cacheKey}, ${c.orgId}, ${c.runId}, ${c.output}, ${c.model}, ${usage.promptTokens},
                ${usage.completionTokens}, now() + make_interval(secs => ${c.cacheTtlSeconds}))
        ON CONFLICT (cache_key) DO UPDATE SET run_id = EXCLUDED.run_id, output = EXCLUDED.output,
          model = EXCLUDED.model, prompt_tokens = EXCLUDED.prompt_tokens,
          completion_tokens = EXCLUDED.completion_tokens, expires_at = EXCLUDED.expires_at`;
    }
    return { usage, attempts: t!.attempts, recorded: true };
  }) as Promise<RunTotals>;
}

export async function monthTokensUsed(sql: Queryable, orgId: string): Promise<number> {
  const [row] = await sql<{ tokens: number }[]>`
    SELECT tokens FROM org_usage_monthly
    WHERE org_id = ${orgId} AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date`;
  return row?.tokens ?? 0;
}

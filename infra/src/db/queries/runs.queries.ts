import type { ErrorCode, RunMode, TokenUsage } from '@promptmill/workflows';
import type { Queryable, Sql } from '../client.ts';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

export interface RunRow {
  id: string;
  orgId: string;
  keyId: string | null;
  promptId: string;
  versionId: string;
  promptVersion: number;
  mode: RunMode;
  status: RunStatus;
  variables: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  model: string;
  output: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  attempts: number;
  cacheHit: boolean;
  idempotencyKey: string | null;
  requestHash: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export const RUN_COLUMNS = (sql: Queryable) => sql`
  id, org_id AS "orgId", key_id AS "keyId", prompt_id AS "promptId", version_id AS "versionId",
  prompt_version AS "promptVersion", mode, status, variables, metadata, model, output,
  error_code AS "errorCode", error_message AS "errorMessage", prompt_tokens AS "promptTokens",
  completion_tokens AS "completionTokens", cost, attempts, cache_hit AS "cacheHit",
  idempotency_key AS "idempotencyKey", request_hash AS "requestHash",
  created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt"`;

export interface NewRun {
  id: string;
  orgId: string;
  keyId: string | null;
  promptId: string;
  versionId: string;
  promptVersion: number;
  mode: RunMode;
  variables: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  webhookUrl: string | null;
  model: string;
  idempotencyKey: string | null;
  requestHash: string | null;
}

export async function insertRun(sql: Queryable, r: NewRun): Promise<void> {
  await sql`
    INSERT INTO runs (id, org_id, key_id, prompt_id, version_id, prompt_version, mode, status, variables,
                      metadata, webhook_url, model, idempotency_key, request_hash)
    VALUES (${r.id}, ${r.orgId}, ${r.keyId}, ${r.promptId}, ${r.versionId}, ${r.promptVersion}, ${r.mode}, 'queued',
            ${sql.json(r.variables as Record<string, never>)}, ${r.metadata === null ? null : sql.json(r.metadata as Record<string, never>)},
            ${r.webhookUrl}, ${r.model}, ${r.idempotencyKey}, ${r.requestHash})`;
}

export async function findRun(sql: Queryable, orgId: string, id: string): Promise<RunRow | undefined> {
  const [row] = await sql<
    RunRow[]
  >`SELECT ${RUN_COLUMNS(sql)} FROM runs WHERE id = ${id} AND org_id = ${orgId}`;
  return row;
}

/** queued → running; a no-op once the run has moved on (activity retries, replays). */
export async function markRunRunning(sql: Queryable, runId: string): Promise<void> {
  await sql`UPDATE runs SET status = 'running', started_at = COALESCE(started_at, now())
            WHERE id = ${runId} AND status = 'queued'`;
}

export interface AttemptUsage {
  orgId: string;
  keyId: string | null;
  runId: string;
  seq: number;
  promptId: string;
  promptVersion: number;
  model: string;
  provider: string;
  status: 'succeeded' | 'failed';
  errorCode: string | null;
  usage: TokenUsage;
  latencyMs: number;
}

/** One row per provider attempt; a retried activity for the same seq records nothing twice. */
export async function insertAttemptUsage(sql: Queryable, a: AttemptUsage): Promise<void> {
  await sql`
    INSERT INTO usage_events (org_id, key_id, run_id, kind, seq, prompt_id, prompt_version, model, provider, status,
                              error_code, prompt_tokens, completion_tokens, cost, latency_ms)
    VALUES (${a.orgId}, ${a.keyId}, ${a.runId}, 'attempt', ${a.seq}, ${a.promptId}, ${a.promptVersion}, ${a.model},
            ${a.provider}, ${a.status}, ${a.errorCode}, ${a.usage.promptTokens}, ${a.usage.completionTokens},
            ${a.usage.cost}, ${a.latencyMs})
    ON CONFLICT (run_id, kind, seq) DO NOTHING`;
}

export interface RunCompletion {
  runId: string;
  orgId: string;
  keyId: string | null;
  promptId: string;
  promptVersion: number;
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  model: string;
  errorCode: ErrorCode | null;
  errorMessage: string | null;
  latencyMs: number;
  cacheHit: boolean;
}

export interface RunTotals {
  usage: TokenUsage;
  attempts: number;
  /** false when the run had already been completed (a retried or replayed completion) */
  recorded: boolean;
}

/**
 * Finishes a run exactly once: the run row, its 'run' usage event (the sum of its attempts, failed
 * ones included) and the month-to-date totals move together in one transaction; only the first
 * completion counts.
 */
export async function completeRun(sql: Sql, c: RunCompletion): Promise<RunTotals> {
  return sql.begin(async (tx) => {
    const [t] = await tx<
      { promptTokens: number; completionTokens: number; cost: number; attempts: number }[]
    >`
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
      ON CONFLICT (run_id, kind, seq) DO NOTHING
      RETURNING id`;
    if (inserted.count === 0) return { usage, attempts: t!.attempts, recorded: false };
    await tx`
      UPDATE runs SET status = ${c.status}, output = ${c.output}, model = ${c.model}, error_code = ${c.errorCode},
        error_message = ${c.errorMessage}, prompt_tokens = ${usage.promptTokens},
        completion_tokens = ${usage.completionTokens}, cost = ${usage.cost}, attempts = ${t!.attempts},
        cache_hit = ${c.cacheHit}, started_at = COALESCE(started_at, created_at), finished_at = now()
      WHERE id = ${c.runId}`;
    await tx`
      INSERT INTO org_usage_monthly (org_id, month, tokens, cost, runs)
      VALUES (${c.orgId}, date_trunc('month', now() AT TIME ZONE 'UTC')::date, ${usage.totalTokens}, ${usage.cost}, 1)
      ON CONFLICT (org_id, month) DO UPDATE SET tokens = org_usage_monthly.tokens + EXCLUDED.tokens,
        cost = org_usage_monthly.cost + EXCLUDED.cost, runs = org_usage_monthly.runs + 1`;
    return { usage, attempts: t!.attempts, recorded: true };
  }) as Promise<RunTotals>;
}

export async function monthTokensUsed(sql: Queryable, orgId: string): Promise<number> {
  const [row] = await sql<{ tokens: number }[]>`
    SELECT tokens FROM org_usage_monthly
    WHERE org_id = ${orgId} AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date`;
  return row?.tokens ?? 0;
}

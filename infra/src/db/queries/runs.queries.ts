import type { ErrorCode, RunMode, RunPromptWorkflowInput, TokenUsage } from '@promptmill/workflows';
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
  /** async runs: the input their workflow is started with, by the dispatcher or a sweeper */
  workflowInput?: RunPromptWorkflowInput | null | undefined;
}

/**
 * Inserts a queued run. With an idempotency key, a concurrent or earlier run holding the same key
 * wins (the unique index `runs_idempotency`): false means nothing was inserted.
 */
export async function insertRun(sql: Queryable, r: NewRun): Promise<boolean> {
  const rows = await sql`
    INSERT INTO runs (id, org_id, key_id, prompt_id, version_id, prompt_version, mode, status, variables,
                      metadata, webhook_url, model, idempotency_key, request_hash, workflow_input)
    VALUES (${r.id}, ${r.orgId}, ${r.keyId}, ${r.promptId}, ${r.versionId}, ${r.promptVersion}, ${r.mode}, 'queued',
            ${sql.json(r.variables as Record<string, never>)}, ${r.metadata === null ? null : sql.json(r.metadata as Record<string, never>)},
            ${r.webhookUrl}, ${r.model}, ${r.idempotencyKey}, ${r.requestHash},
            ${r.workflowInput ? sql.json(r.workflowInput as unknown as Record<string, never>) : null})
    ON CONFLICT (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id`;
  return rows.count === 1;
}

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

export interface IdempotentRun {
  id: string;
  status: RunStatus;
  requestHash: string | null;
  /** older than the dedupe window: the key may be reused */
  isExpired: boolean;
}

export async function findRunByIdempotencyKey(
  sql: Queryable,
  orgId: string,
  key: string,
  ttlSeconds: number,
): Promise<IdempotentRun | undefined> {
  const [row] = await sql<IdempotentRun[]>`
    SELECT id, status, request_hash AS "requestHash",
           created_at < now() - make_interval(secs => ${ttlSeconds}) AS "isExpired"
    FROM runs WHERE org_id = ${orgId} AND idempotency_key = ${key}`;
  return row;
}

/** Frees a key whose dedupe window is over, so a new run may take it (the old run keeps its data). */
export async function releaseExpiredIdempotencyKey(
  sql: Queryable,
  orgId: string,
  key: string,
  ttlSeconds: number,
): Promise<void> {
  await sql`
    UPDATE runs SET idempotency_key = NULL
    WHERE org_id = ${orgId} AND idempotency_key = ${key}
      AND created_at < now() - make_interval(secs => ${ttlSeconds})`;
}

/** The workflow could not be started: the run fails at once and frees its idempotency key. */
export async function failUnstartedRun(
  sql: Queryable,
  runId: string,
  errorCode: ErrorCode,
  errorMessage: string,
): Promise<void> {
  await sql`
    UPDATE runs SET status = 'failed', error_code = ${errorCode}, error_message = ${errorMessage},
      idempotency_key = NULL, finished_at = now()
    WHERE id = ${runId} AND status = 'queued'`;
}

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
 * failUnstartedRun, it frees their idempotency keys. Returns the failed ids.
 */
export async function abandonUndispatchedRuns(
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
 * its workflow (RUN_CANCELED, a zero 'run' usage event, one more run this month), in one
 * transaction. false = the run was claimed (its workflow is being or was started) or has moved on.
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
      ON CONFLICT (run_id, kind, seq) DO NOTHING`;
    await tx`
      INSERT INTO org_usage_monthly (org_id, month, tokens, cost, runs)
      VALUES (${run.orgId}, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 0, 0, 1)
      ON CONFLICT (org_id, month) DO UPDATE SET runs = org_usage_monthly.runs + 1`;
    return true;
  })) as boolean;
}

/** A run as the API shows it: the row plus its prompt's name. */
export interface RunView extends RunRow {
  promptName: string;
  webhookUrl: string | null;
}

const RUN_VIEW_COLUMNS = (sql: Queryable) => sql`
  r.id, r.org_id AS "orgId", r.key_id AS "keyId", r.prompt_id AS "promptId", p.name AS "promptName",
  r.version_id AS "versionId", r.prompt_version AS "promptVersion", r.mode, r.status, r.variables, r.metadata,
  r.webhook_url AS "webhookUrl", r.model, r.output, r.error_code AS "errorCode", r.error_message AS "errorMessage",
  r.prompt_tokens AS "promptTokens", r.completion_tokens AS "completionTokens", r.cost, r.attempts,
  r.cache_hit AS "cacheHit", r.idempotency_key AS "idempotencyKey", r.request_hash AS "requestHash",
  r.created_at AS "createdAt", r.started_at AS "startedAt", r.finished_at AS "finishedAt"`;

export async function findRunView(sql: Queryable, orgId: string, id: string): Promise<RunView | undefined> {
  const [row] = await sql<RunView[]>`
    SELECT ${RUN_VIEW_COLUMNS(sql)} FROM runs r JOIN prompts p ON p.id = r.prompt_id
    WHERE r.id = ${id} AND r.org_id = ${orgId}`;
  return row;
}

export interface RunFilters {
  status?: RunStatus | undefined;
  /** prompt id or name */
  prompt?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** a prompt-restricted key sees only these prompts' runs */
  promptIds?: string[] | null | undefined;
}

/** One page of an organization's runs, newest first, and the total matching the filters. */
export async function listRuns(
  sql: Queryable,
  orgId: string,
  f: RunFilters,
  page: { limit: number; offset: number },
): Promise<{ rows: RunView[]; total: number }> {
  const where = sql`
    r.org_id = ${orgId}
    ${f.status ? sql`AND r.status = ${f.status}` : sql``}
    ${f.prompt ? sql`AND (p.id = ${f.prompt} OR (p.name = ${f.prompt} AND p.deleted_at IS NULL))` : sql``}
    ${f.from ? sql`AND r.created_at >= ${f.from}` : sql``}
    ${f.to ? sql`AND r.created_at < ${f.to}` : sql``}
    ${f.promptIds ? sql`AND r.prompt_id = ANY(${f.promptIds})` : sql``}`;
  const [rows, [count]] = await Promise.all([
    sql<RunView[]>`
      SELECT ${RUN_VIEW_COLUMNS(sql)} FROM runs r JOIN prompts p ON p.id = r.prompt_id
      WHERE ${where}
      ORDER BY r.created_at DESC, r.id DESC
      LIMIT ${page.limit} OFFSET ${page.offset}`,
    sql<{ total: number }[]>`
      SELECT count(*)::int AS total FROM runs r JOIN prompts p ON p.id = r.prompt_id WHERE ${where}`,
  ]);
  return { rows: [...rows], total: count?.total ?? 0 };
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
        cache_hit = ${c.cacheHit}, started_at = COALESCE(started_at, created_at), finished_at = now(),
        workflow_input = NULL
      WHERE id = ${c.runId}`;
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
